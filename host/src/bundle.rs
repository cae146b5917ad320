//! Air-gapped bundles: one file holding a stack release as its git
//! repository (so commit, tag and signature are the original ones, and a
//! cluster initialised from it locks exactly what it would from the
//! source), and optionally the Flux install manifests bootstrap needs.
//!
//! A bundle is a tar archive:
//!
//! ```text
//! cairn-bundle.yaml   what it holds (format, source, tag, commit, signer, flux)
//! stack/...           the stack's repository, as cairn keeps a clone of it
//! flux/install.yaml   Flux's install manifests, when included
//! ```
//!
//! Reading one is reading a file someone handed over: entries must be
//! plain files and directories at relative paths, within bounds, and what
//! it says it holds is checked against the repository it holds.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

const META: &str = "cairn-bundle.yaml";
const STACK_DIR: &str = "stack";
const FLUX_FILE: &str = "flux/install.yaml";
/// The format this cairn writes and reads.
const FORMAT: u32 = 1;
/// Bounds on what a bundle may make cairn write.
const MAX_TOTAL: u64 = 4 << 30;
const MAX_ENTRIES: usize = 200_000;
const MAX_META: u64 = 64 << 10;
const MAX_FLUX: u64 = 64 << 20;

/// What a bundle holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleMeta {
    pub format: u32,
    /// The stack's source as clusters name it (its git URL).
    pub source: String,
    pub tag: String,
    pub commit: String,
    /// The fingerprint of the key that signed the release, if it is signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The Flux release of the install manifests, when included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<BundledFlux>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledFlux {
    pub sha256: String,
}

/// Writes a bundle to `out` (atomically): `meta`, the repository in
/// `repo` (a bare clone), and `flux` manifests if given.
pub fn write(out: &Path, meta: &BundleMeta, repo: &Path, flux: Option<&str>) -> anyhow::Result<()> {
    let dir = crate::files::parent_of(out);
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
    builder.follow_symlinks(false);
    let add = |builder: &mut tar::Builder<_>, path: &str, bytes: &[u8]| -> anyhow::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, bytes)?;
        Ok(())
    };
    add(&mut builder, META, serde_yaml::to_string(meta)?.as_bytes())?;
    builder
        .append_dir_all(STACK_DIR, repo)
        .with_context(|| format!("cannot pack {}", repo.display()))?;
    if let Some(flux) = flux {
        add(&mut builder, FLUX_FILE, flux.as_bytes())?;
    }
    builder
        .into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// A bundle read: what it says it holds, where its repository was
/// unpacked, and the Flux manifests it carries.
pub struct Unpacked {
    pub meta: BundleMeta,
    /// The stack's repository, unpacked into a temporary directory under
    /// the directory given to [`read`]; moved into place by the caller.
    pub repo: tempfile::TempDir,
    pub flux: Option<String>,
}

