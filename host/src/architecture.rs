//! Keeps the module graph the shape ARCHITECTURE.md draws: every module
//! sits in one layer and imports only from layers below it, so data flows
//! one way and no cycle can form. A new module must be placed here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, bottom first.
const LAYERS: &[&[&str]] = &[
    // Leaves: helpers and formats with no knowledge of cairn's flow.
    &[
        "files", "text", "yaml", "names", "limits", "sops", "progress", "git", "values", "signing",
        "signing",
    ],
    // Data: cairn's files, caches and user-file editing.
    &[
        "cache", "catalog", "config", "crd", "edit", "merge", "keys", "oci",
    ],
    // Where stacks come from; the sandbox that runs their components.
    &["source", "runtime", "permissions", "bundle"],
    // A stack at a version; validating and assembling components' output.
    &["stack", "compose"],
    // Sealing secrets, planning the repo, the Flux tree.
    &["secrets", "repo", "flux"],
    // Rendering a set of components; setting up a cluster.
    &["render", "bootstrap"],
    // The commands, and the authoring tools.
    &["ops", "author"],
    // Front ends over the commands other than the CLI: the configure page.
    &["web"],
    // Entry points for the fuzz targets, over everything.
    &["fuzz"],
];

/// Modules named in `text` through `crate::`.
fn imports(text: &str) -> BTreeSet<String> {
    // The unit tests of a module may reach anywhere.
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            found.extend(inner.split(',').filter_map(|part| {
                let name = part.trim().split("::").next()?.trim();
                (!name.is_empty()).then(|| name.to_string())
            }));
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Every library module (by its top-level name) and what it imports.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(&src).unwrap();
            if rel.starts_with("bin") {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if top == "lib" || top == "architecture" || path.extension() != Some("rs".as_ref()) {
                continue;
            }
            let mut uses = imports(&std::fs::read_to_string(&path).unwrap());
            uses.remove(&top);
            graph.entry(top).or_default().extend(uses);
        }
    }
    graph
}

#[test]
fn imports_point_down_the_layers() {
    let layer: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (*n, i)))
        .collect();
    let graph = graph();
    let mut wrong = Vec::new();
    for (module, uses) in &graph {
        let Some(&at) = layer.get(module.as_str()) else {
            wrong.push(format!(
                "{module} is in no layer: place it in LAYERS (host/src/architecture.rs) and ARCHITECTURE.md"
            ));
            continue;
        };
        for used in uses {
            match layer.get(used.as_str()) {
                Some(&below) if below < at => {}
                Some(_) => wrong.push(format!(
                    "{module} (layer {at}) imports {used}, which is not in a layer below it"
                )),
                None => wrong.push(format!("{module} imports {used}, which is in no layer")),
            }
        }
    }
    for name in layer.keys() {
        if !graph.contains_key(*name) {
            wrong.push(format!("LAYERS names {name}, which is not a module"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn finds_imports_in_every_form() {
    let text = "use crate::config::Lock;\nuse crate::{files, yaml::documents};\nlet x = crate::names::component(n);\n#[cfg(test)]\nmod tests {\n use crate::ops;\n}\n";
    let want: BTreeSet<String> = ["config", "files", "yaml", "names"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(imports(text), want);
}
