//! `cairn bootstrap`: what one `kubectl apply` needs to bring a cluster up
//! from its GitOps directory, and to bring it back after a disaster.
//!
//! Under `<path>/flux-system/` it writes Flux's install manifests
//! (`gotk-components.yaml`, at a pinned version), the cluster's own sync
//! (`gotk-sync.yaml`: a `GitRepository` over SSH and a `Kustomization` of
//! `<path>`, decrypting SOPS secrets), and a `kustomization.yaml` listing
//! both, which is the user's from then on. The keys go outside the repo
//! (see [`crate::keys`]); the age recipient goes into cairn.yaml, so that
//! `cairn generate` seals secrets for the cluster.
//!
//! Bootstrap owns the cluster's own `flux-system` GitRepository and
//! Kustomization; `generate` refuses a component that renders an object with
//! the same identity or a Kustomization of the same path.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::config::layout::{COMPONENTS_FILE, FLUX_DIR, FLUX_NAME as NAME, SOPS_SECRET, SYNC_FILE};
use crate::config::{CONFIG_FILE, Lock, LockedFlux, Project};
use crate::keys::{self, KeyType};

/// The Flux release bootstrap installs unless told otherwise.
pub const DEFAULT_FLUX_VERSION: &str = "2.9.4";
/// Where Flux's release assets are downloaded from; `CAIRN_FLUX_RELEASES_URL`
/// replaces it (a mirror, or a test server).
pub const RELEASES_URL: &str = "https://github.com/fluxcd/flux2/releases/download";
/// Install manifests larger than this are refused.
const MAX_MANIFESTS: u64 = 32 << 20;

/// What to bootstrap.
pub struct BootstrapOptions {
    pub cluster: String,
    pub url: String,
    pub branch: String,
    /// The cluster's directory, relative to the repository root.
    pub path: Option<String>,
    pub interval: String,
    pub flux_version: Option<String>,
    pub flux_manifests: Option<PathBuf>,
    pub key_type: KeyType,
    pub keys_dir: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub scan_host_key: bool,
    /// Set up no age identity and no decryption.
    pub no_sops: bool,
    pub offline: bool,
    /// Where to start looking for the repository root.
    pub cwd: PathBuf,
}

/// What bootstrap did.
#[derive(Debug, Serialize)]
pub struct BootstrapReport {
    pub cluster: String,
    /// The cluster's directory, relative to the repository root.
    pub path: String,
    pub flux_version: String,
    /// The URL Flux pulls; `converted` when it was given in scp form.
    pub url: String,
    pub converted: bool,
    /// Where the install manifests came from.
    pub flux_source: String,
    /// Files written in the repository, relative to its root.
    pub written: Vec<String>,
    pub keys_dir: PathBuf,
    /// Keys generated now (none when they were reused).
    pub generated: Vec<String>,
    pub deploy_key: String,
    pub age_recipient: Option<String>,
    /// Whether the root kustomization is cairn's (output `.`), so that
    /// `cairn generate` must run to list flux-system in it.
    pub needs_generate: bool,
    /// The `Secret` manifests, for `--print-secrets`.
    #[serde(skip)]
    pub manifests: String,
}

