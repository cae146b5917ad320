//! A cluster's keys: the SSH deploy key Flux pulls the repo with and the age
//! identity it decrypts secrets with. Generated here, kept only outside the
//! repo in a private directory (0700, private files 0600), and handed to the
//! cluster as ready-to-apply `Secret` manifests. Existing keys are always
//! reused: re-running bootstrap must never rotate a key behind the user's
//! back.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand_core::OsRng;

/// The private SSH key, as Flux's `identity` field.
pub const SSH_FILE: &str = "identity";
/// The public SSH key (the deploy key to register with the git host).
pub const SSH_PUB_FILE: &str = "identity.pub";
/// The age identity, as Flux's `age.agekey` field.
pub const AGE_FILE: &str = "age.agekey";
/// The git host's keys.
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";
/// The `Secret` manifests, for `kubectl apply -f`.
pub const SECRETS_FILE: &str = "secrets.yaml";

/// The deploy key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Ed25519,
    EcdsaP384,
}

impl std::str::FromStr for KeyType {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!("no key type {name:?}; choose one of {}", names.join(", "))
            })
    }
}

impl KeyType {
    /// Every algorithm, by the name `bootstrap --key-type` takes.
    pub const ALL: [(&str, KeyType); 2] = [
        ("ed25519", KeyType::Ed25519),
        ("ecdsa-p384", KeyType::EcdsaP384),
    ];

    fn algorithm(self) -> ssh_key::Algorithm {
        match self {
            KeyType::Ed25519 => ssh_key::Algorithm::Ed25519,
            KeyType::EcdsaP384 => ssh_key::Algorithm::Ecdsa {
                curve: ssh_key::EcdsaCurve::NistP384,
            },
        }
    }
}

/// Where cairn keeps the keys of every cluster, under a config directory.
pub fn keys_root_in(config_dir: &Path) -> PathBuf {
    config_dir.join("cairn").join("keys")
}

/// The default keys directory of `cluster`.
pub fn default_dir(cluster: &str) -> anyhow::Result<PathBuf> {
    let config = dirs::config_dir().context(
        "cannot find a config directory: set XDG_CONFIG_HOME (or HOME), or pass --keys-dir",
    )?;
    Ok(keys_root_in(&config).join(cluster))
}

/// A cluster's keys, as read or just made.
pub struct ClusterKeys {
    pub dir: PathBuf,
    /// The OpenSSH public key line.
    pub ssh_public: String,
    /// `age1...`.
    pub age_recipient: String,
    /// The `Secret` manifests (plaintext; written only to `dir`).
    pub manifests: String,
    /// Which keys this call generated (empty when all were reused).
    pub generated: Vec<&'static str>,
}

