//! A stack at one version: its definition and its components' bytes, each
//! checked against the sha256 the stack declares.

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
