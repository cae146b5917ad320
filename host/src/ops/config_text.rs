//! The parts of cairn.yaml cairn writes for people to read: each
//! component's block with its options documented beside them (by `init`,
//! and by `update` for components a release adds), and the JSON Schema of
//! the whole file that editors complete and validate it with.
//!
//! Options are written commented out, defaults shown: a value the user
//! does not set keeps following the stack's default, so a release that
//! changes a default reaches them. Every text here comes from a component
//! and is cut to one line, so a comment can never end early.

use serde_json::{Map, Value, json};

use crate::runtime::Metadata;
use crate::values::OptionDoc;

/// The file beside cairn.yaml holding its JSON Schema.
pub const SCHEMA_FILE: &str = "cairn.schema.json";

/// The first line of a cairn.yaml that has a schema, for editors using the
/// YAML language server (VS Code, Neovim, Helix, ...).
pub fn schema_modeline() -> String {
    format!("# yaml-language-server: $schema={SCHEMA_FILE}\n")
}

/// The block of `name` under `values:`, indented for it, ending in a
/// newline.
pub fn component_block(name: &str, enabled: bool, meta: &Metadata) -> String {
    let mut out = format!(
        "  # {}: {}\n  {name}:\n    enabled: {enabled}\n",
        crate::text::one_line(&meta.title, 80),
        crate::text::one_line(&meta.description, 200)
    );
    for option in crate::values::options(&meta.config_schema) {
        out.push_str(&option_lines(&option));
    }
    out
}

/// An option as comment lines: what it is, then how to set it.
pub(super) fn option_lines(option: &OptionDoc) -> String {
    let name = crate::text::one_line(&option.name, 80);
    let mut about = crate::text::one_line(&option.kind, 120);
    if option.required {
        about.push_str(", required");
    }
    let description = crate::text::one_line(&option.description, 200);
    let mut out = if description.is_empty() {
        format!("    # {name} ({about})\n")
    } else {
        format!("    # {name} ({about}): {description}\n")
    };
    if option.secret {
        out.push_str(&format!(
            "    # {name}: {{env: NAME}}  # a secret: {{env: NAME}}, {{file: PATH}} or {{sops: FILE, key: KEY}}\n"
        ));
        return out;
    }
    let mut example = serde_json::Map::new();
    example.insert(
        option.name.clone(),
        option.default.clone().unwrap_or(Value::Null),
    );
    let yaml = serde_yaml::to_string(&example).unwrap_or_default();
    for line in yaml.lines() {
        // One line each, as written by serde_yaml (keys and strings are
        // quoted by it where they must be), its indentation kept.
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        out.push_str(&format!(
            "    # {indent}{}\n",
            crate::text::one_line(body, 400)
        ));
    }
    out
}

