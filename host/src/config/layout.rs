//! Where things are in a cluster's directory, and the names of the Flux
//! objects cairn and `cairn bootstrap` write: one place for every name the
//! stages share, so none of them reaches into another for it.

/// The user's configuration file name.
pub const CONFIG_FILE: &str = "cairn.yaml";
/// The lock file name, beside the configuration.
pub const LOCK_FILE: &str = "cairn.lock";
/// A stack's definition file name, at the stack's root.
pub const STACK_FILE: &str = "stack.yaml";
/// The name of the file cairn writes into every directory it generates.
pub const KUSTOMIZATION: &str = "kustomization.yaml";
/// The file, at the output's root, listing one Flux Kustomization per
/// component layer.
pub const LAYERS_FILE: &str = "layers.yaml";
/// The directory, inside a component's, that holds its `config` layer.
pub const CONFIG_DIR: &str = "config";
/// Flux's directory inside the cluster's directory (`cairn bootstrap`).
pub const FLUX_DIR: &str = "flux-system";
/// The user's own directory in the output: never written, pruned or
/// merged by cairn, and applied by its own Flux Kustomization once every
/// component layer is ready.
pub const LOCAL_DIR: &str = "local";
/// Flux's install manifests, in [`FLUX_DIR`].
pub const COMPONENTS_FILE: &str = "gotk-components.yaml";
/// The cluster's own GitRepository and Kustomization, in [`FLUX_DIR`].
pub const SYNC_FILE: &str = "gotk-sync.yaml";
/// Flux's objects for the cluster itself are all named this, in this
/// namespace: the Kustomizations cairn writes live there too.
pub const FLUX_NAME: &str = "flux-system";
/// The Secret holding the age identity Flux decrypts SOPS files with.
pub const SOPS_SECRET: &str = "sops-age";

/// Why `path` cannot be a file cairn generated: the root kustomization or
/// the Flux layers file, or a relative path inside a component's directory.
pub fn check_generated_path(path: &str) -> Result<(), String> {
    crate::files::check_relative(path)?;
    if path == KUSTOMIZATION || path == LAYERS_FILE {
        return Ok(());
    }
    match path.split_once('/') {
        Some((LOCAL_DIR | FLUX_DIR, _)) => {
            Err("is in a directory cairn never writes (yours, or Flux's)".into())
        }
        Some((component, _)) if crate::names::component(component) => Ok(()),
        _ => Err("is not inside a component's directory".into()),
    }
}
