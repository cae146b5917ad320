//! A project opened for a command: its config, its lock, and the stack at
//! the version to render. Commands that write complete an interrupted
//! `generate` on opening; the others refuse a half-applied repo.

use std::path::Path;

use anyhow::{Context, bail};

use super::Options;
use super::tree::{Generated, generate_tree};
use crate::config::{Lock, LockedStack, Project, Trust};
use crate::repo;
use crate::runtime::Runtime;
use crate::secrets::PreviousCiphertext;
use crate::source::{Pin, SourceOptions, StackSource};
use crate::stack::Stack;

/// Opens the stack source `spec` (relative paths from `base`); `fetch`
/// updates a cached clone of a remote one unless `options.offline`.
pub(super) fn open_source(
    spec: &str,
    base: &Path,
    options: &Options,
    fetch: bool,
) -> anyhow::Result<StackSource> {
    let source_options = SourceOptions {
        base,
        cache: crate::cache::dir("git")?,
        offline: options.offline,
        progress: &*options.sandbox.progress,
    };
    StackSource::open(spec, &source_options, fetch)
}

/// A project opened for a command: config, lock and stack source.
pub(super) struct Session {
    pub project: Project,
    /// The lock `generate` wrote, if any.
    pub lock: Option<Lock>,
    /// What `cairn bootstrap` recorded of Flux, carried into every new lock.
    pub flux: Option<crate::config::LockedFlux>,
    pub runtime: std::sync::Arc<Runtime>,
    /// Whether an interrupted apply was completed on opening.
    pub recovered: bool,
}

/// Whether a command may change the repo: only one that may completes an
/// interrupted `generate`; the others refuse to read a half-applied repo.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write,
}

/// Completes an interrupted apply when `access` allows, else refuses to go
/// on while one is pending. Returns whether one was completed.
pub(super) fn settle(project: &Project, access: Access) -> anyhow::Result<bool> {
    let layout = layout(project);
    match access {
        Access::Write => repo::recover(&layout),
        Access::Read if repo::pending(&project.root) => bail!(
            "{}: a `cairn generate` was interrupted here and left .cairn/journal.yaml; run `cairn generate` to complete it (other commands never replay it, and .cairn/ is never committed)",
            project.root.display()
        ),
        Access::Read => repo::discard_staging(&project.root).map(|()| false),
    }
}

pub(super) fn layout(project: &Project) -> repo::Layout {
    repo::Layout::new(&project.root, &project.config.output)
}

impl Session {
    pub fn open(options: &Options, access: Access) -> anyhow::Result<Self> {
        let project = options.project()?;
        let recovered = settle(&project, access)?;
        let lock = Lock::read(&project.lock_path())?;
        let flux = lock.as_ref().and_then(|l| l.flux.clone());
        Ok(Self {
            project,
            lock: lock.filter(Lock::is_generated),
            flux,
            runtime: options.sandbox.runtime()?,
            recovered,
        })
    }

    /// The locked pin, when the lock is for this source and still satisfies
    /// the requirement: then nothing needs fetching.
    fn locked_pin(&self) -> Option<Pin> {
        let lock = self.lock.as_ref()?;
        let stack = &self.project.config.stack;
        still_locked(&lock.stack, &stack.source, stack.version.as_deref())
    }

    /// The source and the version to render: the locked one while it still
    /// satisfies cairn.yaml (no fetch), else the requirement resolved anew.
    /// Refuses when the locked tag now points at another commit: a published
    /// release must never change under its version.
    pub fn pin(&self, options: &Options) -> anyhow::Result<(StackSource, Pin)> {
        let stack = &self.project.config.stack;
        self.pin_of(
            options,
            stack.trust(),
            stack.version.as_deref(),
            self.locked_pin(),
        )
    }