/// Runs bootstrap: validates everything, fetches the manifests, makes or
/// reuses the keys, then writes the repository files (each atomically).
pub fn bootstrap(options: &BootstrapOptions) -> anyhow::Result<BootstrapReport> {
    let url = ssh_url(&options.url).map_err(|e| anyhow::anyhow!("--url: {e}"))?;
    crate::names::flux_duration(&options.interval)
        .map_err(|e| anyhow::anyhow!("--interval: {e}"))?;
    if !crate::names::component(&options.cluster) {
        bail!(
            "--cluster {:?}: use lower-case letters, digits and '-'",
            options.cluster
        );
    }
    if options.branch.trim().is_empty() {
        bail!("--branch must not be empty");
    }
    let root = repo_root(&options.cwd)?;
    let rel = options
        .path
        .clone()
        .unwrap_or_else(|| format!("clusters/{}", options.cluster));
    let rel = rel
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    if rel.is_empty()
        || Path::new(&rel).is_absolute()
        || rel.split('/').any(|s| s == ".." || s.is_empty())
    {
        bail!("--path {rel:?} must be a directory inside the repository, e.g. clusters/prod");
    }
    let cluster_dir = root.join(&rel);
    let config_path = cluster_dir.join(CONFIG_FILE);
    if !config_path.exists() {
        bail!(
            "{} does not exist: run `cairn init STACK --path {rel}` first, then bootstrap",
            config_path.display()
        );
    }
    let project = Project::load(&config_path)?;
    let flux_dir = cluster_dir.join(FLUX_DIR);
    let components_path = flux_dir.join(COMPONENTS_FILE);
    let lock_file = Lock::read(&project.lock_path())?;

    // Flux's install manifests: reuse the written ones unless another
    // version or file is asked for.
    let existing = std::fs::read_to_string(&components_path).ok();
    let existing_version = existing.as_deref().and_then(header_version);
    let wanted = options
        .flux_version
        .as_deref()
        .map(|v| v.trim_start_matches('v').to_string());
    if let Some(v) = &wanted {
        semver::Version::parse(v)
            .map_err(|_| anyhow::anyhow!("--flux-version {v:?} is not a version like 2.7.2"))?;
    }
    // `fetched_from` is `None` when the manifests already written stay.
    let (components, flux_version, fetched_from) = match (&options.flux_manifests, &existing) {
        (None, Some(text)) if wanted.is_none() || wanted == existing_version => (
            text.clone(),
            existing_version.clone().unwrap_or_default(),
            None,
        ),
        _ => {
            let fetched = fetch_manifests(
                options,
                wanted.or(existing_version).as_deref(),
                lock_file.as_ref().and_then(|l| l.flux.as_ref()),
            )?;
            let text = components_file(&fetched.version, &fetched.text);
            (text, fetched.version, Some(fetched.source))
        }
    };
    let sha = crate::files::sha256(body_of(&components));

    // Keys, outside the repository.
    let keys_dir = match &options.keys_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => keys::default_dir(&options.cluster)?,
    };
    if keys_dir.starts_with(&root) {
        bail!(
            "--keys-dir {} is inside the repository {}; keys never belong in git: choose a directory outside it",
            keys_dir.display(),
            root.display()
        );
    }
    let known_hosts = match (&options.known_hosts, options.scan_host_key) {
        (Some(file), _) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("cannot read --known-hosts {}", file.display()))?,
        ),
        (None, true) => {
            let (host, port) = host_of(&url);
            Some(keys::scan_host_keys(&host, port)?)
        }
        (None, false) => None,
    };
    if let Some(text) = &known_hosts
        && !text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        bail!("--known-hosts holds no host key lines");
    }
    let keys = keys::ensure(
        &keys_dir,
        options.key_type,
        known_hosts.as_deref(),
        &options.cluster,
    )?;
    let age_recipient = (!options.no_sops).then(|| keys.age_recipient.clone());

    // The repository's files, all decided before any is written.
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    let sync = sync_manifests(
        &url,
        &options.branch,
        &rel,
        &options.interval,
        age_recipient.is_some(),
    );
    writes.push((components_path.clone(), components.clone()));
    writes.push((flux_dir.join(SYNC_FILE), sync));
    let flux_kustomization = flux_dir.join(crate::config::layout::KUSTOMIZATION);
    if !flux_kustomization.exists() {
        writes.push((flux_kustomization, flux_kustomization_text()));
    }
    let needs_generate = project.config.output.trim_end_matches('/') == ".";
    if !needs_generate {
        let root_kustomization = cluster_dir.join(crate::config::layout::KUSTOMIZATION);
        let output = project.config.output.trim_end_matches('/').to_string();
        if let Some(text) = wire_root(&root_kustomization, &[FLUX_DIR.to_string(), output])? {
            writes.push((root_kustomization, text));
        }
    }
    if let Some(recipient) = &age_recipient
        && let Some(text) = add_recipient(&project, recipient)?
    {
        writes.push((config_path.clone(), text));
    }
    let record = LockedFlux {
        version: flux_version.clone(),
        sha256: sha.clone(),
        source: fetched_from.clone().unwrap_or_else(|| {
            lock_file
                .as_ref()
                .and_then(|l| l.flux.as_ref())
                .map_or_else(|| "file".into(), |f| f.source.clone())
        }),
    };
    let mut lock = lock_file.clone().unwrap_or_default();
    lock.lock_version = Lock::VERSION;
    lock.flux = Some(record);
    if Some(&lock) != lock_file.as_ref() {
        writes.push((project.lock_path(), lock.to_text()));
    }

    let mut written = Vec::new();
    for (path, text) in writes {
        if std::fs::read_to_string(&path).is_ok_and(|old| old == text) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        crate::files::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(
            path.strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string(),
        );
    }
    Ok(BootstrapReport {
        cluster: options.cluster.clone(),
        path: rel,
        converted: url != options.url.trim(),
        url,
        flux_version,
        flux_source: fetched_from.unwrap_or_else(|| "unchanged".into()),
        written,
        keys_dir: keys.dir.clone(),
        generated: keys.generated.iter().map(|s| s.to_string()).collect(),
        deploy_key: keys.ssh_public.clone(),
        age_recipient,
        needs_generate,
        manifests: keys.manifests,
    })
}

