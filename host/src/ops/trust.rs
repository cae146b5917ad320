//! `trust`: accepts a new key to sign the main stack's releases. The only
//! way a key gets into `stack.signers` besides `init`: the user names the
//! fingerprint they checked with the publisher, cairn finds the release
//! signed by it, shows the keys trusted before and the new one, and adds
//! it.

use anyhow::{Context, bail};
use serde::Serialize;

use super::Options;
use super::session::{open_source, release_signer};

/// What `trust` did.
#[derive(Debug, Serialize)]
pub struct TrustReport {
    pub stack: String,
    /// The release whose signature was checked.
    pub release: String,
    /// The fingerprints trusted before.
    pub before: Vec<String>,
    /// The fingerprint trusted now, besides them.
    pub added: String,
    /// Whether it was trusted already (nothing written).
    pub already: bool,
}

/// `cairn trust FINGERPRINT`: finds the release `version` names (default:
/// the newest cairn.yaml's requirement allows), checks its signature, and
/// when its key is `fingerprint`, adds the key to `stack.signers`.
pub fn trust(
    options: &Options,
    fingerprint: &str,
    version: Option<&str>,
) -> anyhow::Result<TrustReport> {
    let project = options.project()?;
    let stack = &project.config.stack;
    if stack.unsigned {
        bail!(
            "{}: `stack.unsigned: true` turns signature checks off; remove it to trust a key instead",
            project.config_path.display()
        );
    }
    let source = open_source(&stack.source, &project.root, options, true)?;
    if !source.is_git() {
        bail!(
            "stack {} is a plain directory: it has no releases to sign",
            stack.source
        );
    }
    let pin = source.resolve(version.or(stack.version.as_deref()))?;
    let signer = release_signer(&source, &pin, &stack.source, "so there is no key to trust")?;
    if signer.fingerprint != fingerprint.trim() {
        bail!(
            "release {} of stack {} is signed by {}, not by {}; check the fingerprint with the publisher",
            pin.describe(),
            stack.source,
            signer.fingerprint,
            fingerprint.trim()
        );
    }
    let before: Vec<String> = stack
        .signers
        .iter()
        .filter_map(|k| crate::signing::parse_key(k).ok())
        .map(|k| k.fingerprint)
        .collect();
    let already = before.contains(&signer.fingerprint);
    if !already {
        let origin = project.config_path.display().to_string();
        let text = crate::edit::append_strings(
            &project.text,
            &origin,
            &["stack", "signers"],
            std::slice::from_ref(&signer.key),
        )?;
        crate::files::write_atomic(&project.config_path, text.as_bytes())
            .with_context(|| format!("cannot write {origin}"))?;
    }
    Ok(TrustReport {
        stack: stack.source.clone(),
        release: pin.describe(),
        before,
        added: signer.fingerprint,
        already,
    })
}