/// The JSON Schema of a cairn.yaml for the stack whose components are
/// `components` (name, metadata): every option of every component, with
/// secret fields taking references, and cairn's own keys.
pub fn file_schema(stack: &str, components: &[(&str, &Metadata)]) -> Value {
    let mut defs = Map::new();
    let mut values = Map::new();
    for (name, meta) in components {
        values.insert(
            name.to_string(),
            component_schema(name, &meta.config_schema, &mut defs),
        );
    }
    defs.insert("secretRef".into(), secret_reference());
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("cairn.yaml for stack {stack}"),
        "description": "Written by cairn init and cairn update; regenerate it with cairn update.",
        "type": "object",
        "additionalProperties": false,
        "required": ["stack"],
        "properties": {
            "stack": {
                "type": "object",
                "additionalProperties": false,
                "required": ["source"],
                "properties": {
                    "source": {"type": "string", "description": "A git URL or a local path."},
                    "version": {"type": "string", "description": "A semver range (^1.2), a tag or a commit."},
                    "signers": {"type": "array", "items": {"type": "string"}, "description": "SSH public keys a release must be signed by."},
                    "unsigned": {"type": "boolean", "description": "Run releases without checking their signature."}
                }
            },
            "stacks": {
                "type": "array",
                "description": "More stacks whose components join the main stack's.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["source"],
                    "properties": {
                        "source": {"type": "string", "description": "A git URL or a local path."},
                        "version": {"type": "string", "description": "A semver range (^1.2), a tag or a commit."},
                        "alias": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "Names to give this stack's components here, for names another stack uses."
                        },
                        "signers": {"type": "array", "items": {"type": "string"}, "description": "SSH public keys a release must be signed by."},
                        "unsigned": {"type": "boolean", "description": "Run releases without checking their signature."}
                    }
                }
            },
            "output": {"type": "string", "description": "Where generated files go, relative to this file."},
            "policy": {
                "type": "object",
                "additionalProperties": false,
                "description": "What components may do to the cluster; generate and lint refuse what breaks it.",
                "properties": {
                    "namespaces": {"type": "array", "items": {"type": "string"}, "description": "Allowed namespaces (* matches any run of characters)."},
                    "kinds": {"type": "array", "items": {"type": "string"}, "description": "Allowed kinds, as Kind.group (Deployment.apps)."},
                    "registries": {"type": "array", "items": {"type": "string"}, "description": "Prefixes container images must start with."},
                    "charts": {"type": "array", "items": {"type": "string"}, "description": "Prefixes of the sources Helm charts may come from."},
                    "clusterAdmin": {"type": "boolean", "description": "false: no binding to cluster-admin."},
                    "wildcardRbac": {"type": "boolean", "description": "false: no RBAC wildcards, escalate, bind or impersonate."},
                    "webhooks": {"type": "boolean", "description": "false: no admission webhooks."},
                    "hostAccess": {"type": "boolean", "description": "false: no pods with host access or privileges."},
                    "clusterScoped": {"type": "boolean", "description": "false: no cluster-scoped objects besides Namespaces."}
                }
            },
            "include": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Files of values shared with other clusters, merged in order under this file's own values."
            },
            "values": {
                "type": "object",
                "additionalProperties": false,
                "properties": values
            },
            "secrets": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "age": {"type": "array", "items": {"type": "string", "pattern": "^age1"}}
                }
            },
            "flux": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "path": {"type": "string"},
                    "sourceRef": {
                        "type": "object",
                        "properties": {
                            "kind": {"enum": ["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"]},
                            "name": {"type": "string"},
                            "namespace": {"type": "string"}
                        }
                    },
                    "namespace": {"type": "string"},
                    "interval": {"type": "string"},
                    "retryInterval": {"type": "string"},
                    "timeout": {"type": "string"}
                }
            }
        },
        "$defs": defs
    })
}

/// One component's schema, made to live inside the file's: its `$defs`
/// moved to the file's under the component's name (references rewritten),
/// `enabled` added, and each secret field taking a reference.
fn component_schema(name: &str, schema: &Value, defs: &mut Map<String, Value>) -> Value {
    let prefix = format!("{name}.");
    let mut schema = schema.clone();
    rewrite_refs(&mut schema, &prefix);
    if let Some(Value::Object(own)) = schema.as_object_mut().and_then(|s| s.remove("$defs")) {
        for (key, def) in own {
            defs.insert(format!("{prefix}{key}"), def);
        }
    }
    let Some(object) = schema.as_object_mut() else {
        return json!({"type": "object"});
    };
    object.remove("$schema");
    object.remove("$id");
    let secrets = crate::values::top_level_secrets(&Value::Object(object.clone()));
    let properties = object
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(properties) = properties.as_object_mut() {
        for secret in secrets {
            properties.insert(secret, json!({"$ref": "#/$defs/secretRef"}));
        }
        properties.insert(
            "enabled".into(),
            json!({"type": "boolean", "description": "Whether the component is rendered."}),
        );
    }
    schema
}

