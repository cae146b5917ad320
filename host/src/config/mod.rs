//! The files cairn reads and writes, as plain data: the user's `cairn.yaml`,
//! a stack's `stack.yaml`, and `cairn.lock`. Parsing and validation only;
//! nothing here resolves sources or runs components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

mod definition;
pub mod layout;
mod lock;

pub use definition::{StackComponent, StackDefinition};
pub use layout::{CONFIG_FILE, LOCK_FILE, STACK_FILE, check_generated_path};
pub use lock::{Lock, LockedComponent, LockedFlux, LockedStack};

/// The largest `cairn.yaml` cairn reads.
const MAX_CONFIG: u64 = 1 << 20;

/// `cairn.yaml`: which stack, which version, where the output goes, and the
/// values of each component.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub stack: StackRef,
    /// More stacks whose components join the main stack's: each locked and
    /// verified like it, its components' names unique across all (an
    /// `alias` renames one), facts flowing between them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<MoreStack>,
    /// Files of values shared with other clusters (`values:` as here),
    /// relative to this file and inside its repository: merged in order,
    /// each over the one before, and this file's own values over them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
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
    pub secrets: Option<SecretsConfig>,
    /// How the Flux Kustomizations cairn writes reach their source and how
    /// often they run; Flux's recommended settings when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<FluxSettings>,
    /// What components may do to the cluster; `generate` and `lint`
    /// refuse what breaks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// cairn.yaml's `policy:`: limits on what components' manifests may do.
/// A list absent allows anything; `false` forbids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// Namespaces objects may be in or create (`*` matches any run of
    /// characters: `team-*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Kinds objects may have, as `Kind.group` (`Deployment.apps`,
    /// `*.gateway.networking.k8s.io`; core kinds without a group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<String>>,
    /// Prefixes container images must start with (`ghcr.io/acme/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registries: Option<Vec<String>>,
    /// Prefixes of the sources Helm charts may come from
    /// (`https://charts.jetstack.io`, `oci://ghcr.io/acme/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charts: Option<Vec<String>>,
    /// `false`: no binding to `cluster-admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_admin: Option<bool>,
    /// `false`: no RBAC wildcards, `escalate`, `bind` or `impersonate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wildcard_rbac: Option<bool>,
    /// `false`: no admission webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<bool>,
    /// `false`: no pods with host namespaces, host paths or ports,
    /// privileges or added capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_access: Option<bool>,
    /// `false`: no cluster-scoped objects besides Namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_scoped: Option<bool>,
}

fn default_output() -> String {
    ".".into()
}

impl UserConfig {
    /// Parses and checks a `cairn.yaml`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let config: UserConfig = crate::yaml::from_str(text)
            .with_context(|| format!("{origin} is not a valid cairn.yaml"))?;
        // Every problem at once, so that one run shows all there is to fix.
        let mut problems = Vec::new();
        let output = Path::new(&config.output);
        if output.is_absolute()
            || output
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            problems.push(format!(
                "output {:?} must be a relative path inside the directory of cairn.yaml",
                config.output
            ));
        }
        for (name, values) in &config.values {
            if !(values.is_object() || values.is_null()) {
                problems.push(format!(
                    "values.{name} must be a mapping of that component's values (e.g. `enabled: true`)"
                ));
            }
            if let Some(enabled) = values.get("enabled")
                && !enabled.is_boolean()
            {
                problems.push(format!(
                    "values.{name}.enabled must be true or false, not {enabled}"
                ));
            }
        }
        if let Some(flux) = &config.flux
            && let Err(e) = flux.check()
        {
            problems.push(e);
        }
        let trusts = std::iter::once((
            "stack".to_string(),
            &config.stack.signers,
            config.stack.unsigned,
        ))
        .chain(
            config
                .stacks
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("stacks[{i}]"), &m.signers, m.unsigned)),
        );
        for (key, signers, unsigned) in trusts {
            if unsigned && !signers.is_empty() {
                problems.push(format!(
                    "{key}: `unsigned: true` and `signers` contradict each other; keep one"
                ));
            }
            for signer in signers {
                if let Err(e) = crate::signing::parse_key(signer) {
                    problems.push(format!("{key}.signers: {e:#}"));
                }
            }
        }
        let mut sources = std::collections::BTreeSet::from([config.stack.source.as_str()]);
        for (i, more) in config.stacks.iter().enumerate() {
            if more.source.trim().is_empty() {
                problems.push(format!(
                    "stacks[{i}].source must name a stack (a git URL or a path)"
                ));
            } else if !sources.insert(more.source.as_str()) {
                problems.push(format!(
                    "stacks[{i}].source {:?} is already a stack of this cluster; name each stack once",
                    more.source
                ));
            }
            for (from, to) in &more.alias {
                for name in [from, to] {
                    if !crate::names::component(name) {
                        problems.push(format!(
                            "stacks[{i}].alias: {name:?} is not a component name (lower-case letters, digits and `-`)"
                        ));
                    }
                }
            }
        }
        match problems.as_slice() {
            [] => {}
            [one] => bail!("{origin}: {one}"),
            many => bail!(
                "{origin}:{}",
                many.iter()
                    .map(|p| format!("\n  - {p}"))
                    .collect::<String>()
            ),
        }
        Ok(config)
    }
}