/// Reads the keys in `dir`, generating the missing ones. `known_hosts`
/// replaces the stored host keys when given; without it the stored ones are
/// used, and none at all is an error.
pub fn ensure(
    dir: &Path,
    key_type: KeyType,
    known_hosts: Option<&str>,
    cluster: &str,
) -> anyhow::Result<ClusterKeys> {
    create_private_dir(dir)?;
    let mut generated = Vec::new();

    let ssh_path = dir.join(SSH_FILE);
    let private = if ssh_path.exists() {
        let text = std::fs::read_to_string(&ssh_path)
            .with_context(|| format!("cannot read {}", ssh_path.display()))?;
        let key = ssh_key::PrivateKey::from_openssh(&text)
            .with_context(|| format!("{} is not an OpenSSH private key", ssh_path.display()))?;
        if key.algorithm() != key_type.algorithm() {
            bail!(
                "{} is a {} key, not {}; cairn never replaces a key: delete {} to make a new one, or ask for --key-type matching it",
                ssh_path.display(),
                key.algorithm(),
                key_type.algorithm(),
                dir.display()
            );
        }
        key
    } else {
        let mut key = ssh_key::PrivateKey::random(&mut OsRng, key_type.algorithm())
            .context("cannot generate the SSH deploy key")?;
        key.set_comment(format!("flux-{cluster}"));
        let text = key.to_openssh(ssh_key::LineEnding::LF)?;
        write_private(&ssh_path, &text)?;
        generated.push("SSH deploy key");
        key
    };
    let ssh_public = private.public_key().to_openssh()?;
    write_public(&dir.join(SSH_PUB_FILE), &format!("{ssh_public}\n"))?;

    let age_path = dir.join(AGE_FILE);
    let identity = if age_path.exists() {
        let text = std::fs::read_to_string(&age_path)
            .with_context(|| format!("cannot read {}", age_path.display()))?;
        crate::sops::parse_identities(&text)
            .with_context(|| age_path.display().to_string())?
            .into_iter()
            .next()
            .with_context(|| format!("{} holds no age identity", age_path.display()))?
    } else {
        let identity = age::x25519::Identity::generate();
        let text = format!(
            "# public key: {}\n{}\n",
            identity.to_public(),
            crate::sops::identity_text(&identity)
        );
        write_private(&age_path, &text)?;
        generated.push("age identity");
        identity
    };
    let age_recipient = identity.to_public().to_string();

    let hosts_path = dir.join(KNOWN_HOSTS_FILE);
    let known_hosts = match known_hosts {
        Some(text) => {
            write_public(&hosts_path, text)?;
            text.to_string()
        }
        None => std::fs::read_to_string(&hosts_path).map_err(|_| {
            anyhow::anyhow!(
                "no known_hosts for the git host: pass --known-hosts FILE (e.g. `ssh-keyscan HOST > FILE`, then check the fingerprints against your git host's), or --scan-host-key to trust what the host presents now"
            )
        })?,
    };

    let private_text = std::fs::read_to_string(&ssh_path)?;
    let age_text = std::fs::read_to_string(&age_path)?;
    let manifests = secret_manifests(
        &private_text,
        &format!("{ssh_public}\n"),
        &known_hosts,
        &age_text,
    );
    write_private(&dir.join(SECRETS_FILE), &manifests)?;
    Ok(ClusterKeys {
        dir: dir.to_path_buf(),
        ssh_public,
        age_recipient,
        manifests,
        generated,
    })
}

/// The two `Secret`s Flux reads: the deploy key and the SOPS identity.
fn secret_manifests(identity: &str, public: &str, known_hosts: &str, age: &str) -> String {
    let secret = |name: &str, data: &[(&str, &str)]| {
        let mut string_data = serde_yaml::Mapping::new();
        for (k, v) in data {
            string_data.insert((*k).into(), (*v).into());
        }
        let doc = serde_yaml::to_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "flux-system"},
            "type": "Opaque",
        }))
        .expect("a literal serialises");
        let mut doc = doc.as_mapping().cloned().unwrap_or_default();
        doc.insert("stringData".into(), serde_yaml::Value::Mapping(string_data));
        serde_yaml::to_string(&doc).expect("a mapping serialises")
    };
    format!(
        "# Keys of this cluster, written by `cairn bootstrap`. Never commit this file.\n{}---\n{}",
        secret(
            "flux-system",
            &[
                ("identity", identity),
                ("identity.pub", public),
                ("known_hosts", known_hosts),
            ]
        ),
        secret("sops-age", &[("age.agekey", age)])
    )
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// Writes `text` readable by the owner only, atomically.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    // NamedTempFile is created 0600.
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::fs::write(tmp.path(), text)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn write_public(path: &Path, text: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    crate::files::write_atomic(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", (path).display()))
}

/// Asks the git host for its SSH host keys (`ssh-keyscan`): only on the
/// user's explicit request, since it trusts whatever answers.
pub fn scan_host_keys(host: &str, port: Option<u16>) -> anyhow::Result<String> {
    let mut command = std::process::Command::new("ssh-keyscan");
    if let Some(port) = port {
        command.args(["-p", &port.to_string()]);
    }
    let output = command.arg(host).output().context(
        "cannot run ssh-keyscan (OpenSSH client); install it, or pass --known-hosts FILE",
    )?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    if text.trim().is_empty() {
        bail!(
            "ssh-keyscan {host} found no host keys: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(text)
}
