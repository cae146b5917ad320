//! The Sealed Secrets controller.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Namespace the controller runs in.
    pub namespace: String,
    /// Version of the sealed-secrets chart (`https://bitnami-labs.github.io/sealed-secrets`;
    /// releases: <https://github.com/bitnami-labs/sealed-secrets/releases>).
    pub chart_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: "kube-system".into(),
            chart_version: "2.18.5".into(),
        }
    }
}

pub struct SealedSecrets;

impl Component for SealedSecrets {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("sealed-secrets", env!("CARGO_PKG_VERSION"))
            .title("Sealed Secrets")
            .description("Decrypts SealedSecrets committed to git into Secrets in the cluster.")
            .category("security")
            .readme(include_str!("../README.md"))
            .crd_groups(&["bitnami.com"])
    }

    fn provides() -> Vec<FactDecl> {
        vec![FactDecl::optional(
            "secrets.sealed-secrets",
            "namespace/name of the Sealed Secrets controller",
        )]
    }

    fn facts(config: &Config) -> Result<Facts, Error> {
        Ok(Facts::new().text(
            "secrets.sealed-secrets",
            format!("{}/sealed-secrets-controller", config.namespace),
        ))
    }

    fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
        let ns = &config.namespace;
        let release = HelmRelease::new(
            "sealed-secrets",
            ns,
            "sealed-secrets",
            "sealed-secrets",
            &config.chart_version,
        )
        .values(json!({"fullnameOverride": "sealed-secrets-controller"}));
        let mut output = Output::new();
        if ns != "kube-system" && ns != "default" {
            output = output.file("namespace.yaml", &[Namespace::new(ns)])?;
        }
        output
            .file(
                "helmrepository.yaml",
                &[HelmRepository::new(
                    "sealed-secrets",
                    ns,
                    "https://bitnami-labs.github.io/sealed-secrets",
                )],
            )?
            .file("helmrelease.yaml", &[release])
    }
}

cairn_sdk::export_component!(SealedSecrets);
