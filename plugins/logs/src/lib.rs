//! Loki with Grafana Alloy shipping every pod's logs, publishing `logs.url`.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Namespace Loki and Alloy run in.
    pub namespace: String,
    /// How long logs are kept, e.g. `168h`.
    #[schemars(regex(pattern = r"^[0-9]+(h|d|w)$"))]
    pub retention: String,
    /// Size of Loki's persistent volume.
    #[schemars(regex(pattern = r"^[0-9]+(Mi|Gi|Ti)$"))]
    pub storage_size: String,
    /// StorageClass of the volume; the cluster default when unset.
    pub storage_class: Option<String>,
    /// Version of the Loki chart (`https://grafana-community.github.io/helm-charts`,
    /// where it moved in March 2026; releases:
    /// <https://github.com/grafana-community/helm-charts/releases>).
    pub loki_chart_version: String,
    /// Version of the Alloy chart (`https://grafana.github.io/helm-charts`;
    /// releases: <https://github.com/grafana/alloy/releases>).
    pub alloy_chart_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "logging".into(),
            retention: "168h".into(),
            storage_size: "20Gi".into(),
            storage_class: None,
            loki_chart_version: "18.11.0".into(),
            alloy_chart_version: "1.11.1".into(),
        }
    }
}

pub struct Logs;

/// Alloy's pipeline: discover pods, tail their logs, push to Loki.
fn alloy_config(loki: &str) -> String {
    format!(
        r#"discovery.kubernetes "pods" {{
  role = "pod"
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{loki}/loki/api/v1/push"
  }}
}}
"#
    )
}

impl Component for Logs {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("logs", env!("CARGO_PKG_VERSION"))
            .title("Logs (Loki)")
            .description("Loki, with Grafana Alloy shipping every pod's logs to it.")
            .category("observability")
            .readme(include_str!("../README.md"))
            // Alloy's chart installs PodLogs.
            .crd_groups(&["monitoring.grafana.com"])
    }

    fn provides() -> Vec<FactDecl> {
        vec![FactDecl::optional(
            "logs.url",
            "in-cluster URL of the Loki API",
        )]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        Ok(Facts::new().text(
            "logs.url",
            format!("http://loki.{}.svc:3100", config.namespace),
        ))
    }

    fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let loki_url = format!("http://loki.{ns}.svc:3100");
        let mut persistence = json!({"enabled": true, "size": config.storage_size});
        if let Some(class) = &config.storage_class {
            persistence["storageClass"] = json!(class);
        }
        // One replica on the filesystem, as the chart's own
        // ci/default-monolithic-filesystem-values.yaml.
        let loki = HelmRelease::new(
            "loki",
            ns,
            "grafana-community",
            "loki",
            &config.loki_chart_version,
        )
        .values(json!({
            "deploymentMode": "Monolithic",
            "loki": {
                "auth_enabled": false,
                "commonConfig": {"replication_factor": 1},
                "storage": {"type": "filesystem"},
                "schemaConfig": {"configs": [{
                    "from": "2024-01-01", "store": "tsdb", "object_store": "filesystem",
                    "schema": "v13", "index": {"prefix": "index_", "period": "24h"},
                }]},
                "limits_config": {"retention_period": config.retention},
                "compactor": {"retention_enabled": true, "delete_request_store": "filesystem"},
            },
            "singleBinary": {"replicas": 1, "persistence": persistence},
            "backend": {"replicas": 0},
            "read": {"replicas": 0},
            "write": {"replicas": 0},
            "chunksCache": {"enabled": false},
            "resultsCache": {"enabled": false},
            "gateway": {"enabled": false},
            "lokiCanary": {"enabled": false},
            "test": {"enabled": false},
        }));
        let alloy = HelmRelease::new("alloy", ns, "grafana", "alloy", &config.alloy_chart_version)
            .depends_on("loki", ns)
            .values(json!({"alloy": {"configMap": {"content": alloy_config(&loki_url)}}}));
        Output::new()
            .file("namespace.yaml", &[Namespace::new(ns)])?
            .file(
                "helmrepository.yaml",
                &[
                    HelmRepository::new(
                        "grafana-community",
                        ns,
                        "https://grafana-community.github.io/helm-charts",
                    ),
                    HelmRepository::new("grafana", ns, "https://grafana.github.io/helm-charts"),
                ],
            )?
            .file("loki.yaml", &[loki])?
            .file("alloy.yaml", &[alloy])
    }
}

cairn_sdk::export_component!(Logs);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn alloy_ships_to_this_loki() {
        let out = testing::render::<Logs>(json!({"namespace": "obs"}), &Facts::new()).unwrap();
        assert!(
            out.content("alloy.yaml")
                .unwrap()
                .contains("http://loki.obs.svc:3100/loki/api/v1/push")
        );
        assert!(
            out.content("loki.yaml")
                .unwrap()
                .contains("retention_period: 168h")
        );
    }
}
