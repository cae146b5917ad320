//! Grafana, with datasources, its route through the Gateway and TLS decided
//! by the facts the rest of the stack publishes.

use std::collections::BTreeMap;

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Namespace Grafana runs in.
    pub namespace: String,
    /// An existing Secret holding `admin-user` and `admin-password`; when
    /// neither this nor `adminPassword` is set, the chart generates a
    /// password into the `grafana` Secret.
    pub admin_secret: Option<String>,
    /// The admin password. A secret: give it in cairn.yaml as a reference
    /// (`{env: NAME}`, `{file: PATH}`, `{sops: FILE, key: KEY}`); cairn
    /// renders it into the `grafana-admin` Secret, encrypted with SOPS.
    #[schemars(extend("writeOnly" = true), length(min = 8))]
    pub admin_password: Option<String>,
    /// Expose Grafana on `grafana.<domain>` through the gateway, when its
    /// facts exist.
    pub expose: bool,
    /// Extra dashboards: name to dashboard JSON.
    pub dashboards: BTreeMap<String, String>,
    /// Version of the grafana chart (`https://grafana-community.github.io/helm-charts`;
    /// releases: <https://github.com/grafana-community/helm-charts/releases>).
    pub chart_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "monitoring".into(),
            admin_secret: None,
            admin_password: None,
            expose: true,
            dashboards: BTreeMap::new(),
            chart_version: "12.11.1".into(),
        }
    }
}

pub struct Grafana;

/// The Secret rendered from `adminPassword`.
const ADMIN_SECRET: &str = "grafana-admin";

const OVERVIEW: &str = include_str!("../dashboards/cluster-overview.json");

impl Component for Grafana {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("grafana", env!("CARGO_PKG_VERSION"))
            .title("Grafana")
            .description("Dashboards over the stack's metrics and logs.")
            .category("observability")
            .readme(include_str!("../README.md"))
    }

    fn provides() -> Vec<FactDecl> {
        vec![
            FactDecl::optional("grafana.url", "in-cluster URL of Grafana"),
            FactDecl::optional("grafana.host", "public host name of Grafana"),
        ]
    }

    fn reads() -> Vec<FactDecl> {
        vec![
            FactDecl::optional("metrics.url", "Prometheus to add as a datasource"),
            FactDecl::optional("logs.url", "Loki to add as a datasource"),
            FactDecl::optional("gateway.name", "the Gateway Grafana is exposed through").wait(),
            FactDecl::optional("gateway.namespace", "the Gateway's namespace").wait(),
            FactDecl::optional("gateway.http-listener", "the Gateway's plain HTTP listener"),
            FactDecl::optional("gateway.domain", "domain Grafana is served under"),
            FactDecl::optional(
                "certs.cluster-issuer",
                "ClusterIssuer for Grafana's TLS certificate",
            ),
            FactDecl::optional(
                "auth.grafana",
                "set when an authenticating proxy serves Grafana's host",
            ),
            // Objects in a namespace another component creates must wait
            // for it.
            FactDecl::optional(
                "metrics.namespace",
                "a namespace the metrics component already creates",
            )
            .wait(),
        ]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        Ok(Facts::new().text(
            "grafana.url",
            format!("http://grafana.{}.svc:80", config.namespace),
        ))
    }

    fn render(config: &Config, facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let mut datasources = Vec::new();
        if let Some(url) = facts.get_text("metrics.url") {
            datasources.push(json!({"name": "Prometheus", "type": "prometheus", "uid": "prometheus", "url": url, "access": "proxy", "isDefault": true}));
        }
        if let Some(url) = facts.get_text("logs.url") {
            datasources.push(json!({"name": "Loki", "type": "loki", "uid": "loki", "url": url, "access": "proxy"}));
        }
        let mut values = json!({
            "sidecar": {"dashboards": {"enabled": true, "label": "grafana_dashboard", "searchNamespace": "ALL"}},
            "persistence": {"enabled": false},
        });
        if !datasources.is_empty() {
            values["datasources"] =
                json!({"datasources.yaml": {"apiVersion": 1, "datasources": datasources}});
        }
        let mut output = Output::new();
        let admin_secret = match (&config.admin_secret, &config.admin_password) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    Some("adminPassword"),
                    "set adminSecret or adminPassword, not both",
                ));
            }
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(password)) => {
                let meta = ObjectMeta::namespaced(ADMIN_SECRET, ns);
                let secret = Object::new("v1", "Secret", meta)
                    .with("type", json!("Opaque"))
                    .with(
                        "stringData",
                        json!({"admin-user": "admin", "admin-password": password}),
                    );
                output = output.file("admin-secret.yaml", &[secret])?;
                Some(ADMIN_SECRET.to_string())
            }
            (None, None) => None,
        };
        if let Some(secret) = admin_secret {
            values["admin"] = json!({"existingSecret": secret, "userKey": "admin-user", "passwordKey": "admin-password"});
        }
        let proxied = facts.get_flag("auth.grafana");
        let mut exposure = Vec::new();
        match (
            facts.get_text("gateway.domain"),
            facts.get_text("gateway.name"),
            facts.get_text("gateway.namespace"),
        ) {
            (Some(domain), Some(gateway), Some(gateway_ns)) if config.expose && !proxied => {
                let host = format!("grafana.{domain}");
                let issuer = facts.get_text("certs.cluster-issuer");
                exposure = Exposure {
                    name: "grafana",
                    namespace: ns,
                    host: &host,
                    gateway: (gateway, gateway_ns),
                    http_listener: facts.get_text("gateway.http-listener").unwrap_or("http"),
                    issuer,
                    service: "grafana",
                    port: 80,
                }
                .objects();
                let scheme = if issuer.is_some() { "https" } else { "http" };
                values["grafana.ini"] =
                    json!({"server": {"root_url": format!("{scheme}://{host}")}});
                if issuer.is_none() {
                    output = output.warn(
                        Some("expose"),
                        "no certs.cluster-issuer fact: Grafana is served over plain HTTP (enable cert-manager)",
                    );
                }
            }
            _ if config.expose && !proxied => {
                output = output.warn(
                    Some("expose"),
                    "no gateway facts with a domain: Grafana is not exposed (enable the gateway component and set its domain)",
                );
            }
            _ => {}
        }
        let release = HelmRelease::new(
            "grafana",
            ns,
            "grafana-charts",
            "grafana",
            &config.chart_version,
        )
        .values(values);

        let mut dashboards = vec![dashboard(ns, "cluster-overview", OVERVIEW)];
        for (name, json) in &config.dashboards {
            if cairn_sdk::serde_json::from_str::<Value>(json).is_err() {
                return Err(Error::invalid(
                    Some(&format!("dashboards.{name}")),
                    "is not valid JSON",
                ));
            }
            dashboards.push(dashboard(ns, name, json));
        }
        // Sharing its namespace with Prometheus (the default), Grafana leaves
        // the Namespace to the metrics component: one object, one owner.
        if facts.get_text("metrics.namespace") != Some(ns.as_str()) {
            output = output.file("namespace.yaml", &[Namespace::new(ns)])?;
        }
        output
            .file(
                "helmrepository.yaml",
                &[HelmRepository::new(
                    "grafana-charts",
                    ns,
                    "https://grafana-community.github.io/helm-charts",
                )],
            )?
            .file("helmrelease.yaml", &[release])?
            .file("dashboards.yaml", &dashboards)
            .and_then(|output| match exposure.is_empty() {
                true => Ok(output),
                false => output.file("route.yaml", &exposure),
            })
    }
}