    /// The version of the stack `trust` is about, its release signature
    /// checked (see [`check_release`]).
    fn pin_of(
        &self,
        options: &Options,
        trust: Trust<'_>,
        requirement: Option<&str>,
        locked: Option<Pin>,
    ) -> anyhow::Result<(StackSource, Pin)> {
        let spec = trust.source;
        let source = open_source(spec, &self.project.root, options, locked.is_none())?;
        let Some(mut pin) = locked else {
            let mut pin = source.resolve(requirement)?;
            check_release(trust, &source, &mut pin)?;
            return Ok((source, pin));
        };
        if let (Some(tag), Some(commit)) = (&pin.tag, &pin.commit)
            && let Some(now) = source.versions()?.into_iter().find(|v| v.tag == *tag)
            && now.commit != *commit
        {
            bail!(
                "tag {tag} of stack {spec} now points at commit {}, but {} locked {commit}: the published release changed under the same version (tampering?). Refusing it; ask the stack's authors, and pin a commit in cairn.yaml if you trust it",
                now.commit,
                crate::config::LOCK_FILE
            );
        }
        check_release(trust, &source, &mut pin)?;
        Ok((source, pin))
    }

    /// The stack to render: the main one at [`Session::pin`], with the
    /// components of cairn.yaml's other `stacks:`, each at its locked
    /// version while that satisfies its requirement, else resolved anew.
    /// Returns the main stack's source too.
    pub fn stack(&self, options: &Options) -> anyhow::Result<(StackSource, Stack)> {
        let (source, pin) = self.pin(options)?;
        let mut stack = Stack::load(&source, pin)?;
        for (i, more) in self.project.config.stacks.iter().enumerate() {
            let locked = self.lock.as_ref().and_then(|lock| {
                lock.stacks
                    .iter()
                    .find(|s| s.source == more.source)
                    .and_then(|s| still_locked(s, &more.source, more.version.as_deref()))
            });
            let key = format!("stacks[{i}]");
            let (other_source, pin) =
                self.pin_of(options, more.trust(&key), more.version.as_deref(), locked)?;
            let other = Stack::load(&other_source, pin)?;
            stack.include(other, &more.source, &more.alias)?;
        }
        Ok((source, stack))
    }

    /// The stack exactly as `lock` records it: every stack at its locked
    /// commit, with its locked aliases, read from what is cached (no
    /// fetch). `main` is the main stack's source, opened.
    pub fn locked_stack(
        &self,
        options: &Options,
        main: &StackSource,
        lock: &Lock,
    ) -> anyhow::Result<Stack> {
        let mut pin = pin_of(&lock.stack);
        check_release(self.project.config.stack.trust(), main, &mut pin)?;
        let mut stack = Stack::load(main, pin)?;
        for locked in &lock.stacks {
            let source = open_source(&locked.source, &self.project.root, options, false)?;
            let mut pin = pin_of(locked);
            // As cairn.yaml trusts it; a stack it no longer names must still
            // carry a valid signature by the key the lock recorded.
            let entry = self
                .project
                .config
                .stacks
                .iter()
                .position(|m| m.source == locked.source);
            let key = entry.map_or_else(|| "stacks".to_string(), |i| format!("stacks[{i}]"));
            let recorded: Vec<String> = Vec::new();
            let trust = match entry {
                Some(i) => self.project.config.stacks[i].trust(&key),
                None => Trust {
                    source: &locked.source,
                    key: &key,
                    signers: &recorded,
                    unsigned: locked.unsigned || locked.signer.is_none(),
                },
            };
            check_release(trust, &source, &mut pin)?;
            let other = Stack::load(&source, pin)?;
            stack.include(other, &locked.source, &locked.alias)?;
        }
        Ok(stack)
    }

    /// Renders the stack at the version to use (see [`Session::stack`]).
    pub fn generate(&self, options: &Options) -> anyhow::Result<(StackSource, Generated)> {
        let (source, stack) = self.stack(options)?;
        let mut generated = generate_tree(
            &self.runtime,
            &*options.sandbox.progress,
            &self.project,
            stack,
            self.lock.as_ref(),
            PreviousCiphertext::Reseal,
        )?;
        generated.lock.flux = self.flux.clone();
        Ok((source, generated))
    }

    pub fn source(&self, options: &Options, fetch: bool) -> anyhow::Result<StackSource> {
        open_source(
            &self.project.config.stack.source,
            &self.project.root,
            options,
            fetch,
        )
    }
}

