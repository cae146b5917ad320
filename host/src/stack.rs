//! A stack at one version: its definition and its components' bytes, each
//! checked against the sha256 the stack declares.

use std::path::PathBuf;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::config::{STACK_FILE, StackDefinition};
use crate::source::{Pin, Snapshot, StackSource};

pub struct Stack {
    pub definition: StackDefinition,
    pub pin: Pin,
    pub snapshot: Snapshot,
}

impl Stack {
    /// Reads `stack.yaml` of `source` at `pin`.
    pub fn load(source: &StackSource, pin: Pin) -> anyhow::Result<Self> {
        let snapshot = source.snapshot(&pin)?;
        let bytes = snapshot.read(STACK_FILE).with_context(|| {
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
        })
    }

    /// The `.wasm` of component `name`, refused if its sha256 is not the one
    /// `stack.yaml` declares.
    /// The sha256 of component `name`, checked against `stack.yaml`, and its
    /// bytes if they had to be read. A component whose content was hashed
    /// before (same git blob, or same unchanged file) is not read again:
    /// `records` remembers content ids with their sha256.
    pub fn component_digest(
        &self,
        name: &str,
        records: &DigestRecords,
    ) -> anyhow::Result<(String, Option<Vec<u8>>)> {
        let component = self
            .definition
            .component(name)
            .with_context(|| format!("stack {} has no component {name:?}", self.definition.name))?;
        let id = self.snapshot.content_id(&component.path);
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
        let (wasm, sha) = self.component_wasm(name)?;
        if let Some(id) = id {
            records.put(&id, &sha);
        }
        Ok((sha, Some(wasm)))
    }

    /// Returns the bytes and their sha256.
    pub fn component_wasm(&self, name: &str) -> anyhow::Result<(Vec<u8>, String)> {
        let component = self
            .definition
            .component(name)
            .with_context(|| format!("stack {} has no component {name:?}", self.definition.name))?;
        let wasm = self.snapshot.read(&component.path)?;
        let actual = format!("{:x}", Sha256::digest(&wasm));
        if !actual.eq_ignore_ascii_case(&component.sha256) {
            bail!(
                "component {name:?}: {} has sha256 {actual}, but {STACK_FILE} declares {}; the stack was tampered with or not rebuilt (`cairn stack build`). Refusing to run it",
                component.path,
                component.sha256
            );
        }
        Ok((wasm, actual))
    }
}

/// Content ids with the sha256 of their content, under the user's cache.
pub struct DigestRecords(PathBuf);

impl DigestRecords {
    pub fn at(dir: PathBuf) -> Self {
        Self(dir)
    }

    fn path(&self, id: &str) -> PathBuf {
        self.0.join(format!("{:x}", Sha256::digest(id.as_bytes())))
    }

    fn get(&self, id: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.path(id)).ok()?;
        let (recorded_id, sha) = text.split_once('\n')?;
        let sha = sha.trim();
        (recorded_id == id && sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| sha.to_string())
    }

    /// Remembers `sha` for `id`; a record that cannot be written only costs
    /// a hash next time.
    fn put(&self, id: &str, sha: &str) {
        let _ = std::fs::create_dir_all(&self.0).and_then(|_| {
            let tmp = tempfile::NamedTempFile::new_in(&self.0)?;
            std::fs::write(tmp.path(), format!("{id}\n{sha}\n"))?;
            tmp.persist(self.path(id)).map(|_| ()).map_err(|e| e.error)
        });
    }
}
