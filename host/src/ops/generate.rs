//! `generate` and `diff`: render the stack, plan the repo's changes
//! against the lock and the disk (keeping hand edits), and apply them
//! atomically, or show them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::Options;
use super::session::{Access, Session, layout};
use super::tree::{Generated, generate_tree};
use crate::config::{LockedStack, Project};
pub use crate::repo::FileChange;
use crate::repo::{self, Action, Plan};
use crate::secrets::PreviousCiphertext;
use crate::stack::Stack;

/// What `generate` may do beyond writing the files.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenerateOptions {
    /// On conflicts, take the new render.
    pub force: bool,
    /// Commit the changed files, cairn.yaml and cairn.lock.
    pub commit: bool,
}

/// Everything `generate` and `diff` decide before writing.
struct Prepared {
    session: Session,
    generated: Generated,
    plan: Plan,
    lock_text: String,
    lock_changed: bool,
}

fn prepare(options: &Options, force: bool, access: Access) -> anyhow::Result<Prepared> {
    let session = Session::open(options, access)?;
    let (source, mut generated) = session.generate(options)?;
    if let Some(policy) = generated.policy.take() {
        return Err(policy.into());
    }
    if !generated.convergence.is_empty() {
        return Err(ConvergenceError(generated.convergence.clone()).into());
    }
    let tree = &generated.rendering.tree;
    let output = session.project.output_dir();
    let disk = repo::scan(&output, tree, session.lock.as_ref())?;
    let edited = repo::edited(session.lock.as_ref(), &disk);

    let mut bases = BTreeMap::new();
    if let Some(lock) = &session.lock {
        let blobs = crate::cache::Blobs::user()?;
        let mut missing = Vec::new();
        for path in &edited {
            match blobs.get(&lock.files[path]) {
                Some(base) => {
                    bases.insert(path.clone(), base);
                }
                None => missing.push(path.clone()),
            }
        }
        // Not in this machine's cache: re-render the locked version with
        // today's values; where that reproduces what was locked (same
        // effective values, same file hash), it is the merge base.
        // Values of components that version does not have (a block `update`
        // added for a new one) do not count.
        if !missing.is_empty()
            && lock.stack.commit.is_some()
            && let Ok(old_stack) = session.locked_stack(options, &source, lock)
            && let then = then_values(&session.project, &old_stack)
            && let Ok(old) = generate_tree(
                &session.runtime,
                &*options.sandbox.progress,
                &then,
                old_stack,
                None,
                PreviousCiphertext::Reseal,
            )
            && old.lock.values_sha256 == lock.values_sha256
        {
            for path in missing {
                if let Some(file) = old.rendering.tree.get(&path)
                    && crate::files::sha256(&file.content) == lock.files[&path]
                {
                    bases.insert(path, file.content.clone());
                }
            }
        }
    }

    let plan = repo::plan(tree, session.lock.as_ref(), &disk, &bases, force);
    generated.lock.edits = accepted_edits(&generated.lock.files, &disk, &plan);
    let lock_text = generated.lock.to_text();
    // The lock was read and parsed when the session opened.
    let lock_changed = session.lock.as_ref() != Some(&generated.lock);
    Ok(Prepared {
        session,
        generated,
        plan,
        lock_text,
        lock_changed,
    })
}

/// The project with only the values of components `stack` has.
pub(super) fn then_values(project: &Project, stack: &Stack) -> Project {
    let mut then = project.clone();
    then.config
        .values
        .retain(|name, _| stack.definition.component(name).is_some());
    then
}

/// The hand edits this generate keeps (as they are, or merged into the
/// new render): each generated file whose content, once the plan is
/// applied, differs from what was generated, with the sha256 of that
/// content. `verify` accepts exactly these.
fn accepted_edits(
    generated: &BTreeMap<String, String>,
    disk: &repo::Disk,
    plan: &Plan,
) -> BTreeMap<String, String> {
    let planned: BTreeMap<&str, &Option<String>> = plan
        .changes
        .iter()
        .map(|c| (c.path.as_str(), &c.new))
        .collect();
    generated
        .iter()
        .filter_map(|(path, hash)| {
            let after = match planned.get(path.as_str()) {
                Some(new) => new.as_ref()?,
                None => disk.get(path)?.as_ref()?,
            };
            let sha = crate::files::sha256(after);
            (sha != *hash).then(|| (path.clone(), sha))
        })
        .collect()
}

/// Why the tree would not come up on an empty cluster; nothing is written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the tree would not come up on an empty cluster, so nothing was written:{}",
    .0.iter().map(|p| format!("\n  - {p}")).collect::<String>()
)]
pub struct ConvergenceError(pub Vec<crate::flux::Problem>);

/// Files cairn would overwrite or delete and cannot without losing edits.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_conflicts(.0))]
pub struct ConflictError(pub Vec<repo::FileConflict>);