/// Checks the release `pin` names against whom cairn.yaml trusts to sign
/// it (`trust`): its tag must carry a valid SSH signature by one of
/// `signers`, unless cairn.yaml opted out with `unsigned: true`. A plain
/// directory has no releases to sign. Records the signer in `pin`.
pub(super) fn check_release(
    trust: Trust<'_>,
    source: &StackSource,
    pin: &mut Pin,
) -> anyhow::Result<()> {
    if !source.is_git() || trust.unsigned {
        return Ok(());
    }
    let spec = trust.source;
    let key = trust.key;
    let opt_out = format!(
        "or, to run it without, set `unsigned: true` under `{key}` in cairn.yaml (recorded in the lock)"
    );
    let signer = release_signer(source, pin, spec, &opt_out)?;
    let tag = pin.tag.as_deref().unwrap_or_default();
    let trusted: Vec<String> = trust
        .signers
        .iter()
        .filter_map(|k| crate::signing::parse_key(k).ok())
        .map(|k| k.fingerprint)
        .collect();
    if !trusted.contains(&signer.fingerprint) {
        bail!(
            "release {tag} of stack {spec} is signed by {}, a key `{key}.signers` in cairn.yaml does not list ({}); if its publisher changed keys, confirm the new one with them, then run `cairn trust {}`",
            signer.fingerprint,
            if trusted.is_empty() {
                "it lists none".to_string()
            } else {
                format!("it trusts {}", trusted.join(", "))
            },
            signer.fingerprint
        );
    }
    pin.signer = Some(signer.fingerprint);
    Ok(())
}

/// Who signed the release `pin` names, the signature checked (not
/// whether the key is trusted). `instead` says what else the user can do
/// when there is no signature.
pub(super) fn release_signer(
    source: &StackSource,
    pin: &Pin,
    spec: &str,
    instead: &str,
) -> anyhow::Result<crate::signing::Signer> {
    let Some(tag) = &pin.tag else {
        bail!(
            "stack {spec} at {}: a commit carries no release signature; require a signed release (a tag), {instead}",
            pin.describe()
        );
    };
    let Some(signature) = source.release_signature(pin)? else {
        bail!(
            "release {tag} of stack {spec} is not signed; ask its publisher to sign releases (`cairn stack release` or `cairn stack push --key`, or `git tag -s` with an SSH key), {instead}"
        );
    };
    let signer =
        crate::signing::verify_in(signature.namespace, &signature.payload, &signature.armored)
            .with_context(|| format!("release {tag} of stack {spec}: refused"))?;
    // A signed release under another version's name (a renamed or copied
    // tag) would let a downgrade pass as an upgrade.
    let (named, target) = &signature.names;
    if named.as_deref() != Some(tag.as_str()) {
        bail!(
            "release {tag} of stack {spec} carries the signature of {}: a signed release under another name (a copied or renamed tag); refusing it",
            named
                .as_deref()
                .unwrap_or("a release that names no version")
        );
    }
    if let (Some(target), Some(commit)) = (target, &pin.commit)
        && target != commit
    {
        bail!(
            "release {tag} of stack {spec}: its signed tag points at {target}, not at {commit}; refusing it"
        );
    }
    Ok(signer)
}

/// The pin `locked` records, when it is of `source` and still satisfies
/// `requirement`.
fn still_locked(locked: &LockedStack, source: &str, requirement: Option<&str>) -> Option<Pin> {
    if locked.source != source {
        return None;
    }
    let version = locked
        .version
        .as_deref()
        .and_then(|v| semver::Version::parse(v).ok());
    let satisfied = match requirement.map(str::trim) {
        None => version.is_none() && locked.commit.is_none(),
        Some(req) => {
            locked.tag.as_deref() == Some(req)
                || locked
                    .commit
                    .as_deref()
                    .is_some_and(|c| req.len() >= 7 && c.starts_with(req))
                || match (semver::VersionReq::parse(req), &version) {
                    (Ok(range), Some(v)) => range.matches(v),
                    _ => false,
                }
        }
    };
    satisfied.then(|| pin_of(locked))
}

/// The version a lock pins.
pub(super) fn pin_of(locked: &LockedStack) -> Pin {
    Pin {
        version: locked
            .version
            .as_deref()
            .and_then(|v| semver::Version::parse(v).ok()),
        tag: locked.tag.clone(),
        commit: locked.commit.clone(),
        signer: None,
    }
}
