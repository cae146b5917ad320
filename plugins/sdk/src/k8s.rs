//! Kubernetes and Flux objects as typed values.
//!
//! Only the fields stack components commonly set are modelled; anything else
//! goes through [`Object`], which takes an arbitrary `spec` (or other top-level
//! fields) as JSON. Flux kinds use the APIs Flux serves today:
//! `source.toolkit.fluxcd.io/v1`, `helm.toolkit.fluxcd.io/v2` and
//! `kustomize.toolkit.fluxcd.io/v1`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// `metadata` of any object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectMeta {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// A cluster-scoped object's metadata.
    pub fn cluster(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
    /// A namespaced object's metadata.
    pub fn namespaced(name: &str, namespace: &str) -> Self {
        Self {
            name: name.into(),
            namespace: Some(namespace.into()),
            ..Self::default()
        }
    }
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }
}

/// Any Kubernetes object: `apiVersion`, `kind`, `metadata`, and whatever
/// other top-level fields (`spec`, `data`, ...) it carries.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

impl Object {
    pub fn new(api_version: &str, kind: &str, metadata: ObjectMeta) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            metadata,
            fields: BTreeMap::new(),
        }
    }
    /// Sets a top-level field such as `spec` or `data`.
    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.fields.insert(field.into(), value);
        self
    }
}

/// A `v1/Namespace`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
}

impl Namespace {
    pub fn new(name: &str) -> Self {
        Self {
            api_version: "v1",
            kind: "Namespace",
            metadata: ObjectMeta::cluster(name),
        }
    }
}

/// A reference to another Flux object.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRef {
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference by name (and namespace) for `dependsOn`.
#[derive(Debug, Clone, Serialize)]
pub struct DependsOn {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Flux `HelmRepository` (`source.toolkit.fluxcd.io/v1`): where charts come from.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: HelmRepositorySpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct HelmRepositorySpec {
    pub interval: String,
    pub url: String,
    /// `oci` for OCI registries; omitted for classic HTTP repositories.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl HelmRepository {
    /// An HTTP(S) chart repository, checked hourly.
    pub fn new(name: &str, namespace: &str, url: &str) -> Self {
        Self {
            api_version: "source.toolkit.fluxcd.io/v1",
            kind: "HelmRepository",
            metadata: ObjectMeta::namespaced(name, namespace),
            spec: HelmRepositorySpec {
                interval: "1h".into(),
                url: url.into(),
                kind: None,
            },
        }
    }
}

/// A Flux `HelmRelease` (`helm.toolkit.fluxcd.io/v2`): one installed chart.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmRelease {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: HelmReleaseSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    pub interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,
    pub chart: ChartTemplate,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependsOn>,
    pub install: Value,
    pub upgrade: Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub values: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChartTemplate {
    pub spec: ChartSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartSpec {
    pub chart: String,
    pub version: String,
    pub source_ref: SourceRef,
    pub interval: String,
}

impl HelmRelease {
    /// Installs `chart` at `version` from the `HelmRepository` `repository`
    /// (in the same namespace), creating CRDs on install and upgrade and
    /// retrying failed installs and upgrades three times.
    pub fn new(name: &str, namespace: &str, repository: &str, chart: &str, version: &str) -> Self {
        Self {
            api_version: "helm.toolkit.fluxcd.io/v2",
            kind: "HelmRelease",
            metadata: ObjectMeta::namespaced(name, namespace),
            spec: HelmReleaseSpec {
                interval: "30m".into(),
                release_name: None,
                target_namespace: None,
                chart: ChartTemplate {
                    spec: ChartSpec {
                        chart: chart.into(),
                        version: version.into(),
                        source_ref: SourceRef {
                            kind: "HelmRepository".into(),
                            name: repository.into(),
                            namespace: Some(namespace.into()),
                        },
                        interval: "12h".into(),
                    },
                },
                depends_on: Vec::new(),
                install: serde_json::json!({"crds": "CreateReplace", "remediation": {"retries": 3}}),
                upgrade: serde_json::json!({"crds": "CreateReplace", "remediation": {"retries": 3}}),
                values: Value::Null,
            },
        }
    }
    /// Sets the chart's values.
    pub fn values(mut self, values: Value) -> Self {
        self.spec.values = values;
        self
    }
    /// Waits for another `HelmRelease` to be ready first.
    pub fn depends_on(mut self, name: &str, namespace: &str) -> Self {
        self.spec.depends_on.push(DependsOn {
            name: name.into(),
            namespace: Some(namespace.into()),
        });
        self
    }
}

/// A Flux `GitRepository` (`source.toolkit.fluxcd.io/v1`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: Value,
}

impl GitRepository {
    /// Tracks `branch` of `url`, checking every `interval`.
    pub fn new(name: &str, namespace: &str, url: &str, branch: &str, interval: &str) -> Self {
        Self {
            api_version: "source.toolkit.fluxcd.io/v1",
            kind: "GitRepository",
            metadata: ObjectMeta::namespaced(name, namespace),
            spec: serde_json::json!({
                "interval": interval,
                "url": url,
                "ref": {"branch": branch},
            }),
        }
    }
    /// Authenticates with the credentials in Secret `secret`.
    pub fn secret(mut self, secret: &str) -> Self {
        self.spec["secretRef"] = serde_json::json!({"name": secret});
        self
    }
}

/// A Flux `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`): applies a path
/// of a source to the cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: Value,
}

impl Kustomization {
    /// Applies `path` of the `GitRepository` `source`, pruning what is removed.
    pub fn new(name: &str, namespace: &str, source: &str, path: &str, interval: &str) -> Self {
        Self {
            api_version: "kustomize.toolkit.fluxcd.io/v1",
            kind: "Kustomization",
            metadata: ObjectMeta::namespaced(name, namespace),
            spec: serde_json::json!({
                "interval": interval,
                "path": path,
                "prune": true,
                "sourceRef": {"kind": "GitRepository", "name": source},
            }),
        }
    }
}
