//! A stack at one version: its definition and its components' bytes, each
//! checked against the sha256 the stack declares.

use std::path::PathBuf;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::cache::CacheKey;
use crate::config::{STACK_FILE, StackDefinition};
use crate::source::{Pin, Snapshot, StackSource};

/// The largest `stack.yaml` cairn reads.
const MAX_STACK_FILE: u64 = 1 << 20;

pub struct Stack {
    /// The main stack's definition, with the components of the included
    /// stacks appended under the names they have here.
    pub definition: StackDefinition,
    pub pin: Pin,
    pub snapshot: Snapshot,
    /// Other stacks whose components joined this one's.
    pub included: Vec<Included>,
    /// For each component of an included stack (by its name here): which
    /// one, and its name there.
    origins: std::collections::BTreeMap<String, (usize, String)>,
}

/// A stack whose components joined the main one's (cairn.yaml `stacks:`).
pub struct Included {
    /// The name its `stack.yaml` gives it.
    pub name: String,
    /// Where it comes from, as cairn.yaml says.
    pub source: String,
    pub pin: Pin,
    /// Its components' names there, to their names here, where they differ.
    pub alias: std::collections::BTreeMap<String, String>,
    snapshot: Snapshot,
}

impl Stack {
    /// Adds the components of `other` (from `source`), renamed by `alias`.
    /// Names must stay unique across stacks: a clash is refused with the
    /// alias that resolves it.
    pub fn include(
        &mut self,
        other: Stack,
        source: &str,
        alias: &std::collections::BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let theirs: Vec<&str> = other
            .definition
            .components
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        for from in alias.keys() {
            if !theirs.contains(&from.as_str()) {
                bail!(
                    "stack {} ({source}) has no component {from:?} to alias{}; its components are: {}",
                    other.definition.name,
                    crate::config::did_you_mean(from, &theirs),
                    theirs.join(", ")
                );
            }
        }
        let index = self.included.len();
        for component in &other.definition.components {
            let here = alias
                .get(&component.name)
                .cloned()
                .unwrap_or_else(|| component.name.clone());
            if self.definition.component(&here).is_some() {
                let owner = match self.origins.get(&here) {
                    Some((i, _)) => format!("stack {}", self.included[*i].name),
                    None => format!("the main stack {}", self.definition.name),
                };
                bail!(
                    "component {here:?} of stack {} ({source}) has the name of a component of {owner}; give one of them another name here: under the entry of {source} in `stacks:` of cairn.yaml, `alias: {{{}: {}-{}}}`",
                    other.definition.name,
                    component.name,
                    other.definition.name,
                    component.name,
                );
            }
            let mut joined = component.clone();
            joined.name = here.clone();
            self.definition.components.push(joined);
            self.origins.insert(here, (index, component.name.clone()));
        }
        self.included.push(Included {
            name: other.definition.name,
            source: source.to_string(),
            pin: other.pin,
            alias: alias.clone(),
            snapshot: other.snapshot,
        });
        Ok(())
    }

    /// The included stack component `name` comes from; `None` for the main
    /// stack's own.
    pub fn stack_of(&self, name: &str) -> Option<&Included> {
        self.origins.get(name).map(|(i, _)| &self.included[*i])
    }

    /// Where component `name`'s bytes are read from.
    fn snapshot_of(&self, name: &str) -> &Snapshot {
        match self.origins.get(name) {
            Some((i, _)) => &self.included[*i].snapshot,
            None => &self.snapshot,
        }
    }

    /// Reads `stack.yaml` of `source` at `pin`.
    pub fn load(source: &StackSource, pin: Pin) -> anyhow::Result<Self> {
        let snapshot = source.snapshot(&pin)?;
        let bytes = snapshot.read(STACK_FILE, MAX_STACK_FILE).with_context(|| {
            format!(
                "{} is not a cairn stack (no {STACK_FILE})",
                snapshot.label()
            )
        })?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{STACK_FILE} in {} is not UTF-8", snapshot.label()))?;
        let definition =
            StackDefinition::parse(&text, &format!("{STACK_FILE} in {}", snapshot.label()))?;
        Ok(Self {
            definition,
            pin,
            snapshot,
            included: Vec::new(),
            origins: Default::default(),
        })
    }

    /// The sha256 of component `name`, checked against `stack.yaml`, and its
    /// bytes if they had to be read. A component whose content was hashed
    /// before (same git blob, or same unchanged file) is not read again:
    /// `records` remembers content ids with their sha256.
    pub fn component_digest(
        &self,
        name: &str,
        records: &DigestRecords,
        max_size: u64,
    ) -> anyhow::Result<(String, Option<Vec<u8>>)> {
        let component = self
            .definition
            .component(name)
            .with_context(|| format!("stack {} has no component {name:?}", self.definition.name))?;
        // Whatever was hashed before, a component over the size limit is
        // refused (by reading it, below) as when nothing was cached.
        let id = self
            .snapshot_of(name)
            .content_id(&component.path)
            .filter(|(_, size)| *size <= max_size)
            .map(|(id, _)| id);
        if let Some(sha) = id.as_deref().and_then(|id| records.get(id)) {
            if !sha.eq_ignore_ascii_case(&component.sha256) {
                bail!(
                    "component {name:?}: {} has sha256 {sha}, but {STACK_FILE} declares {}; the stack was tampered with or not rebuilt (`cairn stack build`). Refusing to run it",
                    component.path,
                    component.sha256
                );
            }
            return Ok((sha, None));
        }
        let (wasm, sha) = self.component_wasm(name, max_size)?;
        if let Some(id) = id {
            records.put(&id, &sha);
        }
        Ok((sha, Some(wasm)))
    }

