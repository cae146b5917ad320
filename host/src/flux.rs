//! How Flux brings the stack up on a cluster, and the check that it can.
//!
//! Flux's kustomize-controller applies one `Kustomization` in stages: CRDs
//! and Namespaces first, then every other object dry-run together, and if
//! one dry-run fails, nothing of that stage is applied. An object whose CRD
//! a chart installs therefore cannot share a `Kustomization` with the
//! chart's `HelmRelease`: on an empty cluster the dry-run fails with "no
//! matches for kind", the `HelmRelease` is never created, and nothing comes
//! up. So cairn gives every component layer its own Flux `Kustomization`
//! ([`layers`]): the `main` layer, then the `config` layer once `main` is
//! ready, each depending on the layers of the components whose facts it
//! reads, all waiting for health. The cluster's own sync (bootstrap's
//! `flux-system`) applies only the file that lists them ([`LAYERS_FILE`]).
//!
//! [`check`] proves a tree converges from an empty cluster, whoever wrote
//! it: starting from the output's root, it follows the Flux Kustomizations
//! it finds to the objects each applies, and requires of every object that
//! its kind is built in, or defined by a CRD in its own layer or one it
//! depends on, or installed by a HelmRelease of a layer it depends on (the
//! CRD groups components declare), and that its namespace exists by then;
//! and of the Kustomizations, that every `dependsOn` names one that exists,
//! without a cycle.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::compose::{Tree, TreeFile};
use crate::config::layout::{CONFIG_DIR, KUSTOMIZATION, LAYERS_FILE};
use crate::runtime::Layer as FileLayer;

/// One component layer and what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The Flux Kustomization's name: the component's, `-config` for its
    /// config layer.
    pub name: String,
    pub component: String,
    pub layer: FileLayer,
    /// Its directory, relative to the output.
    pub dir: String,
    pub depends_on: Vec<String>,
    /// Whether it holds SOPS-sealed objects to decrypt.
    pub decrypt: bool,
}

/// A component as the topology sees it.
pub struct Component<'a> {
    pub name: &'a str,
    /// Keys of the facts it reads and waits for.
    pub reads: Vec<&'a str>,
}

