//! Committing generated changes to the user's GitOps repository with `gix`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

fn open(root: &Path) -> anyhow::Result<gix::Repository> {
    gix::discover(root).with_context(|| {
        format!(
            "--commit needs a git repository, and {} is not inside one (`git init` it first)",
            root.display()
        )
    })
}

/// The work tree of the git repository containing `dir` (which need not
/// exist yet), if any: where `.sops.yaml` goes, and what secret files and
/// keys must stay out of.
pub fn work_tree(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The (path, blob, mode) entries of an index, for comparison.
fn entries(index: &gix::index::State) -> BTreeSet<(String, gix::ObjectId, u32)> {
    index
        .entries()
        .iter()
        .map(|e| (e.path(index).to_string(), e.id, e.mode.bits()))
        .collect()
}

/// Refuses when anything is staged: `--commit` commits only cairn's changes.
pub fn check_clean_index(root: &Path) -> anyhow::Result<()> {
    let repo = open(root)?;
    let index = repo.index_or_empty().context("cannot read the git index")?;
    let head = repo.head_tree_id_or_empty().context("cannot read HEAD")?;
    let at_head = repo
        .index_from_tree(&head)
        .context("cannot read HEAD's tree")?;
    let staged: Vec<String> = entries(&index)
        .symmetric_difference(&entries(&at_head))
        .map(|(path, _, _)| path.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !staged.is_empty() {
        bail!(
            "other changes are staged ({}); commit or unstage them first, so that --commit records only cairn's changes",
            staged.join(", ")
        );
    }
    Ok(())
}

/// `path` made absolute with its deepest existing ancestor resolved: a file
/// that was just deleted (and its directory with it) still has a place in
/// the repository.
fn real_path(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                let mut real = real;
                real.extend(rest.iter().rev());
                return Ok(real);
            }
            Err(_) => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return Ok(absolute),
            },
        }
    }
}

/// The committed content of `path` (a file in the repository around
/// `root`) at HEAD; `None` when HEAD has no such file, or there is no HEAD.
pub fn read_at_head(root: &Path, path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let repo = open(root)?;
    let Some(workdir) = repo.workdir() else {
        return Ok(None);
    };
    let workdir = workdir.canonicalize()?;
    let Ok(rel) = real_path(path)?
        .strip_prefix(&workdir)
        .map(Path::to_path_buf)
    else {
        return Ok(None);
    };
    let Ok(tree) = repo.head_tree() else {
        return Ok(None);
    };
    let Some(entry) = tree
        .lookup_entry_by_path(&rel)
        .context("cannot read HEAD's tree")?
    else {
        return Ok(None);
    };
    if !entry.mode().is_blob() {
        return Ok(None);
    }
    Ok(Some(entry.object()?.detach().data))
}

/// Commits `paths` (files that exist are added, missing ones removed) on
/// top of HEAD, and updates the index to match. Returns the new commit, or
/// `None` when the tree did not change.
pub fn commit(root: &Path, paths: &[PathBuf], message: &str) -> anyhow::Result<Option<String>> {
    let repo = open(root)?;
    let workdir = repo
        .workdir()
        .context("--commit needs a repository with a working tree, not a bare one")?
        .canonicalize()?;
    let head = repo
        .head_tree_id_or_empty()
        .context("cannot read HEAD")?
        .detach();
    let mut editor = repo.edit_tree(head).context("cannot edit HEAD's tree")?;
    for path in paths {
        let absolute = real_path(path)?;
        let rel = absolute
            .strip_prefix(&workdir)
            .with_context(|| {
                format!(
                    "{} is outside the repository {}",
                    path.display(),
                    workdir.display()
                )
            })?
            .to_string_lossy()
            .replace('\\', "/");
        match std::fs::read(&absolute) {
            Ok(bytes) => {
                let blob = repo
                    .write_blob(bytes)
                    .context("cannot write to the git object store")?;
                editor.upsert(rel.as_str(), gix::object::tree::EntryKind::Blob, blob)?;
            }
            Err(_) => {
                editor.remove(rel.as_str())?;
            }
        }
    }
    let tree = editor
        .write()
        .context("cannot write the new tree")?
        .detach();
    if tree == head {
        return Ok(None);
    }
    let parents: Vec<gix::ObjectId> = repo
        .head_id()
        .ok()
        .map(|id| id.detach())
        .into_iter()
        .collect();
    let id = repo.commit("HEAD", message, tree, parents).context(
        "cannot commit; is your git identity set (`git config user.name` and `user.email`)?",
    )?;
    let mut index = repo
        .index_from_tree(&tree)
        .context("cannot build the new index")?;
    index
        .write(Default::default())
        .context("cannot write the git index")?;
    Ok(Some(id.to_string()))
}
