//! `stack.yaml`: what a stack is and which components it has. Written by a
//! stack's author, so untrusted: bounded and checked as it is parsed.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The most components a stack may list.
const MAX_COMPONENTS: usize = 1000;
/// The longest changelog or message a stack may carry, in characters.
const MAX_STACK_TEXT: usize = 64 * 1024;

/// `stack.yaml`: what a stack is and which components it has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub categories: Vec<String>,
    pub components: Vec<StackComponent>,
    /// What changed in this release, in markdown; shown by `cairn update`.
    #[serde(default)]
    pub changelog: String,
    /// Shown to users after `cairn generate`.
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackComponent {
    pub name: String,
    #[serde(default)]
    pub category: String,
    /// The `.wasm`, relative to the stack's root.
    pub path: String,
    /// For authors: the component's source directory, relative to the
    /// stack's root, which `cairn stack build` builds into `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Hex sha256 of the `.wasm`; cairn refuses a component that differs.
    pub sha256: String,
    /// Whether the component is on when `cairn.yaml` does not say.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl StackDefinition {
    /// Parses and checks a `stack.yaml`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let mut def: StackDefinition = crate::yaml::from_str(text)
            .with_context(|| format!("{origin} is not a valid stack definition"))?;
        if def.components.len() > MAX_COMPONENTS {
            bail!(
                "{origin}: lists {} components, more than the {MAX_COMPONENTS} cairn takes",
                def.components.len()
            );
        }
        def.changelog = crate::text::lines(&def.changelog, MAX_STACK_TEXT);
        def.message = crate::text::lines(&def.message, MAX_STACK_TEXT);
        def.description = crate::text::one_line(&def.description, 300);
        let mut seen = std::collections::BTreeSet::new();
        for c in &def.components {
            if !crate::names::component(&c.name) {
                bail!(
                    "{origin}: component name {:?} must be lower-case letters, digits and '-'",
                    c.name
                );
            }
            if !seen.insert(&c.name) {
                bail!("{origin}: component {:?} is listed twice", c.name);
            }
            if let Err(why) = crate::files::check_relative(&c.path) {
                bail!(
                    "{origin}: component {:?}: path {:?} must stay inside the stack: the path {why}",
                    c.name,
                    c.path
                );
            }
        }
        Ok(def)
    }

    pub fn component(&self, name: &str) -> Option<&StackComponent> {
        self.components.iter().find(|c| c.name == name)
    }
}
