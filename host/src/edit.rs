//! Edits the YAML files a user owns (cairn.yaml, a stack's stack.yaml, the
//! cluster's kustomization.yaml) the way a person would: in place, on a
//! lossless syntax tree (yaml-edit), so comments, key order, quoting and
//! layout of everything not edited stay exactly as they were.
//!
//! Every edit is checked before its text is returned: the result, parsed,
//! must equal the original with exactly the intended change made to it. An
//! edit the tree editor got wrong is refused, never written; the caller
//! leaves the file alone and says what to change by hand.

use std::str::FromStr;

use serde_yaml::Value;
use yaml_edit::Document;

/// Why a file could not be edited. Each says which file and where.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("{origin}: {path} is not a mapping; cannot set {key} in it")]
    NotAMapping {
        origin: String,
        path: String,
        key: String,
    },
    #[error("{origin}: {path} is not a list; cannot add to it")]
    NotAList { origin: String, path: String },
    #[error("{origin}: {path} has no item with name {name:?}")]
    NoItem {
        origin: String,
        path: String,
        name: String,
    },
    #[error(
        "{origin}: the edit of {path} could not be made without changing something else; nothing was written (make it by hand)"
    )]
    Unverified { origin: String, path: String },
}

/// Sets the string at `path` (mapping keys from the top), creating the
/// mappings on the way when they are missing.
pub fn set_string(
    text: &str,
    origin: &str,
    path: &[&str],
    value: &str,
) -> Result<String, EditError> {
    set_value(text, origin, path, &Value::from(value))
}

/// Sets the entry at `path` (mapping keys from the top) to `value`, any
/// YAML value, creating the mappings on the way when they are missing.
pub fn set_value(
    text: &str,
    origin: &str,
    path: &[&str],
    value: &Value,
) -> Result<String, EditError> {
    let (key, parents) = path.split_last().expect("a path names at least one key");
    edit(
        text,
        origin,
        path,
        |root| {
            let parent = descend_value(root, parents, true)
                .and_then(Value::as_mapping_mut)
                .ok_or_else(|| not_a_mapping(origin, parents, key))?;
            parent.insert(Value::from(*key), value.clone());
            Ok(())
        },
        |doc| {
            match descend_doc(doc, origin, parents, key)? {
                Descent::Found(parent) => parent.set(*key, node_of(value)?),
                Descent::Missing { at, rest } => build_missing(&at, rest, key, value.clone())?,
            }
            Ok(())
        },
    )
}

/// Removes the entry at `path`; nothing to do when it is not there.
pub fn remove(text: &str, origin: &str, path: &[&str]) -> Result<String, EditError> {
    let (key, parents) = path.split_last().expect("a path names at least one key");
    edit(
        text,
        origin,
        path,
        |root| {
            if let Some(parent) =
                descend_value(root, parents, false).and_then(Value::as_mapping_mut)
            {
                parent.remove(*key);
            }
            Ok(())
        },
        |doc| {
            if let Descent::Found(parent) = descend_doc(doc, origin, parents, key)? {
                parent.remove(*key);
            }
            Ok(())
        },
    )
}

/// Appends `items` to the list at `path`, creating it (and the mappings on
/// the way) when it is missing.
pub fn append_strings(
    text: &str,
    origin: &str,
    path: &[&str],
    items: &[String],
) -> Result<String, EditError> {
    let (key, parents) = path.split_last().expect("a path names at least one key");
    let not_a_list = || EditError::NotAList {
        origin: origin.to_string(),
        path: path.join("."),
    };
    edit(
        text,
        origin,
        path,
        |root| {
            let parent = descend_value(root, parents, true)
                .and_then(Value::as_mapping_mut)
                .ok_or_else(|| not_a_mapping(origin, parents, key))?;
            let list = parent
                .entry(Value::from(*key))
                .or_insert_with(|| Value::Sequence(Vec::new()));
            if list.is_null() {
                *list = Value::Sequence(Vec::new());
            }
            let list = list.as_sequence_mut().ok_or_else(not_a_list)?;
            list.extend(items.iter().map(|i| Value::from(i.as_str())));
            Ok(())
        },
        |doc| {
            let list: Vec<Value> = items.iter().map(|i| Value::from(i.as_str())).collect();
            let parent = match descend_doc(doc, origin, parents, key)? {
                Descent::Found(parent) => parent,
                Descent::Missing { at, rest } => {
                    return build_missing(&at, rest, key, Value::Sequence(list));
                }
            };
            match parent.get(*key) {
                Some(node) if node.as_sequence().is_some() => {
                    let list = node.as_sequence().expect("checked above");
                    for item in items {
                        list.push(item.as_str());
                    }
                }
                Some(node) if !is_null(&node) => return Err(not_a_list()),
                _ => parent.set(*key, node_of(&Value::Sequence(list))?),
            }
            Ok(())
        },
    )
}

