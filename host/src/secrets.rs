//! Secrets on their way from the user to git, never in plaintext:
//!
//! - *in*: values a component's schema marks secret (`writeOnly: true` or
//!   `format: password`) are given in cairn.yaml as references (`{env: NAME}`,
//!   `{file: PATH}` outside the repo, `{sops: FILE, key: a.b}`), resolved here
//!   at generate time and never written back;
//! - *out*: every `Secret` a component renders (and any object annotated
//!   [`SENSITIVE_ANNOTATION`]) is sealed as SOPS for the age recipients of
//!   cairn.yaml before anything is written. An object whose plaintext did not
//!   change keeps its previous ciphertext byte for byte, so an unchanged
//!   secret is an unchanged file.
//!
//! Whether a sealed object is unchanged is decided by opening the previous
//! ciphertext with an identity among the recipients, never by a digest of
//! the plaintext: anything computed from the plaintext alone and kept in
//! the repo would let whoever reads the repo test guesses of a weak secret
//! offline. Without an identity, `generate` seals afresh (and says so) and
//! `verify` reports the sealed objects it could not check. The lock lists
//! which objects are sealed, nothing more.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_yaml::Value;

use crate::compose::{self, OutputProblem, Tree, TreeFile};
use crate::sops;

/// The annotation by which a component asks for a non-Secret object to be
/// sealed like a Secret (its `data`/`stringData`).
pub const SENSITIVE_ANNOTATION: &str = "cairn.dev/sensitive";

/// The age identities this machine has, for opening SOPS files: the
/// `SOPS_AGE_KEY` and `SOPS_AGE_KEY_FILE` that the `sops` CLI reads, its
/// default key file, and the identities `cairn bootstrap` generated.
pub fn identities() -> anyhow::Result<Vec<age::x25519::Identity>> {
    let mut out = Vec::new();
    if let Ok(text) = std::env::var("SOPS_AGE_KEY") {
        out.extend(sops::parse_identities(&text).context("SOPS_AGE_KEY")?);
    }
    if let Ok(path) = std::env::var("SOPS_AGE_KEY_FILE") {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read SOPS_AGE_KEY_FILE {path}"))?;
        out.extend(sops::parse_identities(&text).with_context(|| path.clone())?);
    }
    let mut files = Vec::new();
    if let Some(config) = dirs::config_dir() {
        files.push(config.join("sops/age/keys.txt"));
        if let Ok(entries) = std::fs::read_dir(crate::keys::keys_root_in(&config)) {
            for entry in entries.flatten() {
                files.push(entry.path().join(crate::keys::AGE_FILE));
            }
        }
    }
    for file in files {
        if let Ok(text) = std::fs::read_to_string(&file) {
            out.extend(sops::parse_identities(&text).with_context(|| file.display().to_string())?);
        }
    }
    Ok(out)
}

/// Resolves the references of secret values, relative to the directory of
/// the file that holds them.
pub struct Resolver {
    base: PathBuf,
    /// The git work tree around `base`, which a `{file:}` must stay out of.
    repo: Option<PathBuf>,
    identities: std::sync::OnceLock<Result<Vec<age::x25519::Identity>, String>>,
}

/// How to write a secret value in cairn.yaml, for error messages.
pub const REFERENCE_HELP: &str = "give it as `{env: NAME}`, `{file: PATH}` (outside the repo) or `{sops: FILE, key: KEY}` (a SOPS-encrypted file)";

impl Resolver {
    pub fn new(base: &Path) -> Self {
        let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
        let repo = crate::git::work_tree(&base);
        Self {
            base,
            repo,
            identities: std::sync::OnceLock::new(),
        }
    }

    /// Whether `value` is a reference at all (else it is left to the schema).
    pub fn is_reference(value: &serde_json::Value) -> bool {
        value.as_object().is_some_and(|m| {
            m.contains_key("env") || m.contains_key("file") || m.contains_key("sops")
        })
    }

