//! The compiled-component cache.
//!
//! Compiling a component with Cranelift takes from milliseconds (Rust, ~100 KB)
//! to tens of seconds (JavaScript and Python, ~15 MB). cairn compiles each
//! component once per engine configuration and keeps the machine code here.
//!
//! Loading machine code is `unsafe`: wasmtime trusts a precompiled artifact
//! completely. So an entry is only ever loaded if cairn itself wrote it:
//! - the key is the sha256 of the component's bytes plus wasmtime's engine
//!   compatibility hash, so a changed component or engine misses;
//! - each entry's code is sealed by a BLAKE3 digest written after it,
//!   checked before loading, so a truncated or corrupted entry is
//!   recompiled, never loaded (BLAKE3 over a memory map, because entries
//!   reach 40 MB and this runs on every load);
//! - entries are written to a temporary file and renamed into place, so
//!   concurrent runs never see half an entry;
//! - the directory is private (0700), and an entry not owned by the current
//!   user, or writable by others, is ignored.

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Identifies entries written by cairn, and the entry format version.
const MAGIC: &[u8; 12] = b"cairn-seal-1";

pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under the user's cache directory (`$XDG_CACHE_HOME/cairn`
    /// on Linux).
    pub fn user_default() -> anyhow::Result<Self> {
        let base = dirs::cache_dir().context(
            "cannot find a cache directory: set XDG_CACHE_HOME (or HOME), or pass --no-cache",
        )?;
        Ok(Self::at(base.join("cairn").join("compiled")))
    }

    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The compiled form of the component whose sha256 is `digest`, from the
    /// cache, or compiled from `wasm()` now and stored. The bytes are only
    /// asked for on a miss. Returns whether it was a hit.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &str,
        wasm: impl FnOnce() -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<(Component, bool)> {
        let path = self
            .dir
            .join(format!("{}.cwasm", entry_key(engine, digest)));
        if let Some(component) = self.load(engine, &path) {
            return Ok((component, true));
        }
        let component = Component::new(engine, wasm()?)?;
        // A cache that cannot be written is slower, not broken.
        let _ = self.store(&path, &component);
        Ok((component, false))
    }

    /// What the component's `describe` returned, kept beside its compiled
    /// code (`KEY.describe.json`) under the same ownership rules; `None`
    /// when absent or unreadable, and the caller describes it again.
    pub fn load_metadata<T: serde::de::DeserializeOwned>(
        &self,
        engine: &Engine,
        digest: &str,
    ) -> Option<T> {
        let path = self.metadata_path(engine, digest);
        let file = std::fs::File::open(&path).ok()?;
        if !owned_privately(&file) {
            return None;
        }
        serde_json::from_reader(std::io::BufReader::new(file)).ok()
    }

    /// Stores what `describe` returned; a failure only costs a describe later.
    pub fn store_metadata<T: serde::Serialize>(&self, engine: &Engine, digest: &str, metadata: &T) {
        let store = || -> anyhow::Result<()> {
            create_private_dir(&self.dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            serde_json::to_writer(&mut tmp, metadata)?;
            tmp.persist(self.metadata_path(engine, digest))?;
            Ok(())
        };
        let _ = store();
    }

    fn metadata_path(&self, engine: &Engine, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{}.describe.json", entry_key(engine, digest)))
    }

    /// An entry is the compiled code (`KEY.cwasm`, mapped straight from the
    /// file by wasmtime) and a seal beside it (`KEY.seal`: magic and the
    /// code's BLAKE3 digest), written after the code, so only a complete
    /// entry is ever trusted.
    fn load(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let seal = std::fs::read(path.with_extension("seal")).ok()?;
        let digest = seal.strip_prefix(MAGIC.as_slice())?;
        let file = std::fs::File::open(path).ok()?;
        if !owned_privately(&file)
            || !owned_privately(&std::fs::File::open(path.with_extension("seal")).ok()?)
        {
            return None;
        }
        // SAFETY: the map is read-only and only read here; entries are
        // replaced by rename, never modified in place.
        let code = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        if blake3::hash(&code).as_bytes().as_slice() != digest {
            return None;
        }
        drop(code);
        // SAFETY: the entry was written by `store` below (magic, ownership and
        // digest checked above) from a component this engine compiled, and
        // its key includes the engine's compatibility hash.
        unsafe { Component::deserialize_file(engine, path) }.ok()
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        create_private_dir(&self.dir)?;
        let body = component.serialize()?;
        let write = |target: &Path, parts: &[&[u8]]| -> anyhow::Result<()> {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            for part in parts {
                tmp.write_all(part)?;
            }
            tmp.as_file().sync_all()?;
            tmp.persist(target)?;
            Ok(())
        };
        write(path, &[&body])?;
        write(
            &path.with_extension("seal"),
            &[MAGIC, blake3::hash(&body).as_bytes()],
        )
    }
}

/// sha256 over the component's digest and the engine's compatibility hash.
fn entry_key(engine: &Engine, digest: &str) -> String {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = ShaHasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hasher.0.update(digest.as_bytes());
    format!("{:x}", hasher.0.finalize())
}

#[cfg(unix)]
fn owned_privately(file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else {
        return false;
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    meta.uid() == uid && meta.mode() & 0o022 == 0
}

#[cfg(not(unix))]
fn owned_privately(_file: &std::fs::File) -> bool {
    true
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