/// The git work tree containing `dir`.
fn repo_root(dir: &Path) -> anyhow::Result<PathBuf> {
    crate::git::work_tree(dir).with_context(|| {
        format!(
            "{} is not inside a git repository; run bootstrap in your GitOps repository",
            dir.display()
        )
    })
}

/// An `ssh://` URL for Flux. The scp form (`git@host:org/repo`) is what git
/// accepts but Flux's CRD does not, so it is converted; anything but SSH is
/// refused, since bootstrap sets up an SSH deploy key.
pub fn ssh_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    if let Some(rest) = url.strip_prefix("ssh://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() || path.is_empty() {
            return Err(format!(
                "{url:?} needs a host and a path, e.g. ssh://git@github.com/org/repo.git"
            ));
        }
        if !authority.contains('@') {
            return Err(format!(
                "{url:?} names no user; git hosts expect one, e.g. ssh://git@{rest}"
            ));
        }
        return Ok(url.to_string());
    }
    if url.contains("://") {
        return Err(format!(
            "{url:?} is not an SSH URL; bootstrap sets up an SSH deploy key, so give ssh://git@HOST/ORG/REPO.git"
        ));
    }
    match url.split_once(':') {
        Some((host, path)) if host.contains('@') && !path.is_empty() && !host.contains('/') => {
            // `git@host:2222/x` is ambiguous (port or path); refuse it.
            if path
                .split('/')
                .next()
                .is_some_and(|p| p.parse::<u16>().is_ok())
            {
                return Err(format!(
                    "{url:?} is in git's scp form, which Flux does not accept, and its path starts with a number that could be a port; write it as ssh://{host}:PORT/PATH or ssh://{host}/{path}"
                ));
            }
            Ok(format!("ssh://{host}/{}", path.trim_start_matches('/')))
        }
        _ => Err(format!(
            "{url:?} is not a git SSH URL; give ssh://git@HOST/ORG/REPO.git"
        )),
    }
}

/// The host and port of an `ssh://` URL.
fn host_of(url: &str) -> (String, Option<u16>) {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().ok()),
        None => (host_port.to_string(), None),
    }
}