    /// The secret a reference names; the error says what to fix.
    pub fn resolve(&self, reference: &serde_json::Value) -> Result<String, String> {
        let map = reference
            .as_object()
            .ok_or_else(|| format!("is a secret: {REFERENCE_HELP}"))?;
        let text = |key: &str| map.get(key).and_then(serde_json::Value::as_str);
        let allowed: &[&str] = if map.contains_key("sops") {
            &["sops", "key"]
        } else {
            &["env", "file"]
        };
        if let Some(extra) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "unexpected {extra:?} in a secret reference; {REFERENCE_HELP}"
            ));
        }
        if let Some(name) = text("env") {
            return std::env::var(name).map_err(|_| {
                format!("environment variable {name} (named by {{env: {name}}}) is not set")
            });
        }
        if let Some(file) = text("file") {
            let path = self.path(file);
            if let Some(repo) = &self.repo {
                let real = path.canonicalize().unwrap_or_else(|_| path.clone());
                if real.starts_with(repo) {
                    return Err(format!(
                        "{{file: {file}}} is inside the git repository {}; keep secret files outside it, or encrypt it and use {{sops: {file}, key: KEY}}",
                        repo.display()
                    ));
                }
            }
            let mut text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {} ({e})", path.display()))?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            return Ok(text);
        }
        if let Some(file) = text("sops") {
            let key = text("key").ok_or_else(|| {
                format!("{{sops: {file}}} needs `key:`, the dotted path of the value in it")
            })?;
            return self.sops_value(file, key);
        }
        Err(format!(
            "a secret reference's value must be a string; {REFERENCE_HELP}"
        ))
    }

    fn path(&self, file: &str) -> PathBuf {
        match file.strip_prefix("~/") {
            Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
            None => self.base.join(file),
        }
    }

    fn sops_value(&self, file: &str, key: &str) -> Result<String, String> {
        let path = self.path(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {} ({e})", path.display()))?;
        let doc: Value = crate::yaml::from_str(&text)
            .map_err(|e| format!("{} is not YAML ({e})", path.display()))?;
        let identities = self
            .identities
            .get_or_init(|| identities().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(Clone::clone)?;
        let plain = sops::decrypt(&doc, identities).map_err(|e| {
            format!(
                "cannot decrypt {}: {e}; set SOPS_AGE_KEY_FILE to an identity it is encrypted to",
                path.display()
            )
        })?;
        let mut value = &plain;
        for part in key.split('.') {
            value = value
                .get(part)
                .ok_or_else(|| format!("{} has no key {key:?}", path.display()))?;
        }
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(format!(
                "{key:?} in {} is not a single value",
                path.display()
            )),
        }
    }
}

/// The secret values resolved for one render, to keep them out of anything
/// cairn writes or shows: output is refused when one appears in it outside
/// a sealed object, and component texts (logs, diagnostics, failures) have
/// them replaced by `(secret)`.
#[derive(Debug, Default)]
pub struct Resolved {
    /// (component, field, value), for values of at least [`MIN_CHECKED`]
    /// characters.
    values: Vec<(String, String, String)>,
}

/// Secrets shorter than this are too likely to occur by chance in a
/// manifest to be searched for; cairn warns about them instead.
pub const MIN_CHECKED: usize = 6;

impl Resolved {
    /// Records `value`, resolved for `component`'s `field`. Returns `false`
    /// when it is too short to be checked.
    pub fn add(&mut self, component: &str, field: &str, value: &str) -> bool {
        if value.chars().count() < MIN_CHECKED {
            return false;
        }
        self.values
            .push((component.to_string(), field.to_string(), value.to_string()));
        true
    }