/// cairn.yaml's `secrets:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// The age recipients (`age1...`) every rendered Secret is sealed to:
    /// the cluster's (from `cairn bootstrap`) and, usually, the team's.
    #[serde(default)]
    pub age: Vec<String>,
}

impl SecretsConfig {
    /// Parses the recipients; `origin` names cairn.yaml in errors.
    pub fn recipients(&self, origin: &str) -> anyhow::Result<Vec<age::x25519::Recipient>> {
        self.age
            .iter()
            .enumerate()
            .map(|(i, r)| {
                r.trim().parse().map_err(|e| {
                    anyhow::anyhow!(
                        "{origin}: secrets.age[{i}] {r:?} is not an age recipient ({e}); it looks like age1... (`cairn bootstrap` prints the cluster's)"
                    )
                })
            })
            .collect()
    }
}

/// How the Kustomizations cairn writes reach their source, and how often
/// they run: `flux:` in cairn.yaml, with Flux's recommended defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct FluxSettings {
    /// The output directory relative to the root of the repository Flux
    /// pulls, e.g. `clusters/prod`. Default: found from the git repository
    /// around it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The source every Kustomization applies from.
    pub source_ref: SourceRef,
    /// The namespace the Kustomizations live in.
    pub namespace: String,
    /// How often each layer is applied again (undoing drift).
    pub interval: String,
    /// How soon a failed layer is retried.
    pub retry_interval: String,
    /// How long applying a layer and waiting for it to be healthy may take.
    pub timeout: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Default for FluxSettings {
    /// What Flux's documentation recommends for layered Kustomizations
    /// (kustomize-controller docs, "Recommended settings"; the
    /// flux2-kustomize-helm-example), from bootstrap's `flux-system` source.
    fn default() -> Self {
        Self {
            path: None,
            source_ref: SourceRef {
                kind: "GitRepository".into(),
                name: layout::FLUX_NAME.into(),
                namespace: None,
            },
            namespace: layout::FLUX_NAME.into(),
            interval: "1h".into(),
            retry_interval: "2m".into(),
            timeout: "5m".into(),
        }
    }
}

impl FluxSettings {
    /// Why the settings cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        for (field, value) in [
            ("interval", &self.interval),
            ("retryInterval", &self.retry_interval),
            ("timeout", &self.timeout),
        ] {
            crate::names::flux_duration(value).map_err(|e| format!("flux.{field}: {e}"))?;
        }
        if let Some(path) = &self.path {
            let trimmed = crate::names::normal_path(path);
            if !trimmed.is_empty() {
                crate::files::check_relative(&trimmed)
                    .map_err(|why| format!("flux.path {path:?}: the path {why}"))?;
            }
        }
        let kind = &self.source_ref.kind;
        if ![
            "GitRepository",
            "OCIRepository",
            "Bucket",
            "ExternalArtifact",
        ]
        .contains(&kind.as_str())
        {
            return Err(format!(
                "flux.sourceRef.kind {kind:?} is not a Flux source kind (GitRepository, OCIRepository, Bucket or ExternalArtifact)"
            ));
        }
        for (field, value) in [
            ("sourceRef.name", &self.source_ref.name),
            ("namespace", &self.namespace),
        ] {
            if !crate::names::component(value) {
                return Err(format!("flux.{field}: {value:?} is not a valid name"));
            }
        }
        Ok(())
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
    /// The SSH public keys whose signature a release must carry
    /// (`ssh-ed25519 AAAA...`); `init` pins the one that signed the release
    /// it starts from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// Run releases without checking their signature: an explicit opt-out,
    /// recorded in the lock.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
}

