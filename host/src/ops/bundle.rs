//! `bundle export`, and reading a bundle where `init` is given one: a stack
//! release (and Flux's install manifests) carried to a machine with no
//! network. The bundle holds the stack's repository as cairn clones it, so
//! the release's commit, tag and signature are the original ones and the
//! lock is what it would be from the source itself.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Serialize;

use super::Options;
use super::session::{open_source, release_signer};
use crate::bundle::{BundleMeta, BundledFlux};

/// What `bundle export` wrote.
#[derive(Debug, Serialize)]
pub struct BundleReport {
    pub file: std::path::PathBuf,
    pub source: String,
    pub tag: String,
    pub commit: String,
    pub signer: Option<String>,
    pub flux: bool,
}

/// `cairn bundle export SOURCE`: the release `version` resolves to (default
/// the newest) of the stack at `source`, a git URL, and `flux_manifests`
/// when given, into `out`.
pub fn export(
    options: &Options,
    source: &str,
    version: Option<&str>,
    flux_manifests: Option<&Path>,
    out: &Path,
) -> anyhow::Result<BundleReport> {
    if !crate::source::is_remote(source) {
        bail!(
            "bundle a stack by the URL clusters name it by ({source:?} is a local path, which would mean nothing on the machine the bundle goes to)"
        );
    }
    let cwd = std::env::current_dir()?;
    let opened = open_source(source, &cwd, options, true)?;
    let pin = opened.resolve(version)?;
    let (Some(tag), Some(commit)) = (pin.tag.clone(), pin.commit.clone()) else {
        bail!("bundle a release: give a version (a tag), not a commit");
    };
    let signer = release_signer(&opened, &pin, source, "")
        .ok()
        .map(|s| s.fingerprint);
    let flux = match flux_manifests {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            crate::bootstrap::check_manifests(&text, &file.display().to_string())?;
            Some(text)
        }
        None => None,
    };
    let meta = BundleMeta {
        format: 1,
        source: source.to_string(),
        tag: tag.clone(),
        commit: commit.clone(),
        signer: signer.clone(),
        flux: flux.as_ref().map(|text| BundledFlux {
            sha256: crate::files::sha256(text),
        }),
    };
    let repo = crate::source::clone_path(source, &crate::cache::dir("git")?)?;
    crate::bundle::write(out, &meta, &repo, flux.as_deref())?;
    Ok(BundleReport {
        file: out.to_path_buf(),
        source: source.to_string(),
        tag,
        commit,
        signer,
        flux: flux.is_some(),
    })
}

/// Reads the bundle `file` into the cache as the clone of its source,
/// after checking the release it names is in it at the commit it says.
/// Returns what it holds.
pub fn import(options: &Options, file: &Path) -> anyhow::Result<BundleMeta> {
    let cache = crate::cache::dir("git")?;
    let unpacked = crate::bundle::read(file, &cache)?;
    let meta = unpacked.meta;
    if !crate::source::is_remote(&meta.source) {
        bail!(
            "{}: its source {:?} is not a git URL; refusing it",
            file.display(),
            meta.source
        );
    }
    // The release must be in the bundled repository, at the commit named.
    let repo = gix::open(unpacked.repo.path()).with_context(|| {
        format!(
            "{}: the bundled repository cannot be opened",
            file.display()
        )
    })?;
    let found = repo
        .find_reference(&format!("refs/tags/{}", meta.tag))
        .ok()
        .and_then(|mut r| r.peel_to_commit().ok())
        .map(|c| c.id.to_string());
    if found.as_deref() != Some(meta.commit.as_str()) {
        bail!(
            "{}: the bundled repository has no tag {} at commit {}; refusing it",
            file.display(),
            meta.tag,
            meta.commit
        );
    }
    drop(repo);
    crate::bundle::install(
        unpacked.repo,
        &crate::source::clone_path(&meta.source, &cache)?,
    )?;
    // What the cache now holds opens offline.
    let offline = Options {
        offline: true,
        ..options.clone()
    };
    open_source(&meta.source, &std::env::current_dir()?, &offline, false)?;
    Ok(meta)
}