    /// `text` with every resolved value (and its base64 form) replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, _, value) in &self.values {
            for needle in forms(value) {
                if out.contains(&needle) {
                    out = out.replace(&needle, "(secret)");
                }
            }
        }
        out
    }

    /// Every file of `tree` (its path or content) that holds a resolved
    /// value as it is or base64-encoded: a component echoed a secret into
    /// a ConfigMap, an annotation or a name.
    pub fn leaks(&self, tree: &Tree) -> Vec<OutputProblem> {
        let mut problems = Vec::new();
        for (component, field, value) in &self.values {
            let needles = forms(value);
            for (path, file) in tree {
                if needles
                    .iter()
                    .any(|n| file.content.contains(n.as_str()) || path.contains(n.as_str()))
                {
                    let owner = file.component.clone().unwrap_or_default();
                    problems.push(OutputProblem {
                        file: path
                            .strip_prefix(&format!("{owner}/"))
                            .unwrap_or(path)
                            .to_string(),
                        component: owner,
                        problem: format!(
                            "holds the secret value of {component}.{field} outside a sealed Secret; a component may put a secret only in a Secret, which cairn encrypts"
                        ),
                    });
                }
            }
        }
        problems
    }
}

/// The forms a secret takes in text: itself, and its base64 encoding at
/// each of the three alignments it can have inside a longer encoded text
/// (only the characters it alone determines).
fn forms(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut out = vec![value.to_string()];
    let bytes = value.as_bytes();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&padded);
        let first = offset.div_ceil(3) * 4;
        let last = padded.len() / 3 * 4;
        if last > first && last - first >= 8 {
            out.push(encoded[first..last].to_string());
        }
    }
    out
}

/// What sealing a tree gives back besides the sealed tree.
#[derive(Debug, Default)]
pub struct Sealed {
    /// Every sealed object, `PATH#Kind/namespace/name`, for the lock.
    pub objects: BTreeSet<String>,
    /// Sealed objects whose previous ciphertext no identity here opens:
    /// sealed afresh by `generate`, kept as they are (and unchecked) in
    /// [`PreviousCiphertext::KeepUnopened`] mode.
    pub unopened: BTreeSet<String>,
    /// (component, message) for objects Flux will not decrypt.
    pub warnings: Vec<(String, String)>,
}

/// What a generated file holds now (`None` when absent), by path relative to
/// the output: how the sealer sees the previous generation, to keep its
/// ciphertext. The repo stage provides it.
pub type ReadPrevious = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What to do with a sealed object that no identity here opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousCiphertext {
    /// Seal it afresh: its plaintext may have changed (`generate`).
    Reseal,
    /// Keep it as it is, and report it unchecked (`verify`).
    KeepUnopened,
}

/// Seals rendered objects for the configured recipients.
pub struct Sealer {
    recipients: Vec<age::x25519::Recipient>,
    identities: Vec<age::x25519::Identity>,
    read_previous: ReadPrevious,
    unopened: PreviousCiphertext,
    now: String,
}