/// Another stack a cluster takes components from (cairn.yaml `stacks:`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoreStack {
    /// As `stack.source`.
    pub source: String,
    /// As `stack.version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Names to give this stack's components here (`grafana: obs-grafana`):
    /// for a name another stack of the cluster already uses.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alias: BTreeMap<String, String>,
    /// As `stack.signers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// As `stack.unsigned`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
}

/// Whom a cluster trusts to sign a stack's releases.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// Where the stack comes from, and which key of cairn.yaml says so
    /// (`stack`, `stacks[1]`), for messages.
    pub source: &'a str,
    pub key: &'a str,
    pub signers: &'a [String],
    pub unsigned: bool,
}

impl StackRef {
    pub fn trust(&self) -> Trust<'_> {
        Trust {
            source: &self.source,
            key: "stack",
            signers: &self.signers,
            unsigned: self.unsigned,
        }
    }
}

impl MoreStack {
    /// `key` names the entry in cairn.yaml (`stacks[0]`).
    pub fn trust<'a>(&'a self, key: &'a str) -> Trust<'a> {
        Trust {
            source: &self.source,
            key,
            signers: &self.signers,
            unsigned: self.unsigned,
        }
    }
}

/// A loaded `cairn.yaml` and where it lives.
#[derive(Debug, Clone)]
pub struct Project {
    /// The `cairn.yaml` path.
    pub config_path: PathBuf,
    /// Its directory: relative paths in it are resolved from here.
    pub root: PathBuf,
    /// Its configuration, with the values of `include:` files merged under
    /// its own.
    pub config: UserConfig,
    /// The values its `include:` files give, merged, before its own.
    pub inherited: BTreeMap<String, serde_json::Value>,
    /// The text `config` was parsed from.
    pub text: String,
}

impl Project {
    pub fn load(config_path: &Path) -> anyhow::Result<Self> {
        let text = crate::files::read_text_bounded(config_path, MAX_CONFIG)
            .with_context(|| format!("cannot read {}", config_path.display()))?
            .with_context(|| {
                format!(
                    "{} does not exist; run `cairn init SOURCE` to create one, or pass --config",
                    config_path.display()
                )
            })?;
        Self::parse(config_path, text)
    }

