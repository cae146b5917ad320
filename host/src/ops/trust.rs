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
/// the newest), checks its signature, and when its key is `fingerprint`,
/// adds the key to the stack's `signers` (the main stack's, or with
/// `other` that of one of `stacks:`).
pub fn trust(
    options: &Options,
    fingerprint: &str,
    version: Option<&str>,
    other: Option<&str>,
) -> anyhow::Result<TrustReport> {
    let project = options.project()?;
    // The main stack, or one of `stacks:` by its source or the name its
    // lock records.
    let (key, spec, signers, unsigned) = match other {
        None => {
            let stack = &project.config.stack;
            (
                "stack".to_string(),
                &stack.source,
                &stack.signers,
                stack.unsigned,
            )
        }
        Some(wanted) => {
            let lock = crate::config::Lock::read(&project.lock_path())?;
            let named = |source: &str| {
                lock.as_ref()
                    .and_then(|l| l.stacks.iter().find(|s| s.source == source))
                    .is_some_and(|s| s.name == wanted)
            };
            let (i, more) = project
                .config
                .stacks
                .iter()
                .enumerate()
                .find(|(_, m)| m.source == wanted || named(&m.source))
                .with_context(|| {
                    format!(
                        "{} has no other stack {wanted:?} under `stacks:`",
                        project.config_path.display()
                    )
                })?;
            (
                format!("stacks[{i}]"),
                &more.source,
                &more.signers,
                more.unsigned,
            )
        }
    };
    if unsigned {
        bail!(
            "{}: `{key}.unsigned: true` turns signature checks off; remove it to trust a key instead",
            project.config_path.display()
        );
    }
    let source = open_source(spec, &project.root, options, true)?;
    if !source.is_git() {
        bail!("stack {spec} is a plain directory: it has no releases to sign");
    }
    // By default the newest release: the one an update moves to.
    let pin = source.resolve(version)?;
    let signer = release_signer(&source, &pin, spec, "so there is no key to trust")?;
    if signer.fingerprint != fingerprint.trim() {
        bail!(
            "release {} of stack {spec} is signed by {}, not by {}; check the fingerprint with the publisher",
            pin.describe(),
            signer.fingerprint,
            fingerprint.trim()
        );
    }
    let before: Vec<String> = signers
        .iter()
        .filter_map(|k| crate::signing::parse_key(k).ok())
        .map(|k| k.fingerprint)
        .collect();
    let already = before.contains(&signer.fingerprint);
    if !already {
        let origin = project.config_path.display().to_string();
        let text = match other {
            None => crate::edit::append_strings(
                &project.text,
                &origin,
                &["stack", "signers"],
                std::slice::from_ref(&signer.key),
            )?,
            Some(_) => {
                let all: Vec<serde_yaml::Value> = signers
                    .iter()
                    .chain(std::iter::once(&signer.key))
                    .map(|k| serde_yaml::Value::from(k.as_str()))
                    .collect();
                crate::edit::set_value_in_item(
                    &project.text,
                    &origin,
                    "stacks",
                    ("source", spec),
                    "signers",
                    &serde_yaml::Value::Sequence(all),
                )?
            }
        };
        crate::files::write_atomic(&project.config_path, text.as_bytes())
            .with_context(|| format!("cannot write {origin}"))?;
    }
    Ok(TrustReport {
        stack: spec.clone(),
        release: pin.describe(),
        before,
        added: signer.fingerprint,
        already,
    })
}
