//! What a component may do to the cluster, derived from what it renders:
//! the kinds it creates, the namespaces it writes to, its cluster-scoped
//! objects, the RBAC it grants (wildcards, `escalate`, `bind`,
//! `impersonate`, cluster-wide secret access and `cluster-admin` bindings
//! flagged), admission webhooks, pods with host access or privileges, and
//! the images and Helm charts it deploys (a chart is opaque: its identity
//! is the permission). A `policy:` in cairn.yaml limits it all.
//!
//! Computed from manifests only, so it holds for any component in any
//! language, and for hand edits on disk as much as for a render.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_yaml::Value;

use crate::config::Policy;

/// What one component's manifests do to a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    /// `Kind.group` (`Deployment.apps`; core kinds without a group).
    pub kinds: BTreeSet<String>,
    pub namespaces: BTreeSet<String>,
    /// `Kind/name` of every cluster-scoped object.
    pub cluster_scoped: BTreeSet<String>,
    /// What its RBAC grants that deserves a look: bindings to cluster-admin,
    /// wildcards, `escalate`, `bind`, `impersonate`, secrets cluster-wide.
    pub rbac: BTreeSet<String>,
    /// Admission webhooks (`Kind/name`).
    pub webhooks: BTreeSet<String>,
    /// Pods with host access or privileges, and which.
    pub host_access: BTreeSet<String>,
    /// Container images of the pods it renders.
    pub images: BTreeSet<String>,
    /// Helm charts its HelmReleases install: `chart version from source`.
    pub charts: BTreeSet<String>,
}

impl Permissions {
    /// What `self` has that `before` had not: what a new release asks for.
    pub fn added_since(&self, before: &Permissions) -> Permissions {
        fn new(now: &BTreeSet<String>, then: &BTreeSet<String>) -> BTreeSet<String> {
            now.difference(then).cloned().collect()
        }
        Permissions {
            kinds: new(&self.kinds, &before.kinds),
            namespaces: new(&self.namespaces, &before.namespaces),
            cluster_scoped: new(&self.cluster_scoped, &before.cluster_scoped),
            rbac: new(&self.rbac, &before.rbac),
            webhooks: new(&self.webhooks, &before.webhooks),
            host_access: new(&self.host_access, &before.host_access),
            images: new(&self.images, &before.images),
            charts: new(&self.charts, &before.charts),
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &Permissions::default()
    }

    /// Each kind of permission, named, with its entries: for printing.
    pub fn sections(&self) -> [(&'static str, &BTreeSet<String>); 8] {
        [
            ("creates", &self.kinds),
            ("namespaces", &self.namespaces),
            ("cluster-scoped", &self.cluster_scoped),
            ("RBAC", &self.rbac),
            ("webhooks", &self.webhooks),
            ("host access", &self.host_access),
            ("images", &self.images),
            ("charts", &self.charts),
        ]
    }
}

/// Kinds that have no namespace (beyond any named `Cluster*`).
const CLUSTER_KINDS: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "PriorityClass",
    "RuntimeClass",
    "IngressClass",
    "CSIDriver",
    "VolumeSnapshotClass",
    "GatewayClass",
];

/// Where pod specs sit in workload kinds.
fn pod_spec<'v>(kind: &str, object: &'v Value) -> Option<&'v Value> {
    let spec = object.get("spec")?;
    match kind {
        "Pod" => Some(spec),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => spec.get("template")?.get("spec"),
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec"),
        _ => None,
    }
}

fn text<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |at, key| at.get(*key))
        .and_then(Value::as_str)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// One rendered (or on-disk) file of a component.
pub struct ComponentFile<'a> {
    pub component: &'a str,
    pub path: &'a str,
    pub objects: &'a [Value],
}

