//! `catalog`: the catalogs of stacks a user follows (add, list, search,
//! update, remove), and a stack's name looked up in them, so that `init`
//! and `show` take `reference` (or `CATALOG/STACK`) for a source.
//! Catalogs are pinned like stacks: read at the commit recorded when they
//! were added or updated, and a tag that moved under a version is refused.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use super::Options;
use super::session::open_source;
use crate::catalog::{CATALOG_FILE, Catalog, CatalogStack, Followed, FollowedCatalog, MAX_CATALOG};
use crate::source::{Pin, StackSource};

/// A followed catalog and what it lists.
#[derive(Debug, Serialize)]
pub struct CatalogView {
    pub name: String,
    pub source: String,
    /// The version read: a tag, a commit, or the working directory.
    pub version: String,
    pub description: String,
    pub publisher: String,
    pub stacks: Vec<CatalogStack>,
}

/// A stack found in a catalog.
#[derive(Debug, Clone, Serialize)]
pub struct FoundStack {
    pub catalog: String,
    #[serde(flatten)]
    pub stack: CatalogStack,
}

/// What `catalog update` moved.
#[derive(Debug, Serialize)]
pub struct CatalogUpdate {
    pub name: String,
    pub from: String,
    pub to: String,
}

fn pin_of(followed: &FollowedCatalog) -> Pin {
    Pin {
        version: followed
            .tag
            .as_deref()
            .and_then(|t| semver::Version::parse(t.trim_start_matches('v')).ok()),
        tag: followed.tag.clone(),
        commit: followed.commit.clone(),
        signer: None,
    }
}

