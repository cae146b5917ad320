//! `update`: lists the stack's newer versions with their changelogs, and
//! moves cairn.yaml's version requirement to one of them.

use anyhow::Context;
use serde::Serialize;

use super::Options;
use super::session::open_source;
use crate::config::{Lock, Project};
use crate::source::{Pin, TagVersion};
use crate::stack::Stack;

/// Which version to move to, if any.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Only list newer versions; change nothing.
    pub check: bool,
    /// The version (or tag) to move to; default the newest release.
    pub to: Option<String>,
}

/// Where the project stands against its stack's releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateStatus {
    UpToDate,
    UpdateAvailable,
    Updated,
}

/// One version `update` can move to.
#[derive(Debug, Serialize)]
pub struct AvailableVersion {
    pub version: String,
    pub tag: String,
    pub commit: String,
    /// Whether the version matches the requirement in `cairn.yaml`.
    pub within_requirement: bool,
    pub changelog: String,
}

#[derive(Debug, Serialize)]
pub struct UpdateReport {
    pub status: UpdateStatus,
    pub current: Option<String>,
    pub latest: Option<String>,
    pub versions: Vec<AvailableVersion>,
    /// The requirement written to `cairn.yaml`, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
}

/// `cairn update`: lists newer versions with their changelogs, and unless
/// `check`, moves `cairn.yaml` to `to` (default: the newest).
pub fn update(options: &Options, what: &UpdateOptions) -> anyhow::Result<UpdateReport> {
    let (check, to) = (what.check, what.to.as_deref());
    let project = Project::load(&options.config)?;
    let lock = Lock::read(&project.lock_path())?;
    let source = open_source(&project.config.stack.source, &project.root, options, true)?;
    let versions = source.versions()?;
    let current = match lock.as_ref().and_then(|l| l.stack.version.clone()) {
        Some(v) => semver::Version::parse(&v).ok(),
        None => source
            .resolve(project.config.stack.version.as_deref())
            .ok()
            .and_then(|p| p.version),
    };
    let requirement = project.config.stack.version.as_deref().map(str::trim);
    let range = requirement.and_then(|r| semver::VersionReq::parse(r).ok());
    let newer: Vec<&TagVersion> = versions
        .iter()
        .filter(|v| current.as_ref().is_none_or(|c| v.version > *c) && v.version.pre.is_empty())
        .collect();
    let mut listed = Vec::new();
    for v in &newer {
        let changelog = Stack::load(
            &source,
            Pin {
                version: Some(v.version.clone()),
                tag: Some(v.tag.clone()),
                commit: Some(v.commit.clone()),
            },
        )
        .map(|s| s.definition.changelog)
        .unwrap_or_default();
        listed.push(AvailableVersion {
            version: v.version.to_string(),
            tag: v.tag.clone(),
            commit: v.commit.clone(),
            within_requirement: range.as_ref().is_some_and(|r| r.matches(&v.version)),
            changelog,
        });
    }
    let latest = versions.iter().rev().find(|v| v.version.pre.is_empty());
    let mut report = UpdateReport {
        status: if newer.is_empty() {
            UpdateStatus::UpToDate
        } else {
            UpdateStatus::UpdateAvailable
        },
        current: current.as_ref().map(ToString::to_string),
        latest: latest.map(|v| v.version.to_string()),
        versions: listed,
        requirement: None,
    };
    if check {
        return Ok(report);
    }
    let target = match to {
        Some(to) => {
            let wanted = to.strip_prefix('v').unwrap_or(to);
            versions
                .iter()
                .find(|v| v.tag == to || v.version.to_string() == wanted)
                .with_context(|| {
                    format!("stack {} has no version {to}", project.config.stack.source)
                })?
        }
        None => match latest {
            Some(latest) if !newer.is_empty() => latest,
            _ => return Ok(report),
        },
    };
    let exact = requirement.is_some_and(|r| versions.iter().any(|v| v.tag == r));
    let new_requirement = if exact {
        target.tag.clone()
    } else {
        format!("^{}", target.version)
    };
    let text = std::fs::read_to_string(&project.config_path)
        .with_context(|| format!("cannot read {}", project.config_path.display()))?;
    let updated = crate::edit::set_string(
        &text,
        &project.config_path.display().to_string(),
        &["stack", "version"],
        &new_requirement,
    )?;
    crate::files::write_atomic(&project.config_path, updated.as_bytes())
        .with_context(|| format!("cannot write {}", project.config_path.display()))?;
    report.status = UpdateStatus::Updated;
    report.requirement = Some(new_requirement);
    Ok(report)
}