/// Sets `key` to `value` in the item of the list at `list` whose `name` is
/// `name` (as stack.yaml lists components).
pub fn set_in_named_item(
    text: &str,
    origin: &str,
    list: &str,
    name: &str,
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    set_in_item(text, origin, list, ("name", name), key, value)
}

/// Sets `key` to `value` in the item of the list at `list` whose field
/// `which.0` is `which.1` (as cairn.yaml's `stacks:` lists stacks by
/// `source`).
pub fn set_in_item(
    text: &str,
    origin: &str,
    list: &str,
    which: (&str, &str),
    key: &str,
    value: &str,
) -> Result<String, EditError> {
    set_value_in_item(text, origin, list, which, key, &Value::from(value))
}

/// Sets `key` to `value`, any YAML value, in the item of the list at
/// `list` whose field `which.0` is `which.1`.
pub fn set_value_in_item(
    text: &str,
    origin: &str,
    list: &str,
    which: (&str, &str),
    key: &str,
    value: &Value,
) -> Result<String, EditError> {
    let (field, name) = which;
    let no_item = || EditError::NoItem {
        origin: origin.to_string(),
        path: list.to_string(),
        name: name.to_string(),
    };
    let where_ = format!("{list}[{field}={name}].{key}");
    edit(
        text,
        origin,
        &[where_.as_str()],
        |root| {
            let item = root
                .get_mut(list)
                .and_then(Value::as_sequence_mut)
                .and_then(|items| {
                    items
                        .iter_mut()
                        .find(|i| i.get(field).and_then(Value::as_str) == Some(name))
                })
                .and_then(Value::as_mapping_mut)
                .ok_or_else(no_item)?;
            item.insert(Value::from(key), value.clone());
            Ok(())
        },
        |doc| {
            let items = doc.get_sequence(list).ok_or_else(no_item)?;
            let item = items
                .values()
                .filter_map(|i| i.as_mapping().cloned())
                .find(|m| {
                    m.get(field)
                        .and_then(|n| n.as_scalar().map(|s| s.as_string()))
                        .as_deref()
                        == Some(name)
                })
                .ok_or_else(no_item)?;
            item.set(key, node_of(value)?);
            Ok(())
        },
    )
}

/// Comments out the entry `key` of the mapping at `parent` (every line of
/// it, at its indentation), so that it no longer counts but stays in the
/// file for the user to see. Block style only; anything else is refused.
pub fn comment_out(
    text: &str,
    origin: &str,
    parent: &[&str],
    key: &str,
) -> Result<String, EditError> {
    splice(
        text,
        origin,
        parent,
        key,
        |mapping| {
            let entry = mapping.entries().find(|e| e.key_matches(key))?;
            let key_at = entry.key_node()?.byte_range();
            let end = entry
                .value_node()
                .map_or(key_at.end, |v| v.byte_range().end) as usize;
            let key_start = key_at.start as usize;
            let start = text[..key_start].rfind('\n').map_or(0, |i| i + 1);
            if !text[start..key_start].trim().is_empty() {
                return None;
            }
            let indent = key_start - start;
            let end = line_end(text, end);
            let commented: String = text[start..end]
                .split_inclusive('\n')
                .map(|line| {
                    if line.trim().is_empty() || line.len() < indent {
                        line.to_string()
                    } else {
                        format!("{}# {}", &line[..indent], &line[indent..])
                    }
                })
                .collect();
            Some((start, end, commented))
        },
        |map| map.remove(key).map(drop),
    )
}

/// Adds `block` (YAML text: one `key:` entry indented for the mapping at
/// `parent`, comments welcome) after the last entry of that mapping. The
/// mapping must exist, in block style, with at least one entry.
pub fn insert_block(
    text: &str,
    origin: &str,
    parent: &[&str],
    key: &str,
    block: &str,
) -> Result<String, EditError> {
    splice(
        text,
        origin,
        parent,
        key,
        |mapping| {
            if mapping.contains_key(key) {
                return None;
            }
            after_last_entry(text, mapping, block)
        },
        |map| {
            let value: Value = crate::yaml::from_str(&unindent(block)).ok()?;
            map.insert(Value::from(key), value.get(key)?.clone());
            Some(())
        },
    )
}