/// The layers of `components` (in their order), main then config, each
/// depending on the last layer of every component that provides a fact it
/// reads and waits for. `providers` maps published fact keys to their provider. Refuses
/// a dependency cycle and a name two layers would share.
pub fn layers(
    tree: &Tree,
    components: &[Component<'_>],
    providers: &BTreeMap<String, String>,
) -> Result<Vec<Layer>, Vec<String>> {
    let has_config =
        |component: &str| tree.contains_key(&format!("{component}/{CONFIG_DIR}/{KUSTOMIZATION}"));
    let last = |component: &str| {
        if has_config(component) {
            format!("{component}-config")
        } else {
            component.to_string()
        }
    };
    // The tree was checked when it was assembled.
    let sealed = |component: &str, layer: FileLayer| {
        tree.iter().any(|(path, file)| {
            crate::compose::layer_of(path) == Some((component, layer))
                && file.content.contains("sops:")
                && file.documents().iter().any(crate::sops::is_encrypted)
        })
    };
    let mut out = Vec::new();
    for component in components {
        let mut depends: BTreeSet<String> = BTreeSet::new();
        for key in &component.reads {
            if let Some(provider) = providers.get(*key)
                && provider != component.name
            {
                depends.insert(last(provider));
            }
        }
        let dir = component.name.to_string();
        out.push(Layer {
            name: component.name.to_string(),
            component: component.name.to_string(),
            layer: FileLayer::Main,
            decrypt: sealed(component.name, FileLayer::Main),
            dir,
            depends_on: depends.into_iter().collect(),
        });
        if has_config(component.name) {
            let dir = format!("{}/{CONFIG_DIR}", component.name);
            out.push(Layer {
                name: format!("{}-config", component.name),
                component: component.name.to_string(),
                layer: FileLayer::Config,
                decrypt: sealed(component.name, FileLayer::Config),
                dir,
                depends_on: vec![component.name.to_string()],
            });
        }
    }
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for layer in &out {
        if let Some(other) = seen.insert(layer.name.clone(), layer.component.clone()) {
            problems.push(format!(
                "components {other:?} and {:?} would both be applied by a Flux Kustomization named {:?}; rename one of them in the stack",
                layer.component, layer.name
            ));
        }
    }
    let graph: BTreeMap<&str, Vec<&str>> = out
        .iter()
        .map(|l| {
            (
                l.name.as_str(),
                l.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(format!(
            "the components' facts make a dependency cycle, which Flux can never apply: {}; one of them must stop reading the other's facts",
            cycle.join(" -> ")
        ));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The order Flux brings the layers up in: waves of layers that wait only
/// for earlier waves.
pub fn waves(layers: &[Layer]) -> Vec<Vec<String>> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut waves = Vec::new();
    let mut left: Vec<&Layer> = layers.iter().collect();
    while !left.is_empty() {
        let (ready, rest): (Vec<&Layer>, Vec<&Layer>) = left.into_iter().partition(|l| {
            l.depends_on
                .iter()
                .all(|d| done.contains(d.as_str()) || !layers.iter().any(|o| &o.name == d))
        });
        if ready.is_empty() {
            // A cycle, refused by `layers`; list the rest as one wave.
            waves.push(rest.iter().map(|l| l.name.clone()).collect());
            break;
        }
        waves.push(ready.iter().map(|l| l.name.clone()).collect());
        done.extend(ready.iter().map(|l| l.name.as_str()));
        left = rest;
    }
    waves
}

/// The layers a [`LAYERS_FILE`] lists, with what each depends on, for
/// showing the order of a repo as it is.
pub fn parse_manifest(text: &str) -> Vec<Layer> {
    crate::yaml::documents(text)
        .into_iter()
        .flatten()
        .filter(|doc| doc.get("kind").and_then(Value::as_str) == Some("Kustomization"))
        .filter_map(|doc| {
            let name = doc.get("metadata")?.get("name")?.as_str()?.to_string();
            let depends_on = doc
                .get("spec")
                .and_then(|s| s.get("dependsOn"))
                .and_then(Value::as_sequence)
                .map(|deps| {
                    deps.iter()
                        .filter_map(|d| d.get("name")?.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Some(Layer {
                component: name.trim_end_matches("-config").to_string(),
                layer: if name.ends_with("-config") {
                    FileLayer::Config
                } else {
                    FileLayer::Main
                },
                dir: String::new(),
                name,
                depends_on,
                decrypt: false,
            })
        })
        .collect()
}

/// The text of [`LAYERS_FILE`]: one Flux Kustomization per layer. `path`
/// is the output relative to the repository root.
pub fn manifest(layers: &[Layer], settings: &crate::config::FluxSettings, path: &str) -> String {
    let mut docs = Vec::new();
    for layer in layers {
        let full = [crate::names::normal_path(path), layer.dir.clone()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        let mut source = serde_json::json!({
            "kind": settings.source_ref.kind,
            "name": settings.source_ref.name,
        });
        if let Some(namespace) = &settings.source_ref.namespace {
            source["namespace"] = namespace.clone().into();
        }
        let mut spec = serde_json::json!({
            "interval": settings.interval,
            "retryInterval": settings.retry_interval,
            "timeout": settings.timeout,
            "path": format!("./{full}"),
            "prune": true,
            "wait": true,
            "sourceRef": source,
        });
        if !layer.depends_on.is_empty() {
            spec["dependsOn"] = layer
                .depends_on
                .iter()
                .map(|name| serde_json::json!({ "name": name }))
                .collect();
        }
        if layer.decrypt {
            spec["decryption"] = serde_json::json!({
                "provider": "sops",
                "secretRef": {"name": crate::config::layout::SOPS_SECRET},
            });
        }
        let object = serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": layer.name, "namespace": settings.namespace},
            "spec": spec,
        });
        docs.push(serde_yaml::to_string(&object).expect("JSON serialises as YAML"));
    }
    format!(
        "# Generated by cairn: one Flux Kustomization per component layer, each applied once\n# the layers it depends on are ready. Rewritten on every run; do not edit.\n{}",
        docs.join("---\n")
    )
}

/// The output's root kustomization when Flux applies it: the layers file,
/// and bootstrap's `flux-system` when it lives here.
pub fn root(tree: &mut Tree, flux_system: bool) {
    let mut resources = vec![LAYERS_FILE.to_string()];
    if flux_system {
        resources.insert(0, crate::config::layout::FLUX_DIR.to_string());
    }
    let what = if flux_system {
        "Flux itself (from `cairn bootstrap`) and the Flux Kustomizations of every component layer"
    } else {
        "the Flux Kustomizations of every component layer"
    };
    tree.insert(
        KUSTOMIZATION.into(),
        TreeFile::new(None, crate::compose::kustomization(what, &resources)),
    );
}

/// A cycle in `graph` (node → the nodes it depends on), if any, as the
/// path around it.
fn find_cycle<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node);
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Open);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(cycle) = visit(next, graph, marks, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// API groups every cluster serves without any CRD: Kubernetes' own.
const BUILT_IN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
];

/// Namespaces every cluster has, and Flux's.
const BUILT_IN_NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    crate::config::layout::FLUX_NAME,
];

/// Whether Flux's own CRDs define `group`: installed with Flux itself
/// (bootstrap's `gotk-components.yaml`), before anything cairn writes.
fn flux_group(group: &str) -> bool {
    group.ends_with(".toolkit.fluxcd.io") || group.ends_with(".extensions.fluxcd.io")
}

/// The files a check reads, by path relative to the output.
pub trait View {
    /// The file's text, `None` when there is none.
    fn read(&self, path: &str) -> Option<String>;
    /// The file's YAML documents, `None` when there is none.
    fn documents(&self, path: &str) -> Option<Vec<Value>> {
        let text = self.read(path)?;
        Some(
            crate::yaml::documents(&text)
                .into_iter()
                .flatten()
                .collect(),
        )
    }
    /// The YAML files below `dir`, recursively, for a directory without a
    /// kustomization (which Flux applies whole).
    fn yaml_files(&self, dir: &str) -> Vec<String>;
}

/// A rendered tree, over the disk for what the tree does not hold.
pub struct TreeView<'a> {
    pub tree: &'a Tree,
    pub disk: DiskView,
}

impl View for TreeView<'_> {
    fn read(&self, path: &str) -> Option<String> {
        match self.tree.get(path) {
            Some(file) => Some(file.content.clone()),
            None => self.disk.read(path),
        }
    }
    fn documents(&self, path: &str) -> Option<Vec<Value>> {
        match self.tree.get(path) {
            Some(file) => Some(file.documents().to_vec()),
            None => self.disk.documents(path),
        }
    }
    fn yaml_files(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut files: BTreeSet<String> = self
            .tree
            .keys()
            .filter(|p| p.starts_with(&prefix) && is_yaml(p))
            .cloned()
            .collect();
        files.extend(self.disk.yaml_files(dir));
        files.into_iter().collect()
    }
}

/// The files on disk below the output directory, read within bounds and
/// never through a link.
pub struct DiskView {
    pub output: std::path::PathBuf,
}

impl View for DiskView {
    fn read(&self, path: &str) -> Option<String> {
        crate::files::check_relative(path).ok()?;
        crate::files::no_links(&self.output, std::path::Path::new(path)).ok()?;
        crate::files::read_text_bounded(&self.output.join(path), 64 << 20)
            .ok()
            .flatten()
    }
    fn yaml_files(&self, dir: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_string()];
        while let Some(current) = stack.pop() {
            if found.len() > 10_000 {
                break;
            }
            let Ok(entries) = std::fs::read_dir(self.output.join(&current)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let rel = if current.is_empty() {
                    name
                } else {
                    format!("{current}/{name}")
                };
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() => stack.push(rel),
                    Ok(kind) if kind.is_file() && is_yaml(&rel) => found.push(rel),
                    _ => {}
                }
            }
        }
        found.sort();
        found
    }
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

