//! Three-way merge of YAML manifests, structurally: per document, per key.
//!
//! `base` is what cairn generated last time, `ours` is the file as the user
//! left it, `theirs` is the new render. A key the user changed stays changed
//! unless the new render changed that same key too; then it is a conflict,
//! reported with the document and field path. Lists are compared whole (they
//! have no stable identity to merge by). Conflict markers are never written.
//!
//! Documents are matched by `apiVersion`, `kind`, `metadata.namespace` and
//! `metadata.name`. The merged file is re-serialised, so comments the user
//! added inside a file that both sides changed are not kept.

use serde_yaml::{Mapping, Value};

/// Where a merge could not decide: `HelmRelease/ingress-nginx: spec.values.replicas`.
pub type Conflict = String;

/// Merges, returning the merged text or every conflicting field.
pub fn merge(base: &str, ours: &str, theirs: &str) -> Result<String, Vec<Conflict>> {
    let (text, conflicts) = merge_with(base, ours, theirs, false)?;
    if conflicts.is_empty() {
        Ok(text)
    } else {
        Err(conflicts)
    }
}

/// Merges, taking the new render (`theirs`) for each conflicting field
/// only: the user's other edits stay. Returns the text and the fields
/// taken from the new render.
pub fn merge_taking_theirs(
    base: &str,
    ours: &str,
    theirs: &str,
) -> Result<(String, Vec<Conflict>), Vec<Conflict>> {
    merge_with(base, ours, theirs, true)
}

fn merge_with(
    base: &str,
    ours: &str,
    theirs: &str,
    take_theirs: bool,
) -> Result<(String, Vec<Conflict>), Vec<Conflict>> {
    let (base, ours, theirs) = match (parse(base), parse(ours), parse(theirs)) {
        (Ok(b), Ok(o), Ok(t)) => (b, o, t),
        (_, Err(err), _) => return Err(vec![format!("your version is not valid YAML ({err})")]),
        _ => return Err(vec!["cannot parse the generated versions".into()]),
    };
    let mut conflicts = Vec::new();
    let mut merged = Vec::new();
    // Documents in the order of the user's file, then new ones in render order.
    let mut keys: Vec<String> = ours.iter().map(|(k, _)| k.clone()).collect();
    for (k, _) in &theirs {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let find = |docs: &[(String, Value)], key: &str| {
        docs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    for key in keys {
        let (b, o, t) = (find(&base, &key), find(&ours, &key), find(&theirs, &key));
        let mut path = Vec::new();
        let sides = Sides {
            base: b.as_ref(),
            ours: o.as_ref(),
            theirs: t.as_ref(),
        };
        if let Some(value) = merge_value(&key, &mut path, sides, take_theirs, &mut conflicts) {
            merged.push(value);
        }
    }
    if !conflicts.is_empty() && !take_theirs {
        return Ok((String::new(), conflicts));
    }
    let mut out = String::new();
    for (i, doc) in merged.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml::to_string(doc).map_err(|e| vec![e.to_string()])?);
    }
    Ok((out, conflicts))
}

/// One value in the previous render, the user's file and the new render.
#[derive(Clone, Copy)]
struct Sides<'a> {
    base: Option<&'a Value>,
    ours: Option<&'a Value>,
    theirs: Option<&'a Value>,
}

/// The documents of a stream, each with its identity.
fn parse(text: &str) -> Result<Vec<(String, Value)>, crate::yaml::Error> {
    let mut docs = Vec::new();
    for (index, document) in crate::yaml::documents(text).into_iter().enumerate() {
        let value = document?;
        if value.is_null() {
            continue;
        }
        docs.push((
            identity(&value).unwrap_or_else(|| format!("document {}", index + 1)),
            value,
        ));
    }
    Ok(docs)
}

fn identity(doc: &Value) -> Option<String> {
    let kind = doc.get("kind")?.as_str()?;
    let meta = doc.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    Some(match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind}/{ns}/{name} ({api})"),
        None => format!("{kind}/{name} ({api})"),
    })
}

/// Merges one value; `None` means absent in the result. A conflict is
/// recorded with the three values, and resolved with the user's value
/// (the merge then fails) or, with `take_theirs`, the new render's.
fn merge_value(
    doc: &str,
    path: &mut Vec<String>,
    sides: Sides<'_>,
    take_theirs: bool,
    conflicts: &mut Vec<Conflict>,
) -> Option<Value> {
    let Sides { base, ours, theirs } = sides;
    if ours == theirs {
        return ours.cloned();
    }
    if ours == base {
        return theirs.cloned();
    }
    if theirs == base {
        return ours.cloned();
    }
    let empty = Value::Mapping(Mapping::new());
    match (base.unwrap_or(&empty), ours, theirs) {
        (Value::Mapping(b), Some(Value::Mapping(o)), Some(Value::Mapping(t))) => {
            let mut merged = Mapping::new();
            let mut keys: Vec<&Value> = o.keys().collect();
            keys.extend(t.keys().filter(|k| !o.contains_key(*k)));
            keys.extend(
                b.keys()
                    .filter(|k| !o.contains_key(*k) && !t.contains_key(*k)),
            );
            for key in keys {
                path.push(key_text(key));
                let sides = Sides {
                    base: b.get(key),
                    ours: o.get(key),
                    theirs: t.get(key),
                };
                if let Some(v) = merge_value(doc, path, sides, take_theirs, conflicts) {
                    merged.insert(key.clone(), v);
                }
                path.pop();
            }
            Some(Value::Mapping(merged))
        }
        _ => {
            let field = if path.is_empty() {
                "the whole document".to_string()
            } else {
                path.join(".")
            };
            conflicts.push(format!(
                "{doc}: {field} (was {}, yours {}, new render {})",
                shown(base),
                shown(ours),
                shown(theirs)
            ));
            if take_theirs {
                theirs.cloned()
            } else {
                ours.cloned()
            }
        }
    }
}