/// Points every local `$ref` (`#/$defs/X`) at the component's copy.
fn rewrite_refs(value: &mut Value, prefix: &str) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => {
                        if let Some(rest) = reference.strip_prefix("#/$defs/") {
                            *reference = format!("#/$defs/{prefix}{rest}");
                        }
                    }
                    (_, child) => rewrite_refs(child, prefix),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_refs(i, prefix)),
        _ => {}
    }
}

/// How a secret value is given.
fn secret_reference() -> Value {
    json!({
        "description": "A secret, given as a reference: never as a value.",
        "oneOf": [
            {"type": "object", "additionalProperties": false, "required": ["env"],
             "properties": {"env": {"type": "string"}}},
            {"type": "object", "additionalProperties": false, "required": ["file"],
             "properties": {"file": {"type": "string"}}},
            {"type": "object", "additionalProperties": false, "required": ["sops", "key"],
             "properties": {"sops": {"type": "string"}, "key": {"type": "string"}}}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(schema: Value) -> Metadata {
        Metadata {
            name: "app".into(),
            version: "1.0.0".into(),
            title: "App".into(),
            description: "An app\nwith: injection".into(),
            category: "apps".into(),
            readme: String::new(),
            config_schema: schema,
            provides: Vec::new(),
            reads: Vec::new(),
            crd_groups: Vec::new(),
        }
    }

    #[test]
    fn blocks_document_every_option_and_set_none() {
        let meta = meta(json!({
            "type": "object",
            "required": ["domain"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1, "default": 2, "description": "How many."},
                "domain": {"type": ["string", "null"], "description": "Where it is served."},
                "mode": {"enum": ["a", "b"], "default": "a"},
                "password": {"type": "string", "writeOnly": true, "default": "hunter2"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "default": {"x": "y"}}
            }
        }));
        let block = component_block("app", true, &meta);
        // Options in key order (schemas are read as sorted maps).
        assert_eq!(
            block,
            "  # App: An app with: injection\n  app:\n    enabled: true\n\
             \x20   # domain (string or null, required): Where it is served.\n    # domain: null\n\
             \x20   # labels (mapping of string)\n    # labels:\n    #   x: y\n\
             \x20   # mode (one of: a, b)\n    # mode: a\n\
             \x20   # password (string)\n    # password: {env: NAME}  # a secret: {env: NAME}, {file: PATH} or {sops: FILE, key: KEY}\n\
             \x20   # replicas (integer, at least 1): How many.\n    # replicas: 2\n"
        );
        // Commented out, the block means only `enabled`.
        let parsed: Value = serde_yaml::from_str(&format!("values:\n{block}")).unwrap();
        assert_eq!(parsed, json!({"values": {"app": {"enabled": true}}}));
    }

    #[test]
    fn the_file_schema_validates_what_users_write() {
        let app = meta(json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "issuer": {"$ref": "#/$defs/Issuer"},
                "password": {"type": "string", "writeOnly": true}
            },
            "$defs": {"Issuer": {"type": "object", "additionalProperties": false,
                                  "properties": {"email": {"type": "string"}}}}
        }));
        let schema = file_schema("s", &[("app", &app)]);
        let validator = jsonschema::validator_for(&schema).unwrap();
        let good = json!({"stack": {"source": "./s"}, "values": {"app": {
            "enabled": true, "issuer": {"email": "a@b"}, "password": {"env": "PW"}}}});
        assert!(
            validator.is_valid(&good),
            "{:?}",
            validator
                .iter_errors(&good)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
        for bad in [
            json!({"stack": {"source": "./s"}, "values": {"ap": {}}}),
            json!({"stack": {"source": "./s"}, "values": {"app": {"issuer": {"mail": "a"}}}}),
            json!({"stack": {"source": "./s"}, "values": {"app": {"password": "plain"}}}),
            json!({"stack": {"source": "./s"}, "value": {}}),
        ] {
            assert!(!validator.is_valid(&bad), "{bad}");
        }
    }
}
