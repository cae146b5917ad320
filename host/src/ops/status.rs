//! `status`: what the project is and holds, from what is local only (no
//! fetch, no render).

use serde::Serialize;

use super::Options;
use super::session::{Access, open_source, pin_of, settle};
use crate::compose::Tree;
use crate::config::Lock;
use crate::repo;
use crate::stack::Stack;

/// What `status` shows.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub source: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    pub newest_known: Option<String>,
    pub components: Vec<ComponentStatus>,
    pub files_owned: usize,
    pub edited: Vec<String>,
    /// The Flux release `cairn bootstrap` installed, and where from.
    pub flux: Option<String>,
    /// Age recipients Secrets are sealed for, and how many are sealed.
    pub recipients: usize,
    pub sealed: usize,
    /// The order Flux brings the stack up in, from the layers file.
    pub order: Vec<Vec<String>>,
    /// The other stacks of cairn.yaml's `stacks:`.
    pub stacks: Vec<OtherStackStatus>,
}

/// Another stack whose components the cluster uses.
#[derive(Debug, Serialize)]
pub struct OtherStackStatus {
    pub name: String,
    pub source: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
}

/// A component of the stack, and whether cairn.yaml enables it.
#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub name: String,
    pub enabled: bool,
    /// The other stack it comes from (its source), when not the main one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// `cairn status`: reads only what is local (no fetch, no render).
pub fn status(options: &Options) -> anyhow::Result<StatusReport> {
    let project = options.project()?;
    settle(&project, Access::Read)?;
    let lock = Lock::read(&project.lock_path())?;
    let flux = lock
        .as_ref()
        .and_then(|l| l.flux.as_ref())
        .map(|f| format!("{} (from {})", f.version, f.source));
    let sealed = lock.as_ref().map_or(0, |l| l.sealed.len());
    let lock = lock.filter(Lock::is_generated);
    let offline = Options {
        offline: true,
        ..options.clone()
    };
    let source = open_source(&project.config.stack.source, &project.root, &offline, false).ok();
    let versions = source
        .as_ref()
        .and_then(|s| s.versions().ok())
        .unwrap_or_default();
    let stack_def = source.as_ref().and_then(|s| {
        let pin = match &lock {
            Some(l) => pin_of(&l.stack),
            None => s.resolve(project.config.stack.version.as_deref()).ok()?,
        };
        Stack::load(s, pin).ok().map(|s| s.definition)
    });
    let mut components: Vec<ComponentStatus> = stack_def
        .as_ref()
        .map(|d| {
            d.components
                .iter()
                .map(|c| ComponentStatus {
                    name: c.name.clone(),
                    enabled: project.enabled(&c.name).unwrap_or(c.enabled),
                    stack: None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut stacks = Vec::new();
    for more in &project.config.stacks {
        let locked = lock
            .as_ref()
            .and_then(|l| l.stacks.iter().find(|s| s.source == more.source));
        let source = open_source(&more.source, &project.root, &offline, false).ok();
        let def = source.as_ref().and_then(|s| {
            let pin = match locked {
                Some(l) => pin_of(l),
                None => s.resolve(more.version.as_deref()).ok()?,
            };
            Stack::load(s, pin).ok().map(|s| s.definition)
        });
        for c in def.iter().flat_map(|d| &d.components) {
            let name = more.alias.get(&c.name).unwrap_or(&c.name).clone();
            components.push(ComponentStatus {
                enabled: project.enabled(&name).unwrap_or(c.enabled),
                name,
                stack: Some(more.source.clone()),
            });
        }
        stacks.push(OtherStackStatus {
            name: def
                .map(|d| d.name)
                .or_else(|| locked.map(|l| l.name.clone()))
                .unwrap_or_default(),
            source: more.source.clone(),
            requirement: more.version.clone(),
            locked: locked.and_then(|l| l.tag.clone().or(l.commit.clone())),
        });
    }
    let edited = match &lock {
        Some(l) => {
            let disk = repo::scan(&project.output_dir(), &Tree::new(), Some(l))?;
            repo::edited(Some(l), &disk)
        }
        None => Vec::new(),
    };
    Ok(StatusReport {
        stack: stack_def
            .map(|d| d.name)
            .or_else(|| lock.as_ref().map(|l| l.stack.name.clone()))
            .unwrap_or_default(),
        source: project.config.stack.source.clone(),
        requirement: project.config.stack.version.clone(),
        locked: lock
            .as_ref()
            .and_then(|l| l.stack.tag.clone().or(l.stack.commit.clone())),
        newest_known: versions.last().map(|v| v.tag.clone()),
        components,
        files_owned: lock.as_ref().map_or(0, |l| l.files.len()),
        edited,
        flux,
        recipients: project.config.secrets.as_ref().map_or(0, |s| s.age.len()),
        sealed,
        order: repo::read(&project.output_dir(), crate::config::layout::LAYERS_FILE)
            .ok()
            .flatten()
            .map(|text| crate::flux::waves(&crate::flux::parse_manifest(&text)))
            .unwrap_or_default(),
        stacks,
    })
}