    /// Returns the bytes and their sha256; a file larger than `max_size` is
    /// refused before it is read.
    pub fn component_wasm(&self, name: &str, max_size: u64) -> anyhow::Result<(Vec<u8>, String)> {
        let component = self
            .definition
            .component(name)
            .with_context(|| format!("stack {} has no component {name:?}", self.definition.name))?;
        read_component(
            self.snapshot_of(name),
            name,
            &component.path,
            &component.sha256,
            max_size,
        )
    }

    /// Reads component `name`'s bytes whenever called, checked like
    /// [`Stack::component_wasm`]; `first` are bytes already read and
    /// checked, handed out on the first call. Owns what it needs, so the
    /// runtime can keep it until it must compile the component.
    pub fn component_source(
        &self,
        name: &str,
        max_size: u64,
        first: Option<Vec<u8>>,
    ) -> anyhow::Result<crate::runtime::Source> {
        let component = self
            .definition
            .component(name)
            .with_context(|| format!("stack {} has no component {name:?}", self.definition.name))?;
        let snapshot = self.snapshot_of(name).clone();
        let (name, path, sha256) = (
            name.to_string(),
            component.path.clone(),
            component.sha256.clone(),
        );
        let first = std::sync::Mutex::new(first);
        Ok(Box::new(move || {
            if let Some(bytes) = first.lock().ok().and_then(|mut f| f.take()) {
                return Ok(bytes);
            }
            read_component(&snapshot, &name, &path, &sha256, max_size).map(|(bytes, _)| bytes)
        }))
    }
}

/// The bytes of component `name` at `path` and their sha256, refused when
/// larger than `max_size` (before reading) or when they are not what
/// stack.yaml declares (`declared`).
fn read_component(
    snapshot: &Snapshot,
    name: &str,
    path: &str,
    declared: &str,
    max_size: u64,
) -> anyhow::Result<(Vec<u8>, String)> {
    let wasm = snapshot.read(path, max_size).map_err(|err| {
        match err.downcast_ref::<crate::source::TooLarge>() {
            Some(too_large) => anyhow::anyhow!(
                "component {name:?}: {too_large}; raise --limit component-size if you trust it"
            ),
            None => err,
        }
    })?;
    let actual = format!("{:x}", Sha256::digest(&wasm));
    if !actual.eq_ignore_ascii_case(declared) {
        bail!(
            "component {name:?}: {path} has sha256 {actual}, but {STACK_FILE} declares {declared}; the stack was tampered with or not rebuilt (`cairn stack build`). Refusing to run it"
        );
    }
    Ok((wasm, actual))
}

/// Content ids with the sha256 of their content, under the user's cache,
/// each sealed with the cache key: a record someone else wrote into the
/// cache is ignored, never trusted in place of hashing.
pub struct DigestRecords {
    dir: PathBuf,
    key: Option<CacheKey>,
}

impl DigestRecords {
    /// Records in `dir`; without a key, none are read or written.
    pub fn at(dir: PathBuf, key: Option<CacheKey>) -> Self {
        Self { dir, key }
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir
            .join(format!("{:x}", Sha256::digest(id.as_bytes())))
    }

    fn get(&self, id: &str) -> Option<String> {
        let key = self.key.as_ref()?;
        let text = crate::files::read_text_bounded(&self.path(id), 4096).ok()??;
        let mut lines = text.lines();
        let (recorded_id, sha, mac) = (lines.next()?, lines.next()?, lines.next()?);
        let mac = hex_bytes(mac)?;
        let valid = recorded_id == id
            && sha.len() == 64
            && sha.bytes().all(|b| b.is_ascii_hexdigit())
            && key.verify(&[id.as_bytes(), sha.as_bytes()], &mac);
        valid.then(|| sha.to_string())
    }

    /// Remembers `sha` for `id`; a record that cannot be written only costs
    /// a hash next time.
    fn put(&self, id: &str, sha: &str) {
        let Some(key) = &self.key else { return };
        let mac: String = key
            .seal(&[id.as_bytes(), sha.as_bytes()])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let _ = std::fs::create_dir_all(&self.dir).and_then(|_| {
            let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
            std::fs::write(tmp.path(), format!("{id}\n{sha}\n{mac}\n"))?;
            tmp.persist(self.path(id)).map(|_| ()).map_err(|e| e.error)
        });
    }
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}
