//! A user's values for one component, checked against the component's JSON
//! Schema and completed with the schema's defaults.
//!
//! Validation happens before any call into the component, so a component
//! only ever sees configuration its own schema accepts, and the user sees
//! every problem at once, each with its field path.

use jsonschema::paths::LocationSegment;
use serde_json::{Map, Value};

/// One way the values break the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field (`issuer.email`, `hosts[2]`); empty for the
    /// values as a whole.
    pub field: String,
    pub message: String,
}

/// Why values could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    #[error("its configuration schema is not a valid JSON Schema: {0}")]
    BadSchema(String),
    #[error("values do not match the component's schema")]
    Invalid(Vec<Violation>),
}

/// Fills in the schema's defaults, then validates. `values` is `None` when
/// the user set nothing for the component.
pub fn prepare(schema: &Value, values: Option<&Value>) -> Result<Value, ValuesError> {
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|err| ValuesError::BadSchema(err.to_string()))?;
    let mut values = match values {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v.clone(),
    };
    apply_defaults(schema, schema, &mut values, 0);
    let mut violations: Vec<Violation> = validator
        .iter_errors(&values)
        .map(|err| Violation {
            field: dotted(err.instance_path().iter()),
            message: err.to_string(),
        })
        .collect();
    if violations.is_empty() {
        return Ok(values);
    }
    violations.sort_by(|a, b| a.field.cmp(&b.field).then(a.message.cmp(&b.message)));
    violations.dedup();
    Err(ValuesError::Invalid(violations))
}

/// Whether a (resolved) schema marks its value secret: `writeOnly: true`
/// or `format: password`.
fn is_secret(schema: &Value) -> bool {
    schema.get("writeOnly").and_then(Value::as_bool) == Some(true)
        || schema.get("format").and_then(Value::as_str) == Some("password")
}

/// Calls `visit` with the dotted path and the value of every field of
/// `value` that `schema` marks secret. Follows properties,
/// `additionalProperties`, array `items`, local `$ref`s and `allOf`.
pub fn secret_fields(schema: &Value, value: &mut Value, visit: &mut dyn FnMut(&str, &mut Value)) {
    walk_secrets(schema, schema, value, &mut String::new(), visit, 0);
}

fn walk_secrets(
    root: &Value,
    schema: &Value,
    value: &mut Value,
    path: &mut String,
    visit: &mut dyn FnMut(&str, &mut Value),
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(root, schema, 0);
    if is_secret(schema) {
        visit(path, value);
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            walk_secrets(root, sub, value, path, visit, depth + 1);
        }
    }
    let len = path.len();
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (name, child) in object.iter_mut() {
                let Some(sub) = properties.and_then(|p| p.get(name)).or(additional) else {
                    continue;
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                walk_secrets(root, sub, child, path, visit, depth + 1);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items").filter(|i| i.is_object()) {
                for (i, child) in items.iter_mut().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    walk_secrets(root, sub, child, path, visit, depth + 1);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Every default the schema declares, for an empty configuration.
pub fn defaults(schema: &Value) -> Value {
    let mut values = Value::Object(Map::new());
    apply_defaults(schema, schema, &mut values, 0);
    values
}

/// Whether `schema` is itself a valid JSON Schema, for `inspect` and
/// `stack build`.
pub fn check_schema(schema: &Value) -> Result<(), ValuesError> {
    jsonschema::options()
        .build(schema)
        .map(|_| ())
        .map_err(|err| ValuesError::BadSchema(err.to_string()))
}

fn dotted<'a>(segments: impl Iterator<Item = LocationSegment<'a>>) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            LocationSegment::Property(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&name);
            }
            LocationSegment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Deep enough for any real configuration; stops a self-referencing schema
/// from recursing forever.
const MAX_DEPTH: usize = 64;

/// Inserts the `default` of every property missing from `value`, recursing
/// into objects that are present. Follows local `$ref`s (`#/$defs/...`) and
/// `allOf`; `anyOf`/`oneOf` branches are ambiguous and left alone.
fn apply_defaults(root: &Value, schema: &Value, value: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(root, schema, 0);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            apply_defaults(root, sub, value, depth + 1);
        }
    }
    let Some(object) = value.as_object_mut() else {
        return;
    };
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        // A `default` may sit beside a `$ref` or in the schema it names.
        let sub = resolve(root, property, 0);
        if !object.contains_key(name)
            && let Some(default) = property.get("default").or_else(|| sub.get("default"))
        {
            object.insert(name.clone(), default.clone());
        }
        if let Some(child) = object.get_mut(name) {
            apply_defaults(root, sub, child, depth + 1);
        }
    }
}

/// Follows a local `$ref` chain to the schema it names.
fn resolve<'a>(root: &'a Value, schema: &'a Value, hops: usize) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) if hops < MAX_DEPTH => match reference.strip_prefix('#') {
            Some(pointer) => root
                .pointer(pointer)
                .map_or(schema, |target| resolve(root, target, hops + 1)),
            None => schema,
        },
        _ => schema,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "replicas": {"type": "integer", "minimum": 1, "default": 2},
                "issuer": {"$ref": "#/$defs/Issuer", "default": {"name": "le"}},
                "mode": {"$ref": "#/$defs/Mode", "default": "fast"},
                "hosts": {"type": "array", "items": {"type": "string", "format": "hostname"}}
            },
            "$defs": {"Mode": {"enum": ["fast", "slow"]}, "Issuer": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "default": "le"},
                    "email": {"type": "string", "format": "email"},
                    "server": {"type": "string", "default": "production"}
                }
            }}
        })
    }

    #[test]
    fn fills_defaults_through_refs() {
        let values = prepare(&schema(), Some(&json!({"issuer": {"email": "a@b.org"}}))).unwrap();
        assert_eq!(
            values,
            json!({"replicas": 2, "mode": "fast", "issuer": {"name": "le", "email": "a@b.org", "server": "production"}})
        );
    }

    #[test]
    fn finds_secret_fields_through_refs_items_and_maps() {
        let schema = json!({
            "type": "object",
            "properties": {
                "admin": {"$ref": "#/$defs/Password"},
                "name": {"type": "string"},
                "clients": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"secret": {"type": "string", "writeOnly": true}}
                }},
                "tokens": {"type": "object", "additionalProperties": {"type": "string", "writeOnly": true}}
            },
            "$defs": {"Password": {"type": "string", "format": "password"}}
        });
        let mut values = json!({
            "admin": "a", "name": "n",
            "clients": [{"secret": "s0"}, {"secret": "s1"}],
            "tokens": {"x": "t"}
        });
        let mut found = Vec::new();
        secret_fields(&schema, &mut values, &mut |path, value| {
            found.push(path.to_string());
            *value = json!("***");
        });
        found.sort();
        assert_eq!(
            found,
            [
                "admin",
                "clients[0].secret",
                "clients[1].secret",
                "tokens.x"
            ]
        );
        assert_eq!(values["name"], "n");
        assert_eq!(values["clients"][1]["secret"], "***");
    }

    #[test]
    fn reports_every_violation_with_its_path() {
        let bad = json!({"replicas": 0, "issuer": {"email": "nope"}, "hosts": ["ok", "-bad-"], "extra": 1});
        let ValuesError::Invalid(violations) = prepare(&schema(), Some(&bad)).unwrap_err() else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["", "hosts[1]", "issuer.email", "replicas"],
            "{violations:?}"
        );
        assert!(violations[0].message.contains("extra"), "{violations:?}");
    }
}