    /// The project `text` would make if it were the file at `config_path`:
    /// how unsaved edits (`cairn configure`) are checked and reviewed.
    pub fn parse(config_path: &Path, text: String) -> anyhow::Result<Self> {
        if text.len() as u64 > MAX_CONFIG {
            bail!(
                "{}: more than {MAX_CONFIG} bytes, larger than a cairn.yaml may be",
                config_path.display()
            );
        }
        let origin = config_path.display().to_string();
        let mut config = UserConfig::parse(&text, &origin)?;
        let root = config_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let mut inherited = BTreeMap::new();
        if !config.include.is_empty() {
            for include in &config.include {
                let shared = read_include(&root, &origin, include)?;
                merge_values(&mut inherited, shared);
            }
            let mut values = inherited.clone();
            merge_values(&mut values, std::mem::take(&mut config.values));
            config.values = values;
        }
        Ok(Self {
            config_path: config_path.to_path_buf(),
            root,
            config,
            inherited,
            text,
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

/// The largest shared values file cairn reads.
const MAX_INCLUDE: u64 = 1 << 20;

/// A shared values file: `values:`, as in cairn.yaml.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shared {
    #[serde(default)]
    values: BTreeMap<String, serde_json::Value>,
}

/// The values of `include` (relative to `root`, the directory of the
/// cairn.yaml `origin`). It must stay inside the git repository around
/// `root` (or, outside git, inside `root`) and is never read through a
/// symbolic link: a pull request cannot make cairn read files elsewhere.
fn read_include(
    root: &Path,
    origin: &str,
    include: &str,
) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let absolute_root = std::path::absolute(root)?;
    let bound = crate::git::work_tree(&absolute_root).unwrap_or_else(|| absolute_root.clone());
    // Lexically: `..` steps out of the directory it follows.
    let mut wanted = PathBuf::new();
    for part in absolute_root.join(include).components() {
        match part {
            std::path::Component::ParentDir => {
                wanted.pop();
            }
            std::path::Component::CurDir => {}
            other => wanted.push(other),
        }
    }
    let rel = wanted
        .strip_prefix(&bound)
        .ok()
        .filter(|rel| crate::files::check_relative(&rel.to_string_lossy()).is_ok())
        .with_context(|| {
            format!(
                "{origin}: include {include:?} is outside {}; shared values must be files in the same repository",
                bound.display()
            )
        })?;
    crate::files::no_links(&bound, rel)
        .map_err(|e| anyhow::anyhow!("{origin}: include {include:?}: {e}"))?;
    let text = crate::files::read_text_bounded(&wanted, MAX_INCLUDE)
        .with_context(|| format!("{origin}: cannot read include {include:?}"))?
        .with_context(|| format!("{origin}: include {include:?} does not exist"))?;
    let shared: Shared = crate::yaml::from_str(&text).with_context(|| {
        format!("{origin}: include {include:?} is not a file of shared values (`values:` as in cairn.yaml)")
    })?;
    Ok(shared.values)
}

/// `over` merged into `base`: mappings key by key, anything else replaced.
/// `over` merged onto `base`: mappings key by key, anything else replaced.
/// How `include:` values and a cluster's own values combine.
pub fn merge(base: &mut serde_json::Value, over: serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(base), serde_json::Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

fn merge_values(
    base: &mut BTreeMap<String, serde_json::Value>,
    over: BTreeMap<String, serde_json::Value>,
) {
    for (key, value) in over {
        match base.get_mut(&key) {
            Some(existing) => merge(existing, value),
            None => {
                base.insert(key, value);
            }
        }
    }
}

/// ` (did you mean "x"?)` when one of `candidates` is close to `word`.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    crate::values::closest(word, candidates)
        .map(|c| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `got` is `want`: the value, or an error whose text holds `want`'s.
    fn expect<T: PartialEq + std::fmt::Debug>(
        what: &str,
        got: anyhow::Result<T>,
        want: Result<T, &str>,
    ) {
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
            (Err(err), Err(part)) => {
                let err = format!("{err:#}");
                assert!(err.contains(part), "{what}: {err}");
            }
            (Ok(_), Err(part)) => panic!("{what}: accepted, want an error with {part:?}"),
            (Err(err), Ok(_)) => panic!("{what}: {err:#}"),
        }
    }

    #[test]
    fn parses_cairn_yaml_or_says_what_is_wrong() {
        // (what, cairn.yaml, Ok(output) or Err(part of the message))
        let cases: &[(&str, &str, Result<&str, &str>)] = &[
            ("minimal", "stack: {source: ./s}\n", Ok(".")),
            (
                "output and values",
                "stack: {source: ./s, version: ^1}\noutput: clusters/prod\nvalues:\n  app: {enabled: false}\n  other:\n",
                Ok("clusters/prod"),
            ),
            (
                "unknown key",
                "stack: {source: ./s}\nvalue: {}\n",
                Err("cairn.yaml is not a valid cairn.yaml"),
            ),
            (
                "output outside",
                "stack: {source: ./s}\noutput: ../elsewhere\n",
                Err("output \"../elsewhere\" must be a relative path inside"),
            ),
            (
                "absolute output",
                "stack: {source: ./s}\noutput: /etc\n",
                Err("must be a relative path inside"),
            ),
            (
                "values not a mapping",
                "stack: {source: ./s}\nvalues:\n  app: [1]\n",
                Err("values.app must be a mapping"),
            ),
            (
                "enabled not a bool",
                "stack: {source: ./s}\nvalues:\n  app: {enabled: 'yes'}\n",
                Err("values.app.enabled must be true or false"),
            ),
            (
                "every problem at once",
                "stack: {source: ./s}\nvalues:\n  a: {enabled: 'false'}\n  b: {enabled: 'false'}\n",
                Err(
                    "cairn.yaml:\n  - values.a.enabled must be true or false, not \"false\"\n  - values.b.enabled",
                ),
            ),
            (
                "bad flux interval",
                "stack: {source: ./s}\nflux: {interval: soon}\n",
                Err("flux.interval"),
            ),
            (
                "bad flux source kind",
                "stack: {source: ./s}\nflux: {sourceRef: {kind: HelmRepository, name: x}}\n",
                Err("is not a Flux source kind"),
            ),
            (
                "flux path escaping",
                "stack: {source: ./s}\nflux: {path: ../x}\n",
                Err("flux.path"),
            ),
            (
                "anchors are refused",
                "stack: &s {source: ./s}\nother: *s\n",
                Err("cairn.yaml is not a valid cairn.yaml"),
            ),
        ];
        for (what, text, want) in cases {
            let got = UserConfig::parse(text, "cairn.yaml").map(|c| c.output);
            expect(what, got, want.map(String::from));
        }
    }

    #[test]
    fn parses_stack_yaml_or_says_what_is_wrong() {
        let component = |name: &str, path: &str| {
            format!(
                "  - name: {name}\n    path: {path}\n    sha256: {}\n",
                "0".repeat(64)
            )
        };
        let cases: Vec<(&str, String, Result<usize, &str>)> = vec![
            (
                "two components",
                format!(
                    "name: s\ncomponents:\n{}{}",
                    component("a", "a.wasm"),
                    component("b", "c/b.wasm")
                ),
                Ok(2),
            ),
            (
                "a bad name",
                format!("name: s\ncomponents:\n{}", component("A_b", "a.wasm")),
                Err("component name \"A_b\" must be lower-case"),
            ),
            (
                "listed twice",
                format!(
                    "name: s\ncomponents:\n{}{}",
                    component("a", "a.wasm"),
                    component("a", "b.wasm")
                ),
                Err("component \"a\" is listed twice"),
            ),
            (
                "a path outside the stack",
                format!("name: s\ncomponents:\n{}", component("a", "../a.wasm")),
                Err("must stay inside the stack"),
            ),
            (
                "an absolute path",
                format!("name: s\ncomponents:\n{}", component("a", "/a.wasm")),
                Err("must stay inside the stack"),
            ),
        ];
        for (what, text, want) in cases {
            let got = StackDefinition::parse(&text, "stack.yaml").map(|d| d.components.len());
            expect(what, got, want);
        }
    }

    #[test]
    fn parses_the_lock_or_says_what_is_wrong() {
        let sha = "a".repeat(64);
        let cases: Vec<(&str, String, Result<usize, &str>)> = vec![
            (
                "files",
                format!(
                    "lockVersion: {}\nfiles:\n  app/a.yaml: {sha}\n",
                    Lock::VERSION
                ),
                Ok(1),
            ),
            (
                "a path outside the output",
                format!("lockVersion: {}\nfiles:\n  ../../x: {sha}\n", Lock::VERSION),
                Err("is written by cairn only"),
            ),
            (
                "not a sha256",
                format!(
                    "lockVersion: {}\nfiles:\n  app/a.yaml: nope\n",
                    Lock::VERSION
                ),
                Err("\"nope\" is not a sha256"),
            ),
            (
                "a newer lock",
                format!("lockVersion: {}\n", Lock::VERSION + 1),
                Err("upgrade cairn"),
            ),
            (
                "not YAML cairn wrote",
                "lockVersion: [\n".to_string(),
                Err("is corrupt; restore it from git"),
            ),
        ];
        for (what, text, want) in cases {
            let got = Lock::parse(&text, Path::new("cairn.lock")).map(|l| l.files.len());
            expect(what, got, want);
        }
    }
}