fn describe_conflicts(conflicts: &[repo::FileConflict]) -> String {
    let mut out = String::from("conflicts; nothing was written:");
    for c in conflicts {
        out.push_str(&format!("\n  - {}: {}", c.path, c.reason));
        for field in &c.fields {
            out.push_str(&format!("\n      {field}"));
        }
    }
    out
}

/// What `generate` did (or `diff` would do).
#[derive(Debug, Serialize)]
pub struct GenerateReport {
    pub stack: String,
    pub from: Option<String>,
    pub to: String,
    /// Per component: how many files were created, updated, merged, deleted.
    pub components: BTreeMap<String, Counts>,
    pub kept_edits: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub message: String,
    pub recovered: bool,
    pub wrote: bool,
    pub commit: Option<String>,
    /// Every file changed, with its contents before and after.
    pub changes: Vec<FileChange>,
    /// What components printed while rendering, for `--verbose`.
    #[serde(skip)]
    pub logs: Vec<(String, String)>,
    /// The output directory as cairn.yaml gives it, for display.
    #[serde(skip)]
    pub output: PathBuf,
    pub warnings: Vec<String>,
    /// What components said (warnings, notes), each shown as every command
    /// shows a diagnostic (`warning: component "x": field: message`).
    pub diagnostics: Vec<String>,
    /// The order Flux brings the stack up in: waves of Kustomizations,
    /// each waiting for the ones before.
    pub order: Vec<Vec<String>>,
    /// Whether this run changes that order (the layers file).
    pub order_changed: bool,
}

impl GenerateReport {
    /// Whether anything would change (for `diff`) or did (for `generate`).
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Every change as a unified diff, paths as cairn.yaml's `output` gives
    /// them: what `cairn diff` prints.
    pub fn patch(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let label = if self.output == Path::new(".") {
                change.path.clone()
            } else {
                self.output.join(&change.path).display().to_string()
            };
            let (old_label, new_label) = match change.action {
                Action::Create => ("/dev/null".to_string(), label.clone()),
                Action::Delete => (label.clone(), "/dev/null".to_string()),
                _ => (label.clone(), label.clone()),
            };
            let old = change.old.as_deref().unwrap_or("");
            let new = change.new.as_deref().unwrap_or("");
            let diff = similar::TextDiff::from_lines(old, new);
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&old_label, &new_label)
                    .to_string(),
            );
        }
        out
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub merged: usize,
    pub deleted: usize,
}

fn report(prepared: &Prepared) -> GenerateReport {
    let old = prepared.session.lock.as_ref();
    let new = &prepared.generated.lock;
    let describe = |stack: &LockedStack| {
        stack
            .tag
            .clone()
            .or_else(|| {
                stack
                    .commit
                    .as_ref()
                    .map(|c| format!("commit {}", &c[..c.len().min(12)]))
            })
            .unwrap_or_else(|| "working directory".into())
    };
    let mut components: BTreeMap<String, Counts> = BTreeMap::new();
    for change in &prepared.plan.changes {
        let name = change.component.clone().unwrap_or_else(|| "(root)".into());
        let counts = components.entry(name).or_default();
        match change.action {
            Action::Create => counts.created += 1,
            Action::Update => counts.updated += 1,
            Action::Merge => counts.merged += 1,
            Action::Delete => counts.deleted += 1,
        }
    }
    let old_names: BTreeSet<&String> = old
        .map(|l| l.components.keys().collect())
        .unwrap_or_default();
    let new_names: BTreeSet<&String> = new.components.keys().collect();
    GenerateReport {
        stack: new.stack.name.clone(),
        from: old.map(|l| describe(&l.stack)),
        to: describe(&new.stack),
        components,
        kept_edits: prepared.plan.kept_edits.clone(),
        added: new_names
            .difference(&old_names)
            .map(|s| s.to_string())
            .collect(),
        removed: old_names
            .difference(&new_names)
            .map(|s| s.to_string())
            .collect(),
        message: prepared.generated.stack.definition.message.clone(),
        recovered: prepared.session.recovered,
        wrote: false,
        commit: None,
        changes: prepared.plan.changes.clone(),
        logs: prepared.generated.rendering.logs.clone(),
        output: PathBuf::from(&prepared.session.project.config.output),
        diagnostics: prepared
            .generated
            .rendering
            .diagnostics
            .iter()
            .map(|(c, d)| {
                if c.is_empty() {
                    d.shown()
                } else {
                    d.shown_for(c)
                }
            })
            .collect(),
        warnings: resealed_warning(&prepared.generated.rendering.unopened)
            .into_iter()
            .chain(prune_warnings(&prepared.plan))
            .chain(
                prepared
                    .plan
                    .forced
                    .iter()
                    .map(|f| format!("--force took the new render over your edit: {f}")),
            )
            .collect(),
        order: crate::flux::waves(&prepared.generated.layers),
        order_changed: prepared
            .plan
            .changes
            .iter()
            .any(|c| c.path == crate::config::layout::LAYERS_FILE),
    }
}

