//! `init`: starts a project from a stack: writes cairn.yaml with every
//! component's defaults, each commented with what it is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use super::Options;
use super::session::open_source;
use super::tree::load_components;
use crate::runtime::Loaded;
use crate::stack::Stack;

/// The stack to start from.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// A git URL (https, ssh, file://) or a local path, relative to the
    /// current directory.
    pub source: String,
    /// A semver range, a tag or a commit; default the newest release.
    pub version: Option<String>,
}

/// What `init` wrote.
#[derive(Debug, Serialize)]
pub struct InitReport {
    /// The cairn.yaml written.
    pub path: PathBuf,
    pub stack: String,
    /// The version requirement written, if any.
    pub requirement: Option<String>,
    pub components: usize,
}

/// `cairn init`: writes `options.config` for the stack, with each
/// component's defaults commented with its description.
pub fn init(options: &Options, what: &InitOptions) -> anyhow::Result<InitReport> {
    let (source_spec, version) = (what.source.as_str(), what.version.as_deref());
    let config_path = options.config.clone();
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if config_path.exists() {
        bail!(
            "{} already exists; edit it, or use `cairn update` to change the version",
            config_path.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A local path is given relative to where the user is, but cairn.yaml
    // resolves it relative to itself.
    let cwd = std::env::current_dir()?;
    let source_spec = &crate::source::relocate(source_spec, &cwd, &cwd.join(dir));
    let source = open_source(source_spec, dir, options, true)?;
    let pin = source.resolve(version)?;
    let requirement = match (version, &pin.version) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(v)) => Some(format!("^{v}")),
        (None, None) => None,
    };
    let stack = Stack::load(&source, pin)?;
    let runtime = options.sandbox.runtime()?;
    let def = &stack.definition;
    let names: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
    let (loaded, index) = load_components(&runtime, &*options.sandbox.progress, &stack, &names)?;
    let loaded: Vec<&Loaded> = index.into_iter().map(|i| &loaded[i]).collect();

    let mut text = format!(
        "# cairn.yaml: the stack this directory is generated from, and your values.\n\
         # Run `cairn generate` after changing it; `cairn diff` shows what would change.\n\
         stack:\n  source: {}\n",
        yaml_scalar(source_spec)
    );
    if let Some(req) = &requirement {
        text.push_str(&format!("  version: {}\n", yaml_scalar(req)));
    }
    text.push_str("# Where generated files go, relative to this file.\noutput: .\nvalues:\n");
    for (component, loaded) in def.components.iter().zip(loaded) {
        let meta = &loaded.metadata;
        // Component texts are cut to one line where they enter cairn; cut
        // again here so a comment can never end early.
        text.push_str(&format!(
            "  # {}: {}\n",
            crate::text::one_line(&meta.title, 80),
            crate::text::one_line(&meta.description, 200)
        ));
        text.push_str(&format!(
            "  {}:\n    enabled: {}\n",
            component.name, component.enabled
        ));
        let defaults = crate::values::defaults(&meta.config_schema)
            .map_err(|err| anyhow::anyhow!("component {:?}: {err}", component.name))?;
        // Secret fields are never given a value here, whatever the schema's
        // default: they get a commented example of a reference.
        let secrets = crate::values::top_level_secrets(&meta.config_schema);
        if let Some(map) = defaults.as_object() {
            let shown: serde_json::Map<String, serde_json::Value> = map
                .iter()
                .filter(|(key, _)| !secrets.contains(*key))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !shown.is_empty() {
                for line in serde_yaml::to_string(&shown)?.lines() {
                    text.push_str(&format!("    {line}\n"));
                }
            }
        }
        for name in &secrets {
            text.push_str(&format!(
                "    # {name}: {{env: NAME}}  # a secret: {{env: NAME}}, {{file: PATH}} or {{sops: FILE, key: KEY}}\n"
            ));
        }
    }
    crate::files::write_atomic(&config_path, text.as_bytes())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    Ok(InitReport {
        path: config_path,
        stack: def.name.clone(),
        requirement,
        components: def.components.len(),
    })
}

fn yaml_scalar(text: &str) -> String {
    serde_yaml::to_string(text)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| format!("{text:?}"))
}