impl Sealer {
    pub fn new(
        recipients: Vec<age::x25519::Recipient>,
        identities: Vec<age::x25519::Identity>,
        read_previous: ReadPrevious,
        unopened: PreviousCiphertext,
    ) -> Self {
        Self {
            recipients,
            identities,
            read_previous,
            unopened,
            now: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    /// Seals every sensitive object in `tree`, in place. An object whose
    /// previous ciphertext an identity opens, with the same plaintext and
    /// recipients, keeps it byte for byte.
    pub fn seal(&self, tree: &mut Tree) -> Result<Sealed, Vec<OutputProblem>> {
        let mut sealed = Sealed::default();
        let mut problems = Vec::new();
        let wanted: BTreeSet<String> = self.recipients.iter().map(|r| r.to_string()).collect();
        for (path, file) in tree.iter_mut() {
            if !file.documents().iter().any(needs_sealing) {
                continue;
            }
            let docs: Vec<Value> = file.documents().to_vec();
            let previous = self.previous_objects(path);
            let mut out = Vec::new();
            for doc in docs {
                if !needs_sealing(&doc) {
                    out.push(doc);
                    continue;
                }
                let id = format!("{path}#{}", compose::object_id(&doc));
                let secret = doc.get("kind").and_then(Value::as_str) == Some("Secret")
                    && doc.get("apiVersion").and_then(Value::as_str) == Some("v1");
                if !secret {
                    sealed.warnings.push((
                        file.component.clone().unwrap_or_default(),
                        format!(
                            "{} in {path} is marked {SENSITIVE_ANNOTATION} and was encrypted, but Flux's kustomize-controller decrypts only v1 Secrets: put the sensitive data in a Secret and reference it",
                            compose::object_id(&doc)
                        ),
                    ));
                }
                let old = previous.get(&compose::object_id(&doc)).filter(|old| {
                    sops::recipients(old).into_iter().collect::<BTreeSet<_>>() == wanted
                });
                let kept = match old.map(|old| (old, sops::data_key(old, &self.identities))) {
                    Some((old, Ok(key))) => sops::decrypt_with(old, &key)
                        .is_ok_and(|plain| plain == doc)
                        .then_some(old),
                    Some((old, Err(_))) => {
                        sealed.unopened.insert(id.clone());
                        (self.unopened == PreviousCiphertext::KeepUnopened).then_some(old)
                    }
                    None => None,
                };
                match kept {
                    Some(old) => out.push(old.clone()),
                    None => match sops::DataKey::generate(&self.recipients)
                        .and_then(|key| sops::encrypt(&doc, &key, &self.now))
                    {
                        Ok(fresh) => out.push(fresh),
                        Err(err) => problems.push(OutputProblem {
                            component: file.component.clone().unwrap_or_default(),
                            file: path.clone(),
                            problem: format!(
                                "cannot encrypt {}: {err:#}",
                                compose::object_id(&doc)
                            ),
                        }),
                    },
                }
                sealed.objects.insert(id);
            }
            let content = out
                .iter()
                .map(|d| serde_yaml::to_string(d).expect("YAML values serialise"))
                .collect::<Vec<_>>()
                .join("---\n");
            *file = TreeFile::new(file.component.clone(), content);
        }
        if problems.is_empty() {
            Ok(sealed)
        } else {
            Err(problems)
        }
    }

    /// The sealed objects of the file now at `path`, by object id.
    fn previous_objects(&self, path: &str) -> BTreeMap<String, Value> {
        let Some(text) = (self.read_previous)(path) else {
            return BTreeMap::new();
        };
        crate::yaml::documents(&text)
            .into_iter()
            .flatten()
            .filter(sops::is_encrypted)
            .map(|doc| (compose::object_id(&doc), doc))
            .collect()
    }
}

/// Whether `doc` must be sealed: a Secret, or annotated sensitive, not yet
/// sealed.
pub fn needs_sealing(doc: &Value) -> bool {
    if sops::is_encrypted(doc) {
        return false;
    }
    let secret = doc.get("kind").and_then(Value::as_str) == Some("Secret");
    let marked = doc
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(SENSITIVE_ANNOTATION))
        .is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true));
    secret || marked
}

/// Every YAML file under `dir` (not `.git`) that holds a plaintext secret
/// or a key, by path relative to `dir`, with why.
pub fn scan_plaintext(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
                continue;
            }
            let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if !kind.is_file() || !yaml {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Some(why) = compose::plaintext_secret(&text)
            {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                found.push((rel.display().to_string(), why));
            }
        }
    }
    found.sort();
    found
}

/// The `.sops.yaml` name, at the repository root.
pub const SOPS_CONFIG: &str = ".sops.yaml";