/// An object a layer applies, and the file it came from.
struct Object {
    file: String,
    doc: Value,
}

impl Object {
    fn text(&self, pointer: &[&str]) -> Option<&str> {
        let mut value = &self.doc;
        for key in pointer {
            value = value.get(*key)?;
        }
        value.as_str()
    }
    fn group(&self) -> &str {
        let api = self.text(&["apiVersion"]).unwrap_or("");
        api.rsplit_once('/').map_or("", |(group, _)| group)
    }
    fn kind(&self) -> &str {
        self.text(&["kind"]).unwrap_or("")
    }
    fn describe(&self) -> String {
        let name = self.text(&["metadata", "name"]).unwrap_or("?");
        match self.text(&["metadata", "namespace"]) {
            Some(ns) => format!("{} {ns}/{name}", self.kind()),
            None => format!("{} {name}", self.kind()),
        }
    }
}

/// A Flux Kustomization found in the tree.
struct Found {
    name: String,
    namespace: String,
    /// Its directory relative to the output; `None` when outside it.
    dir: Option<String>,
    depends_on: Vec<(String, String)>,
    wait: bool,
    objects: Vec<Object>,
}

/// What [`check`] needs besides the files.
pub struct CheckInput<'a> {
    /// The output relative to the repository root, as Kustomization paths
    /// give it.
    pub path: &'a str,
    /// The name of what applies the output's root: bootstrap's sync.
    pub entry: &'a str,
    /// Per component, the CRD groups its charts install.
    pub crd_groups: &'a BTreeMap<String, Vec<String>>,
}

