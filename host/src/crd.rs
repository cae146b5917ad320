//! Validation of rendered objects against the `openAPIV3Schema` of
//! CustomResourceDefinitions, as a Kubernetes API server would apply it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

/// Compiled schemas by `apiVersion` and `kind`.
#[derive(Default)]
pub struct Schemas(BTreeMap<(String, String), jsonschema::Validator>);

impl Schemas {
    /// `None` when no schema covers the object's kind; else its violations.
    pub fn validate(&self, object: &Value) -> Option<Vec<String>> {
        let key = (
            object.get("apiVersion")?.as_str()?.to_string(),
            object.get("kind")?.as_str()?.to_string(),
        );
        let validator = self.0.get(&key)?;
        Some(
            validator
                .iter_errors(object)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    let field = at.trim_start_matches('/').replace('/', ".");
                    if field.is_empty() {
                        e.to_string()
                    } else {
                        format!("{field}: {e}")
                    }
                })
                .collect(),
        )
    }
}

/// Loads every CRD in the YAML files under `dir` (recursively).
pub fn load_dir(dir: &Path) -> anyhow::Result<Schemas> {
    let mut schemas = Schemas::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read schemas in {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            for doc in objects(&text) {
                if doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                    continue;
                }
                add_crd(&mut schemas, &doc)
                    .with_context(|| format!("{}: not a usable CRD", path.display()))?;
            }
        }
    }
    Ok(schemas)
}

fn add_crd(schemas: &mut Schemas, crd: &Value) -> anyhow::Result<()> {
    let spec = crd.get("spec").context("no spec")?;
    let group = spec
        .get("group")
        .and_then(Value::as_str)
        .context("no spec.group")?;
    let kind = spec
        .pointer("/names/kind")
        .and_then(Value::as_str)
        .context("no spec.names.kind")?;
    for version in spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(schema)) = (
            version.get("name").and_then(Value::as_str),
            version.pointer("/schema/openAPIV3Schema"),
        ) else {
            continue;
        };
        // OpenAPI 3.0 schemas are JSON Schema draft 4 with extensions
        // (`x-kubernetes-*`), which validators ignore.
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(schema)
            .map_err(|e| anyhow::anyhow!("{kind} {name}: {e}"))?;
        schemas
            .0
            .insert((format!("{group}/{name}"), kind.to_string()), validator);
    }
    Ok(())
}

/// The documents of a YAML stream as JSON values, skipping empty ones.
pub fn objects(text: &str) -> Vec<Value> {
    crate::yaml::documents(text)
        .into_iter()
        .flatten()
        .filter(|v| !v.is_null())
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect()
}

/// `apiVersion kind` of an object.
pub fn type_of(object: &Value) -> String {
    let field = |f: &str| {
        object
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    format!("{} {}", field("apiVersion"), field("kind"))
}

/// `Kind/name` of an object.
pub fn name_of(object: &Value) -> String {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("?");
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?");
    format!("{kind}/{name}")
}
