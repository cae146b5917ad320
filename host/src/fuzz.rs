//! Entry points for fuzzing every parser of untrusted input: component
//! output, the journal, the lock, `cairn.yaml`, `stack.yaml`, schemas,
//! and what distribution brings in: `catalog.yaml`, OCI references and
//! manifests.
//! Each takes arbitrary bytes and must return without panicking, within
//! bounded time and memory, whatever they hold. `tests/fuzz.rs` runs them
//! briefly on every `make test`; `make fuzz` runs them under libFuzzer.

use std::path::Path;

use crate::compose::ComponentFiles;
use crate::limits::Limits;

/// A fuzz target: takes any bytes, and must return.
pub type Target = fn(&[u8]);

/// The parsers, by name, for the drivers.
pub const TARGETS: &[(&str, Target)] = &[
    ("output", output),
    ("journal", journal),
    ("lock", lock),
    ("cairn_yaml", cairn_yaml),
    ("stack_yaml", stack_yaml),
    ("schema", schema),
    ("merge", merge),
    ("catalog", catalog),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// What a component returns: checked, assembled and scanned for secrets.
pub fn output(data: &[u8]) {
    let Some(content) = text(data) else { return };
    let files = vec![crate::runtime::OutputFile {
        path: "a.yaml".into(),
        content: content.to_string(),
        layer: crate::runtime::Layer::Main,
    }];
    if let Ok(tree) = crate::compose::assemble(
        vec![ComponentFiles {
            component: "fuzz".into(),
            files,
        }],
        &Limits::default(),
    ) {
        let _ = crate::compose::plaintext_problems(&tree);
    }
    let _ = crate::compose::plaintext_secret(content);
}

/// `.cairn/journal.yaml`.
pub fn journal(data: &[u8]) {
    if let Some(text) = text(data) {
        let _ = crate::repo::journal_accepted(".", text);
        let _ = crate::repo::journal_accepted("out", text);
    }
}

/// `cairn.lock`.
pub fn lock(data: &[u8]) {
    if let Some(text) = text(data) {
        let _ = crate::config::Lock::parse(text, Path::new("cairn.lock"));
    }
}

/// `cairn.yaml`.
pub fn cairn_yaml(data: &[u8]) {
    if let Some(text) = text(data) {
        let _ = crate::config::UserConfig::parse(text, "cairn.yaml");
    }
}

/// `stack.yaml`.
pub fn stack_yaml(data: &[u8]) {
    if let Some(text) = text(data) {
        let _ = crate::config::StackDefinition::parse(text, "stack.yaml");
    }
}

/// A configuration schema from `describe`, then values checked against it.
pub fn schema(data: &[u8]) {
    let Some(text) = text(data) else { return };
    // The first line is the values, the rest the schema.
    let (values, schema) = text.split_once('\n').unwrap_or(("{}", text));
    if schema.len() > crate::values::MAX_SCHEMA_BYTES {
        return;
    }
    let Ok(schema) = serde_json::from_str::<serde_json::Value>(schema) else {
        return;
    };
    if crate::values::check_schema(&schema).is_err() {
        return;
    }
    let _ = crate::values::defaults(&schema);
    let values = serde_json::from_str::<serde_json::Value>(values).ok();
    let _ = crate::values::prepare(&schema, values.as_ref());
}

/// A three-way merge of a user's file (the data) with two renders.
pub fn merge(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let base = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: '1'\n";
    let theirs = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: '2'\n";
    let _ = crate::merge::merge(base, text, theirs);
    let _ = crate::merge::merge(text, base, theirs);
}

/// What distribution brings in: a publisher's `catalog.yaml` (read from a
/// directory and from a repository), an `oci://` reference, an OCI
/// manifest as a registry returns it.
pub fn catalog(data: &[u8]) {
    if let Some(text) = text(data) {
        let _ = crate::catalog::Catalog::parse(text, "catalog.yaml", None);
        let _ = crate::catalog::Catalog::parse(text, "catalog.yaml", Some(Path::new("/c")));
        let _ = crate::oci::Reference::parse(text);
    }
    let _ = serde_json::from_slice::<crate::oci::Manifest>(data);
}
