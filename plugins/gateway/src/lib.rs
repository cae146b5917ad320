//! The ingress-nginx controller, and the `ingress.*` facts other components
//! use to expose themselves.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// DNS domain that apps are served under, e.g. `example.com`.
    #[schemars(regex(pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$"))]
    pub domain: Option<String>,
    /// Name of the IngressClass the controller serves.
    pub class_name: String,
    /// Namespace the controller runs in.
    pub namespace: String,
    /// Number of controller replicas.
    #[schemars(range(min = 1, max = 20))]
    pub replicas: u32,
    /// How the controller is exposed outside the cluster.
    pub service_type: ServiceType,
    /// Version of the ingress-nginx Helm chart.
    pub chart_version: String,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub enum ServiceType {
    LoadBalancer,
    NodePort,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            domain: None,
            class_name: "nginx".into(),
            namespace: "ingress-nginx".into(),
            replicas: 2,
            service_type: ServiceType::LoadBalancer,
            chart_version: "4.13.3".into(),
        }
    }
}

pub struct IngressNginx;

impl Component for IngressNginx {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("ingress-nginx", env!("CARGO_PKG_VERSION"))
            .title("Ingress NGINX")
            .description("The ingress-nginx controller, routing HTTP(S) traffic into the cluster.")
            .category("networking")
            .readme(include_str!("../README.md"))
    }

    fn provides() -> Vec<FactDecl> {
        vec![
            FactDecl::optional("ingress.class", "IngressClass to put on Ingress objects"),
            FactDecl::optional("ingress.domain", "DNS domain apps are served under"),
            FactDecl::optional(
                "ingress.namespace",
                "namespace of the ingress controller, for network policies",
            ),
        ]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        let facts = Facts::new()
            .text("ingress.class", &config.class_name)
            .text("ingress.namespace", &config.namespace);
        Ok(match &config.domain {
            Some(domain) => facts.text("ingress.domain", domain),
            None => facts,
        })
    }

    fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let release = HelmRelease::new(
            "ingress-nginx",
            ns,
            "ingress-nginx",
            "ingress-nginx",
            &config.chart_version,
        )
        .values(json!({
            "controller": {
                "replicaCount": config.replicas,
                "ingressClassResource": {
                    "name": config.class_name,
                    "controllerValue": format!("k8s.io/{}", config.class_name),
                    "default": true,
                },
                "ingressClass": config.class_name,
                "service": {"type": config.service_type},
                "metrics": {"enabled": true},
            },
        }));
        Output::new()
            .file("namespace.yaml", &[Namespace::new(ns)])?
            .file(
                "helmrepository.yaml",
                &[HelmRepository::new(
                    "ingress-nginx",
                    ns,
                    "https://kubernetes.github.io/ingress-nginx",
                )],
            )?
            .file("helmrelease.yaml", &[release])
    }
}

cairn_sdk::export_component!(IngressNginx);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn publishes_class_and_domain() {
        let facts = testing::facts::<IngressNginx>(json!({"domain": "example.com"})).unwrap();
        assert_eq!(facts.get_text("ingress.class"), Some("nginx"));
        assert_eq!(facts.get_text("ingress.domain"), Some("example.com"));
    }

    #[test]
    fn renders_release_with_replicas() {
        let out = testing::render::<IngressNginx>(json!({"replicas": 3}), &Facts::new()).unwrap();
        let release = out.content("helmrelease.yaml").unwrap();
        assert!(release.contains("replicaCount: 3"), "{release}");
        assert!(release.contains("apiVersion: helm.toolkit.fluxcd.io/v2"));
    }
}