/// `gotk-sync.yaml`: the cluster's GitRepository and Kustomization.
pub fn sync_manifests(url: &str, branch: &str, path: &str, interval: &str, sops: bool) -> String {
    let source = json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": NAME, "namespace": NAME},
        "spec": {
            "interval": "1m0s",
            "ref": {"branch": branch},
            "secretRef": {"name": NAME},
            "url": url,
        },
    });
    let mut sync = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": NAME, "namespace": NAME},
        "spec": {
            "interval": interval,
            "path": format!("./{path}"),
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": NAME},
        },
    });
    if sops {
        sync["spec"]["decryption"] =
            json!({"provider": "sops", "secretRef": {"name": SOPS_SECRET}});
    }
    let yaml = |v: &serde_json::Value| serde_yaml::to_string(v).expect("JSON serialises as YAML");
    format!(
        "# This cluster's sync, written by `cairn bootstrap`: Flux pulls ./{path} from the repository\n# and applies it. Re-run bootstrap to change it.\n---\n{}---\n{}",
        yaml(&source),
        yaml(&sync)
    )
}

/// `flux-system/kustomization.yaml`, written once: users add patches here.
fn flux_kustomization_text() -> String {
    format!(
        "# Flux itself. Written once by `cairn bootstrap`; yours to edit (e.g. patches to the controllers).\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {COMPONENTS_FILE}\n  - {SYNC_FILE}\n"
    )
}

