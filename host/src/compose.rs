//! Composes what components produce: resolves the facts they publish for
//! each other, validates every output file, and assembles one tree of files
//! that `kustomize build` (and so a Flux `Kustomization`) accepts.
//!
//! Pure functions over plain data: nothing here runs a component or touches
//! the disk.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::layout::{CONFIG_DIR, KUSTOMIZATION};
use crate::limits::Limits;
use crate::runtime::{Fact, FactDecl, FactValue, Layer, OutputFile};

/// A problem with the facts components publish or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    #[error(
        "component {component:?} published the fact {key:?} without declaring it in `provides`"
    )]
    Undeclared { component: String, key: String },
    #[error(
        "the fact {key:?} is published by both {first:?} and {second:?}; enable only one of them, or configure one not to publish it"
    )]
    Conflict {
        key: String,
        first: String,
        second: String,
    },
    #[error(
        "component {component:?} requires the fact {key:?} ({description}), which no enabled component provides; enable a component that provides it, or disable {component:?}"
    )]
    Missing {
        component: String,
        key: String,
        description: String,
    },
    #[error(
        "component {component:?} published {key:?}, which is not a fact key (lower-case dot-separated words, e.g. ingress.class)"
    )]
    BadKey { component: String, key: String },
}

/// A published fact and the component that published it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub provider: String,
    pub value: FactValue,
}

/// What one component published in phase 1.
pub struct Publication<'a> {
    pub component: &'a str,
    pub provides: &'a [FactDecl],
    pub facts: Vec<Fact>,
}

/// Merges every component's phase-1 facts into one table, refusing facts a
/// component did not declare and keys two components both publish.
pub fn resolve_facts(
    publications: Vec<Publication<'_>>,
) -> Result<BTreeMap<String, Published>, Vec<FactError>> {
    let mut table: BTreeMap<String, Published> = BTreeMap::new();
    let mut errors = Vec::new();
    for publication in publications {
        for fact in publication.facts {
            let component = publication.component.to_string();
            if !crate::names::fact_key(&fact.key) {
                errors.push(FactError::BadKey {
                    component,
                    key: fact.key,
                });
                continue;
            }
            if !publication.provides.iter().any(|d| d.key == fact.key) {
                errors.push(FactError::Undeclared {
                    component,
                    key: fact.key,
                });
                continue;
            }
            if let Some(existing) = table.get(&fact.key) {
                errors.push(FactError::Conflict {
                    key: fact.key,
                    first: existing.provider.clone(),
                    second: component,
                });
                continue;
            }
            table.insert(
                fact.key,
                Published {
                    provider: component,
                    value: fact.value,
                },
            );
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// The facts a component declared it reads, from the table; an error for
/// each required one that nobody published.
pub fn facts_for(
    component: &str,
    reads: &[FactDecl],
    table: &BTreeMap<String, Published>,
) -> Result<Vec<Fact>, Vec<FactError>> {
    let mut facts = Vec::new();
    let mut errors = Vec::new();
    for decl in reads {
        match table.get(&decl.key) {
            Some(published) => facts.push(Fact {
                key: decl.key.clone(),
                value: published.value.clone(),
            }),
            None if decl.required => errors.push(FactError::Missing {
                component: component.into(),
                key: decl.key.clone(),
                description: decl.description.clone(),
            }),
            None => {}
        }
    }
    if errors.is_empty() {
        Ok(facts)
    } else {
        Err(errors)
    }
}

/// One problem with one output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputProblem {
    pub component: String,
    pub file: String,
    pub problem: String,
}

impl std::fmt::Display for OutputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "component {:?}, file {:?}: {}",
            self.component, self.file, self.problem
        )
    }
}

/// One component's files, as rendered.
pub struct ComponentFiles {
    /// The component's name in the stack: its output directory.
    pub component: String,
    pub files: Vec<OutputFile>,
}

