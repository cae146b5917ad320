//! `verify`: proves the repo matches its lock: re-renders exactly what the
//! lock pins and compares it, and the files on disk, with the lock.

use std::collections::BTreeSet;

use anyhow::bail;
use serde::Serialize;

use super::Options;
use super::session::{Access, Session};
use super::tree::generate_tree;
use crate::compose::Tree;
use crate::repo;
use crate::secrets::PreviousCiphertext;

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Files edited since the last generate: neither what it generated
    /// nor the hand edit it accepted.
    pub edited: Vec<String>,
    /// Files with hand edits the last generate accepted (fine).
    pub accepted: Vec<String>,
    pub missing: Vec<String>,
    /// Files the lock names that the locked inputs no longer render the
    /// same (values changed, or a component is not deterministic).
    pub drift: Vec<String>,
    pub values_changed: bool,
    /// Generated files that now hold a plaintext secret or key.
    pub plaintext: Vec<Plaintext>,
    /// Sealed objects no identity here opens, so whether they still hold
    /// what the locked inputs render could not be checked.
    pub unchecked: Vec<String>,
}

/// A generated file that holds a plaintext secret or key, and why cairn
/// thinks so.
#[derive(Debug, Serialize)]
pub struct Plaintext {
    pub path: String,
    pub why: String,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.edited.is_empty()
            && self.missing.is_empty()
            && self.drift.is_empty()
            && !self.values_changed
            && self.plaintext.is_empty()
    }
}

/// `cairn verify`: re-renders exactly what the lock pins and compares it,
/// and the files on disk, with the lock.
pub fn verify(options: &Options) -> anyhow::Result<VerifyReport> {
    let session = Session::open(options, Access::Read)?;
    let Some(lock) = session.lock.clone() else {
        bail!(
            "{} has no {} yet; run `cairn generate` first",
            session.project.root.display(),
            crate::config::LOCK_FILE
        );
    };
    let source = session.source(options, false)?;
    let stack = session.locked_stack(options, &source, &lock)?;
    let generated = generate_tree(
        &session.runtime,
        &*options.sandbox.progress,
        &session.project,
        stack,
        Some(&lock),
        PreviousCiphertext::KeepUnopened,
    )?;
    let mut report = VerifyReport {
        values_changed: generated.lock.values_sha256 != lock.values_sha256,
        unchecked: generated.rendering.unopened.iter().cloned().collect(),
        ..VerifyReport::default()
    };
    let paths: BTreeSet<&String> = lock
        .files
        .keys()
        .chain(generated.lock.files.keys())
        .collect();
    for path in paths {
        if lock.files.get(path) != generated.lock.files.get(path) {
            report.drift.push(path.clone());
        }
    }
    let disk = repo::scan(&session.project.output_dir(), &Tree::new(), Some(&lock))?;
    report.missing = disk
        .iter()
        .filter(|(_, content)| content.is_none())
        .map(|(path, _)| path.clone())
        .collect();
    report.edited = repo::unaccepted(&lock, &disk);
    report.accepted = lock.edits.keys().cloned().collect();
    report.plaintext = crate::secrets::scan_plaintext(&session.project.output_dir())
        .into_iter()
        .map(|(path, why)| Plaintext { path, why })
        .collect();
    Ok(report)
}
