//! The Gateway API through Envoy Gateway: the controller and CRDs, a
//! GatewayClass and one shared Gateway that apps attach their own HTTPS
//! listeners to, and the `gateway.*` facts that tell them where it is.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// DNS domain that apps are served under, e.g. `example.com`.
    #[schemars(regex(pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$"))]
    pub domain: Option<String>,
    /// Name of the shared Gateway.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,
    /// Name of the GatewayClass to create.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub class_name: String,
    /// Namespace the controller and the Gateway run in.
    pub namespace: String,
    /// How the proxy is exposed outside the cluster.
    pub service_type: ServiceType,
    /// Version of the Envoy Gateway chart (`oci://docker.io/envoyproxy/gateway-helm`;
    /// releases: <https://github.com/envoyproxy/gateway/releases>).
    pub chart_version: String,
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub enum ServiceType {
    LoadBalancer,
    NodePort,
    ClusterIP,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            domain: None,
            name: "public".into(),
            class_name: "envoy".into(),
            namespace: "envoy-gateway-system".into(),
            service_type: ServiceType::LoadBalancer,
            chart_version: "v1.9.0".into(),
        }
    }
}

/// The Gateway's listener for plain HTTP, which ACME challenges use.
const HTTP_LISTENER: &str = "http";

pub struct Gateway;

impl Component for Gateway {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("gateway", env!("CARGO_PKG_VERSION"))
            .title("Gateway (Envoy Gateway)")
            .description("Routes HTTP(S) traffic into the cluster with the Gateway API, through Envoy Gateway.")
            .category("networking")
            .readme(include_str!("../README.md"))
            .crd_groups(&[
                "gateway.networking.k8s.io",
                "gateway.networking.x-k8s.io",
                "gateway.envoyproxy.io",
            ])
    }

    fn provides() -> Vec<FactDecl> {
        vec![
            FactDecl::optional("gateway.name", "the shared Gateway apps attach to"),
            FactDecl::optional("gateway.namespace", "the shared Gateway's namespace"),
            FactDecl::optional(
                "gateway.http-listener",
                "the Gateway's plain HTTP listener (port 80), for ACME challenges",
            ),
            FactDecl::optional("gateway.domain", "DNS domain apps are served under"),
        ]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        let facts = Facts::new()
            .text("gateway.name", &config.name)
            .text("gateway.namespace", &config.namespace)
            .text("gateway.http-listener", HTTP_LISTENER);
        Ok(match &config.domain {
            Some(domain) => facts.text("gateway.domain", domain),
            None => facts,
        })
    }

    fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let source = OciRepository::chart(
            "gateway-helm",
            ns,
            "oci://docker.io/envoyproxy/gateway-helm",
            &config.chart_version,
        );
        let release = HelmRelease::from_oci("envoy-gateway", ns, "gateway-helm");
        let proxy = Object::new(
            "gateway.envoyproxy.io/v1alpha1",
            "EnvoyProxy",
            ObjectMeta::namespaced(&config.name, ns),
        )
        .with(
            "spec",
            json!({"provider": {"type": "Kubernetes", "kubernetes": {
                "envoyService": {"type": config.service_type},
            }}}),
        );
        let class = Object::new(
            "gateway.networking.k8s.io/v1",
            "GatewayClass",
            ObjectMeta::cluster(&config.class_name),
        )
        .with(
            "spec",
            json!({
                "controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
                "parametersRef": {
                    "group": "gateway.envoyproxy.io",
                    "kind": "EnvoyProxy",
                    "name": config.name,
                    "namespace": ns,
                },
            }),
        );
        // One plain HTTP listener for every host (ACME challenges, redirects);
        // apps bring their HTTPS listeners in ListenerSets of their own.
        let gateway = Object::new(
            "gateway.networking.k8s.io/v1",
            "Gateway",
            ObjectMeta::namespaced(&config.name, ns),
        )
        .with(
            "spec",
            json!({
                "gatewayClassName": config.class_name,
                "allowedListeners": {"namespaces": {"from": "All"}},
                "listeners": [{
                    "name": HTTP_LISTENER,
                    "protocol": "HTTP",
                    "port": 80,
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }],
            }),
        );
        let output = Output::new()
            .file("namespace.yaml", &[Namespace::new(ns)])?
            .file("ocirepository.yaml", &[source])?
            .file("helmrelease.yaml", &[release])?
            .config_file("envoyproxy.yaml", &[proxy])?
            .config_file("gatewayclass.yaml", &[class])?
            .config_file("gateway.yaml", &[gateway])?;
        Ok(match &config.domain {
            Some(_) => output,
            None => output.warn(
                Some("domain"),
                "no domain: apps cannot be given host names, so none is exposed through the gateway",
            ),
        })
    }
}

cairn_sdk::export_component!(Gateway);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn publishes_where_the_gateway_is() {
        let facts = testing::facts::<Gateway>(json!({"domain": "example.com"})).unwrap();
        assert_eq!(facts.get_text("gateway.name"), Some("public"));
        assert_eq!(
            facts.get_text("gateway.namespace"),
            Some("envoy-gateway-system")
        );
        assert_eq!(facts.get_text("gateway.http-listener"), Some("http"));
        assert_eq!(facts.get_text("gateway.domain"), Some("example.com"));
    }

    #[test]
    fn the_chart_is_main_and_its_kinds_are_config() {
        let out =
            testing::render::<Gateway>(json!({"serviceType": "NodePort"}), &Facts::new()).unwrap();
        let release = out.content("helmrelease.yaml").unwrap();
        assert!(release.contains("kind: OCIRepository"), "{release}");
        assert!(out.content("gateway.yaml").is_none());
        let gateway = out.content("config/gateway.yaml").unwrap();
        assert!(gateway.contains("allowedListeners"), "{gateway}");
        let proxy = out.content("config/envoyproxy.yaml").unwrap();
        assert!(proxy.contains("type: NodePort"), "{proxy}");
    }
}