/// The repository's `.sops.yaml` with a creation rule for the files under
/// `rel` (the output, relative to the repository root) sealed to
/// `recipients`, so that `sops` edits them as cairn writes them. `None`
/// when the file already has that rule.
pub fn sops_config(
    existing: Option<&str>,
    rel: &str,
    recipients: &[String],
) -> anyhow::Result<Option<String>> {
    let escaped: String = rel
        .trim_start_matches("./")
        .trim_end_matches('/')
        .chars()
        .flat_map(|c| {
            if ".+*?()[]{}|^$\\".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    let path_regex = if escaped.is_empty() || escaped == "\\." {
        r"\.ya?ml$".to_string()
    } else {
        format!(r"^{escaped}/.*\.ya?ml$")
    };
    let mut rule = serde_yaml::Mapping::new();
    rule.insert("path_regex".into(), path_regex.clone().into());
    rule.insert("encrypted_regex".into(), sops::ENCRYPTED_REGEX.into());
    rule.insert("age".into(), recipients.join(",").into());
    let rule = Value::Mapping(rule);
    let mut doc: Value = match existing {
        Some(text) => crate::yaml::from_str(text)
            .with_context(|| format!("{SOPS_CONFIG} is not valid YAML; fix it, then re-run"))?,
        None => Value::Null,
    };
    if doc.is_null() {
        doc = Value::Mapping(serde_yaml::Mapping::new());
    }
    let rules = doc
        .as_mapping_mut()
        .with_context(|| format!("{SOPS_CONFIG} is not a mapping"))?
        .entry("creation_rules".into())
        .or_insert_with(|| Value::Sequence(Vec::new()))
        .as_sequence_mut()
        .with_context(|| format!("{SOPS_CONFIG}: creation_rules is not a list"))?;
    let position = rules
        .iter()
        .position(|r| r.get("path_regex").and_then(Value::as_str) == Some(path_regex.as_str()));
    match position {
        Some(i) if rules[i] == rule => return Ok(None),
        Some(i) => rules[i] = rule,
        // sops takes the first rule that matches: cairn's go first.
        None => rules.insert(0, rule),
    }
    let body = serde_yaml::to_string(&doc).expect("YAML serialises");
    Ok(Some(if existing.is_none() {
        format!(
            "# How `sops` encrypts files here; cairn keeps the rule for its output in step with cairn.yaml.\n{body}"
        )
    } else {
        body
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::TreeFile;

    fn tree(content: &str) -> Tree {
        let mut tree = Tree::new();
        tree.insert(
            "app/objects.yaml".into(),
            TreeFile::new(Some("app".into()), content.into()),
        );
        tree
    }

    const OBJECTS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marked\n  annotations:\n    cairn.dev/sensitive: 'true'\ndata:\n  token: t0ken\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\nstringData:\n  password: pa55word\n";

    #[test]
    fn seals_secrets_and_marked_objects_and_keeps_unchanged_ciphertext() {
        let identity = age::x25519::Identity::generate();
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().to_path_buf();
        let sealer = Sealer::new(
            vec![identity.to_public()],
            vec![identity.clone()],
            Box::new(move |path| std::fs::read_to_string(output.join(path)).ok()),
            PreviousCiphertext::Reseal,
        );
        let mut first = tree(OBJECTS);
        let sealed = sealer.seal(&mut first).unwrap();
        let text = &first["app/objects.yaml"].content;
        assert!(
            !text.contains("t0ken") && !text.contains("pa55word"),
            "{text}"
        );
        assert!(
            text.contains("a: b"),
            "an unmarked ConfigMap stays plain: {text}"
        );
        assert_eq!(
            sealed.objects.iter().collect::<Vec<_>>(),
            [
                "app/objects.yaml#ConfigMap//marked",
                "app/objects.yaml#Secret/ns/s"
            ]
        );
        assert_eq!(sealed.warnings.len(), 1);
        assert!(sealed.warnings[0].1.contains("decrypts only v1 Secrets"));
        assert!(compose::plaintext_problems(&first).is_empty());

        // Written out, the same render seals to the same bytes.
        let path = dir.path().join("app/objects.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let mut again = tree(OBJECTS);
        sealer.seal(&mut again).unwrap();
        assert_eq!(again["app/objects.yaml"].content, *text);

        // A changed value is sealed anew; the other object keeps its bytes.
        let mut changed = tree(&OBJECTS.replace("pa55word", "other"));
        sealer.seal(&mut changed).unwrap();
        let docs = |t: &str| -> Vec<String> {
            crate::yaml::documents(t)
                .into_iter()
                .map(|d| serde_yaml::to_string(&d.unwrap()).unwrap())
                .collect()
        };
        let (old, new) = (docs(text), docs(&changed["app/objects.yaml"].content));
        assert_eq!(old[1], new[1]);
        assert_ne!(old[2], new[2]);
    }
}
