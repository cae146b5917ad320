//! Kubernetes and Flux objects as typed values.
//!
//! Only the fields stack components commonly set are modelled; anything else
//! goes through [`Object`], which takes an arbitrary `spec` (or other top-level
//! fields) as JSON. Flux kinds use the APIs Flux serves today:
//! `source.toolkit.fluxcd.io/v1` (including `OCIRepository`, GA since Flux
//! 2.6), `helm.toolkit.fluxcd.io/v2` and `kustomize.toolkit.fluxcd.io/v1`.

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
    /// The chart, from a `HelmRepository` (or other chart source).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartTemplate>,
    /// The chart, as an artifact a source holds (an `OCIRepository`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<SourceRef>,
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
    /// (in the same namespace). See [`HelmRelease::from_source`] for the
    /// install and upgrade policy.
    pub fn new(name: &str, namespace: &str, repository: &str, chart: &str, version: &str) -> Self {
        let mut release = Self::from_source(name, namespace, None);
        release.spec.chart = Some(ChartTemplate {
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
        });
        release
    }

    /// Installs the chart the `OCIRepository` `source` (in the same
    /// namespace) holds, at the version its `ref` names.
    pub fn from_oci(name: &str, namespace: &str, source: &str) -> Self {
        Self::from_source(
            name,
            namespace,
            Some(SourceRef {
                kind: "OCIRepository".into(),
                name: source.into(),
                namespace: Some(namespace.into()),
            }),
        )
    }

    /// What Flux's documentation recommends for a release applied from an
    /// empty cluster: reconciled every 30 minutes; CRDs in the chart's
    /// `crds/` created and replaced on install and upgrade (Helm alone
    /// never upgrades them); a failed install or upgrade retried every
    /// 5 minutes rather than rolled back, since on a new cluster it usually
    /// failed for something not ready yet.
    fn from_source(name: &str, namespace: &str, chart_ref: Option<SourceRef>) -> Self {
        let policy = serde_json::json!({
            "crds": "CreateReplace",
            "strategy": {"name": "RetryOnFailure", "retryInterval": "5m"},
        });
        Self {
            api_version: "helm.toolkit.fluxcd.io/v2",
            kind: "HelmRelease",
            metadata: ObjectMeta::namespaced(name, namespace),
            spec: HelmReleaseSpec {
                interval: "30m".into(),
                release_name: None,
                target_namespace: None,
                chart: None,
                chart_ref,
                depends_on: Vec::new(),
                install: policy.clone(),
                upgrade: policy,
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

/// A Flux `OCIRepository` (`source.toolkit.fluxcd.io/v1`): a Helm chart
/// (or other artifact) in an OCI registry, at one tag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciRepository {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: Value,
}

impl OciRepository {
    /// The Helm chart at `url` (`oci://HOST/REPO`) tagged `tag`, checked
    /// every 12 hours; only the chart's layer is fetched.
    pub fn chart(name: &str, namespace: &str, url: &str, tag: &str) -> Self {
        Self {
            api_version: "source.toolkit.fluxcd.io/v1",
            kind: "OCIRepository",
            metadata: ObjectMeta::namespaced(name, namespace),
            spec: serde_json::json!({
                "interval": "12h",
                "url": url,
                "ref": {"tag": tag},
                "layerSelector": {
                    "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "operation": "copy",
                },
            }),
        }
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

/// What exposes an app through the stack's shared Gateway on `host`: with
/// an `issuer`, a `ListenerSet` attaching an HTTPS listener for the host to
/// the Gateway (its certificate issued by cert-manager's gateway-shim into
/// Secret `NAME-tls`, the HTTP-01 challenge answered on the Gateway's own
/// HTTP listener) and an `HTTPRoute` on it; without one, an `HTTPRoute` on
/// the Gateway's plain HTTP listener. Both route to `service:port`.
pub struct Exposure<'a> {
    /// Names the ListenerSet, the route and the TLS Secret.
    pub name: &'a str,
    pub namespace: &'a str,
    pub host: &'a str,
    /// The Gateway's name and namespace (`gateway.name`, `gateway.namespace`).
    pub gateway: (&'a str, &'a str),
    /// The Gateway's plain HTTP listener (`gateway.http-listener`).
    pub http_listener: &'a str,
    /// The ClusterIssuer (`certs.cluster-issuer`), for HTTPS.
    pub issuer: Option<&'a str>,
    pub service: &'a str,
    pub port: u16,
}

impl Exposure<'_> {
    /// The objects, of Gateway API kinds: they belong in the `main` layer of
    /// a component that waits for the gateway's facts.
    pub fn objects(&self) -> Vec<Object> {
        const GROUP: &str = "gateway.networking.k8s.io";
        let (gateway, gateway_ns) = self.gateway;
        let mut objects = Vec::new();
        let parent = match self.issuer {
            Some(issuer) => {
                let meta = ObjectMeta::namespaced(self.name, self.namespace)
                    .annotation("cert-manager.io/cluster-issuer", issuer)
                    // Answer the HTTP-01 challenge on the Gateway's HTTP
                    // listener: this ListenerSet only has HTTPS.
                    .annotation("acme.cert-manager.io/http01-parentreffallback", "true");
                let listeners = serde_json::json!({
                    "parentRef": {"group": GROUP, "kind": "Gateway", "name": gateway, "namespace": gateway_ns},
                    "listeners": [{
                        "name": "https",
                        "hostname": self.host,
                        "port": 443,
                        "protocol": "HTTPS",
                        "tls": {
                            "mode": "Terminate",
                            "certificateRefs": [{"group": "", "kind": "Secret", "name": format!("{}-tls", self.name)}],
                        },
                        "allowedRoutes": {"namespaces": {"from": "Same"}},
                    }],
                });
                objects.push(
                    Object::new(&format!("{GROUP}/v1"), "ListenerSet", meta)
                        .with("spec", listeners),
                );
                serde_json::json!({"group": GROUP, "kind": "ListenerSet", "name": self.name, "sectionName": "https"})
            }
            None => serde_json::json!({
                "group": GROUP, "kind": "Gateway", "name": gateway, "namespace": gateway_ns, "sectionName": self.http_listener,
            }),
        };
        let route = Object::new(
            &format!("{GROUP}/v1"),
            "HTTPRoute",
            ObjectMeta::namespaced(self.name, self.namespace),
        )
        .with(
            "spec",
            serde_json::json!({
                "parentRefs": [parent],
                "hostnames": [self.host],
                "rules": [{"backendRefs": [{"name": self.service, "port": self.port}]}],
            }),
        );
        objects.push(route);
        objects
    }
}
