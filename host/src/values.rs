//! A user's values for one component, checked against the component's JSON
//! Schema and completed with the schema's defaults.
//!
//! Validation happens before any call into the component, so a component
//! only ever sees configuration its own schema accepts, and the user sees
//! every problem at once, each with its field path.
//!
//! A schema comes from a component, so it is untrusted: [`check_bounds`]
//! refuses one that is too large, refers outside itself, or whose
//! references could make validation loop or go exponential, before anything
//! evaluates it; patterns are matched by a linear-time engine; filling in
//! defaults stops at a reference cycle and within a budget. A secret field's
//! default is never used: a stack must not ship a password, nor point a
//! secret at a file of the user's.

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

/// The largest configuration schema a component may describe.
pub const MAX_SCHEMA_BYTES: usize = 512 * 1024;
/// How many schemas one value may be checked against through references
/// and combinators (`allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`)
/// without descending into it.
const MAX_EXPANSION: usize = 1_000;
/// How many values filling in defaults may visit or insert.
const MAX_DEFAULT_STEPS: usize = 100_000;

/// A validator for `schema`, with formats checked and patterns matched in
/// linear time (the `regex` engine, never a backtracking one).
fn validator(schema: &Value, formats: bool) -> Result<jsonschema::Validator, ValuesError> {
    check_bounds(schema).map_err(ValuesError::BadSchema)?;
    jsonschema::options()
        .should_validate_formats(formats)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(schema)
        .map_err(|err| ValuesError::BadSchema(err.to_string()))
}

/// Fills in the schema's defaults, then validates. `values` is `None` when
/// the user set nothing for the component.
pub fn prepare(schema: &Value, values: Option<&Value>) -> Result<Value, ValuesError> {
    let validator = validator(schema, true)?;
    let mut values = match values {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v) => v.clone(),
    };
    Defaults::new(schema).apply(schema, &mut values, false)?;
    let mut violations: Vec<Violation> = Vec::new();
    for err in validator.iter_errors(&values) {
        let field = dotted(err.instance_path().iter());
        match err.kind() {
            // One violation per unknown key, at the key, with the options
            // that are there: a typo is the usual cause.
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = properties_at(schema, err.instance_path().iter());
                for key in unexpected {
                    let names: Vec<&str> = known.iter().map(String::as_str).collect();
                    violations.push(Violation {
                        field: if field.is_empty() {
                            key.clone()
                        } else {
                            format!("{field}.{key}")
                        },
                        message: format!(
                            "unknown option{}; the options here are: {}",
                            closest(key, &names)
                                .map(|c| format!(" (did you mean {c:?}?)"))
                                .unwrap_or_default(),
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                    });
                }
            }
            _ => violations.push(Violation {
                field,
                message: err.to_string(),
            }),
        }
    }
    if violations.is_empty() {
        return Ok(values);
    }
    violations.sort_by(|a, b| a.field.cmp(&b.field).then(a.message.cmp(&b.message)));
    violations.dedup();
    Err(ValuesError::Invalid(violations))
}

/// The property names the schema allows at `path` (following
/// `properties`, `additionalProperties`, `items` and local `$ref`s).
fn properties_at<'a>(root: &Value, path: impl Iterator<Item = LocationSegment<'a>>) -> Vec<String> {
    let mut at = resolve(root, root, 0);
    for segment in path {
        let next = match segment {
            LocationSegment::Property(name) => at
                .get("properties")
                .and_then(|p| p.get(name.as_ref()))
                .or_else(|| at.get("additionalProperties").filter(|a| a.is_object())),
            LocationSegment::Index(_) => at.get("items"),
        };
        match next {
            Some(next) => at = resolve(root, next, 0),
            None => return Vec::new(),
        }
    }
    at.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The candidate closest to `word`, when one is close enough to be a typo.
pub fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
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

/// The top-level properties `schema` marks secret, in schema order.
pub fn top_level_secrets(schema: &Value) -> Vec<String> {
    let root = resolve(schema, schema, 0);
    root.get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, p)| is_secret(p) || is_secret(resolve(schema, p, 0)))
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// One top-level option of a component, as its schema documents it: what
/// `init` and `update` write beside it in cairn.yaml, and `show` lists.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OptionDoc {
    pub name: String,
    /// The schema's `description` (or `title`), as written.
    pub description: String,
    /// What it takes: `string`, `integer, at least 1`, `one of: a, b`, ...
    pub kind: String,
    /// The value used when none is given (secret fields never have one).
    pub default: Option<Value>,
    pub required: bool,
    /// Given as a reference (`{env: NAME}`, ...), never as a value.
    pub secret: bool,
}