fn dashboard(namespace: &str, name: &str, json: &str) -> Object {
    let meta = ObjectMeta::namespaced(&format!("dashboard-{name}"), namespace)
        .label("grafana_dashboard", "1");
    Object::new("v1", "ConfigMap", meta).with("data", json!({ format!("{name}.json"): json }))
}

cairn_sdk::export_component!(Grafana);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn datasources_only_for_published_facts() {
        let facts = Facts::new().text("logs.url", "http://loki:3100");
        let out = testing::render::<Grafana>(json!({}), &facts).unwrap();
        let release = out.content("helmrelease.yaml").unwrap();
        assert!(
            release.contains("type: loki") && !release.contains("type: prometheus"),
            "{release}"
        );
    }

    fn gateway() -> Facts {
        Facts::new()
            .text("gateway.domain", "example.com")
            .text("gateway.name", "public")
            .text("gateway.namespace", "envoy-gateway-system")
            .text("gateway.http-listener", "http")
    }

    #[test]
    fn https_through_a_listener_set_only_with_an_issuer() {
        let plain = testing::render::<Grafana>(json!({}), &gateway()).unwrap();
        let route = plain.content("route.yaml").unwrap();
        assert!(
            route.contains("grafana.example.com")
                && route.contains("sectionName: http")
                && !route.contains("ListenerSet"),
            "{route}"
        );
        let facts = gateway().text("certs.cluster-issuer", "letsencrypt");
        let tls = testing::render::<Grafana>(json!({}), &facts).unwrap();
        let route = tls.content("route.yaml").unwrap();
        assert!(
            route.contains("kind: ListenerSet")
                && route.contains("name: grafana-tls")
                && route.contains("cert-manager.io/cluster-issuer: letsencrypt"),
            "{route}"
        );
        assert!(
            tls.content("helmrelease.yaml")
                .unwrap()
                .contains("root_url: https://grafana.example.com")
        );
    }

    #[test]
    fn an_admin_password_becomes_a_secret_the_chart_reads() {
        let out =
            testing::render::<Grafana>(json!({"adminPassword": "correct horse"}), &Facts::new())
                .unwrap();
        let secret = out.content("admin-secret.yaml").unwrap();
        assert!(
            secret.contains("kind: Secret") && secret.contains("admin-password: correct horse"),
            "{secret}"
        );
        assert!(
            out.content("helmrelease.yaml")
                .unwrap()
                .contains("existingSecret: grafana-admin")
        );
        let both = json!({"adminPassword": "correct horse", "adminSecret": "mine"});
        assert!(testing::render::<Grafana>(both, &Facts::new()).is_err());
    }

    #[test]
    fn the_admin_password_is_marked_secret_in_the_schema() {
        let schema =
            cairn_sdk::serde_json::to_value(cairn_sdk::schemars::schema_for!(Config)).unwrap();
        assert_eq!(schema["properties"]["adminPassword"]["writeOnly"], true);
    }

    #[test]
    fn a_proxy_takes_over_the_host() {
        let facts = gateway().flag("auth.grafana", true);
        let out = testing::render::<Grafana>(json!({}), &facts).unwrap();
        assert!(out.content("route.yaml").is_none());
    }
}