/// One reason the tree would not come up on an empty cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The Flux Kustomization applying the object.
    pub layer: String,
    pub file: String,
    pub problem: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.file.is_empty() {
            write!(f, "layer {}: {}", self.layer, self.problem)
        } else {
            write!(f, "layer {}, {}: {}", self.layer, self.file, self.problem)
        }
    }
}

/// Checks that the tree under the output converges from an empty cluster
/// (see the module's documentation). Every problem is reported.
pub fn check(view: &dyn View, input: &CheckInput<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut layers: Vec<Found> = Vec::new();
    let mut queue: Vec<usize> = Vec::new();
    layers.push(Found {
        name: input.entry.to_string(),
        namespace: crate::config::layout::FLUX_NAME.into(),
        dir: Some(String::new()),
        depends_on: Vec::new(),
        wait: false,
        objects: Vec::new(),
    });
    queue.push(0);
    let mut seen_dirs: BTreeSet<String> = BTreeSet::new();
    while let Some(index) = queue.pop() {
        let Some(dir) = layers[index].dir.clone() else {
            continue;
        };
        if !seen_dirs.insert(dir.clone()) {
            continue;
        }
        let mut visited = BTreeSet::new();
        let objects = objects_in(view, &dir, &mut visited, &mut problems, &layers[index].name);
        for object in &objects {
            if object.kind() == "Kustomization" && object.group() == "kustomize.toolkit.fluxcd.io" {
                let path = object.text(&["spec", "path"]).unwrap_or("");
                let dir = relative_to(path, input.path);
                let namespace = object
                    .text(&["metadata", "namespace"])
                    .unwrap_or(crate::config::layout::FLUX_NAME)
                    .to_string();
                let depends_on = object
                    .doc
                    .get("spec")
                    .and_then(|s| s.get("dependsOn"))
                    .and_then(Value::as_sequence)
                    .map(|deps| {
                        deps.iter()
                            .map(|d| {
                                let name = d.get("name").and_then(Value::as_str).unwrap_or("");
                                let ns = d
                                    .get("namespace")
                                    .and_then(Value::as_str)
                                    .unwrap_or(&namespace);
                                (name.to_string(), ns.to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let wait = object
                    .doc
                    .get("spec")
                    .and_then(|s| s.get("wait"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                layers.push(Found {
                    name: object
                        .text(&["metadata", "name"])
                        .unwrap_or("?")
                        .to_string(),
                    namespace,
                    dir,
                    depends_on,
                    wait,
                    objects: Vec::new(),
                });
                queue.push(layers.len() - 1);
            }
        }
        layers[index].objects = objects;
    }

    // The Kustomizations' own graph.
    let key = |l: &Found| (l.name.clone(), l.namespace.clone());
    let known: BTreeSet<(String, String)> = layers.iter().map(key).collect();
    for layer in &layers {
        for dep in &layer.depends_on {
            if !known.contains(dep) {
                problems.push(Problem {
                    layer: layer.name.clone(),
                    file: String::new(),
                    problem: format!(
                        "dependsOn names Kustomization {}/{}, which nothing in the tree defines; Flux would wait for it forever",
                        dep.1, dep.0
                    ),
                });
            }
        }
    }
    let names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}/{}", l.namespace, l.name))
        .collect();
    let graph: BTreeMap<&str, Vec<&str>> = layers
        .iter()
        .zip(&names)
        .map(|(l, n)| {
            (
                n.as_str(),
                l.depends_on
                    .iter()
                    .filter_map(|(name, ns)| {
                        names
                            .iter()
                            .find(|x| **x == format!("{ns}/{name}"))
                            .map(String::as_str)
                    })
                    .collect(),
            )
        })
        .collect();
    if let Some(cycle) = find_cycle(&graph) {
        problems.push(Problem {
            layer: cycle[0].rsplit('/').next().unwrap_or("").to_string(),
            file: String::new(),
            problem: format!(
                "the Kustomizations depend on each other in a cycle, which Flux can never apply: {}",
                cycle.join(" -> ")
            ),
        });
    }

    // What each layer can count on when Flux applies it.
    let index_of = |name: &str, ns: &str| {
        layers
            .iter()
            .position(|l| l.name == name && l.namespace == ns)
    };
    for (i, layer) in layers.iter().enumerate() {
        let mut ancestors = BTreeSet::new();
        let mut todo: Vec<usize> = vec![i];
        while let Some(j) = todo.pop() {
            for (name, ns) in &layers[j].depends_on {
                if let Some(k) = index_of(name, ns)
                    && ancestors.insert(k)
                {
                    todo.push(k);
                }
            }
        }
        ancestors.remove(&i);
        let mut crds: BTreeSet<(String, String)> = BTreeSet::new();
        let mut namespaces: BTreeSet<String> =
            BUILT_IN_NAMESPACES.iter().map(|s| s.to_string()).collect();
        let mut helm_groups: BTreeMap<String, String> = BTreeMap::new();
        for j in ancestors.iter().copied().chain([i]) {
            for object in &layers[j].objects {
                match (object.group(), object.kind()) {
                    ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                        if let (Some(group), Some(kind)) = (
                            object.text(&["spec", "group"]),
                            object.text(&["spec", "names", "kind"]),
                        ) {
                            crds.insert((group.to_string(), kind.to_string()));
                        }
                    }
                    ("", "Namespace") => {
                        if let Some(name) = object.text(&["metadata", "name"]) {
                            namespaces.insert(name.to_string());
                        }
                    }
                    ("helm.toolkit.fluxcd.io", "HelmRelease") if j != i && layers[j].wait => {
                        for group in chart_groups(object, input.crd_groups) {
                            helm_groups.insert(group, layers[j].name.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        let same_layer_helm: BTreeSet<String> = layer
            .objects
            .iter()
            .filter(|o| o.kind() == "HelmRelease" && o.group() == "helm.toolkit.fluxcd.io")
            .flat_map(|o| chart_groups(o, input.crd_groups))
            .collect();
        for object in &layer.objects {
            let (group, kind) = (object.group(), object.kind());
            let defined = BUILT_IN_GROUPS.contains(&group)
                || flux_group(group)
                || crds.contains(&(group.to_string(), kind.to_string()))
                || helm_groups.contains_key(group);
            if !defined {
                let fix = if same_layer_helm.contains(group) {
                    format!(
                        "its CRD is installed by a HelmRelease in this same layer, so Flux's dry-run fails (\"no matches for kind {kind}\") before the chart is installed, and nothing of the layer is applied: return the file in the component's config layer (docs/authoring.md, \"Layers\")"
                    )
                } else if let Some(owner) = layers.iter().find(|l| {
                    l.objects.iter().any(|o| {
                        o.kind() == "HelmRelease"
                            && chart_groups(o, input.crd_groups).iter().any(|g| g == group)
                    })
                }) {
                    format!(
                        "its CRD is installed by a HelmRelease of layer {}, which this layer does not depend on; read one of that component's facts, so that Flux applies this layer after it",
                        owner.name
                    )
                } else {
                    format!(
                        "no layer it depends on installs the CRD of {kind} ({group}); enable the component whose chart installs it, and read one of its facts"
                    )
                };
                problems.push(Problem {
                    layer: layer.name.clone(),
                    file: object.file.clone(),
                    problem: format!("{}: {fix}", object.describe()),
                });
            }
            if let Some(ns) = object.text(&["metadata", "namespace"])
                && !namespaces.contains(ns)
            {
                problems.push(Problem {
                    layer: layer.name.clone(),
                    file: object.file.clone(),
                    problem: format!(
                        "{}: namespace {ns} is created neither in this layer nor in one it depends on, so Flux's dry-run fails (\"namespace not found\"); create it here, or read a fact of the component that creates it",
                        object.describe()
                    ),
                });
            }
        }
    }
    problems
}

/// The CRD groups the chart of `release` installs, by the component whose
/// directory holds it (its first path segment).
fn chart_groups(release: &Object, crd_groups: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let component = release.file.split('/').next().unwrap_or("");
    crd_groups.get(component).cloned().unwrap_or_default()
}

/// A Kustomization's `spec.path` (from the repository root) as a directory
/// relative to the output, whose repository path is `output`; `None` when
/// it lies outside.
fn relative_to(path: &str, output: &str) -> Option<String> {
    let path = crate::names::normal_path(path);
    let output = crate::names::normal_path(output);
    if output.is_empty() {
        return Some(path);
    }
    if path == output {
        return Some(String::new());
    }
    path.strip_prefix(&format!("{output}/")).map(str::to_string)
}

/// Every object `dir` applies, as kustomize would build it: the resources
/// its kustomization lists (files, and directories recursively), or every
/// YAML file below it when it has none (as Flux generates one).
fn objects_in(
    view: &dyn View,
    dir: &str,
    visited: &mut BTreeSet<String>,
    problems: &mut Vec<Problem>,
    layer: &str,
) -> Vec<Object> {
    if !visited.insert(dir.to_string()) || visited.len() > 10_000 {
        return Vec::new();
    }
    let join = |name: &str| {
        let name = crate::names::normal_path(name);
        if dir.is_empty() {
            name
        } else {
            format!("{dir}/{name}")
        }
    };
    let kustomization = view.documents(&join(KUSTOMIZATION));
    let files: Vec<String> = match &kustomization {
        None => view.yaml_files(dir),
        Some(docs) => {
            let doc = docs.first().cloned().unwrap_or(Value::Null);
            doc.get("resources")
                .and_then(Value::as_sequence)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|r| {
                            !r.contains("://") && !r.starts_with("..") && !r.starts_with('/')
                        })
                        .map(join)
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    let mut objects = Vec::new();
    for file in files {
        if !is_yaml(&file) {
            objects.extend(objects_in(view, &file, visited, problems, layer));
            continue;
        }
        let Some(docs) = view.documents(&file) else {
            if kustomization.is_some() {
                problems.push(Problem {
                    layer: layer.to_string(),
                    file: file.clone(),
                    problem: "is listed in a kustomization but does not exist; kustomize fails to build the layer".into(),
                });
            }
            continue;
        };
        for doc in docs {
            if doc.is_mapping() && doc.get("kind").is_some() {
                objects.push(Object {
                    file: file.clone(),
                    doc,
                });
            }
        }
    }
    objects
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Files(BTreeMap<String, String>);

    impl View for Files {
        fn read(&self, path: &str) -> Option<String> {
            self.0.get(path).cloned()
        }
        fn yaml_files(&self, dir: &str) -> Vec<String> {
            self.0
                .keys()
                .filter(|p| dir.is_empty() || p.starts_with(&format!("{dir}/")))
                .cloned()
                .collect()
        }
    }

    fn files(list: &[(&str, &str)]) -> Files {
        Files(
            list.iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
        )
    }

    const NS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n";
    const RELEASE: &str = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: cert-manager, namespace: cert-manager}\nspec: {interval: 1h}\n";
    const ISSUER: &str =
        "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: letsencrypt}\n";

    fn groups() -> BTreeMap<String, Vec<String>> {
        [(
            "cert-manager".to_string(),
            vec!["cert-manager.io".to_string()],
        )]
        .into()
    }

    fn check_files(list: &[(&str, &str)]) -> Vec<String> {
        check(
            &files(list),
            &CheckInput {
                path: "clusters/demo",
                entry: "flux-system",
                crd_groups: &groups(),
            },
        )
        .iter()
        .map(ToString::to_string)
        .collect()
    }

    fn kustomization(resources: &[&str]) -> String {
        crate::compose::kustomization(
            "test",
            &resources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    fn flux(name: &str, path: &str, depends: &[&str]) -> String {
        let mut text = format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: {name}, namespace: flux-system}}\nspec:\n  path: ./clusters/demo/{path}\n  wait: true\n"
        );
        if !depends.is_empty() {
            text.push_str("  dependsOn:\n");
            for d in depends {
                text.push_str(&format!("  - name: {d}\n"));
            }
        }
        text
    }

    #[test]
    fn one_kustomization_for_everything_does_not_converge() {
        let root = kustomization(&["cert-manager"]);
        let component =
            kustomization(&["namespace.yaml", "helmrelease.yaml", "clusterissuer.yaml"]);
        let problems = check_files(&[
            ("kustomization.yaml", &root),
            ("cert-manager/kustomization.yaml", &component),
            ("cert-manager/namespace.yaml", NS),
            ("cert-manager/helmrelease.yaml", RELEASE),
            ("cert-manager/clusterissuer.yaml", ISSUER),
        ]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("layer flux-system, cert-manager/clusterissuer.yaml: ClusterIssuer letsencrypt: its CRD is installed by a HelmRelease in this same layer"),
            "{problems:?}"
        );
    }

    #[test]
    fn layers_with_dependencies_converge() {
        let layers = format!(
            "{}---\n{}",
            flux("cert-manager", "cert-manager", &[]),
            flux(
                "cert-manager-config",
                "cert-manager/config",
                &["cert-manager"]
            )
        );
        let problems = check_files(&[
            ("kustomization.yaml", &kustomization(&["layers.yaml"])),
            ("layers.yaml", &layers),
            (
                "cert-manager/kustomization.yaml",
                &kustomization(&["namespace.yaml", "helmrelease.yaml"]),
            ),
            ("cert-manager/namespace.yaml", NS),
            ("cert-manager/helmrelease.yaml", RELEASE),
            (
                "cert-manager/config/kustomization.yaml",
                &kustomization(&["clusterissuer.yaml"]),
            ),
            ("cert-manager/config/clusterissuer.yaml", ISSUER),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn missing_dependencies_cycles_and_namespaces_are_found() {
        let layers = format!(
            "{}---\n{}---\n{}",
            flux("a", "a", &["b"]),
            flux("b", "b", &["a"]),
            flux("c", "c", &["nope"])
        );
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: elsewhere}\n";
        let problems = check_files(&[
            ("kustomization.yaml", &kustomization(&["layers.yaml"])),
            ("layers.yaml", &layers),
            ("a/kustomization.yaml", &kustomization(&[])),
            ("b/kustomization.yaml", &kustomization(&[])),
            ("c/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("c/cm.yaml", cm),
        ]);
        let text = problems.join("\n");
        assert!(
            text.contains("dependsOn names Kustomization flux-system/nope"),
            "{text}"
        );
        assert!(text.contains("in a cycle"), "{text}");
        assert!(
            text.contains("namespace elsewhere is created neither"),
            "{text}"
        );
    }

    #[test]
    fn layers_follow_the_facts_and_refuse_cycles() {
        let mut tree = Tree::new();
        for path in [
            "a/kustomization.yaml",
            "a/config/kustomization.yaml",
            "b/kustomization.yaml",
        ] {
            tree.insert(path.into(), TreeFile::new(None, String::new()));
        }
        let providers: BTreeMap<String, String> = [("a.x".to_string(), "a".to_string())].into();
        let components = [
            Component {
                name: "a",
                reads: vec![],
            },
            Component {
                name: "b",
                reads: vec!["a.x", "nobody.y"],
            },
        ];
        let layers = layers(&tree, &components, &providers).unwrap();
        let names: Vec<(&str, Vec<String>)> = layers
            .iter()
            .map(|l| (l.name.as_str(), l.depends_on.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("a", vec![]),
                ("a-config", vec!["a".to_string()]),
                ("b", vec!["a-config".to_string()])
            ]
        );
        assert_eq!(waves(&layers), [vec!["a"], vec!["a-config"], vec!["b"]]);

        let providers: BTreeMap<String, String> = [
            ("a.x".to_string(), "a".to_string()),
            ("b.x".to_string(), "b".to_string()),
        ]
        .into();
        let cyclic = [
            Component {
                name: "a",
                reads: vec!["b.x"],
            },
            Component {
                name: "b",
                reads: vec!["a.x"],
            },
        ];
        let err = layers_err(&tree, &cyclic, &providers);
        assert!(
            err.contains("a-config -> a -> b -> a-config") || err.contains("cycle"),
            "{err}"
        );
    }

    fn layers_err(
        tree: &Tree,
        components: &[Component<'_>],
        providers: &BTreeMap<String, String>,
    ) -> String {
        layers(tree, components, providers).unwrap_err().join("\n")
    }
}