/// The catalog in `source` at `pin`.
fn read_catalog(source: &StackSource, pin: &Pin, local: Option<&Path>) -> anyhow::Result<Catalog> {
    let snapshot = source.snapshot(pin)?;
    let bytes = snapshot
        .read(CATALOG_FILE, MAX_CATALOG)
        .with_context(|| format!("{} is not a catalog (no {CATALOG_FILE})", snapshot.label()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{CATALOG_FILE} in {} is not UTF-8", snapshot.label()))?;
    Catalog::parse(
        &text,
        &format!("{CATALOG_FILE} in {}", snapshot.label()),
        local,
    )
}

/// A source as kept in the user's list: a local path made absolute, so it
/// means the same from anywhere.
fn absolute(spec: &str) -> anyhow::Result<(String, Option<PathBuf>)> {
    if crate::source::is_remote(spec) {
        return Ok((spec.to_string(), None));
    }
    let path = spec.strip_prefix("file://").unwrap_or(spec);
    let path = std::fs::canonicalize(path)
        .with_context(|| format!("catalog {spec:?}: no such directory"))?;
    Ok((path.to_string_lossy().into_owned(), Some(path)))
}

fn open(options: &Options, spec: &str, fetch: bool) -> anyhow::Result<StackSource> {
    open_source(spec, &std::env::current_dir()?, options, fetch)
}

fn view(followed: &FollowedCatalog, catalog: Catalog) -> CatalogView {
    CatalogView {
        name: followed.name.clone(),
        source: followed.source.clone(),
        version: pin_of(followed).describe(),
        description: catalog.description,
        publisher: catalog.publisher,
        stacks: catalog.stacks,
    }
}

/// `cairn catalog add SOURCE`: follows the catalog at `source` (a git URL
/// or a path), at the version `version` resolves to (default: its newest
/// release), pinned to that commit.
pub fn add(options: &Options, source: &str, version: Option<&str>) -> anyhow::Result<CatalogView> {
    let (spec, local) = absolute(source)?;
    let opened = open(options, &spec, true)?;
    let pin = opened.resolve(version)?;
    let catalog = read_catalog(&opened, &pin, local.as_deref())?;
    let path = Followed::path()?;
    let mut followed = Followed::read(&path)?;
    if let Some(other) = followed
        .catalogs
        .iter()
        .find(|c| c.name == catalog.name && c.source != spec)
    {
        bail!(
            "you already follow a catalog named {:?}, from {}; `cairn catalog remove {}` first to follow this one instead",
            other.name,
            other.source,
            other.name
        );
    }
    followed.catalogs.retain(|c| c.source != spec);
    let entry = FollowedCatalog {
        name: catalog.name.clone(),
        source: spec,
        version: version.map(str::to_string),
        tag: pin.tag.clone(),
        commit: pin.commit.clone(),
    };
    followed.catalogs.push(entry.clone());
    followed.write(&path)?;
    Ok(view(&entry, catalog))
}

/// `cairn catalog list`: every followed catalog with its stacks, read at
/// its pinned version from what is on this machine.
pub fn list(options: &Options) -> anyhow::Result<Vec<CatalogView>> {
    let followed = Followed::read(&Followed::path()?)?;
    let mut views = Vec::new();
    for entry in &followed.catalogs {
        let local =
            (!crate::source::is_remote(&entry.source)).then(|| PathBuf::from(&entry.source));
        let opened = open(options, &entry.source, false)
            .with_context(|| format!("catalog {}", entry.name))?;
        let catalog = read_catalog(&opened, &pin_of(entry), local.as_deref())
            .with_context(|| format!("catalog {}", entry.name))?;
        views.push(view(entry, catalog));
    }
    Ok(views)
}

/// `cairn catalog search [TERM] [--category C]`: stacks of every followed
/// catalog whose name, description, categories or publisher contain
/// `term` (any case), in `category` when given.
pub fn search(
    options: &Options,
    term: Option<&str>,
    category: Option<&str>,
) -> anyhow::Result<Vec<FoundStack>> {
    let term = term.map(str::to_lowercase);
    let category = category.map(str::to_lowercase);
    let mut found = Vec::new();
    for catalog in list(options)? {
        for stack in catalog.stacks {
            let text = format!(
                "{} {} {} {}",
                stack.name,
                stack.description,
                stack.categories.join(" "),
                stack.publisher
            )
            .to_lowercase();
            let matches = term.as_ref().is_none_or(|t| text.contains(t.as_str()))
                && category
                    .as_ref()
                    .is_none_or(|c| stack.categories.iter().any(|s| s.to_lowercase() == *c));
            if matches {
                found.push(FoundStack {
                    catalog: catalog.name.clone(),
                    stack,
                });
            }
        }
    }
    Ok(found)
}

/// `cairn catalog update [NAME]`: moves each catalog (or the one named)
/// to the newest version its requirement allows. A tag that now names
/// another commit than the one pinned is refused.
pub fn update(options: &Options, name: Option<&str>) -> anyhow::Result<Vec<CatalogUpdate>> {
    let path = Followed::path()?;
    let mut followed = Followed::read(&path)?;
    if let Some(name) = name
        && !followed.catalogs.iter().any(|c| c.name == name)
    {
        bail!("you follow no catalog named {name:?}; `cairn catalog list` shows those you do");
    }
    let mut moved = Vec::new();
    for entry in followed
        .catalogs
        .iter_mut()
        .filter(|c| name.is_none_or(|n| c.name == n))
    {
        let opened = open(options, &entry.source, true)?;
        if let (Some(tag), Some(commit)) = (&entry.tag, &entry.commit)
            && let Some(now) = opened.versions()?.into_iter().find(|v| v.tag == *tag)
            && now.commit != *commit
        {
            bail!(
                "tag {tag} of catalog {} ({}) now points at commit {}, but you pinned {commit}: the published catalog changed under the same version (tampering?). Refusing it",
                entry.name,
                entry.source,
                now.commit
            );
        }
        let pin = opened.resolve(entry.version.as_deref())?;
        let local =
            (!crate::source::is_remote(&entry.source)).then(|| PathBuf::from(&entry.source));
        read_catalog(&opened, &pin, local.as_deref())?;
        let from = pin_of(entry).describe();
        if pin.commit != entry.commit {
            entry.tag = pin.tag.clone();
            entry.commit = pin.commit.clone();
            moved.push(CatalogUpdate {
                name: entry.name.clone(),
                from,
                to: pin.describe(),
            });
        }
    }
    followed.write(&path)?;
    Ok(moved)
}

/// `cairn catalog remove NAME`.
pub fn remove(name: &str) -> anyhow::Result<()> {
    let path = Followed::path()?;
    let mut followed = Followed::read(&path)?;
    let before = followed.catalogs.len();
    followed.catalogs.retain(|c| c.name != name);
    if followed.catalogs.len() == before {
        bail!("you follow no catalog named {name:?}; `cairn catalog list` shows those you do");
    }
    followed.write(&path)
}

/// The source of the stack `spec` names in the followed catalogs, when
/// `spec` is a stack's name (`reference`, or `CATALOG/STACK` to choose
/// between catalogs) rather than a URL or an existing path. `None` when it
/// is not such a name or no catalog lists it.
pub fn lookup(options: &Options, spec: &str) -> anyhow::Result<Option<FoundStack>> {
    let looks_like_name = !spec.contains("://")
        && !spec.contains(':')
        && spec.matches('/').count() <= 1
        && !Path::new(spec).exists();
    if !looks_like_name {
        return Ok(None);
    }
    let followed = Followed::read(&Followed::path()?)?;
    if followed.catalogs.is_empty() {
        return Ok(None);
    }
    let (catalog, name) = match spec.split_once('/') {
        Some((catalog, name)) => (Some(catalog), name),
        None => (None, spec),
    };
    let found: Vec<FoundStack> = list(options)?
        .into_iter()
        .filter(|c| catalog.is_none_or(|n| c.name == n))
        .flat_map(|c| {
            let catalog = c.name.clone();
            c.stacks.into_iter().map(move |stack| FoundStack {
                catalog: catalog.clone(),
                stack,
            })
        })
        .filter(|f| f.stack.name == name)
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => bail!(
            "{} catalogs list a stack {name:?}: say which, as {}",
            many.len(),
            many.iter()
                .map(|f| format!("{}/{name}", f.catalog))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}