/// Reads the bundle `file`, unpacking its repository under `scratch`.
pub fn read(file: &Path, scratch: &Path) -> anyhow::Result<Unpacked> {
    let origin = file.display().to_string();
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {origin}"))?;
    std::fs::create_dir_all(scratch)?;
    let repo = tempfile::Builder::new()
        .prefix(".bundle-")
        .tempdir_in(scratch)?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(opened));
    let mut meta = None;
    let mut flux = None;
    let (mut total, mut count) = (0u64, 0usize);
    for entry in archive
        .entries()
        .with_context(|| format!("{origin} is not a cairn bundle (a tar archive)"))?
    {
        let mut entry = entry.with_context(|| format!("{origin}: a damaged entry"))?;
        count += 1;
        total += entry.size();
        if count > MAX_ENTRIES || total > MAX_TOTAL {
            bail!("{origin}: more than {MAX_ENTRIES} entries or 4 GiB; not a bundle cairn reads");
        }
        let path = entry.path()?.into_owned();
        let shown = path.display().to_string();
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            bail!("{origin}: entry {shown:?} leaves the bundle; refusing it");
        }
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            bail!(
                "{origin}: entry {shown:?} is not a plain file or directory (a link?); refusing it"
            );
        }
        let rel = path.strip_prefix(".").unwrap_or(&path).to_path_buf();
        if rel == Path::new(META) {
            meta = Some(read_text(&mut entry, MAX_META, &origin, META)?);
        } else if rel == Path::new(FLUX_FILE) {
            flux = Some(read_text(&mut entry, MAX_FLUX, &origin, FLUX_FILE)?);
        } else if let Ok(inner) = rel.strip_prefix(STACK_DIR) {
            let target = repo.path().join(inner);
            if kind.is_dir() {
                std::fs::create_dir_all(&target)?;
            } else {
                std::fs::create_dir_all(crate::files::parent_of(&target))?;
                let mut out = std::fs::File::create(&target)?;
                std::io::copy(&mut entry, &mut out)?;
            }
        } else if !kind.is_dir() {
            bail!("{origin}: unexpected entry {shown:?}; not a bundle this cairn knows");
        }
    }
    let meta = meta.with_context(|| format!("{origin} is not a cairn bundle (no {META})"))?;
    let meta: BundleMeta =
        crate::yaml::from_str(&meta).with_context(|| format!("{META} in {origin} is not valid"))?;
    if meta.format != FORMAT {
        bail!(
            "{origin} is a bundle of format {}, this cairn reads format {FORMAT}; use the cairn it was made for",
            meta.format
        );
    }
    if let (Some(bundled), Some(text)) = (&meta.flux, &flux)
        && crate::files::sha256(text) != bundled.sha256
    {
        bail!("{origin}: the Flux manifests do not match the digest {META} gives; refusing them");
    }
    Ok(Unpacked { meta, repo, flux })
}

fn read_text(entry: &mut impl Read, max: u64, origin: &str, name: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    entry
        .take(max + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{origin}: {name} is not UTF-8 text"))?;
    if text.len() as u64 > max {
        bail!("{origin}: {name} is larger than a bundle's may be");
    }
    Ok(text)
}

/// Moves an unpacked repository to `path` (a source's clone in the
/// cache), replacing what was there.
pub fn install(repo: tempfile::TempDir, path: &Path) -> anyhow::Result<PathBuf> {
    if path.exists() {
        let old = crate::files::parent_of(path).join(format!(
            ".replaced-{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(path, &old)?;
        let _ = std::fs::remove_dir_all(&old);
    }
    let kept = repo.keep();
    std::fs::rename(&kept, path)
        .with_context(|| format!("cannot place the bundled stack at {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// The Flux install manifests in `file` when it is a bundle holding them;
/// `None` when it is not a bundle at all (a manifests file, say).
pub fn flux_of(file: &Path) -> anyhow::Result<Option<String>> {
    let origin = file.display().to_string();
    let opened = std::fs::File::open(file).with_context(|| format!("cannot open {origin}"))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(opened));
    let Ok(mut entries) = archive.entries() else {
        return Ok(None);
    };
    let Some(Ok(mut first)) = entries.next() else {
        return Ok(None);
    };
    if first.path().ok().as_deref() != Some(Path::new(META)) {
        return Ok(None);
    }
    let meta: BundleMeta = crate::yaml::from_str(&read_text(&mut first, MAX_META, &origin, META)?)
        .with_context(|| format!("{META} in {origin} is not valid"))?;
    for entry in entries {
        let mut entry = entry.with_context(|| format!("{origin}: a damaged entry"))?;
        if entry.path().ok().as_deref() == Some(Path::new(FLUX_FILE)) {
            let text = read_text(&mut entry, MAX_FLUX, &origin, FLUX_FILE)?;
            if meta
                .flux
                .as_ref()
                .is_none_or(|f| crate::files::sha256(&text) != f.sha256)
            {
                bail!(
                    "{origin}: the Flux manifests do not match the digest {META} gives; refusing them"
                );
            }
            return Ok(Some(text));
        }
    }
    bail!(
        "{origin} is a bundle without Flux's install manifests; make it with `cairn bundle export --flux-manifests FILE`"
    )
}
