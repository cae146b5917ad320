//! The compiled-component cache, under the user cache (see `crate::cache`).
//!
//! Compiling a component with Cranelift takes from milliseconds (Rust, ~100 KB)
//! to tens of seconds (JavaScript and Python, ~15 MB). cairn compiles each
//! component once per engine configuration and keeps the machine code here.
//!
//! Loading machine code is `unsafe`: wasmtime trusts a precompiled artifact
//! completely. So an entry is only ever loaded if cairn itself wrote it,
//! even when someone else can write files in the cache (a CI cache restored
//! from an untrusted run, a shared or world-writable cache directory):
//! - the key is the sha256 of the component's bytes plus wasmtime's engine
//!   compatibility hash, so a changed component or engine misses;
//! - each entry is sealed by a keyed BLAKE3 MAC over its key and its bytes,
//!   written after the code. The MAC key ([`CacheKey`]) lives outside the
//!   cache, in the user's data directory, so whoever can write the cache
//!   cannot forge a seal;
//! - the code is opened once, checked over a map of that open file, and
//!   loaded from that same file (through `/proc/self/fd` on Linux), so what
//!   is loaded is what was checked; it is never copied, so a warm load of a
//!   40 MB JavaScript component costs a map and a hash;
//! - entries are written to a temporary file and renamed into place, so
//!   concurrent runs never see half an entry; the directory is private
//!   (0700), and an entry not owned by the current user, or writable by
//!   others, is ignored.
//!
//! What `describe` returned is kept beside the code under the same seal,
//! and so are the results of `facts` and `render` calls (memoized renders:
//! a call is a pure function of the component, the engine, its input and
//! the limits, so an identical call is answered from here).

use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Identifies entries written by cairn, and the entry format version.
const MAGIC: &[u8; 12] = b"cairn-seal-2";
/// The largest compiled entry read back (the JavaScript and Python
/// components compile to about 40 MB).
const MAX_ENTRY: u64 = 1 << 30;
/// The largest kept result read back: a render's output is at most
/// `output-total` (16 MiB by default), its log and JSON framing aside.
const MAX_RESULT: u64 = 64 << 20;

use crate::cache::{CacheKey, create_private_dir, owned_privately};

/// Compiled components and what they described, under the user cache.
pub struct CodeCache {
    dir: PathBuf,
    key: Option<CacheKey>,
}

impl CodeCache {
    /// The user's (`$XDG_CACHE_HOME/cairn/compiled` on Linux), sealed with
    /// the user's [`CacheKey`].
    pub fn user_default() -> anyhow::Result<Self> {
        Ok(Self::at(crate::cache::dir("compiled")?, CacheKey::user()))
    }

    /// A cache in `dir`; without a key, entries are neither loaded nor stored.
    pub fn at(dir: PathBuf, key: Option<CacheKey>) -> Self {
        Self { dir, key }
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
        let key = entry_key(engine, digest);
        if let Some(component) = self.load(engine, &key) {
            return Ok((component, true));
        }
        let component = Component::new(engine, wasm()?)?;
        // A cache that cannot be written is slower, not broken.
        let _ = self.store(&key, &component);
        Ok((component, false))
    }

    /// What the component's `describe` returned and what it imports, kept
    /// beside its compiled code (`KEY.about`, sealed like the code); `None`
    /// when absent or not authentic, and the caller describes it again.
    pub fn load_description<T: serde::de::DeserializeOwned>(
        &self,
        engine: &Engine,
        digest: &str,
    ) -> Option<T> {
        self.load_result(engine, digest, "about")
    }

    /// Stores a description; a failure only costs a describe later.
    pub fn store_description<T: serde::Serialize>(&self, engine: &Engine, digest: &str, value: &T) {
        self.store_result(engine, digest, "about", value);
    }

