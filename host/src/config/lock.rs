//! `cairn.lock`: exactly what `generate` wrote, so that later runs can tell
//! hand edits from generated content and `verify` can prove the repo
//! matches. Written by cairn only, yet read as untrusted: a pull request can
//! change it, so every path in it is checked before anything is read or
//! deleted because of it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The largest `cairn.lock` cairn reads.
const MAX_LOCK: u64 = 16 << 20;

/// `cairn.lock`: exactly what was generated, so that later runs can tell
/// hand edits from generated content and prove the repo matches.
///
/// A lock written by `cairn bootstrap` before the first `generate` holds
/// only `flux`; [`Lock::is_generated`] tells the two apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Lock {
    pub lock_version: u32,
    #[serde(default, skip_serializing_if = "LockedStack::is_empty")]
    pub stack: LockedStack,
    /// The other stacks of cairn.yaml's `stacks:`, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<LockedStack>,
    /// sha256 of the effective values (defaults included) of every enabled
    /// component, with secret values as their references (never the
    /// secrets themselves).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub values_sha256: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, LockedComponent>,
    /// Every generated file, relative to the output directory, with the
    /// sha256 of the content cairn generated.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Generated files with hand edits that `generate` kept or merged, with
    /// the sha256 of the file as it left them: `verify` accepts these, and
    /// fails on edits made since.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub edits: BTreeMap<String, String>,
    /// Every object sealed for the recipients (`PATH#Kind/namespace/name`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub sealed: std::collections::BTreeSet<String>,
    /// What earlier versions kept per sealed object (salted digests of the
    /// plaintext): read so that their locks still open, never written again.
    #[serde(default, rename = "secrets", skip_serializing)]
    pub legacy_digests: BTreeMap<String, serde_yaml::Value>,
    /// Flux's install manifests, as `cairn bootstrap` wrote them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<LockedFlux>,
}

/// The Flux release bootstrap installed, and the digest of its manifests,
/// checked whenever they are downloaded again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedFlux {
    pub version: String,
    pub sha256: String,
    /// The download URL, or `file` / `flux CLI`.
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedStack {
    pub name: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The names its components were given here (another stack only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alias: BTreeMap<String, String>,
    /// The fingerprint of the key whose signature on the release was
    /// verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Run without a signature check, as cairn.yaml opted out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedComponent {
    pub version: String,
    pub sha256: String,
    /// The source of the stack it comes from, when not the main one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

const LOCK_HEADER: &str =
    "# Written by cairn; do not edit. `cairn verify` checks the repo against it.\n";

impl LockedStack {
    fn is_empty(&self) -> bool {
        self.source.is_empty()
    }
}

impl Lock {
    pub const VERSION: u32 = 1;

    /// Whether `generate` wrote this lock (else only bootstrap did).
    pub fn is_generated(&self) -> bool {
        !self.stack.is_empty()
    }

    /// Reads the lock at `path`; `None` when there is none yet.
    pub fn read(path: &Path) -> anyhow::Result<Option<Self>> {
        let text = match crate::files::read_text_bounded(path, MAX_LOCK) {
            Ok(Some(text)) => text,
            Ok(None) => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        Self::parse(&text, path).map(Some)
    }

    /// Parses and checks the text of the lock at `path`.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Self> {
        let lock: Lock = crate::yaml::from_str(text).with_context(|| {
            format!(
                "{} is corrupt; restore it from git (`git checkout -- {}`), or delete it to start over (your edits to generated files will then count as conflicts)",
                path.display(),
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        })?;
        let restore = || {
            format!(
                "{} is written by cairn only; restore it from git (`git checkout -- {}`)",
                path.display(),
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        };
        for (file, hash) in lock.files.iter().chain(&lock.edits) {
            if let Err(why) = super::layout::check_generated_path(file) {
                bail!(
                    "{}: files: {:?}: the path {why}. {}",
                    path.display(),
                    crate::text::one_line(file, 200),
                    restore()
                );
            }
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "{}: files: {:?}: {:?} is not a sha256. {}",
                    path.display(),
                    crate::text::one_line(file, 200),
                    crate::text::one_line(hash, 80),
                    restore()
                );
            }
        }
        if lock.lock_version != Self::VERSION {
            bail!(
                "{} has lock version {}, this cairn reads version {}; upgrade cairn",
                path.display(),
                lock.lock_version,
                Self::VERSION
            );
        }
        Ok(lock)
    }

    pub fn to_text(&self) -> String {
        format!(
            "{LOCK_HEADER}{}",
            serde_yaml::to_string(self).expect("the lock serialises")
        )
    }
}
