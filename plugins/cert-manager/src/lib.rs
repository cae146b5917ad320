//! cert-manager, with a Let's Encrypt ClusterIssuer other components can use
//! through the `certs.cluster-issuer` fact, solving HTTP-01 challenges
//! through the stack's Gateway and issuing for apps' ListenerSets.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Namespace cert-manager runs in.
    pub namespace: String,
    /// Version of the cert-manager chart (`https://charts.jetstack.io`;
    /// releases: <https://github.com/cert-manager/cert-manager/releases>).
    pub chart_version: String,
    /// The Let's Encrypt ClusterIssuer.
    pub issuer: Issuer,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Issuer {
    /// Create the ClusterIssuer.
    pub enabled: bool,
    /// Name of the ClusterIssuer.
    pub name: String,
    /// E-mail of the ACME account; Let's Encrypt sends expiry notices here.
    #[schemars(email)]
    pub email: Option<String>,
    /// Which Let's Encrypt environment issues certificates.
    pub server: AcmeServer,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcmeServer {
    Production,
    Staging,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "cert-manager".into(),
            chart_version: "v1.21.1".into(),
            issuer: Issuer::default(),
        }
    }
}

impl Default for Issuer {
    fn default() -> Self {
        Self {
            enabled: true,
            name: "letsencrypt".into(),
            email: None,
            server: AcmeServer::Production,
        }
    }
}

pub struct CertManager;

impl Component for CertManager {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("cert-manager", env!("CARGO_PKG_VERSION"))
            .title("cert-manager")
            .description("Issues and renews TLS certificates, with a Let's Encrypt ClusterIssuer.")
            .category("security")
            .readme(include_str!("../README.md"))
            .crd_groups(&["cert-manager.io", "acme.cert-manager.io"])
    }

    fn provides() -> Vec<FactDecl> {
        vec![FactDecl::optional(
            "certs.cluster-issuer",
            "ClusterIssuer that signs TLS certificates",
        )]
    }

    fn reads() -> Vec<FactDecl> {
        // cert-manager must start after the Gateway API CRDs exist (its
        // docs), so it waits for the gateway.
        vec![
            FactDecl::optional("gateway.name", "the Gateway that serves HTTP-01 challenges").wait(),
            FactDecl::optional("gateway.namespace", "the Gateway's namespace").wait(),
            FactDecl::optional(
                "gateway.http-listener",
                "the Gateway's plain HTTP listener, for the challenges",
            )
            .wait(),
        ]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        Ok(match config.issuer.enabled {
            true => Facts::new().text("certs.cluster-issuer", &config.issuer.name),
            false => Facts::new(),
        })
    }

    fn render(config: &Config, facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let gateway = match (
            facts.get_text("gateway.name"),
            facts.get_text("gateway.namespace"),
            facts.get_text("gateway.http-listener"),
        ) {
            (Some(name), Some(namespace), Some(listener)) => Some((name, namespace, listener)),
            _ => None,
        };
        let mut values = json!({"crds": {"enabled": true, "keep": true}});
        if gateway.is_some() {
            // Certificates for the Gateway API, including apps' ListenerSets
            // (alpha in cert-manager 1.21, behind a feature gate).
            values["config"] = json!({
                "apiVersion": "controller.config.cert-manager.io/v1alpha1",
                "kind": "ControllerConfiguration",
                "gatewayAPI": {"enabled": true, "enableListenerSet": true},
                "featureGates": {"ListenerSets": true},
            });
        }
        let release = HelmRelease::new(
            "cert-manager",
            ns,
            "jetstack",
            "cert-manager",
            &config.chart_version,
        )
        .values(values);
        let output = Output::new()
            .file("namespace.yaml", &[Namespace::new(ns)])?
            .file(
                "helmrepository.yaml",
                &[HelmRepository::new(
                    "jetstack",
                    ns,
                    "https://charts.jetstack.io",
                )],
            )?
            .file("helmrelease.yaml", &[release])?;
        if !config.issuer.enabled {
            return Ok(output);
        }
        let Some(email) = &config.issuer.email else {
            return Err(Error::invalid(
                Some("issuer.email"),
                "an e-mail is required for the Let's Encrypt account; set issuer.email or issuer.enabled: false",
            ));
        };
        let server = match config.issuer.server {
            AcmeServer::Production => "https://acme-v02.api.letsencrypt.org/directory",
            AcmeServer::Staging => "https://acme-staging-v02.api.letsencrypt.org/directory",
        };
        let solver = match gateway {
            Some((name, namespace, listener)) => json!({"http01": {"gatewayHTTPRoute": {
                "parentRefs": [{
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": name,
                    "namespace": namespace,
                    "sectionName": listener,
                }],
            }}}),
            None => json!({"http01": {"ingress": {}}}),
        };
        let issuer = Object::new(
            "cert-manager.io/v1",
            "ClusterIssuer",
            ObjectMeta::cluster(&config.issuer.name),
        )
        .with(
            "spec",
            json!({"acme": {
                "email": email,
                "server": server,
                "privateKeySecretRef": {"name": format!("{}-account-key", config.issuer.name)},
                "solvers": [solver],
            }}),
        );
        // The ClusterIssuer's kind comes with the chart: the config layer.
        let output = output.config_file("clusterissuer.yaml", &[issuer])?;
        Ok(match gateway {
            Some(_) => output,
            None => output.warn(
                None,
                "no gateway facts: HTTP-01 challenges are answered through the cluster's default IngressClass, if it has one; enable the gateway component",
            ),
        })
    }
}

cairn_sdk::export_component!(CertManager);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn issuer_needs_an_email() {
        let err = testing::render::<CertManager>(json!({}), &Facts::new()).unwrap_err();
        assert!(err.to_string().starts_with("issuer.email:"), "{err}");
    }

    #[test]
    fn solver_uses_the_gateway_facts_and_the_issuer_is_config() {
        let facts = Facts::new()
            .text("gateway.name", "public")
            .text("gateway.namespace", "envoy-gateway-system")
            .text("gateway.http-listener", "http");
        let out =
            testing::render::<CertManager>(json!({"issuer": {"email": "ops@example.com"}}), &facts)
                .unwrap();
        assert!(out.content("clusterissuer.yaml").is_none());
        let issuer = out.content("config/clusterissuer.yaml").unwrap();
        assert!(
            issuer.contains("gatewayHTTPRoute") && issuer.contains("sectionName: http"),
            "{issuer}"
        );
        let release = out.content("helmrelease.yaml").unwrap();
        assert!(release.contains("enableListenerSet: true"), "{release}");
    }

    #[test]
    fn publishes_the_issuer_only_when_enabled() {
        let on = testing::facts::<CertManager>(json!({})).unwrap();
        assert_eq!(on.get_text("certs.cluster-issuer"), Some("letsencrypt"));
        let off = testing::facts::<CertManager>(json!({"issuer": {"enabled": false}})).unwrap();
        assert!(!off.contains("certs.cluster-issuer"));
    }
}