    /// The result of a call kept as `KEY.NAME` (`NAME` says which call on
    /// which input, see `Runtime::render`), sealed like the code, so that
    /// whoever can write the cache cannot make cairn take output it did
    /// not compute. `None` when absent or not authentic.
    pub fn load_result<T: serde::de::DeserializeOwned>(
        &self,
        engine: &Engine,
        digest: &str,
        name: &str,
    ) -> Option<T> {
        let key = entry_key(engine, digest);
        let bytes = self.read_sealed(&key, name, MAX_RESULT)?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Keeps the result of a call; a failure only costs the call later.
    pub fn store_result<T: serde::Serialize>(
        &self,
        engine: &Engine,
        digest: &str,
        name: &str,
        value: &T,
    ) {
        let key = entry_key(engine, digest);
        if let Ok(json) = serde_json::to_vec(value) {
            let _ = self.write_sealed(&key, name, &json);
        }
    }

    /// An entry is `KEY.EXT`: the magic, the MAC of (extension, key, body),
    /// then the body. Returns the body when the entry is private, complete
    /// and authentic.
    fn read_sealed(&self, key: &str, ext: &str, max: u64) -> Option<Vec<u8>> {
        let mac_key = self.key.as_ref()?;
        let path = self.dir.join(format!("{key}.{ext}"));
        let file = std::fs::File::open(&path).ok()?;
        if !owned_privately(&file) {
            return None;
        }
        let mut bytes = crate::files::read_bounded(&path, max).ok()??;
        let header = MAGIC.len() + 32;
        if bytes.len() < header || bytes[..MAGIC.len()] != *MAGIC {
            return None;
        }
        let body = &bytes[header..];
        if !mac_key.verify(
            &[ext.as_bytes(), key.as_bytes(), body],
            &bytes[MAGIC.len()..header],
        ) {
            return None;
        }
        bytes.drain(..header);
        Some(bytes)
    }

    fn write_sealed(&self, key: &str, ext: &str, body: &[u8]) -> anyhow::Result<()> {
        let Some(mac_key) = &self.key else {
            return Ok(());
        };
        create_private_dir(&self.dir)?;
        let mac = mac_key.seal(&[ext.as_bytes(), key.as_bytes(), body]);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(&mac)?;
        tmp.write_all(body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.dir.join(format!("{key}.{ext}")))?;
        Ok(())
    }

    /// The compiled code is `KEY.cwasm`, exactly what wasmtime serialised
    /// (so it can be mapped straight from the file, as wasmtime needs its
    /// code page-aligned), and its seal `KEY.seal`: the magic and the MAC of
    /// ("cwasm", key, code), written after the code.
    ///
    /// The code is opened once; its seal is checked over a map of that open
    /// file, and wasmtime maps the very same file through `/proc/self/fd`,
    /// so what is loaded is what was checked (the file is the user's own
    /// and writable by nobody else, so its content cannot change between).
    fn load(&self, engine: &Engine, key: &str) -> Option<Component> {
        let mac_key = self.key.as_ref()?;
        let path = self.dir.join(format!("{key}.cwasm"));
        let file = std::fs::File::open(&path).ok()?;
        let seal = self.read_seal(key)?;
        if !owned_privately(&file) || file.metadata().ok()?.len() > MAX_ENTRY {
            return None;
        }
        // SAFETY: a read-only private map of a file only this user may
        // write; it is dropped before wasmtime maps the file itself.
        let code = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        if !mac_key.verify(&[b"cwasm", key.as_bytes(), &code], &seal) {
            return None;
        }
        drop(code);
        #[cfg(target_os = "linux")]
        let checked = {
            use std::os::fd::AsRawFd;
            std::path::PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
        };
        #[cfg(not(target_os = "linux"))]
        let checked = path.clone();
        // SAFETY: the file was sealed by `store` below with a key only this
        // user holds, from a component this engine compiled (the key
        // includes the engine's compatibility hash), and it is the file
        // whose seal was just checked.
        let component = unsafe { Component::deserialize_file(engine, &checked) }.ok();
        drop(file);
        component
    }

    /// The MAC in `KEY.seal`, when the seal is the user's own and whole.
    fn read_seal(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(format!("{key}.seal"));
        let file = std::fs::File::open(&path).ok()?;
        if !owned_privately(&file) {
            return None;
        }
        let bytes = crate::files::read_bounded(&path, 1024).ok()??;
        let mac = bytes.strip_prefix(MAGIC.as_slice())?;
        (mac.len() == 32).then(|| mac.to_vec())
    }

    fn store(&self, key: &str, component: &Component) -> anyhow::Result<()> {
        let Some(mac_key) = &self.key else {
            return Ok(());
        };
        create_private_dir(&self.dir)?;
        let code = component.serialize()?;
        let write = |target: &Path, parts: &[&[u8]]| -> anyhow::Result<()> {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            for part in parts {
                tmp.write_all(part)?;
            }
            tmp.as_file().sync_all()?;
            tmp.persist(target)?;
            Ok(())
        };
        write(&self.dir.join(format!("{key}.cwasm")), &[&code])?;
        let mac = mac_key.seal(&[b"cwasm", key.as_bytes(), &code]);
        write(&self.dir.join(format!("{key}.seal")), &[MAGIC, &mac])
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