/// The component and layer a generated path belongs to; `None` for files
/// at the output's root.
pub fn layer_of(path: &str) -> Option<(&str, Layer)> {
    let (component, rest) = path.split_once('/')?;
    let layer = if rest.starts_with(&format!("{CONFIG_DIR}/")) {
        Layer::Config
    } else {
        Layer::Main
    };
    Some((component, layer))
}

/// Where a file of a component's layer lives, relative to the output.
pub fn layer_dir(component: &str, layer: Layer) -> String {
    match layer {
        Layer::Main => component.to_string(),
        Layer::Config => format!("{component}/{CONFIG_DIR}"),
    }
}

/// A file of the assembled tree. Its YAML is parsed at most once, however
/// many stages look at its objects (assembly, sealing, the plaintext and
/// convergence checks): replace a file to change it, never its content.
#[derive(Debug, Clone)]
pub struct TreeFile {
    /// The component that produced it; `None` for the root kustomization.
    pub component: Option<String>,
    pub content: String,
    documents: std::sync::OnceLock<Vec<serde_yaml::Value>>,
}

impl TreeFile {
    pub fn new(component: Option<String>, content: String) -> Self {
        Self {
            component,
            content,
            documents: std::sync::OnceLock::new(),
        }
    }

    /// A file whose documents were parsed already.
    fn parsed(
        component: Option<String>,
        content: String,
        documents: Vec<serde_yaml::Value>,
    ) -> Self {
        Self {
            component,
            content,
            documents: std::sync::OnceLock::from(documents),
        }
    }

    /// The file's YAML documents, empty ones left out. The content is
    /// cairn's own or was checked when the tree was assembled.
    pub fn documents(&self) -> &[serde_yaml::Value] {
        self.documents.get_or_init(|| {
            crate::yaml::documents_checked(&self.content)
                .into_iter()
                .flatten()
                .filter(|d| !d.is_null())
                .collect()
        })
    }
}

impl PartialEq for TreeFile {
    fn eq(&self, other: &Self) -> bool {
        self.component == other.component && self.content == other.content
    }
}

impl Eq for TreeFile {}

/// Every file cairn generates, by path relative to the output directory.
pub type Tree = BTreeMap<String, TreeFile>;