/// Adds `comment` (whole `#` lines, indented for the mapping at `parent`)
/// after the last entry of that mapping, changing nothing it means. The
/// mapping must exist, in block style, with at least one entry.
pub fn append_comment(
    text: &str,
    origin: &str,
    parent: &[&str],
    comment: &str,
) -> Result<String, EditError> {
    let (key, parents) = parent.split_last().expect("a path names at least one key");
    splice(
        text,
        origin,
        parents,
        key,
        |mapping| {
            let node = mapping.get(*key)?;
            after_last_entry(text, node.as_mapping()?, comment)
        },
        |_| Some(()),
    )
}

/// Replaces `text[start..end]` with text placed on the syntax tree by
/// `place` (given the mapping at `parent`), and checks the result means
/// what `intended` makes of that mapping's parsed value. `None` from either
/// refuses the edit.
fn splice(
    text: &str,
    origin: &str,
    parent: &[&str],
    key: &str,
    place: impl FnOnce(&yaml_edit::Mapping) -> Option<(usize, usize, String)>,
    intended: impl FnOnce(&mut serde_yaml::Mapping) -> Option<()>,
) -> Result<String, EditError> {
    let path: Vec<&str> = parent.iter().copied().chain([key]).collect();
    let unverified = || EditError::Unverified {
        origin: origin.to_string(),
        path: path.join("."),
    };
    let doc = Document::from_str(text).map_err(|_| unverified())?;
    let root = doc.as_mapping().ok_or_else(unverified)?;
    let Descent::Found(mapping) = descend_doc(&root, origin, parent, key)? else {
        return Err(unverified());
    };
    let (start, end, replacement) = place(&mapping).ok_or_else(unverified)?;
    let edited = format!("{}{replacement}{}", &text[..start], &text[end..]);

    let mut expected: Value = crate::yaml::from_str(text).map_err(|_| unverified())?;
    let map = descend_value(&mut expected, parent, false)
        .and_then(Value::as_mapping_mut)
        .ok_or_else(unverified)?;
    intended(map).ok_or_else(unverified)?;
    let actual: Value = crate::yaml::from_str(&edited).map_err(|_| unverified())?;
    if actual != expected {
        return Err(unverified());
    }
    Ok(edited)
}

/// The splice that puts `lines` on the lines after the last entry of
/// `mapping` (block style, at least one entry), each ending in a newline.
fn after_last_entry(
    text: &str,
    mapping: &yaml_edit::Mapping,
    lines: &str,
) -> Option<(usize, usize, String)> {
    if mapping.is_flow_style() {
        return None;
    }
    let last = mapping.entries().last()?;
    let end = last
        .value_node()
        .map(|v| v.byte_range().end)
        .or_else(|| last.key_node().map(|k| k.byte_range().end))?;
    let at = line_end(text, end as usize);
    let mut inserted = String::new();
    if !text[..at].ends_with('\n') {
        inserted.push('\n');
    }
    inserted.push_str(lines);
    if !lines.ends_with('\n') {
        inserted.push('\n');
    }
    Some((at, at, inserted))
}

/// Where the line holding byte `end - 1` ends (after its newline).
fn line_end(text: &str, end: usize) -> usize {
    if end > 0 && text.as_bytes()[end - 1] == b'\n' {
        end
    } else {
        text[end..].find('\n').map_or(text.len(), |i| end + i + 1)
    }
}

