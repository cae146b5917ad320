//! Prometheus from kube-prometheus-stack, publishing `metrics.url`.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Namespace Prometheus runs in.
    pub namespace: String,
    /// How long samples are kept, e.g. `15d`.
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h|d|w|y)$"))]
    pub retention: String,
    /// Size of each Prometheus replica's persistent volume.
    #[schemars(regex(pattern = r"^[0-9]+(Mi|Gi|Ti)$"))]
    pub storage_size: String,
    /// StorageClass of the volume; the cluster default when unset.
    pub storage_class: Option<String>,
    /// Run Alertmanager.
    pub alertmanager: bool,
    /// Version of the kube-prometheus-stack chart (`https://prometheus-community.github.io/helm-charts`;
    /// releases: <https://github.com/prometheus-community/helm-charts/releases>).
    pub chart_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "monitoring".into(),
            retention: "15d".into(),
            storage_size: "50Gi".into(),
            storage_class: None,
            alertmanager: true,
            chart_version: "88.5.3".into(),
        }
    }
}

pub struct Metrics;

const RELEASE: &str = "kube-prometheus-stack";

impl Component for Metrics {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("metrics", env!("CARGO_PKG_VERSION"))
            .title("Metrics (Prometheus)")
            .description("Prometheus and the Prometheus Operator, scraping the cluster.")
            .category("observability")
            .readme(include_str!("../README.md"))
            .crd_groups(&["monitoring.coreos.com"])
    }

    fn provides() -> Vec<FactDecl> {
        vec![
            FactDecl::optional("metrics.url", "in-cluster URL of the Prometheus API"),
            FactDecl::optional("metrics.namespace", "namespace metrics creates and owns"),
        ]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        let url = format!("http://{RELEASE}-prometheus.{}.svc:9090", config.namespace);
        Ok(Facts::new()
            .text("metrics.url", url)
            .text("metrics.namespace", &config.namespace))
    }

    fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let mut volume = json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": config.storage_size}}});
        if let Some(class) = &config.storage_class {
            volume["storageClassName"] = json!(class);
        }
        let release = HelmRelease::new(
            RELEASE,
            ns,
            "prometheus-community",
            RELEASE,
            &config.chart_version,
        )
        .values(json!({
            "grafana": {"enabled": false},
            "alertmanager": {"enabled": config.alertmanager},
            "prometheus": {"prometheusSpec": {
                "retention": config.retention,
                "storageSpec": {"volumeClaimTemplate": {"spec": volume}},
                // Scrape every ServiceMonitor and PodMonitor, not only the chart's own.
                "serviceMonitorSelectorNilUsesHelmValues": false,
                "podMonitorSelectorNilUsesHelmValues": false,
            }},
        }));
        Output::new()
            .file("namespace.yaml", &[Namespace::new(ns)])?
            .file(
                "helmrepository.yaml",
                &[HelmRepository::new(
                    "prometheus-community",
                    ns,
                    "https://prometheus-community.github.io/helm-charts",
                )],
            )?
            .file("helmrelease.yaml", &[release])
    }
}

cairn_sdk::export_component!(Metrics);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn retention_and_volume_reach_the_chart() {
        let out = testing::render::<Metrics>(
            json!({"retention": "30d", "storageClass": "fast"}),
            &Facts::new(),
        )
        .unwrap();
        let release = out.content("helmrelease.yaml").unwrap();
        assert!(
            release.contains("retention: 30d") && release.contains("storageClassName: fast"),
            "{release}"
        );
    }
}