/// Validates every component's files and assembles the tree: each
/// component's files under its own directory, a `kustomization.yaml` listing
/// them in each, and one at the root listing the component directories.
/// Reports every problem, not just the first.
pub fn assemble(outputs: Vec<ComponentFiles>, limits: &Limits) -> Result<Tree, Vec<OutputProblem>> {
    let mut problems = Vec::new();
    let mut tree = Tree::new();
    let mut folded: BTreeMap<String, String> = BTreeMap::new();
    // Where each object was first rendered: the same object from two files
    // makes kustomize fail ("already registered id"), and from two
    // components makes two Flux Kustomizations fight over it.
    let mut objects: BTreeMap<(String, String, String, String), (String, String)> = BTreeMap::new();
    let mut dirs = Vec::new();
    for output in outputs {
        let component = output.component;
        // Per layer, the files listed in its kustomization.
        let mut layers: BTreeMap<Layer, Vec<String>> = BTreeMap::new();
        layers.insert(Layer::Main, Vec::new());
        for OutputFile {
            path,
            content,
            layer,
        } in output.files
        {
            let shown = match layer {
                Layer::Main => path.clone(),
                Layer::Config => format!("{CONFIG_DIR}/{path}"),
            };
            let problem = |problem: String| OutputProblem {
                component: component.clone(),
                file: shown.clone(),
                problem,
            };
            if let Err(p) = check_path(&path, limits) {
                problems.push(problem(p));
                continue;
            }
            if layer == Layer::Main
                && (path == CONFIG_DIR || path.starts_with(&format!("{CONFIG_DIR}/")))
            {
                problems.push(problem(format!(
                    "{CONFIG_DIR}/ holds the component's config layer; return the file in the config layer, or name it otherwise"
                )));
                continue;
            }
            let documents = match check_yaml(&content) {
                Ok(documents) => documents,
                Err(p) => {
                    problems.push(problem(p));
                    continue;
                }
            };
            let full = format!("{}/{path}", layer_dir(&component, layer));
            if let Some(other) = folded.insert(full.to_lowercase(), full.clone()) {
                let what = if other == full {
                    "is produced twice".to_string()
                } else {
                    format!(
                        "differs only in case from {other:?}, which breaks on case-insensitive file systems"
                    )
                };
                problems.push(problem(what));
                continue;
            }
            for doc in crate::yaml::documents_checked(&content)
                .into_iter()
                .flatten()
            {
                let Some(key) = identity(&doc) else { continue };
                let here = (component.clone(), full.clone());
                if let Some((other, file)) = objects.get(&key) {
                    let also = if *other == component {
                        format!("in {file:?}")
                    } else {
                        format!("by component {other:?} ({file:?})")
                    };
                    problems.push(problem(format!(
                        "{} is also rendered {also}; an object must come from one place only: turn one of them off, or give one another name",
                        display_identity(&key)
                    )));
                } else {
                    objects.insert(key, here);
                }
            }
            layers.entry(layer).or_default().push(path);
            tree.insert(
                full,
                TreeFile::parsed(Some(component.clone()), content, documents),
            );
        }
        for (layer, mut resources) in layers {
            // `a.yaml` and `a.yaml/b.yaml` cannot both be written.
            let files: BTreeSet<&str> = resources.iter().map(String::as_str).collect();
            for path in &resources {
                let mut parent = path.as_str();
                while let Some((dir, _)) = parent.rsplit_once('/') {
                    if files.contains(dir) {
                        problems.push(OutputProblem {
                            component: component.clone(),
                            file: path.clone(),
                            problem: format!(
                                "lies inside {dir:?}, which is a file of the same component; a path cannot be both"
                            ),
                        });
                    }
                    parent = dir;
                }
            }
            resources.sort();
            let what = match layer {
                Layer::Main => format!("the files of component {component}"),
                Layer::Config => format!(
                    "the config layer of component {component}, applied once its main layer is ready"
                ),
            };
            let dir = layer_dir(&component, layer);
            tree.insert(
                format!("{dir}/{KUSTOMIZATION}"),
                TreeFile::new(Some(component.clone()), kustomization(&what, &resources)),
            );
            dirs.push(dir);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    dirs.sort();
    tree.insert(
        KUSTOMIZATION.into(),
        TreeFile::new(None, kustomization("every component's directory", &dirs)),
    );
    Ok(tree)
}

/// An object's identity as Kubernetes and kustomize see it: API group,
/// kind, namespace, name. `None` for a document that is not an object.
fn identity(doc: &serde_yaml::Value) -> Option<(String, String, String, String)> {
    fn text(v: Option<&serde_yaml::Value>) -> Option<&str> {
        v.and_then(serde_yaml::Value::as_str)
    }
    let api = text(doc.get("apiVersion"))?;
    let kind = text(doc.get("kind"))?;
    let meta = doc.get("metadata");
    let name = text(meta.and_then(|m| m.get("name")))?;
    let namespace = text(meta.and_then(|m| m.get("namespace"))).unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(group, _)| group);
    Some((
        group.to_string(),
        kind.to_string(),
        namespace.to_string(),
        name.to_string(),
    ))
}

/// `Namespace/apps`, `HelmRelease.helm.toolkit.fluxcd.io/flux-system/x`.
fn display_identity((group, kind, namespace, name): &(String, String, String, String)) -> String {
    let kind = if group.is_empty() {
        kind.clone()
    } else {
        format!("{kind}.{group}")
    };
    if namespace.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{namespace}/{name}")
    }
}

/// A kustomize `Kustomization` listing `resources`.
pub fn kustomization(what: &str, resources: &[String]) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Kustomization<'a> {
        api_version: &'a str,
        kind: &'a str,
        resources: &'a [String],
    }
    let body = serde_yaml::to_string(&Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources,
    })
    .expect("a list of strings serialises");
    format!("# Generated by cairn: lists {what}. Rewritten on every run; do not edit.\n{body}")
}