/// The top-level options of `schema`, in schema order.
pub fn options(schema: &Value) -> Vec<OptionDoc> {
    let root = resolve(schema, schema, 0);
    let defaults = defaults(schema).unwrap_or(Value::Null);
    let required: Vec<&str> = root
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = root.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let resolved = resolve(schema, property, 0);
            let text = |key: &str| {
                property
                    .get(key)
                    .or_else(|| resolved.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let secret = is_secret(property) || is_secret(resolved);
            OptionDoc {
                name: name.clone(),
                description: text("description")
                    .or_else(|| text("title"))
                    .unwrap_or_default(),
                kind: kind_of(schema, resolved, 0),
                default: if secret {
                    None
                } else {
                    defaults.get(name).cloned()
                },
                required: required.contains(&name.as_str()),
                secret,
            }
        })
        .collect()
}

/// What a schema takes, in words.
fn kind_of(root: &Value, schema: &Value, depth: usize) -> String {
    let schema = resolve(root, schema, 0);
    if depth > 4 {
        return "value".into();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let shown: Vec<String> = values.iter().map(short).collect();
        return format!("one of: {}", shown.join(", "));
    }
    if let Some(value) = schema.get("const") {
        return format!("exactly {}", short(value));
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(alternatives) = schema.get(keyword).and_then(Value::as_array) {
            let kinds: Vec<String> = alternatives
                .iter()
                .map(|a| kind_of(root, a, depth + 1))
                .collect();
            return kinds.join(" or ");
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() => vec!["object"],
        _ => vec![],
    };
    if types.is_empty() {
        return "value".into();
    }
    let described: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "integer" | "number" => {
                let mut out = (*t).to_string();
                if let Some(min) = schema.get("minimum") {
                    out.push_str(&format!(", at least {min}"));
                }
                if let Some(max) = schema.get("maximum") {
                    out.push_str(&format!(", at most {max}"));
                }
                out
            }
            "string" => match schema.get("format").and_then(Value::as_str) {
                Some(format) if format != "password" => format!("string ({format})"),
                _ => "string".into(),
            },
            "array" => match schema.get("items") {
                Some(items) => format!("list of {}", kind_of(root, items, depth + 1)),
                None => "list".into(),
            },
            "object" => match schema.get("additionalProperties") {
                Some(Value::Object(_)) if schema.get("properties").is_none() => format!(
                    "mapping of {}",
                    kind_of(root, &schema["additionalProperties"], depth + 1)
                ),
                _ => "mapping".into(),
            },
            other => other.to_string(),
        })
        .collect();
    described.join(" or ")
}