/// The permissions of every component in `files`, and what breaks
/// `policy` (each naming component, file, object and rule).
pub fn scan(
    files: &[ComponentFile<'_>],
    policy: Option<&Policy>,
) -> (BTreeMap<String, Permissions>, Vec<String>) {
    // Chart sources by (kind, namespace, name), to name a HelmRelease's
    // chart by where it comes from.
    let mut sources: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for file in files {
        for object in file.objects {
            let kind = text(object, &["kind"]).unwrap_or_default();
            if matches!(
                kind,
                "HelmRepository" | "OCIRepository" | "GitRepository" | "Bucket"
            ) {
                let url = text(object, &["spec", "url"]).unwrap_or_default();
                let tag = text(object, &["spec", "ref", "tag"])
                    .map(|t| format!(":{t}"))
                    .unwrap_or_default();
                sources.insert(
                    (
                        kind.to_string(),
                        text(object, &["metadata", "namespace"])
                            .unwrap_or_default()
                            .to_string(),
                        text(object, &["metadata", "name"])
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    format!("{url}{tag}"),
                );
            }
        }
    }
    let mut all: BTreeMap<String, Permissions> = BTreeMap::new();
    let mut violations = Vec::new();
    for file in files {
        let permissions = all.entry(file.component.to_string()).or_default();
        for object in file.objects {
            let mut found = Found::default();
            look(object, &sources, &mut found);
            let id = found.id.clone();
            if let Some(policy) = policy {
                for rule in policy_breaches(policy, &found) {
                    violations.push(format!(
                        "component {:?}, file {:?}: {id}: {rule}",
                        file.component, file.path
                    ));
                }
            }
            found.add_to(permissions);
        }
    }
    (all, violations)
}

/// What one object asks for.
#[derive(Default)]
struct Found {
    id: String,
    kind: String,
    namespace: Option<String>,
    cluster_scoped: Option<String>,
    rbac: Vec<String>,
    cluster_admin: bool,
    wildcard: bool,
    webhook: Option<String>,
    host_access: Vec<String>,
    images: Vec<String>,
    charts: Vec<(String, String)>,
}

impl Found {
    fn add_to(self, p: &mut Permissions) {
        if !self.kind.is_empty() {
            p.kinds.insert(self.kind);
        }
        p.namespaces.extend(self.namespace);
        p.cluster_scoped.extend(self.cluster_scoped);
        p.rbac.extend(self.rbac);
        p.webhooks.extend(self.webhook);
        p.host_access.extend(self.host_access);
        p.images.extend(self.images);
        p.charts
            .extend(self.charts.into_iter().map(|(chart, _)| chart));
    }
}

fn look(object: &Value, sources: &BTreeMap<(String, String, String), String>, found: &mut Found) {
    let kind = text(object, &["kind"]).unwrap_or_default();
    let api = text(object, &["apiVersion"]).unwrap_or_default();
    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
    let name = text(object, &["metadata", "name"]).unwrap_or_default();
    let namespace = text(object, &["metadata", "namespace"]);
    found.kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    found.id = match namespace {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    };
    let cluster_scoped =
        namespace.is_none() && (CLUSTER_KINDS.contains(&kind) || kind.starts_with("Cluster"));
    if cluster_scoped {
        found.cluster_scoped = Some(format!("{kind}/{name}"));
    }
    found.namespace = if kind == "Namespace" {
        Some(name.to_string())
    } else {
        namespace.map(str::to_string)
    };
    match kind {
        "Role" | "ClusterRole" => rules(object, kind, name, cluster_scoped, found),
        "RoleBinding" | "ClusterRoleBinding"
            if text(object, &["roleRef", "name"]) == Some("cluster-admin") =>
        {
            found.cluster_admin = true;
            found
                .rbac
                .push(format!("{kind}/{name} binds cluster-admin"));
        }
        "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
            found.webhook = Some(format!("{kind}/{name}"));
        }
        "HelmRelease" => {
            let release_ns = namespace.unwrap_or_default();
            let chart = object
                .get("spec")
                .and_then(|s| s.get("chart"))
                .and_then(|c| c.get("spec"));
            let chart_ref = object.get("spec").and_then(|s| s.get("chartRef"));
            let (name, version, source) = if let Some(chart) = chart {
                let source_kind = text(chart, &["sourceRef", "kind"]).unwrap_or("HelmRepository");
                let source_name = text(chart, &["sourceRef", "name"]).unwrap_or_default();
                let source_ns = text(chart, &["sourceRef", "namespace"]).unwrap_or(release_ns);
                (
                    text(chart, &["chart"]).unwrap_or_default().to_string(),
                    text(chart, &["version"]).unwrap_or("*").to_string(),
                    sources
                        .get(&(source_kind.into(), source_ns.into(), source_name.into()))
                        .cloned()
                        .unwrap_or_else(|| format!("{source_kind} {source_ns}/{source_name}")),
                )
            } else if let Some(chart_ref) = chart_ref {
                let source_kind = text(chart_ref, &["kind"]).unwrap_or("OCIRepository");
                let source_name = text(chart_ref, &["name"]).unwrap_or_default();
                let source_ns = text(chart_ref, &["namespace"]).unwrap_or(release_ns);
                let url = sources
                    .get(&(source_kind.into(), source_ns.into(), source_name.into()))
                    .cloned()
                    .unwrap_or_else(|| format!("{source_kind} {source_ns}/{source_name}"));
                (source_name.to_string(), String::new(), url)
            } else {
                return;
            };
            let identity = if version.is_empty() {
                format!("{name} from {source}")
            } else {
                format!("{name} {version} from {source}")
            };
            found.charts.push((identity, source));
        }
        _ => {}
    }
    if let Some(spec) = pod_spec(kind, object) {
        pods(spec, &found.id.clone(), found);
    }
}

fn rules(object: &Value, kind: &str, name: &str, cluster_wide: bool, found: &mut Found) {
    let Some(rules) = object.get("rules").and_then(Value::as_sequence) else {
        return;
    };
    for rule in rules {
        let groups = strings(rule.get("apiGroups"));
        let resources = strings(rule.get("resources"));
        let verbs = strings(rule.get("verbs"));
        let star = |list: &[String]| list.iter().any(|v| v == "*");
        if star(&groups) || star(&resources) || star(&verbs) {
            found.wildcard = true;
            found.rbac.push(format!(
                "{kind}/{name} grants wildcards: apiGroups [{}], resources [{}], verbs [{}]",
                groups.join(", "),
                resources.join(", "),
                verbs.join(", ")
            ));
        }
        for verb in ["escalate", "bind", "impersonate"] {
            if verbs.iter().any(|v| v == verb) {
                found.wildcard = true;
                found.rbac.push(format!("{kind}/{name} grants {verb}"));
            }
        }
        let reads = verbs
            .iter()
            .any(|v| matches!(v.as_str(), "get" | "list" | "watch" | "*"));
        if cluster_wide && reads && resources.iter().any(|r| r == "secrets" || r == "*") {
            found
                .rbac
                .push(format!("{kind}/{name} reads secrets in every namespace"));
        }
    }
}

fn pods(spec: &Value, id: &str, found: &mut Found) {
    let mut access = Vec::new();
    for flag in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(flag).and_then(Value::as_bool) == Some(true) {
            access.push(flag.to_string());
        }
    }
    for volume in spec
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        if let Some(path) = text(volume, &["hostPath", "path"]) {
            access.push(format!("hostPath {path}"));
        }
    }
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for container in spec
            .get(list)
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let name = text(container, &["name"]).unwrap_or_default();
            if let Some(image) = text(container, &["image"]) {
                found.images.push(image.to_string());
            }
            let security = container.get("securityContext");
            let flag = |key: &str| {
                security.and_then(|s| s.get(key)).and_then(Value::as_bool) == Some(true)
            };
            if flag("privileged") {
                access.push(format!("privileged container {name}"));
            }
            if flag("allowPrivilegeEscalation") {
                access.push(format!("container {name} may escalate privileges"));
            }
            let added = strings(
                security
                    .and_then(|s| s.get("capabilities"))
                    .and_then(|c| c.get("add")),
            );
            if !added.is_empty() {
                access.push(format!(
                    "container {name} adds capabilities {}",
                    added.join(", ")
                ));
            }
            for port in container
                .get("ports")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
            {
                if let Some(host_port) = port.get("hostPort").and_then(Value::as_u64) {
                    access.push(format!("container {name} takes host port {host_port}"));
                }
            }
        }
    }
    if !access.is_empty() {
        found
            .host_access
            .push(format!("{id}: {}", access.join(", ")));
    }
}

