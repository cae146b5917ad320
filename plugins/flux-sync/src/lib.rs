//! Flux's GitRepository and Kustomization for this repository path.

use cairn_sdk::prelude::*;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// The git repository, `ssh://` or `https://`.
    pub url: Option<String>,
    /// The branch Flux follows.
    pub branch: String,
    /// This cluster's directory in the repository, e.g. `./clusters/prod`.
    pub path: Option<String>,
    /// How often Flux checks for changes, e.g. `10m`.
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: String,
    /// The Secret holding the credentials; empty for a public repository.
    pub secret_name: String,
    /// Name of the GitRepository and Kustomization.
    pub name: String,
    /// Their namespace, where Flux runs.
    pub namespace: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: None,
            branch: "main".into(),
            path: None,
            interval: "10m".into(),
            secret_name: "flux-system".into(),
            name: "flux-system".into(),
            namespace: "flux-system".into(),
        }
    }
}

pub struct FluxSync;

impl Component for FluxSync {
    type Config = Config;

    fn metadata() -> Metadata {
        Metadata::new("flux-sync", env!("CARGO_PKG_VERSION"))
            .title("Flux sync")
            .description("Makes Flux apply this repository path to the cluster.")
            .category("gitops")
            .readme(include_str!("../README.md"))
    }

    fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
        let mut problems = Vec::new();
        let url = config.url.as_deref().unwrap_or_default();
        if url.is_empty() {
            problems.push((
                "url",
                "the repository URL is required, e.g. ssh://git@github.com/acme/fleet.git"
                    .to_string(),
            ));
        } else if !(url.starts_with("ssh://")
            || url.starts_with("https://")
            || url.starts_with("http://"))
        {
            let hint = match url.split_once(':') {
                Some((host, path)) if host.contains('@') && !path.starts_with("//") => {
                    format!("; write it as ssh://{host}/{path}")
                }
                _ => String::new(),
            };
            problems.push((
                "url",
                format!("{url:?} is not an ssh:// or https:// URL, which Flux requires{hint}"),
            ));
        }
        let path = config.path.as_deref().unwrap_or_default();
        if path.is_empty() {
            problems.push((
                "path",
                "this cluster's directory in the repository is required, e.g. ./clusters/prod"
                    .into(),
            ));
        }
        if !problems.is_empty() {
            return Err(Error::InvalidConfig(
                problems
                    .into_iter()
                    .map(|(field, message)| Diagnostic {
                        severity: Severity::Error,
                        message,
                        field: Some(field.into()),
                        file: None,
                    })
                    .collect(),
            ));
        }
        let mut source =
            GitRepository::new(&config.name, &config.namespace, url, &config.branch, "1m");
        if !config.secret_name.is_empty() {
            source = source.secret(&config.secret_name);
        }
        let sync = Kustomization::new(
            &config.name,
            &config.namespace,
            &config.name,
            path,
            &config.interval,
        );
        Output::new()
            .file("gitrepository.yaml", &[source])?
            .file("kustomization-sync.yaml", &[sync])
    }
}

cairn_sdk::export_component!(FluxSync);

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_sdk::testing;

    #[test]
    fn scp_urls_are_refused_with_the_ssh_form() {
        let err = testing::render::<FluxSync>(
            json!({"url": "git@github.com:acme/fleet.git", "path": "./c"}),
            &Facts::new(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("write it as ssh://git@github.com/acme/fleet.git"),
            "{err}"
        );
    }

    #[test]
    fn renders_source_and_sync() {
        let out = testing::render::<FluxSync>(
            json!({"url": "ssh://git@github.com/acme/fleet.git", "path": "./clusters/prod"}),
            &Facts::new(),
        )
        .unwrap();
        let sync = out.content("kustomization-sync.yaml").unwrap();
        assert!(
            sync.contains("path: ./clusters/prod") && sync.contains("prune: true"),
            "{sync}"
        );
    }
}