/// A value as it reads in a line of text.
fn short(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Every default the schema declares, for an empty configuration (secret
/// fields left out).
pub fn defaults(schema: &Value) -> Result<Value, ValuesError> {
    let mut values = Value::Object(Map::new());
    Defaults::new(schema).apply(schema, &mut values, false)?;
    Ok(values)
}

/// Whether `schema` is itself a valid JSON Schema within cairn's bounds,
/// for `inspect` and `stack build`.
pub fn check_schema(schema: &Value) -> Result<(), ValuesError> {
    validator(schema, false).map(|_| ())
}

/// Refuses a schema cairn will not evaluate: external or dynamic
/// references (a schema is self-contained), references that do not
/// resolve, and references or combinators that apply schemas to the same
/// value in a cycle or more than [`MAX_EXPANSION`] times. Recursion that
/// descends into the value (a tree type) is fine: the value's size bounds it.
pub fn check_bounds(schema: &Value) -> Result<(), String> {
    let mut memo = std::collections::HashMap::new();
    let mut visited = std::collections::HashSet::new();
    let mut todo = vec![(schema, "#".to_string())];
    while let Some((node, at)) = todo.pop() {
        let Some(object) = node.as_object() else {
            continue;
        };
        if !visited.insert(node as *const Value) {
            continue;
        }
        for keyword in ["$dynamicRef", "$recursiveRef", "$dynamicAnchor", "$anchor"] {
            if object.contains_key(keyword) {
                return Err(format!(
                    "{at}: {keyword} is not supported; use $ref to #/$defs/..."
                ));
            }
        }
        if at != "#" && object.contains_key("$id") {
            return Err(format!("{at}: $id is only allowed at the root"));
        }
        let n = expansion(schema, node, &at, &mut memo, &mut Vec::new())?;
        if n > MAX_EXPANSION {
            return Err(format!(
                "{at} applies more than {MAX_EXPANSION} schemas to one value through $ref and combinators"
            ));
        }
        if let Some(target) = object.get("$ref").and_then(|r| local_ref(schema, r)) {
            todo.push((target, format!("{at}/$ref")));
        }
        for (keyword, sub) in object {
            if matches!(
                keyword.as_str(),
                "$ref" | "default" | "examples" | "const" | "enum"
            ) {
                continue;
            }
            match sub {
                Value::Object(map)
                    if matches!(
                        keyword.as_str(),
                        "properties"
                            | "patternProperties"
                            | "$defs"
                            | "definitions"
                            | "dependentSchemas"
                    ) =>
                {
                    for (name, child) in map {
                        todo.push((child, format!("{at}/{keyword}/{name}")));
                    }
                }
                Value::Object(_) => todo.push((sub, format!("{at}/{keyword}"))),
                Value::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        todo.push((child, format!("{at}/{keyword}/{i}")));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Keywords whose subschemas apply to the same value as their parent.
const SAME_VALUE: &[&str] = &["allOf", "anyOf", "oneOf", "not", "if", "then", "else"];

/// The schema a local `$ref` names.
fn local_ref<'a>(root: &'a Value, reference: &Value) -> Option<&'a Value> {
    root.pointer(reference.as_str()?.strip_prefix('#')?)
}

/// How many schemas apply to a value through `schema` (itself included)
/// without descending into the value: through `$ref`, the combinators and
/// `dependentSchemas`. `memo` keeps counts by node; `stack` holds the nodes
/// being counted, to find cycles.
fn expansion(
    root: &Value,
    schema: &Value,
    at: &str,
    memo: &mut std::collections::HashMap<*const Value, usize>,
    stack: &mut Vec<*const Value>,
) -> Result<usize, String> {
    let id = schema as *const Value;
    if let Some(&n) = memo.get(&id) {
        return Ok(n);
    }
    if stack.contains(&id) {
        return Err(format!(
            "{at} applies itself to the same value through $ref or a combinator, which never ends"
        ));
    }
    let Some(object) = schema.as_object() else {
        return Ok(1);
    };
    stack.push(id);
    let mut subs: Vec<(&Value, String)> = Vec::new();
    if let Some(reference) = object.get("$ref") {
        let target = local_ref(root, reference).ok_or_else(|| {
            format!(
                "{at}: $ref {reference} does not name a part of this schema (only local references like \"#/$defs/Name\" are allowed)"
            )
        })?;
        subs.push((target, format!("{at}/$ref")));
    }
    for keyword in SAME_VALUE {
        match object.get(*keyword) {
            Some(Value::Array(items)) => {
                for (i, sub) in items.iter().enumerate() {
                    subs.push((sub, format!("{at}/{keyword}/{i}")));
                }
            }
            Some(sub @ Value::Object(_)) => subs.push((sub, format!("{at}/{keyword}"))),
            _ => {}
        }
    }
    if let Some(Value::Object(deps)) = object.get("dependentSchemas") {
        for (name, sub) in deps {
            subs.push((sub, format!("{at}/dependentSchemas/{name}")));
        }
    }
    let mut total: usize = 1;
    for (sub, where_) in subs {
        total = total.saturating_add(expansion(root, sub, &where_, memo, stack)?);
        if total > MAX_EXPANSION {
            break;
        }
    }
    stack.pop();
    memo.insert(id, total);
    Ok(total)
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

/// Fills in defaults within a budget.
struct Defaults<'a> {
    root: &'a Value,
    /// Schema nodes being applied to values that came from a default: a
    /// default inside such a value that reaches one of them again would
    /// repeat forever.
    stack: Vec<*const Value>,
    steps: usize,
}

impl<'a> Defaults<'a> {
    fn new(root: &'a Value) -> Self {
        Self {
            root,
            stack: Vec::new(),
            steps: 0,
        }
    }

    /// Inserts the `default` of every property missing from `value`,
    /// recursing into objects that are present. Follows local `$ref`s
    /// (`#/$defs/...`) and `allOf`; `anyOf`/`oneOf` branches are ambiguous
    /// and left alone. `from_default` says `value` was itself a default.
    fn apply(
        &mut self,
        schema: &'a Value,
        value: &mut Value,
        from_default: bool,
    ) -> Result<(), ValuesError> {
        self.steps += 1;
        if self.steps > MAX_DEFAULT_STEPS || self.stack.len() > MAX_DEPTH {
            return Err(ValuesError::BadSchema(format!(
                "its defaults expand to more than {MAX_DEFAULT_STEPS} values"
            )));
        }
        let schema = resolve(self.root, schema, 0);
        let id = schema as *const Value;
        if from_default && self.stack.contains(&id) {
            return Ok(());
        }
        self.stack.push(id);
        let result = self.apply_inner(schema, value, from_default);
        self.stack.pop();
        result
    }

    fn apply_inner(
        &mut self,
        schema: &'a Value,
        value: &mut Value,
        from_default: bool,
    ) -> Result<(), ValuesError> {
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.apply(sub, value, from_default)?;
            }
        }
        let Some(object) = value.as_object_mut() else {
            return Ok(());
        };
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            return Ok(());
        };
        for (name, property) in properties {
            // A `default` may sit beside a `$ref` or in the schema it names.
            let sub = resolve(self.root, property, 0);
            let mut inserted = false;
            if !object.contains_key(name)
                && let Some(default) = property.get("default").or_else(|| sub.get("default"))
                && !((is_secret(property) || is_secret(sub)) && !default.is_null())
            {
                object.insert(name.clone(), default.clone());
                inserted = true;
            }
            if let Some(child) = object.get_mut(name) {
                self.apply(sub, child, from_default || inserted)?;
            }
        }
        Ok(())
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
        let bad = json!({"replicas": 0, "issuer": {"email": "nope"}, "hosts": ["ok", "-bad-"], "replica": 1});
        let ValuesError::Invalid(violations) = prepare(&schema(), Some(&bad)).unwrap_err() else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["hosts[1]", "issuer.email", "replica", "replicas"],
            "{violations:?}"
        );
        // An unknown key is named where it is, with the likely typo.
        assert_eq!(
            violations[2].message,
            "unknown option (did you mean \"replicas\"?); the options here are: hosts, issuer, mode, replicas"
        );
    }

    #[test]
    fn refuses_schemas_that_loop_or_explode() {
        let looping = json!({"allOf": [{"$ref": "#"}, {"$ref": "#"}]});
        let err = check_bounds(&looping).unwrap_err();
        assert!(err.contains("never ends"), "{err}");

        let mut defs = serde_json::Map::new();
        for i in 0..20 {
            let next = format!("#/$defs/d{}", i + 1);
            defs.insert(
                format!("d{i}"),
                json!({"allOf": [{"$ref": next}, {"$ref": next}]}),
            );
        }
        defs.insert("d20".into(), json!({"type": "string"}));
        let exponential = json!({"$ref": "#/$defs/d0", "$defs": defs});
        let err = check_bounds(&exponential).unwrap_err();
        assert!(err.contains("more than 1000 schemas"), "{err}");

        for (schema, want) in [
            (json!({"$ref": "https://example.com/s.json"}), "only local"),
            (json!({"$ref": "#/$defs/missing"}), "does not name"),
            (json!({"$dynamicRef": "#x"}), "not supported"),
            (
                json!({"properties": {"a": {"$id": "x"}}}),
                "only allowed at the root",
            ),
        ] {
            let err = check_bounds(&schema).unwrap_err();
            assert!(err.contains(want), "{schema}: {err}");
        }

        // A tree type recurses through the value, which bounds it.
        let tree = json!({"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}});
        check_bounds(&tree).unwrap();
        prepare(&tree, Some(&json!({"children": [{"children": []}]}))).unwrap();
    }

    #[test]
    fn defaults_stop_at_cycles_and_within_a_budget() {
        let recursive = json!({"type": "object", "properties": {
            "a": {"$ref": "#", "default": {}},
            "b": {"$ref": "#", "default": {}}
        }});
        let started = std::time::Instant::now();
        assert_eq!(defaults(&recursive).unwrap(), json!({"a": {}, "b": {}}));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));

        let mut defs = serde_json::Map::new();
        for i in 0..40 {
            let next = format!("#/$defs/d{}", i + 1);
            defs.insert(
                format!("d{i}"),
                json!({"type": "object", "properties": {
                    "a": {"$ref": next, "default": {}},
                    "b": {"$ref": next, "default": {}}
                }}),
            );
        }
        defs.insert("d40".into(), json!({"type": "object"}));
        let doubling = json!({"$ref": "#/$defs/d0", "$defs": defs});
        let err = defaults(&doubling).unwrap_err().to_string();
        assert!(err.contains("defaults expand"), "{err}");
    }

    #[test]
    fn secret_defaults_are_never_used() {
        let schema = json!({"type": "object", "properties": {
            "password": {"type": "string", "writeOnly": true, "default": "hunter2"},
            "key": {"$ref": "#/$defs/Ref", "default": {"file": "/etc/hostname"}},
            "optional": {"type": ["string", "null"], "format": "password", "default": null},
            "name": {"type": "string", "default": "n"}
        }, "$defs": {"Ref": {"type": "object", "writeOnly": true}}});
        assert_eq!(
            defaults(&schema).unwrap(),
            json!({"optional": null, "name": "n"})
        );
        assert_eq!(top_level_secrets(&schema), ["key", "optional", "password"]);
    }

    #[test]
    fn patterns_match_in_linear_time() {
        let schema = json!({"type": "object", "properties": {"x": {"type": "string", "pattern": "^(a+)+$"}}});
        let value = json!({"x": format!("{}b", "a".repeat(50_000))});
        let started = std::time::Instant::now();
        assert!(prepare(&schema, Some(&value)).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
