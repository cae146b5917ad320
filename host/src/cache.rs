//! The user cache, `$XDG_CACHE_HOME/cairn`: what cairn keeps between runs
//! to be fast, none of it needed to be correct (deleting it loses nothing
//! but time). `compiled/` holds compiled components (see
//! `runtime::CodeCache`), `git/` bare clones of remote stacks, `blobs/`
//! generated files by sha256 (merge bases), `digests/` the sha256 of
//! component content already hashed, `flux/` downloaded Flux releases.
//!
//! Whoever can write the cache (a CI cache restored from another run, a
//! shared directory) must not be able to make cairn trust what is in it:
//! entries that are trusted rather than checked against their content are
//! sealed with the [`CacheKey`], which lives outside the cache.
//!
//! A bottom module: it uses only `files`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The cache's directory `name` (`compiled`, `git`, `blobs`, ...).
pub fn dir(name: &str) -> anyhow::Result<PathBuf> {
    let base = dirs::cache_dir().context(
        "cannot find a cache directory: set XDG_CACHE_HOME (or HOME), or pass --no-cache",
    )?;
    Ok(base.join("cairn").join(name))
}

/// The secret that seals cache entries: 32 random bytes in
/// `$XDG_DATA_HOME/cairn/cache.key` (mode 0600), made on first use.
#[derive(Clone)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The user's key, created if missing. `None` when it can be neither
    /// read nor created: then nothing is loaded from the cache.
    pub fn user() -> Option<Self> {
        let path = dirs::data_local_dir()?.join("cairn").join("cache.key");
        Self::at(&path).ok()
    }

    /// The key in `path`, created if missing.
    pub fn at(path: &Path) -> anyhow::Result<Self> {
        if let Ok(Some(bytes)) = crate::files::read_bounded(path, 64) {
            let file = std::fs::File::open(path)?;
            if owned_privately(&file) && bytes.len() == 32 {
                let mut key = [0u8; 32];
                key.copy_from_slice(&bytes);
                return Ok(Self(key));
            }
            anyhow::bail!(
                "{} is not a private 32-byte key; delete it and cairn makes a new one",
                path.display()
            );
        }
        let dir = crate::files::parent_of(path);
        create_private_dir(dir)?;
        let mut key = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&key)?;
        tmp.as_file().sync_all()?;
        // Another run may have made one meanwhile: keep the first.
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(Self(key)),
            Err(_) => Self::at(path),
        }
    }

    /// The MAC of `parts`, in order, under this key.
    pub fn seal(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        for part in parts {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        *hasher.finalize().as_bytes()
    }

    /// Whether `mac` seals `parts`, in constant time.
    pub fn verify(&self, parts: &[&[u8]], mac: &[u8]) -> bool {
        let Ok(mac) = <[u8; 32]>::try_from(mac) else {
            return false;
        };
        // `Hash` compares in constant time.
        blake3::Hash::from(self.seal(parts)) == blake3::Hash::from(mac)
    }
}

/// Content-addressed copies of generated files, the merge base when the
/// user later edits them. An entry is trusted only if its content hashes
/// to its name.
pub struct Blobs(PathBuf);

impl Blobs {
    /// The user's, under the cache's `blobs/`.
    pub fn user() -> anyhow::Result<Self> {
        Ok(Self(dir("blobs")?))
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.0.join(&hash[..2.min(hash.len())]).join(hash)
    }

    /// The content whose sha256 is `hash`, if kept and intact.
    pub fn get(&self, hash: &str) -> Option<String> {
        let text = crate::files::read_text_bounded(&self.path(hash), 64 << 20).ok()??;
        (crate::files::sha256(&text) == hash).then_some(text)
    }

    /// Keeps every one of `contents`; one that cannot be written costs a
    /// merge base later, not correctness now.
    pub fn put_all<'a>(&self, contents: impl IntoIterator<Item = &'a str>) {
        for content in contents {
            let hash = crate::files::sha256(content);
            let path = self.path(&hash);
            if path.exists() {
                continue;
            }
            let Some(dir) = path.parent() else { continue };
            let _ = std::fs::create_dir_all(dir).and_then(|_| {
                let tmp = tempfile::NamedTempFile::new_in(dir)?;
                std::fs::write(tmp.path(), content)?;
                tmp.persist(&path).map(|_| ()).map_err(|e| e.error)
            });
        }
    }
}

#[cfg(unix)]
pub(crate) fn owned_privately(file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else {
        return false;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    meta.uid() == uid && meta.mode() & 0o022 == 0
}

#[cfg(not(unix))]
pub(crate) fn owned_privately(_file: &std::fs::File) -> bool {
    true
}

pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