/// A value as a short one-line text, for conflict messages.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "absent".into(),
        Some(Value::String(s)) => crate::text::one_line(&format!("{s:?}"), 60),
        Some(other) => crate::text::one_line(&serde_json::to_string(other).unwrap_or_default(), 60),
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: '1'\n  y: '1'\n";
    const OTHER: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: v\n";

    /// What a merge must give: the merged document, or the conflicts.
    enum Want {
        Merged(String),
        Conflicts(&'static [&'static str]),
    }

    #[test]
    fn force_takes_the_new_render_for_conflicting_fields_only() {
        let ours = BASE
            .replace("x: '1'", "x: mine")
            .replace("y: '1'", "y: kept");
        let theirs = BASE.replace("x: '1'", "x: new");
        let (merged, taken) = merge_taking_theirs(BASE, &ours, &theirs).unwrap();
        assert!(
            merged.contains("x: new") && merged.contains("y: kept"),
            "{merged}"
        );
        assert_eq!(taken.len(), 1, "{taken:?}");
    }

    #[test]
    fn merges_per_document_and_key() {
        let edit = |from: &str, to: &str| BASE.replace(from, to);
        let cases = [
            (
                "the user's key kept, the new render taken elsewhere",
                BASE.to_string(),
                edit("x: '1'", "x: mine"),
                edit("y: '1'", "y: '2'"),
                Want::Merged(edit("x: '1'", "x: mine").replace("y: '1'", "y: '2'")),
            ),
            (
                "the same key changed on both sides",
                BASE.to_string(),
                edit("x: '1'", "x: mine"),
                edit("x: '1'", "x: new"),
                Want::Conflicts(&[
                    "ConfigMap/a (v1): data.x (was \"1\", yours \"mine\", new render \"new\")",
                ]),
            ),
            (
                "the same change on both sides",
                BASE.to_string(),
                edit("x: '1'", "x: same"),
                edit("x: '1'", "x: same"),
                Want::Merged(edit("x: '1'", "x: same")),
            ),
            (
                "a key added by the user, one removed by the render",
                BASE.to_string(),
                format!("{BASE}  z: added\n"),
                edit("  y: '1'\n", ""),
                Want::Merged(format!("{}  z: added\n", edit("  y: '1'\n", ""))),
            ),
            (
                "documents matched by identity, not position",
                format!("{BASE}---\n{OTHER}"),
                format!("{OTHER}---\n{}", edit("x: '1'", "x: mine")),
                format!("{BASE}---\n{}", OTHER.replace("k: v", "k: w")),
                Want::Merged(format!(
                    "{}---\n{}",
                    OTHER.replace("k: v", "k: w"),
                    edit("x: '1'", "x: mine")
                )),
            ),
            (
                "lists are compared whole",
                format!("{BASE}  l: [a, b]\n"),
                format!("{BASE}  l: [a, b, mine]\n"),
                format!("{BASE}  l: [a, b, new]\n"),
                Want::Conflicts(&[
                    "ConfigMap/a (v1): data.l (was [\"a\",\"b\"], yours [\"a\",\"b\",\"mine\"], new render [\"a\",\"b\",\"new\"])",
                ]),
            ),
            (
                "the user's file no longer YAML",
                BASE.to_string(),
                "data: [\n".to_string(),
                BASE.to_string(),
                Want::Conflicts(&[]),
            ),
        ];
        for (what, base, ours, theirs, want) in cases {
            match (merge(&base, &ours, &theirs), want) {
                (Ok(merged), Want::Merged(want)) => {
                    let docs = |text: &str| -> Vec<Value> {
                        crate::yaml::documents(text)
                            .into_iter()
                            .map(Result::unwrap)
                            .collect()
                    };
                    assert_eq!(docs(&merged), docs(&want), "{what}:\n{merged}");
                }
                (Err(got), Want::Conflicts([])) => {
                    assert!(got[0].contains("not valid YAML"), "{what}: {got:?}");
                }
                (Err(got), Want::Conflicts(want)) => assert_eq!(got, want, "{what}"),
                (Ok(merged), Want::Conflicts(want)) => {
                    panic!("{what}: merged, want conflicts {want:?}:\n{merged}")
                }
                (Err(got), Want::Merged(_)) => panic!("{what}: conflicts {got:?}"),
            }
        }
    }
}