/// A relative, portable path inside the component's directory.
fn check_path(path: &str, limits: &Limits) -> Result<(), String> {
    if path.chars().count() > limits.path_length {
        return Err(format!(
            "the path is longer than {} characters (--limit path-length)",
            limits.path_length
        ));
    }
    crate::files::check_relative(path).map_err(|why| {
        let hint = if why.contains("..") {
            "; a component may only write inside its own directory"
        } else {
            ""
        };
        format!("the path {why}{hint}")
    })?;
    let file_name = path.rsplit('/').next().unwrap_or(path);
    if file_name.eq_ignore_ascii_case(KUSTOMIZATION)
        || file_name.eq_ignore_ascii_case("kustomization.yml")
        || file_name == "Kustomization"
    {
        return Err("kustomization files are reserved: cairn writes them".into());
    }
    if !(file_name.ends_with(".yaml") || file_name.ends_with(".yml")) {
        return Err("the file name must end in .yaml or .yml".into());
    }
    Ok(())
}

/// Every file of `tree` that must not reach git, as output problems. Runs
/// after sealing, on exactly what would be written.
pub fn plaintext_problems(tree: &Tree) -> Vec<OutputProblem> {
    tree.iter()
        .filter_map(|(path, file)| {
            let why = plaintext_secret_in(&file.content, file.documents())?;
            let component = file.component.clone().unwrap_or_default();
            let file = path
                .strip_prefix(&format!("{component}/"))
                .unwrap_or(path)
                .to_string();
            Some(OutputProblem {
                component,
                file,
                problem: why,
            })
        })
        .collect()
}