/// Whether `value` matches one of `patterns` (`*` matches any run of
/// characters).
fn allowed(value: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| glob(p, value))
}

fn glob(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn policy_breaches(policy: &Policy, found: &Found) -> Vec<String> {
    let mut breaches = Vec::new();
    if let Some(kinds) = &policy.kinds
        && !found.kind.is_empty()
        && !allowed(&found.kind, kinds)
    {
        breaches.push(format!("kind {} is not among policy.kinds", found.kind));
    }
    if let (Some(namespaces), Some(namespace)) = (&policy.namespaces, &found.namespace)
        && !allowed(namespace, namespaces)
    {
        breaches.push(format!(
            "namespace {namespace} is not among policy.namespaces"
        ));
    }
    if let Some(registries) = &policy.registries {
        for image in &found.images {
            if !registries.iter().any(|r| image.starts_with(r.as_str())) {
                breaches.push(format!(
                    "image {image} is from no registry in policy.registries"
                ));
            }
        }
    }
    if let Some(charts) = &policy.charts {
        for (chart, source) in &found.charts {
            if !charts.iter().any(|c| source.starts_with(c.as_str())) {
                breaches.push(format!("chart {chart} is from no source in policy.charts"));
            }
        }
    }
    if policy.cluster_admin == Some(false) && found.cluster_admin {
        breaches.push("binds cluster-admin, which policy.clusterAdmin: false forbids".into());
    }
    if policy.wildcard_rbac == Some(false) && found.wildcard {
        breaches.push("grants wildcard, escalate, bind or impersonate rights, which policy.wildcardRbac: false forbids".into());
    }
    if policy.webhooks == Some(false) && found.webhook.is_some() {
        breaches.push("is an admission webhook, which policy.webhooks: false forbids".into());
    }
    if policy.host_access == Some(false) && !found.host_access.is_empty() {
        breaches.push(format!(
            "runs pods with host access or privileges ({}), which policy.hostAccess: false forbids",
            found
                .host_access
                .iter()
                .map(|h| h.split_once(": ").map_or(h.as_str(), |(_, what)| what))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if policy.cluster_scoped == Some(false)
        && found.cluster_scoped.is_some()
        && found.kind != "Namespace"
    {
        breaches.push("is cluster-scoped, which policy.clusterScoped: false forbids".into());
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_documented() {
        for (pattern, value, want) in [
            ("team-*", "team-a", true),
            ("team-*", "teams", false),
            ("*.apps", "Deployment.apps", true),
            ("*", "anything", true),
            ("a*c*e", "abcde", true),
            ("a*c*e", "abcd", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob(pattern, value), want, "{pattern} {value}");
        }
    }
}