/// `block` with the indentation of its first entry removed from every line.
fn unindent(block: &str) -> String {
    let indent = block
        .lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map_or(0, |l| l.len() - l.trim_start().len());
    block
        .lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes one edit twice: on the parsed value (what the result must mean)
/// and on the syntax tree (the text written), and returns the text only
/// when the two agree.
fn edit(
    text: &str,
    origin: &str,
    path: &[&str],
    intended: impl FnOnce(&mut Value) -> Result<(), EditError>,
    on_tree: impl FnOnce(&yaml_edit::Mapping) -> Result<(), EditError>,
) -> Result<String, EditError> {
    let invalid = |message: String| EditError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let mut expected: Value = crate::yaml::from_str(text).map_err(|e| invalid(format!("{e:#}")))?;
    if expected.is_null() {
        expected = Value::Mapping(Default::default());
    }
    if !expected.is_mapping() {
        return Err(invalid("not a mapping at the top".into()));
    }
    intended(&mut expected)?;

    // An empty file has no mapping to edit yet; start one.
    let source = if text.trim().is_empty() || is_only_comments(text) {
        format!("{text}{{}}\n")
    } else {
        text.to_string()
    };
    let doc = Document::from_str(&source).map_err(|e| invalid(e.to_string()))?;
    let root = doc
        .as_mapping()
        .ok_or_else(|| invalid("not a mapping at the top".into()))?;
    on_tree(&root)?;
    let edited = doc.to_string();

    let unverified = || EditError::Unverified {
        origin: origin.to_string(),
        path: path.join("."),
    };
    let actual: Value = crate::yaml::from_str(&edited).map_err(|_| unverified())?;
    if actual != expected {
        return Err(unverified());
    }
    Ok(edited)
}

fn is_only_comments(text: &str) -> bool {
    text.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
}

fn not_a_mapping(origin: &str, parents: &[&str], key: &str) -> EditError {
    EditError::NotAMapping {
        origin: origin.to_string(),
        path: if parents.is_empty() {
            "the top".into()
        } else {
            parents.join(".")
        },
        key: key.to_string(),
    }
}

/// The value at `path`, with missing (or null) mappings on the way made
/// when `create`.
fn descend_value<'v>(root: &'v mut Value, path: &[&str], create: bool) -> Option<&'v mut Value> {
    let mut at = root;
    for key in path {
        let map = at.as_mapping_mut()?;
        if create {
            let next = map
                .entry(Value::from(*key))
                .or_insert_with(|| Value::Mapping(Default::default()));
            if next.is_null() {
                *next = Value::Mapping(Default::default());
            }
            at = next;
        } else {
            at = map.get_mut(*key)?;
        }
    }
    Some(at)
}

/// Where a path of mappings leads in the tree.
enum Descent<'p> {
    /// To this mapping.
    Found(yaml_edit::Mapping),
    /// To `at`, which lacks (or holds null for) `rest[0]`.
    Missing {
        at: yaml_edit::Mapping,
        rest: &'p [&'p str],
    },
}

/// Follows `path` from `root`.
fn descend_doc<'p>(
    root: &yaml_edit::Mapping,
    origin: &str,
    path: &'p [&'p str],
    key: &str,
) -> Result<Descent<'p>, EditError> {
    let mut at = root.clone();
    for (depth, step) in path.iter().enumerate() {
        match at.get(*step) {
            Some(node) if node.as_mapping().is_some() => {
                at = node.as_mapping().cloned().expect("checked above");
            }
            Some(node) if !is_null(&node) => {
                return Err(not_a_mapping(origin, &path[..=depth], key));
            }
            _ => {
                return Ok(Descent::Missing {
                    at,
                    rest: &path[depth..],
                });
            }
        }
    }
    Ok(Descent::Found(at))
}

/// Sets `rest[0]` in `at` to the nested mappings `rest[1..]` ending in
/// `key: value`, as one block.
fn build_missing(
    at: &yaml_edit::Mapping,
    rest: &[&str],
    key: &str,
    value: Value,
) -> Result<(), EditError> {
    let mut nested = value;
    for step in std::iter::once(&key).chain(rest[1..].iter().rev()) {
        nested = Value::Mapping(serde_yaml::Mapping::from_iter([(
            Value::from(*step),
            nested,
        )]));
    }
    at.set(rest[0], node_of(&nested)?);
    Ok(())
}

fn is_null(node: &yaml_edit::YamlNode) -> bool {
    node.as_scalar()
        .is_some_and(|s| matches!(s.as_string().as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// A syntax node holding `value`, in block style with lists indented
/// under their key, as people write them (and as cairn writes cairn.yaml).
fn node_of(value: &Value) -> Result<yaml_edit::YamlNode, EditError> {
    let mut text = String::from("v:");
    block(value, 1, &mut text);
    Document::from_str(&text)
        .ok()
        .and_then(|d| d.as_mapping())
        .and_then(|m| m.get("v"))
        .ok_or_else(|| EditError::Invalid {
            origin: "cairn".into(),
            message: format!("cannot write {text:?} as YAML"),
        })
}

/// Appends `value` as the value of a key just written, at `depth`. Scalars
/// are quoted by serde_yaml; only the nesting is laid out here.
fn block(value: &Value, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            for (key, value) in map {
                out.push_str(&format!("\n{indent}{}:", scalar(key)));
                block(value, depth + 1, out);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("\n{indent}-"));
                block(item, depth + 1, out);
            }
        }
        Value::Mapping(_) => out.push_str(" {}"),
        Value::Sequence(_) => out.push_str(" []"),
        scalar_value => out.push_str(&format!(" {}", scalar(scalar_value))),
    }
    if depth == 1 {
        out.push('\n');
    }
}