/// `Kind/namespace/name` of a Kubernetes object: how cairn names one in
/// messages and in the lock.
pub fn object_id(doc: &serde_yaml::Value) -> String {
    let text = |v: Option<&serde_yaml::Value>| {
        v.and_then(serde_yaml::Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let meta = doc.get("metadata");
    format!(
        "{}/{}/{}",
        text(doc.get("kind")),
        text(meta.and_then(|m| m.get("namespace"))),
        text(meta.and_then(|m| m.get("name")))
    )
}

/// Why `content` must not reach git, if it must not: a `Secret` with
/// plaintext `data` or `stringData` (SOPS-encrypted values, `ENC[...]` with
/// `sops` metadata, are fine), a private key block, or an age identity.
pub fn plaintext_secret(content: &str) -> Option<String> {
    let documents: Vec<serde_yaml::Value> = crate::yaml::documents(content)
        .into_iter()
        .flatten()
        .collect();
    plaintext_secret_in(content, &documents)
}

fn plaintext_secret_in(content: &str, documents: &[serde_yaml::Value]) -> Option<String> {
    if content.contains("PRIVATE KEY-----") {
        return Some("holds a private key block; keys never belong in git".into());
    }
    if content.contains("AGE-SECRET-KEY-1") {
        return Some(
            "holds an age identity (AGE-SECRET-KEY-1...); keys never belong in git".into(),
        );
    }
    for doc in documents {
        if doc.get("kind").and_then(serde_yaml::Value::as_str) != Some("Secret") {
            continue;
        }
        let encrypted = doc.get("sops").is_some();
        for field in ["data", "stringData"] {
            let Some(values) = doc.get(field).and_then(serde_yaml::Value::as_mapping) else {
                continue;
            };
            // SOPS leaves empty strings as they are.
            let plain = values.values().any(|v| {
                !(encrypted
                    && v.as_str()
                        .is_some_and(|s| s.is_empty() || s.starts_with("ENC[")))
            });
            if plain {
                let name = doc
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(serde_yaml::Value::as_str)
                    .unwrap_or("?");
                return Some(format!(
                    "Secret {name:?} has plaintext {field}; cairn never writes secrets to git in plaintext: list age recipients under `secrets.age` in cairn.yaml (`cairn bootstrap` adds the cluster's) so that cairn encrypts it with SOPS"
                ));
            }
        }
    }
    None
}

/// Every document parses as YAML and is a Kubernetes object. Returns the
/// documents, empty ones left out.
fn check_yaml(content: &str) -> Result<Vec<serde_yaml::Value>, String> {
    let mut objects = Vec::new();
    for (index, document) in crate::yaml::documents(content).into_iter().enumerate() {
        let n = index + 1;
        let value = document.map_err(|err| format!("document {n} is not valid YAML: {err}"))?;
        if value.is_null() {
            continue;
        }
        let text = |key: &str| {
            value
                .get(key)
                .and_then(serde_yaml::Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(serde_yaml::Value::as_str)
            .filter(|s| !s.is_empty());
        let missing: Vec<&str> = [
            ("apiVersion", text("apiVersion").is_none()),
            ("kind", text("kind").is_none()),
            ("metadata.name", name.is_none()),
        ]
        .into_iter()
        .filter_map(|(field, missing)| missing.then_some(field))
        .collect();
        if !missing.is_empty() {
            return Err(format!(
                "document {n} is not a Kubernetes object: it has no {}",
                missing.join(", no ")
            ));
        }
        if value
            .get("items")
            .is_some_and(serde_yaml::Value::is_sequence)
            && text("kind").is_some_and(|k| k.ends_with("List"))
        {
            return Err(format!(
                "document {n} is a {}: write each object as its own document (`---` between them), so cairn checks and seals each",
                text("kind").unwrap_or_default()
            ));
        }
        objects.push(value);
    }
    if objects.is_empty() {
        return Err("the file holds no Kubernetes object".into());
    }
    Ok(objects)
}

/// Component names that appear more than once.
pub fn duplicate_names<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    names.into_iter().filter(|n| !seen.insert(*n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(component: &str, files: &[(&str, &str)]) -> ComponentFiles {
        ComponentFiles {
            component: component.into(),
            files: files
                .iter()
                .map(|(p, c)| OutputFile {
                    path: p.to_string(),
                    content: c.to_string(),
                    layer: Layer::Main,
                })
                .collect(),
        }
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";

    fn cm(name: &str) -> String {
        CM.replace("name: x", &format!("name: {name}"))
    }

    #[test]
    fn assembles_kustomizations() {
        let tree = assemble(
            vec![
                files("b", &[("z.yaml", &cm("z")), ("sub/a.yaml", &cm("a"))]),
                files("a", &[("x.yaml", CM)]),
            ],
            &Limits::default(),
        )
        .unwrap();
        let paths: Vec<&str> = tree.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "a/kustomization.yaml",
                "a/x.yaml",
                "b/kustomization.yaml",
                "b/sub/a.yaml",
                "b/z.yaml",
                "kustomization.yaml"
            ]
        );
        assert!(
            tree["b/kustomization.yaml"]
                .content
                .contains("- sub/a.yaml\n- z.yaml\n")
        );
        assert!(tree["kustomization.yaml"].content.contains("- a\n- b\n"));
    }

    #[test]
    fn one_object_comes_from_one_place_only() {
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n";
        let cases = [
            (
                "two components",
                vec![
                    files("a", &[("ns.yaml", ns)]),
                    files("b", &[("ns.yaml", ns)]),
                ],
                Some("Namespace/apps is also rendered by component \"a\" (\"a/ns.yaml\")"),
            ),
            (
                "two files of one component",
                vec![files("a", &[("one.yaml", ns), ("two.yaml", ns)])],
                Some("Namespace/apps is also rendered in \"a/one.yaml\""),
            ),
            (
                "same name, other namespace",
                vec![files(
                    "a",
                    &[
                        ("one.yaml", &format!("{CM}  namespace: one\n")),
                        ("two.yaml", &format!("{CM}  namespace: two\n")),
                    ],
                )],
                None,
            ),
            (
                "same name, other group",
                vec![files(
                    "a",
                    &[
                        (
                            "one.yaml",
                            "apiVersion: a.example/v1\nkind: Thing\nmetadata:\n  name: x\n",
                        ),
                        (
                            "two.yaml",
                            "apiVersion: b.example/v1\nkind: Thing\nmetadata:\n  name: x\n",
                        ),
                    ],
                )],
                None,
            ),
        ];
        for (what, outputs, want) in cases {
            match (assemble(outputs, &Limits::default()), want) {
                (Ok(_), None) => {}
                (Err(problems), Some(want)) => assert!(
                    problems.iter().any(|p| p.problem.contains(want)),
                    "{what}: {problems:?}"
                ),
                (Ok(_), Some(want)) => panic!("{what}: accepted, want {want:?}"),
                (Err(problems), None) => panic!("{what}: {problems:?}"),
            }
        }
    }

    #[test]
    fn rejects_bad_paths_and_documents() {
        let bad = [
            ("../x.yaml", CM, "'..'"),
            ("/etc/x.yaml", CM, "absolute"),
            ("a\\b.yaml", CM, "backslash"),
            ("kustomization.yaml", CM, "reserved"),
            ("x.json", CM, ".yaml"),
            ("y.yaml", "a: [", "not valid YAML"),
            (
                "z.yaml",
                "foo: bar\n",
                "no apiVersion, no kind, no metadata.name",
            ),
            ("e.yaml", "", "no Kubernetes object"),
        ];
        for (path, content, expected) in bad {
            let problems =
                assemble(vec![files("c", &[(path, content)])], &Limits::default()).unwrap_err();
            assert!(
                problems[0].problem.contains(expected),
                "{path}: {problems:?}"
            );
        }
    }

    #[test]
    fn refuses_plaintext_secrets_and_keys_but_not_sops_files() {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\n";
        assert!(
            plaintext_secret(secret)
                .unwrap()
                .contains("plaintext stringData")
        );
        let sops = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  version: 3.9.0\n";
        assert_eq!(plaintext_secret(sops), None);
        let key = format!("{CM}data:\n  k: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n");
        assert!(plaintext_secret(&key).unwrap().contains("private key"));
        assert!(plaintext_secret(&format!("{CM}data:\n  k: AGE-SECRET-KEY-1QQQ\n")).is_some());
        assert_eq!(plaintext_secret(CM), None);
    }

    #[test]
    fn rejects_duplicates_and_case_collisions() {
        let problems = assemble(
            vec![files(
                "c",
                &[("a.yaml", CM), ("a.yaml", CM), ("A.yaml", CM)],
            )],
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2);
        assert!(problems[0].problem.contains("twice"));
        assert!(problems[1].problem.contains("case"));
    }

    #[test]
    fn facts_conflict_undeclared_and_missing() {
        let decl = |key: &str| FactDecl {
            wait: false,
            key: key.into(),
            description: "d".into(),
            required: true,
        };
        let fact = |key: &str| Fact {
            key: key.into(),
            value: FactValue::Flag(true),
        };
        let provides = [decl("a.b")];
        let errors = resolve_facts(vec![
            Publication {
                component: "one",
                provides: &provides,
                facts: vec![fact("a.b"), fact("c.d")],
            },
            Publication {
                component: "two",
                provides: &provides,
                facts: vec![fact("a.b")],
            },
        ])
        .unwrap_err();
        assert!(matches!(&errors[0], FactError::Undeclared { key, .. } if key == "c.d"));
        assert!(
            matches!(&errors[1], FactError::Conflict { first, second, .. } if first == "one" && second == "two")
        );

        let missing = facts_for("grafana", &[decl("logs.url")], &BTreeMap::new()).unwrap_err();
        let message = missing[0].to_string();
        assert!(
            message.contains("\"grafana\"") && message.contains("\"logs.url\""),
            "{message}"
        );
    }
}
