//! The files cairn reads and writes, as plain data: the user's `cairn.yaml`,
//! a stack's `stack.yaml`, and `cairn.lock`. Parsing and validation only;
//! nothing here resolves sources or runs components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The user's configuration file name.
pub const CONFIG_FILE: &str = "cairn.yaml";
/// The largest `cairn.yaml` cairn reads.
const MAX_CONFIG: u64 = 1 << 20;
/// The largest `cairn.lock` cairn reads.
const MAX_LOCK: u64 = 16 << 20;
/// The most components a stack may list.
const MAX_COMPONENTS: usize = 1000;
/// The longest changelog or message a stack may carry, in characters.
const MAX_STACK_TEXT: usize = 64 * 1024;
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
    /// How the Flux Kustomizations cairn writes reach their source and how
    /// often they run; Flux's recommended settings when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<crate::flux::Settings>,
}

fn default_output() -> String {
    ".".into()
}

impl UserConfig {
    /// Parses and checks a `cairn.yaml`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let config: UserConfig = crate::yaml::from_str(text)
            .with_context(|| format!("{origin} is not a valid cairn.yaml"))?;
        let output = Path::new(&config.output);
        if output.is_absolute()
            || output
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            bail!(
                "{}: output {:?} must be a relative path inside the directory of cairn.yaml",
                origin,
                config.output
            );
        }
        for (name, values) in &config.values {
            if !(values.is_object() || values.is_null()) {
                bail!(
                    "{}: values.{name} must be a mapping of that component's values (e.g. `enabled: true`)",
                    origin
                );
            }
            if let Some(enabled) = values.get("enabled")
                && !enabled.is_boolean()
            {
                bail!("{}: values.{name}.enabled must be true or false", origin);
            }
        }
        if let Some(flux) = &config.flux {
            flux.check().map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        }
        Ok(config)
    }
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
        let text = crate::files::read_text_bounded(config_path, MAX_CONFIG)
            .and_then(|text| text.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound)))
            .with_context(|| {
                format!(
                    "cannot read {}; run `cairn init SOURCE` to create one, or pass --config",
                    config_path.display()
                )
            })?;
        let config = UserConfig::parse(&text, &config_path.display().to_string())?;
        let root = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
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
            if !crate::runtime::valid_name(&c.name) {
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
    /// Every object sealed for the recipients (`PATH#Kind/namespace/name`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub sealed: std::collections::BTreeSet<String>,
    /// What earlier versions kept per sealed object (salted digests of the
    /// plaintext): read so that their locks still open, never written again.
    #[serde(default, rename = "secrets", skip_serializing)]
    pub legacy_digests: BTreeMap<String, serde_yaml::Value>,
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
        let text = match crate::files::read_text_bounded(path, MAX_LOCK) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        Self::parse(&text, path).map(Some)
    }

    /// Parses and checks the text of the lock at `path`.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let lock: Lock = crate::yaml::from_str(text).with_context(|| {
            format!(
                "{} is corrupt; restore it from git (`git checkout -- {}`), or delete it to start over (your edits to generated files will then count as conflicts)",
                path.display(),
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        })?;
        let restore = || {
            format!(
                "{} is written by cairn only; restore it from git (`git checkout -- {}`)",
                path.display(),
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        };
        for (file, hash) in &lock.files {
            if let Err(why) = check_generated_path(file) {
                bail!(
                    "{}: files: {:?}: the path {why}. {}",
                    path.display(),
                    crate::text::one_line(file, 200),
                    restore()
                );
            }
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "{}: files: {:?}: {:?} is not a sha256. {}",
                    path.display(),
                    crate::text::one_line(file, 200),
                    crate::text::one_line(hash, 80),
                    restore()
                );
            }
        }
        if lock.lock_version != Self::VERSION {
            bail!(
                "{} has lock version {}, this cairn reads version {}; upgrade cairn",
                path.display(),
                lock.lock_version,
                Self::VERSION
            );
        }
        Ok(lock)
    }

    pub fn to_text(&self) -> String {
        format!(
            "{LOCK_HEADER}{}",
            serde_yaml::to_string(self).expect("the lock serialises")
        )
    }
}

/// Why `path` cannot be a file cairn generated: the root kustomization or
/// the Flux layers file, or a relative path inside a component's directory.
pub fn check_generated_path(path: &str) -> Result<(), String> {
    crate::files::check_relative(path)?;
    if path == crate::compose::KUSTOMIZATION || path == crate::flux::LAYERS_FILE {
        return Ok(());
    }
    match path.split_once('/') {
        Some((component, _)) if crate::runtime::valid_name(component) => Ok(()),
        _ => Err("is not inside a component's directory".into()),
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