fn scalar(value: &Value) -> String {
    serde_yaml::to_string(value)
        .expect("plain values serialise")
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (what, before, after) for each kind of edit.
    fn check(cases: &[(&str, &str, Result<String, EditError>, &str)]) {
        for (what, before, got, want) in cases {
            match got {
                Ok(got) => assert_eq!(got, want, "{what}: from\n{before}"),
                Err(err) => panic!("{what}: {err}"),
            }
        }
    }

    #[test]
    fn sets_strings_keeping_comments_and_order() {
        let cases = [
            (
                "replace, keeping comments",
                "# mine\nstack:\n  source: ./s # here\n  version: \"^0.1\"\n# out\noutput: .\n",
                &["stack", "version"][..],
                "^0.2.0",
                "# mine\nstack:\n  source: ./s # here\n  version: ^0.2.0\n# out\noutput: .\n",
            ),
            (
                "add to an existing mapping",
                "stack:\n  source: ./s\nvalues: {}\n",
                &["stack", "version"][..],
                "v1.0.0",
                "stack:\n  source: ./s\n  version: v1.0.0\nvalues: {}\n",
            ),
            (
                "quote what would not stay a string",
                "stack:\n  source: ./s\n",
                &["stack", "version"][..],
                "*",
                "stack:\n  source: ./s\n  version: '*'\n",
            ),
            (
                "in flow style",
                "stack: {source: ./s, version: ^1}\n",
                &["stack", "version"][..],
                "^2.0.0",
                "stack: {source: ./s, version: ^2.0.0}\n",
            ),
        ];
        for (what, before, path, value, want) in cases {
            check(&[(
                what,
                before,
                set_string(before, "cairn.yaml", path, value),
                want,
            )]);
        }
    }

    #[test]
    fn sets_and_removes_values_keeping_comments() {
        let value = |yaml: &str| -> Value { serde_yaml::from_str(yaml).unwrap() };
        let text = "# cluster\nvalues:\n  gateway:\n    domain: a.example # ours\n  logs:\n    enabled: false\n";
        let cases = [
            (
                "a number beside a comment",
                set_value(
                    text,
                    "cairn.yaml",
                    &["values", "gateway", "replicas"],
                    &value("3"),
                ),
                "# cluster\nvalues:\n  gateway:\n    domain: a.example # ours\n    replicas: 3\n  logs:\n    enabled: false\n",
            ),
            (
                "a new component's mapping",
                set_value(
                    text,
                    "cairn.yaml",
                    &["values", "metrics", "retention"],
                    &value("7d"),
                ),
                "# cluster\nvalues:\n  gateway:\n    domain: a.example # ours\n  logs:\n    enabled: false\n  metrics:\n    retention: 7d\n",
            ),
            (
                "a list",
                set_value(
                    text,
                    "cairn.yaml",
                    &["values", "logs", "hosts"],
                    &value("[a, b]"),
                ),
                "# cluster\nvalues:\n  gateway:\n    domain: a.example # ours\n  logs:\n    enabled: false\n    hosts:\n      - a\n      - b\n",
            ),
            (
                "remove an entry",
                remove(text, "cairn.yaml", &["values", "logs", "enabled"]),
                "# cluster\nvalues:\n  gateway:\n    domain: a.example # ours\n  logs: {}\n",
            ),
            (
                "remove what is not there",
                remove(text, "cairn.yaml", &["values", "grafana", "x"]),
                text,
            ),
        ];
        for (what, got, want) in cases {
            check(&[(what, text, got, want)]);
        }
    }

    #[test]
    fn appends_comments_to_a_mapping_changing_nothing() {
        let text = "values:\n  gateway:\n    domain: a # ours\n  logs:\n    enabled: true\n";
        let got = append_comment(
            text,
            "cairn.yaml",
            &["values", "gateway"],
            "    # name (string): new\n    # name: x\n",
        );
        check(&[(
            "after the last entry",
            text,
            got,
            "values:\n  gateway:\n    domain: a # ours\n    # name (string): new\n    # name: x\n  logs:\n    enabled: true\n",
        )]);
        assert!(
            append_comment(
                "values:\n  gateway: {domain: a}\n",
                "c",
                &["values", "gateway"],
                "# x\n"
            )
            .is_err()
        );
    }

    #[test]
    fn appends_to_lists_creating_them() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases = [
            (
                "block list",
                "# mine\nkind: Kustomization\nresources:\n  - ./apps # apps\n",
                &["resources"][..],
                items(&["flux-system"]),
                "# mine\nkind: Kustomization\nresources:\n  - ./apps # apps\n  - flux-system\n",
            ),
            (
                "flow list",
                "kind: Kustomization\nresources: [a, b]\n",
                &["resources"][..],
                items(&["c"]),
                "kind: Kustomization\nresources: [a, b, c]\n",
            ),
            (
                "missing list under a missing mapping",
                "stack:\n  source: ./s\nvalues:\n  a:\n    enabled: true\n",
                &["secrets", "age"][..],
                items(&["age1abc"]),
                "stack:\n  source: ./s\nvalues:\n  a:\n    enabled: true\nsecrets:\n  age:\n    - age1abc\n",
            ),
        ];
        for (what, before, path, new, want) in cases {
            let got = append_strings(before, "f.yaml", path, &new);
            check(&[(what, before, got, want)]);
        }
    }

    #[test]
    fn sets_a_key_of_the_named_item_only() {
        let before = "components:\n  - name: a\n    path: a.wasm\n    sha256: old\n  - name: b # the b one\n    sha256: \"\"\n";
        check(&[(
            "named item",
            before,
            set_in_named_item(before, "stack.yaml", "components", "b", "sha256", "new"),
            "components:\n  - name: a\n    path: a.wasm\n    sha256: old\n  - name: b # the b one\n    sha256: new\n",
        )]);
    }

    #[test]
    fn comments_out_and_inserts_blocks() {
        let text = "stack: {source: ./s}\nvalues:\n  # App: an app\n  app:\n    enabled: true\n    color: red # mine\n  old:\n    enabled: false\n    list:\n      - a\n# after\noutput: .\n";
        let out = comment_out(text, "cairn.yaml", &["values"], "old").unwrap();
        assert_eq!(
            out,
            "stack: {source: ./s}\nvalues:\n  # App: an app\n  app:\n    enabled: true\n    color: red # mine\n  # old:\n  #   enabled: false\n  #   list:\n  #     - a\n# after\noutput: .\n"
        );
        let out = insert_block(
            &out,
            "cairn.yaml",
            &["values"],
            "new",
            "  # New: a new one\n  new:\n    enabled: true\n    # size: 1\n",
        )
        .unwrap();
        assert_eq!(
            out,
            "stack: {source: ./s}\nvalues:\n  # App: an app\n  app:\n    enabled: true\n    color: red # mine\n  # New: a new one\n  new:\n    enabled: true\n    # size: 1\n  # old:\n  #   enabled: false\n  #   list:\n  #     - a\n# after\noutput: .\n"
        );
        // Flow style is left to the user.
        let flow = "values: {app: {enabled: true}}\n";
        assert!(comment_out(flow, "cairn.yaml", &["values"], "app").is_err());
        assert!(
            insert_block(
                flow,
                "cairn.yaml",
                &["values"],
                "b",
                "  b:\n    enabled: true\n"
            )
            .is_err()
        );
    }

    #[test]
    fn refuses_what_it_cannot_edit() {
        let cases: [(&str, Result<String, EditError>, &str); 4] = [
            (
                "scalar in the way",
                set_string("stack: ./s\n", "cairn.yaml", &["stack", "version"], "1"),
                "cairn.yaml: stack is not a mapping; cannot set version in it",
            ),
            (
                "not a list",
                append_strings("resources: x\n", "k.yaml", &["resources"], &["y".into()]),
                "k.yaml: resources is not a list; cannot add to it",
            ),
            (
                "no such item",
                set_in_named_item(
                    "components: []\n",
                    "stack.yaml",
                    "components",
                    "z",
                    "sha256",
                    "x",
                ),
                "stack.yaml: components has no item with name \"z\"",
            ),
            (
                "not YAML the gate accepts",
                set_string("a: &x 1\nb: *x\n", "cairn.yaml", &["c"], "1"),
                "cairn.yaml:",
            ),
        ];
        for (what, got, want) in cases {
            let err = got.expect_err(what).to_string();
            assert!(err.starts_with(want), "{what}: {err}");
        }
    }
}