/// The cluster's root kustomization listing `resources` as well as what it
/// lists already; `None` when it already lists them all.
fn wire_root(path: &Path, resources: &[String]) -> anyhow::Result<Option<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        let mut out = String::from(
            "# The cluster: Flux itself and the stack's output. Created by `cairn bootstrap`; yours to edit.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
        );
        for r in resources {
            out.push_str(&format!("  - {r}\n"));
        }
        return Ok(Some(out));
    };
    let origin = path.display().to_string();
    let doc: serde_yaml::Value = crate::yaml::from_str(&text)
        .with_context(|| format!("{origin} is not valid YAML; fix it, then re-run"))?;
    let listed: Vec<&str> = doc
        .get("resources")
        .and_then(serde_yaml::Value::as_sequence)
        .map(|list| list.iter().filter_map(serde_yaml::Value::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<String> = resources
        .iter()
        .filter(|r| {
            !listed
                .iter()
                .any(|s| s.trim_start_matches("./").trim_end_matches('/') == r.as_str())
        })
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    Ok(Some(crate::edit::append_strings(
        &text,
        &origin,
        &["resources"],
        &missing,
    )?))
}

/// cairn.yaml with `recipient` added under `secrets.age`, or `None` when it
/// is there already. Edits the document in place, so the user's comments
/// and layout stay.
fn add_recipient(project: &Project, recipient: &str) -> anyhow::Result<Option<String>> {
    let secrets = project.config.secrets.as_ref();
    if secrets.is_some_and(|s| s.age.iter().any(|r| r.trim() == recipient)) {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&project.config_path)
        .with_context(|| format!("cannot read {}", project.config_path.display()))?;
    Ok(Some(crate::edit::append_strings(
        &text,
        &project.config_path.display().to_string(),
        &["secrets", "age"],
        &[recipient.to_string()],
    )?))
}

/// Install manifests and where they came from.
struct Fetched {
    version: String,
    text: String,
    source: String,
}

fn fetch_manifests(
    options: &BootstrapOptions,
    version: Option<&str>,
    locked: Option<&LockedFlux>,
) -> anyhow::Result<Fetched> {
    if let Some(file) = &options.flux_manifests {
        // A bundle (`cairn bundle export`) carries them for machines with
        // no network.
        let text = match crate::bundle::flux_of(file)? {
            Some(text) => text,
            None => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read --flux-manifests {}", file.display()))?,
        };
        check_manifests(&text, &file.display().to_string())?;
        let found = manifest_version(&text);
        let version = match (version, found) {
            (Some(v), Some(f)) if v != f => bail!(
                "--flux-manifests {} is Flux {f}, not the --flux-version {v} asked for",
                file.display()
            ),
            (Some(v), _) => v.to_string(),
            (None, Some(f)) => f,
            (None, None) => bail!(
                "cannot tell which Flux version {} is (no app.kubernetes.io/version label); pass --flux-version",
                file.display()
            ),
        };
        return Ok(Fetched {
            version,
            text,
            source: "file".into(),
        });
    }
    if let Some(flux) = find_on_path("flux") {
        let mut command = std::process::Command::new(&flux);
        command.args(["install", "--export"]);
        if let Some(v) = version {
            command.arg(format!("--version=v{v}"));
        }
        let output = command
            .output()
            .with_context(|| format!("cannot run {}", flux.display()))?;
        if !output.status.success() {
            bail!(
                "`flux install --export` failed: {}\npass --flux-manifests FILE instead",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let text = String::from_utf8(output.stdout).context("flux printed non-UTF-8")?;
        check_manifests(&text, "the output of `flux install --export`")?;
        let version = match (version, manifest_version(&text)) {
            (Some(v), _) => v.to_string(),
            (None, Some(f)) => f,
            (None, None) => bail!(
                "cannot tell which Flux version `flux install --export` printed; pass --flux-version"
            ),
        };
        return Ok(Fetched {
            version,
            text,
            source: "flux CLI".into(),
        });
    }
    let version = version.unwrap_or(DEFAULT_FLUX_VERSION).to_string();
    let base = std::env::var("CAIRN_FLUX_RELEASES_URL").unwrap_or_else(|_| RELEASES_URL.into());
    let url = format!("{}/v{version}/install.yaml", base.trim_end_matches('/'));
    let cache = crate::cache::dir("flux")?
        .join(format!("v{version}"))
        .join("install.yaml");
    let (text, downloaded) = match std::fs::read_to_string(&cache) {
        Ok(text) => (text, false),
        Err(_) if options.offline => bail!(
            "Flux {version}'s manifests are not in the cache ({}) and --offline forbids downloading them; pass --flux-manifests FILE",
            cache.display()
        ),
        Err(_) => {
            let text = download(&url)?;
            check_manifests(&text, &url)?;
            (text, true)
        }
    };
    let sha = crate::files::sha256(&text);
    if let Some(locked) = locked
        && locked.version == version
        && locked.source.contains("://")
        && locked.sha256 != sha
    {
        bail!(
            "Flux {version}'s manifests from {url} have sha256 {sha}, but cairn.lock recorded {} when they were first used: the release changed, or the download was tampered with. Refusing them; check the release, then delete the cache file {} and the flux entry of cairn.lock to accept the new ones",
            locked.sha256,
            cache.display()
        );
    }
    // Cached only once checked, so a refused download is not kept.
    if downloaded {
        if let Some(dir) = cache.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::files::write_atomic(&cache, text.as_bytes())
            .with_context(|| format!("cannot write {}", cache.display()))?;
    }
    Ok(Fetched {
        version,
        text,
        source: url,
    })
}

fn download(url: &str) -> anyhow::Result<String> {
    let response = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()?
        .get(url)
        .send()
        .with_context(|| {
            format!("cannot download {url}; pass --flux-manifests FILE when offline")
        })?;
    if !response.status().is_success() {
        bail!(
            "cannot download {url}: {}; check --flux-version, or pass --flux-manifests FILE",
            response.status()
        );
    }
    if response.content_length().is_some_and(|n| n > MAX_MANIFESTS) {
        bail!("{url} is larger than {MAX_MANIFESTS} bytes; refusing it");
    }
    let bytes = response.bytes()?;
    if bytes.len() as u64 > MAX_MANIFESTS {
        bail!("{url} is larger than {MAX_MANIFESTS} bytes; refusing it");
    }
    String::from_utf8(bytes.to_vec()).with_context(|| format!("{url} is not UTF-8 text"))
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Refuses text that is not Flux's install manifests.
pub fn check_manifests(text: &str, origin: &str) -> anyhow::Result<()> {
    let mut crd = false;
    for (i, doc) in crate::yaml::documents(text).into_iter().enumerate() {
        let doc = doc.with_context(|| format!("{origin}: document {} is not YAML", i + 1))?;
        if doc.get("kind").and_then(serde_yaml::Value::as_str) == Some("CustomResourceDefinition")
            && doc
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(serde_yaml::Value::as_str)
                == Some("gitrepositories.source.toolkit.fluxcd.io")
        {
            crd = true;
        }
    }
    if !crd {
        bail!(
            "{origin} does not look like Flux's install manifests (no GitRepository CRD); use the output of `flux install --export`"
        );
    }
    Ok(())
}

/// The Flux version install manifests carry in their labels.
fn manifest_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.trim().strip_prefix("app.kubernetes.io/version:")?;
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        let value = value.trim_start_matches('v');
        semver::Version::parse(value)
            .ok()
            .map(|_| value.to_string())
    })
}

const HEADER_PREFIX: &str = "# Flux v";
/// How many lines [`components_file`] puts before the manifests.
const HEADER_LINES: usize = 2;

/// `gotk-components.yaml`: a header naming the version, then the manifests.
fn components_file(version: &str, manifests: &str) -> String {
    let mut body = manifests.to_string();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    format!(
        "{HEADER_PREFIX}{version} install manifests (controllers and CRDs), written by `cairn bootstrap`.\n# Upgrade with `cairn bootstrap --flux-version X.Y.Z`; do not edit.\n{body}"
    )
}

/// The manifests of a `gotk-components.yaml`, without the header's lines.
fn body_of(text: &str) -> &str {
    if !text.starts_with(HEADER_PREFIX) {
        return text;
    }
    text.splitn(HEADER_LINES + 1, '\n')
        .nth(HEADER_LINES)
        .unwrap_or("")
}

/// The version in a `gotk-components.yaml` header.
fn header_version(text: &str) -> Option<String> {
    let line = text.lines().next()?.strip_prefix(HEADER_PREFIX)?;
    Some(line.split_whitespace().next()?.to_string())
}

/// The cluster sync bootstrap wrote in `output_dir`, if any: the identities
/// of its objects and the path its Kustomization applies, so `generate` can
/// refuse a component that would compete with it.
pub fn owned_sync(output_dir: &Path) -> Option<(Vec<String>, Option<String>)> {
    let text = std::fs::read_to_string(output_dir.join(FLUX_DIR).join(SYNC_FILE)).ok()?;
    let mut ids = Vec::new();
    let mut path = None;
    for doc in crate::yaml::documents(&text).into_iter().flatten() {
        ids.push(crate::compose::object_id(&doc));
        if doc.get("kind").and_then(serde_yaml::Value::as_str) == Some("Kustomization") {
            path = doc
                .get("spec")
                .and_then(|s| s.get("path"))
                .and_then(serde_yaml::Value::as_str)
                .map(crate::names::normal_path);
        }
    }
    Some((ids, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_urls_become_ssh_urls_and_others_are_refused() {
        assert_eq!(
            ssh_url("git@github.com:acme/fleet.git").unwrap(),
            "ssh://git@github.com/acme/fleet.git"
        );
        assert_eq!(
            ssh_url("ssh://git@host:2222/a/b.git").unwrap(),
            "ssh://git@host:2222/a/b.git"
        );
        for bad in [
            "https://github.com/acme/fleet",
            "git@host:2222/fleet.git",
            "github.com/acme/fleet",
            "ssh://host/acme/fleet",
            "ssh://git@host",
        ] {
            assert!(ssh_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_header_names_the_version_and_is_not_part_of_the_digest() {
        let manifests = "# Flux's own comment\nkind: A\n";
        let text = components_file("2.7.2", manifests);
        assert_eq!(header_version(&text).as_deref(), Some("2.7.2"));
        assert_eq!(body_of(&text), manifests);
    }
}