/// What Flux will delete from the cluster because files are pruned: a
/// Namespace takes everything in it, a PersistentVolumeClaim (usually) its
/// volume's data, a CustomResourceDefinition every resource of its kind.
fn prune_warnings(plan: &Plan) -> Vec<String> {
    let mut warnings = Vec::new();
    for change in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        let Some(old) = &change.old else { continue };
        for doc in crate::yaml::documents(old).into_iter().flatten() {
            let kind = doc.get("kind").and_then(serde_yaml::Value::as_str);
            let consequence = match kind {
                Some("Namespace") => {
                    "and with it everything in that namespace, PersistentVolumeClaims and their volumes included"
                }
                Some("PersistentVolumeClaim") => {
                    "and, with the usual Delete reclaim policy, its volume and the data on it"
                }
                Some("CustomResourceDefinition") => {
                    "and with it every resource of that kind in the cluster"
                }
                _ => continue,
            };
            warnings.push(format!(
                "{} is pruned: Flux deletes {} from the cluster {consequence}; keep the component (or the object) if that is not what you want",
                change.path,
                crate::compose::object_id(&doc).replace("//", "/")
            ));
        }
    }
    warnings
}

/// Says that sealed objects were encrypted afresh because no identity here
/// opens their previous ciphertext.
fn resealed_warning(unopened: &BTreeSet<String>) -> Option<String> {
    (!unopened.is_empty()).then(|| {
        format!(
            "{} sealed object(s) were encrypted afresh: no age identity here opens their previous ciphertext, so cairn cannot tell whether they changed (set SOPS_AGE_KEY_FILE to an identity among secrets.age to keep unchanged ones as they are): {}",
            unopened.len(),
            unopened.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// `cairn generate`: renders, plans, and applies atomically.
pub fn generate(options: &Options, what: GenerateOptions) -> anyhow::Result<GenerateReport> {
    generate_collecting(options, what, false).map(|(report, _)| report)
}

/// [`generate`], returning as well, when `collect`, the paths `--commit`
/// would record, for a caller that commits many projects at once.
pub(super) fn generate_collecting(
    options: &Options,
    what: GenerateOptions,
    collect: bool,
) -> anyhow::Result<(GenerateReport, Vec<PathBuf>)> {
    let GenerateOptions { force, commit } = what;
    let prepared = prepare(options, force, Access::Write)?;
    if !prepared.plan.conflicts.is_empty() {
        return Err(ConflictError(prepared.plan.conflicts.clone()).into());
    }
    let project = &prepared.session.project;
    if commit {
        crate::git::check_clean_index(&project.root)?;
    }
    let mut report = report(&prepared);
    if !prepared.plan.is_empty() || prepared.lock_changed {
        crate::cache::Blobs::user()?.put_all(
            prepared
                .generated
                .rendering
                .tree
                .values()
                .map(|f| f.content.as_str()),
        );
        repo::apply(
            &layout(project),
            &prepared.plan.changes,
            &prepared.lock_text,
        )?;
        report.wrote = true;
    }
    let sops_config = write_sops_config(project)?;
    report.wrote |= sops_config.is_some();
    let paths = if commit || collect {
        commit_paths(&prepared, sops_config)?
    } else {
        Vec::new()
    };
    if commit {
        let message = commit_message(&report);
        report.commit = crate::git::commit(&project.root, &paths, &message)?;
    }
    Ok((report, paths))
}

/// What `--commit` records: every file the new lock names and every file
/// the committed lock named (so that a generate whose commit failed, or
/// that ran without `--commit`, is committed by the next one, deletions
/// included), cairn.yaml with its schema, cairn.lock and `.sops.yaml`.
/// Unchanged files leave the tree as it is, and an unchanged tree makes
/// no commit.
fn commit_paths(prepared: &Prepared, sops_config: Option<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    let project = &prepared.session.project;
    let output = project.output_dir();
    let lock_path = project.lock_path();
    let mut paths: BTreeSet<PathBuf> = prepared
        .generated
        .lock
        .files
        .keys()
        .chain(prepared.plan.changes.iter().map(|c| &c.path))
        .map(|p| output.join(p))
        .collect();
    if let Some(text) = crate::git::read_at_head(&project.root, &lock_path)? {
        let text = String::from_utf8_lossy(&text);
        // A committed lock is as untrusted as the one on disk: parsed and
        // checked the same way before its paths are used.
        let committed = crate::config::Lock::parse(&text, &lock_path)
            .context("the committed cairn.lock (at HEAD)")?;
        paths.extend(committed.files.keys().map(|p| output.join(p)));
    }
    paths.insert(project.config_path.clone());
    paths.insert(lock_path);
    let schema = project.root.join(super::config_text::SCHEMA_FILE);
    if schema.exists() {
        paths.insert(schema);
    }
    paths.extend(sops_config.or_else(|| sops_config_path(project)));
    Ok(paths.into_iter().collect())
}

/// Says what changed: versions, components added and removed, files.
pub fn commit_message(report: &GenerateReport) -> String {
    let mut subject = match &report.from {
        Some(from) if *from != report.to => format!(
            "cairn: update {} from {from} to {}",
            report.stack, report.to
        ),
        Some(_) if !report.wrote => {
            format!("cairn: record {} {} as generated", report.stack, report.to)
        }
        Some(_) => format!("cairn: regenerate {} {}", report.stack, report.to),
        None => format!("cairn: generate {} {}", report.stack, report.to),
    };
    if subject.len() > 72 {
        subject.truncate(72);
    }
    let mut body = Vec::new();
    if !report.added.is_empty() {
        body.push(format!("Added components: {}.", report.added.join(", ")));
    }
    if !report.removed.is_empty() {
        body.push(format!(
            "Removed components: {}.",
            report.removed.join(", ")
        ));
    }
    for (component, c) in &report.components {
        body.push(format!(
            "{component}: {} created, {} updated, {} merged, {} deleted",
            c.created, c.updated, c.merged, c.deleted
        ));
    }
    format!("{subject}\n\n{}\n", body.join("\n"))
}

/// Keeps the repository's `.sops.yaml` in step with cairn.yaml's
/// recipients; returns its path when it was written.
fn write_sops_config(project: &Project) -> anyhow::Result<Option<PathBuf>> {
    let Some(secrets) = project
        .config
        .secrets
        .as_ref()
        .filter(|s| !s.age.is_empty())
    else {
        return Ok(None);
    };
    let output = std::path::absolute(project.output_dir())?;
    let Some(root) = crate::git::work_tree(&output) else {
        return Ok(None);
    };
    let rel = output.strip_prefix(&root).unwrap_or(&output);
    let path = root.join(crate::secrets::SOPS_CONFIG);
    let existing = std::fs::read_to_string(&path).ok();
    let recipients: Vec<String> = secrets.age.iter().map(|r| r.trim().to_string()).collect();
    match crate::secrets::sops_config(existing.as_deref(), &rel.to_string_lossy(), &recipients)
        .with_context(|| path.display().to_string())?
    {
        Some(text) => {
            crate::files::no_links(&root, Path::new(crate::secrets::SOPS_CONFIG))?;
            crate::files::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Some(path))
        }
        None => Ok(None),
    }
}

/// Where `.sops.yaml` is, when cairn keeps one (recipients set, in a git
/// repository) and it exists.
fn sops_config_path(project: &Project) -> Option<PathBuf> {
    project
        .config
        .secrets
        .as_ref()
        .filter(|s| !s.age.is_empty())?;
    let root = crate::git::work_tree(&project.output_dir())?;
    let path = root.join(crate::secrets::SOPS_CONFIG);
    path.exists().then_some(path)
}

/// `cairn diff`: what `generate` would do, writing nothing.
pub fn diff(options: &Options) -> anyhow::Result<GenerateReport> {
    let prepared = prepare(options, false, Access::Read)?;
    if !prepared.plan.conflicts.is_empty() {
        return Err(ConflictError(prepared.plan.conflicts.clone()).into());
    }
    let mut report = report(&prepared);
    for change in &mut report.changes {
        for text in [&mut change.old, &mut change.new].into_iter().flatten() {
            *text = hide_ciphertext(text);
        }
    }
    Ok(report)
}

/// `text` with each SOPS-sealed object replaced by a line naming it: a
/// diff shows that a sealed object changed, never its ciphertext, which
/// would otherwise reach whoever reads the diff (a CI log, say) and holds a
/// key of its recipients.
fn hide_ciphertext(text: &str) -> String {
    let docs = crate::yaml::documents(text);
    if !docs
        .iter()
        .any(|d| d.as_ref().is_ok_and(crate::sops::is_encrypted))
    {
        return text.to_string();
    }
    docs.into_iter()
        .flatten()
        .map(|doc| {
            if crate::sops::is_encrypted(&doc) {
                // A digest of the ciphertext tells new ciphertext from old.
                let sealed = serde_yaml::to_string(&doc).unwrap_or_default();
                format!(
                    "# {}: sealed with SOPS (ciphertext {} not shown)\n",
                    crate::compose::object_id(&doc),
                    &crate::files::sha256(sealed)[..12]
                )
            } else {
                serde_yaml::to_string(&doc).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("---\n")
}
