//! The files cairn reads and writes, as plain data: the user's `cairn.yaml`,
//! a stack's `stack.yaml`, and `cairn.lock`. Parsing and validation only;
//! nothing here resolves sources or runs components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The user's configuration file name.
pub const CONFIG_FILE: &str = "cairn.yaml";
/// The lock file name, beside the configuration.
pub const LOCK_FILE: &str = "cairn.lock";
/// A stack's definition file name, at the stack's root.
pub const STACK_FILE: &str = "stack.yaml";

/// `cairn.yaml`: which stack, which version, where the output goes, and the
/// values of each component.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub stack: StackRef,
    /// Where generated files go, relative to the directory of `cairn.yaml`.
    #[serde(default = "default_output")]
    pub output: String,
    /// Values per component, keyed by component name. Each may hold
    /// `enabled` plus what the component's schema accepts.
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// How rendered Secrets are encrypted; absent, a component that renders
    /// a Secret is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<crate::secrets::SecretsConfig>,
}

fn default_output() -> String {
    ".".into()
}

/// Where a stack comes from and which version to use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackRef {
    /// A git URL (https, ssh, scp-like `git@host:org/repo`, `file://`) or a
    /// local path to a git repository or a plain directory.
    pub source: String,
    /// A semver requirement (`^1.2`), an exact tag (`v1.2.0`) or a commit.
    /// Absent for a plain directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A loaded `cairn.yaml` and where it lives.
#[derive(Debug, Clone)]
pub struct Project {
    /// The `cairn.yaml` path.
    pub config_path: PathBuf,
    /// Its directory: relative paths in it are resolved from here.
    pub root: PathBuf,
    pub config: UserConfig,
}

impl Project {
    pub fn load(config_path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(config_path).with_context(|| {
            format!(
                "cannot read {}; run `cairn init SOURCE` to create one, or pass --config",
                config_path.display()
            )
        })?;
        let config: UserConfig = serde_yaml::from_str(&text)
            .with_context(|| format!("{} is not a valid cairn.yaml", config_path.display()))?;
        let root = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let output = Path::new(&config.output);
        if output.is_absolute()
            || output
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            bail!(
                "{}: output {:?} must be a relative path inside the directory of cairn.yaml",
                config_path.display(),
                config.output
            );
        }
        for (name, values) in &config.values {
            if !(values.is_object() || values.is_null()) {
                bail!(
                    "{}: values.{name} must be a mapping of that component's values (e.g. `enabled: true`)",
                    config_path.display()
                );
            }
            if let Some(enabled) = values.get("enabled")
                && !enabled.is_boolean()
            {
                bail!(
                    "{}: values.{name}.enabled must be true or false",
                    config_path.display()
                );
            }
        }
        Ok(Self {
            config_path: config_path.to_path_buf(),
            root,
            config,
        })
    }

    /// The output directory.
    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.config.output)
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// Whether the user enabled or disabled `component` explicitly.
    pub fn enabled(&self, component: &str) -> Option<bool> {
        self.config.values.get(component)?.get("enabled")?.as_bool()
    }

    /// The user's values for `component`, without `enabled`.
    pub fn component_values(&self, component: &str) -> Option<serde_json::Value> {
        let mut values = self.config.values.get(component)?.clone();
        if let Some(map) = values.as_object_mut() {
            map.remove("enabled");
        }
        Some(values)
    }
}

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
        let def: StackDefinition = serde_yaml::from_str(text)
            .with_context(|| format!("{origin} is not a valid stack definition"))?;
        let mut seen = std::collections::BTreeSet::new();
        for c in &def.components {
            if !crate::runtime::valid_name(&c.name) {
                bail!(
                    "{origin}: component name {:?} must be lower-case letters, digits and '-'",
                    c.name
                );
            }
            if !seen.insert(&c.name) {
                bail!("{origin}: component {:?} is listed twice", c.name);
            }
            if c.path.starts_with('/') || c.path.split('/').any(|s| s == "..") {
                bail!(
                    "{origin}: component {:?}: path {:?} must stay inside the stack",
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

/// `cairn.lock`: exactly what was generated, so that later runs can tell
/// hand edits from generated content and prove the repo matches.
///
/// A lock written by `cairn bootstrap` before the first `generate` holds
/// only `flux`; [`Lock::is_generated`] tells the two apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Lock {
    pub lock_version: u32,
    #[serde(default, skip_serializing_if = "LockedStack::is_empty")]
    pub stack: LockedStack,
    /// sha256 of the effective values (defaults included) of every enabled
    /// component, with secret values as their references (never the
    /// secrets themselves).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub values_sha256: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, LockedComponent>,
    /// Every generated file, relative to the output directory, with the
    /// sha256 of the content cairn generated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Per sealed object (`PATH#Kind/namespace/name`), a salted digest of
    /// its plaintext, to keep its ciphertext while it does not change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, crate::secrets::SealedDigest>,
    /// Flux's install manifests, as `cairn bootstrap` wrote them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<LockedFlux>,
}

/// The Flux release bootstrap installed, and the digest of its manifests,
/// checked whenever they are downloaded again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedFlux {
    pub version: String,
    pub sha256: String,
    /// The download URL, or `file` / `flux CLI`.
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedStack {
    pub name: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedComponent {
    pub version: String,
    pub sha256: String,
}

const LOCK_HEADER: &str =
    "# Written by cairn; do not edit. `cairn verify` checks the repo against it.\n";

impl LockedStack {
    fn is_empty(&self) -> bool {
        self.source.is_empty()
    }
}

impl Lock {
    pub const VERSION: u32 = 1;

    /// Whether `generate` wrote this lock (else only bootstrap did).
    pub fn is_generated(&self) -> bool {
        !self.stack.is_empty()
    }

    /// Reads the lock at `path`; `None` when there is none yet.
    pub fn read(path: &Path) -> anyhow::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let lock: Lock = serde_yaml::from_str(&text).with_context(|| {
            format!(
                "{} is corrupt; restore it from git (`git checkout -- {}`), or delete it to start over (your edits to generated files will then count as conflicts)",
                path.display(),
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        })?;
        if lock.lock_version != Self::VERSION {
            bail!(
                "{} has lock version {}, this cairn reads version {}; upgrade cairn",
                path.display(),
                lock.lock_version,
                Self::VERSION
            );
        }
        Ok(Some(lock))
    }

    pub fn to_text(&self) -> String {
        format!(
            "{LOCK_HEADER}{}",
            serde_yaml::to_string(self).expect("the lock serialises")
        )
    }
}

/// ` (did you mean "x"?)` when one of `candidates` is close to `word`.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}
