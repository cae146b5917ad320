//! `update`: lists the stack's other versions with their changelogs, and
//! moves cairn.yaml to one of them, forward or back, migrating its values:
//! components the release adds get their block (options commented out),
//! components it removes have theirs commented out. Nothing is generated.

use anyhow::Context;
use serde::Serialize;

use super::Options;
use super::config_text;
use super::session::{check_release, open_source, pin_of};
use super::tree::load_components;
use crate::config::{Lock, Project};
use crate::source::{Pin, TagVersion};
use crate::stack::Stack;

/// Which version to move to, if any.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Only say what would change; write nothing.
    pub check: bool,
    /// The version (or tag) to move to, older or newer; default the newest
    /// release.
    pub to: Option<String>,
    /// Another stack of cairn.yaml's `stacks:` to update (its source, or
    /// the name its stack.yaml gives it) instead of the main one.
    pub stack: Option<String>,
}

/// Where the project stands against its stack's releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateStatus {
    UpToDate,
    /// With `check`: the version asked for (or a newer one) differs from
    /// the current one.
    UpdateAvailable,
    Updated,
    RolledBack,
}

/// One version between the current one and the target.
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
    /// The stack updated (or checked): its source.
    pub stack: String,
    pub status: UpdateStatus,
    pub current: Option<String>,
    pub latest: Option<String>,
    /// The tag of the version moved to (or, with `check`, that would be).
    pub target: Option<String>,
    /// Whether the target is older than the current version.
    pub rollback: bool,
    /// Moving forward: the versions gained, oldest first. Rolling back:
    /// the versions undone, newest first.
    pub versions: Vec<AvailableVersion>,
    /// The requirement written to `cairn.yaml`, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// Components the target has that the current version has not.
    pub added: Vec<String>,
    /// Components the current version has that the target has not.
    pub removed: Vec<String>,
    /// What was done to cairn.yaml for them (or, with `check`, what would
    /// be), and what is left to the user.
    pub migrations: Vec<String>,
    /// Per component, what the target's manifests may do to the cluster
    /// that the current version's do not (with today's values): what the
    /// release asks for, like an app asking for new permissions.
    pub new_permissions: std::collections::BTreeMap<String, crate::permissions::Permissions>,
    /// Why `new_permissions` could not be worked out, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_unknown: Option<String>,
}

impl UpdateReport {
    /// Whether `check` found a version to move to.
    pub fn update_available(&self) -> bool {
        self.status == UpdateStatus::UpdateAvailable
    }
}

/// `cairn update`: lists the versions between the current one and the
/// target (`to`, default the newest release), and unless `check`, moves
/// cairn.yaml to the target and migrates its values.
pub fn update(options: &Options, what: &UpdateOptions) -> anyhow::Result<UpdateReport> {
    let project = options.project()?;
    let lock = Lock::read(&project.lock_path())?.filter(Lock::is_generated);
    let which = Which::of(&project, lock.as_ref(), what.stack.as_deref())?;
    let stack_source = which.source;
    let source = open_source(stack_source, &project.root, options, true)?;
    let versions = source.versions()?;
    let requirement = which.requirement.map(str::trim);
    let current_pin = match which.locked.filter(|l| l.source == *stack_source) {
        Some(locked) => pin_of(locked),
        None => source.resolve(requirement)?,
    };
    let current = current_pin.version.clone();
    let latest = versions.iter().rev().find(|v| v.version.pre.is_empty());
    let target: Option<&TagVersion> = match what.to.as_deref() {
        Some(to) => {
            let wanted = to.strip_prefix('v').unwrap_or(to);
            let found = versions
                .iter()
                .find(|v| v.tag == to || v.version.to_string() == wanted);
            Some(found.with_context(|| {
                let known: Vec<&str> = versions.iter().map(|v| v.tag.as_str()).collect();
                format!(
                    "stack {stack_source} has no version {to}; its versions are: {}",
                    if known.is_empty() {
                        "none (no vX.Y.Z tags)".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            })?)
        }
        None => latest.filter(|l| current.as_ref().is_none_or(|c| l.version > *c)),
    };
    let target = target.filter(|t| current.as_ref() != Some(&t.version));
    let rollback = match (&target, &current) {
        (Some(t), Some(c)) => t.version < *c,
        _ => false,
    };
    let range = requirement.and_then(|r| semver::VersionReq::parse(r).ok());
    let mut listed = Vec::new();
    if let Some(target) = target {
        let between = |v: &&TagVersion| {
            let after_current = current.as_ref().is_none_or(|c| v.version > *c);
            if rollback {
                v.version > target.version && !after_current
            } else {
                after_current && v.version <= target.version && v.version.pre.is_empty()
            }
        };
        let mut chosen: Vec<&TagVersion> = versions.iter().filter(between).collect();
        if rollback {
            chosen.reverse();
        }
        for v in chosen {
            listed.push(AvailableVersion {
                version: v.version.to_string(),
                tag: v.tag.clone(),
                commit: v.commit.clone(),
                within_requirement: range.as_ref().is_some_and(|r| r.matches(&v.version)),
                changelog: Stack::load(&source, pin_of_tag(v))
                    .map(|s| s.definition.changelog)
                    .unwrap_or_default(),
            });
        }
    }
    let mut report = UpdateReport {
        stack: stack_source.to_string(),
        status: UpdateStatus::UpToDate,
        current: current.as_ref().map(ToString::to_string),
        latest: latest.map(|v| v.version.to_string()),
        target: target.map(|t| t.tag.clone()),
        rollback,
        versions: listed,
        requirement: None,
        added: Vec::new(),
        removed: Vec::new(),
        migrations: Vec::new(),
        new_permissions: Default::default(),
        permissions_unknown: None,
    };
    let Some(target) = target else {
        return Ok(report);
    };

    // Never move to a release not signed by a key cairn.yaml trusts.
    let mut target_pin = pin_of_tag(target);
    check_release(which.trust(), &source, &mut target_pin)?;
    let target_stack = Stack::load(&source, target_pin)?;
    // Components by their names here (an included stack's aliases applied).
    let here = |name: &String| which.alias.get(name).unwrap_or(name).clone();
    let current_pin_for_permissions = current_pin.clone();
    let current_stack = Stack::load(&source, current_pin).ok().map(|mut stack| {
        for component in &mut stack.definition.components {
            component.name = here(&component.name);
        }
        stack
    });
    let current_names: Vec<String> = current_stack
        .as_ref()
        .map(|s| {
            s.definition
                .components
                .iter()
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let target_names: Vec<String> = target_stack
        .definition
        .components
        .iter()
        .map(|c| here(&c.name))
        .collect();
    report.added = target_names
        .iter()
        .filter(|n| !current_names.contains(n))
        .cloned()
        .collect();
    report.removed = current_names
        .iter()
        .filter(|n| !target_names.contains(n))
        .cloned()
        .collect();

    // An explicit version is pinned exactly: a range from it would let
    // generate pick a newer release, or keep the locked one on a rollback.
    let exact =
        what.to.is_some() || requirement.is_some_and(|r| versions.iter().any(|v| v.tag == r));
    let new_requirement = if exact {
        target.tag.clone()
    } else {
        format!("^{}", target.version)
    };
    let origin = project.config_path.display().to_string();
    let text = std::fs::read_to_string(&project.config_path)
        .with_context(|| format!("cannot read {origin}"))?;
    let mut updated = if which.main {
        crate::edit::set_string(&text, &origin, &["stack", "version"], &new_requirement)?
    } else {
        crate::edit::set_in_item(
            &text,
            &origin,
            "stacks",
            ("source", stack_source),
            "version",
            &new_requirement,
        )?
    };
    // The stack as its components are named here.
    let mut target_stack = target_stack;
    if !which.alias.is_empty() {
        let mut renamed = target_stack;
        for component in &mut renamed.definition.components {
            component.name = here(&component.name);
        }
        target_stack = renamed;
    }
    match permission_changes(
        options,
        &project,
        &source,
        current_pin_for_permissions,
        &which,
        target,
    ) {
        Ok(changes) => report.new_permissions = changes,
        Err(err) => report.permissions_unknown = Some(format!("{err:#}")),
    }
    if what.check {
        preview(&project, &target_stack, &mut report);
        if let Some(current) = &current_stack {
            document_new_options(
                options,
                &project,
                current,
                &target_stack,
                &mut updated.clone(),
                &mut report,
                true,
            )?;
        }
        report.status = UpdateStatus::UpdateAvailable;
        return Ok(report);
    }
    migrate(options, &project, &target_stack, &mut updated, &mut report)?;
    if let Some(current) = &current_stack {
        document_new_options(
            options,
            &project,
            current,
            &target_stack,
            &mut updated,
            &mut report,
            false,
        )?;
    }
    crate::files::write_atomic(&project.config_path, updated.as_bytes())
        .with_context(|| format!("cannot write {origin}"))?;
    if which.main && project.config.stacks.is_empty() {
        refresh_schema(options, &project, &target_stack)?;
    }
    report.status = if rollback {
        UpdateStatus::RolledBack
    } else {
        UpdateStatus::Updated
    };
    report.requirement = Some(new_requirement);
    Ok(report)
}

/// What each component of the target asks for that the current version's
/// does not, both rendered with today's values (renamed as here).
fn permission_changes(
    options: &Options,
    project: &Project,
    source: &crate::source::StackSource,
    current: Pin,
    which: &Which<'_>,
    target: &TagVersion,
) -> anyhow::Result<std::collections::BTreeMap<String, crate::permissions::Permissions>> {
    let runtime = options.sandbox.runtime()?;
    let render = |pin: Pin| -> anyhow::Result<_> {
        let mut stack = Stack::load(source, pin)?;
        for component in &mut stack.definition.components {
            if let Some(name) = which.alias.get(&component.name) {
                component.name = name.clone();
            }
        }
        let values = super::generate::then_values(project, &stack);
        let generated = super::tree::generate_tree(
            &runtime,
            &*options.sandbox.progress,
            &values,
            stack,
            None,
            crate::secrets::PreviousCiphertext::Reseal,
        )
        .context("cannot render it to compare what it may do")?;
        Ok(generated.permissions)
    };
    let before = render(current).unwrap_or_default();
    let after = render(pin_of_tag(target))?;
    Ok(after
        .into_iter()
        .map(|(name, now)| {
            let added = match before.get(&name) {
                Some(then) => now.added_since(then),
                None => now,
            };
            (name, added)
        })
        .filter(|(_, added)| !added.is_empty())
        .collect())
}

/// The stack an update is about: the main one, or one of `stacks:`.
struct Which<'p> {
    main: bool,
    source: &'p str,
    requirement: Option<&'p str>,
    locked: Option<&'p crate::config::LockedStack>,
    alias: std::collections::BTreeMap<String, String>,
    /// Its key in cairn.yaml, and whom it trusts to sign releases.
    key: String,
    signers: &'p [String],
    unsigned: bool,
}

impl Which<'_> {
    fn trust(&self) -> crate::config::Trust<'_> {
        crate::config::Trust {
            source: self.source,
            key: &self.key,
            signers: self.signers,
            unsigned: self.unsigned,
        }
    }
}

impl<'p> Which<'p> {
    fn of(
        project: &'p Project,
        lock: Option<&'p Lock>,
        stack: Option<&str>,
    ) -> anyhow::Result<Self> {
        let Some(wanted) = stack else {
            return Ok(Self {
                main: true,
                source: &project.config.stack.source,
                requirement: project.config.stack.version.as_deref(),
                locked: lock.map(|l| &l.stack),
                alias: Default::default(),
                key: "stack".into(),
                signers: &project.config.stack.signers,
                unsigned: project.config.stack.unsigned,
            });
        };
        let locked_of =
            |source: &str| lock.and_then(|l| l.stacks.iter().find(|s| s.source == source));
        let found = project.config.stacks.iter().position(|more| {
            more.source == wanted || locked_of(&more.source).is_some_and(|l| l.name == wanted)
        });
        let Some(index) = found else {
            let known: Vec<String> = project
                .config
                .stacks
                .iter()
                .map(|m| match locked_of(&m.source) {
                    Some(l) => format!("{} ({})", l.name, m.source),
                    None => m.source.clone(),
                })
                .collect();
            anyhow::bail!(
                "{} has no other stack {wanted:?} under `stacks:`; {}",
                project.config_path.display(),
                if known.is_empty() {
                    "it has none (without --stack, update moves the main stack)".to_string()
                } else {
                    format!("its other stacks are: {}", known.join(", "))
                }
            );
        };
        let more = &project.config.stacks[index];
        Ok(Self {
            main: false,
            source: &more.source,
            requirement: more.version.as_deref(),
            locked: locked_of(&more.source),
            alias: more.alias.clone(),
            key: format!("stacks[{index}]"),
            signers: &more.signers,
            unsigned: more.unsigned,
        })
    }
}

fn pin_of_tag(v: &TagVersion) -> Pin {
    Pin {
        version: Some(v.version.clone()),
        tag: Some(v.tag.clone()),
        commit: Some(v.commit.clone()),
        signer: None,
    }
}

/// What [`migrate`] would do, for `check`.
fn preview(project: &Project, target: &Stack, report: &mut UpdateReport) {
    let version = target.pin.describe();
    for name in &report.removed {
        if project.config.values.contains_key(name) {
            report.migrations.push(format!(
                "values.{name} would be commented out: {version} has no component {name}"
            ));
        }
    }
    for name in &report.added {
        if !project.config.values.contains_key(name) {
            report.migrations.push(format!(
                "values.{name} would be added with its options commented out: {version} adds component {name}"
            ));
        }
    }
}

/// Moves the values of `text` (cairn.yaml) to the target's components:
/// a block for each component added (when cairn.yaml has none), each
/// removed component's block commented out. What cannot be done in
/// place is left to the user, and said.
fn migrate(
    options: &Options,
    project: &Project,
    target: &Stack,
    text: &mut String,
    report: &mut UpdateReport,
) -> anyhow::Result<()> {
    let origin = project.config_path.display().to_string();
    let version = target.pin.describe();
    for name in &report.removed {
        if !project.config.values.contains_key(name) {
            continue;
        }
        match crate::edit::comment_out(text, &origin, &["values"], name) {
            Ok(edited) => {
                *text = edited;
                report.migrations.push(format!(
                    "values.{name} commented out: {version} has no component {name}"
                ));
            }
            Err(_) => report.migrations.push(format!(
                "remove values.{name} from {origin} yourself: {version} has no component {name}"
            )),
        }
    }
    let new: Vec<&str> = report
        .added
        .iter()
        .filter(|n| !project.config.values.contains_key(*n))
        .map(String::as_str)
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let runtime = options.sandbox.runtime()?;
    let (loaded, index) = load_components(&runtime, &*options.sandbox.progress, target, &new)?;
    for (name, i) in new.iter().zip(index) {
        let enabled = target.definition.component(name).is_some_and(|c| c.enabled);
        let block = config_text::component_block(name, enabled, &loaded[i].metadata);
        let state = if enabled { "on" } else { "off" };
        match crate::edit::insert_block(text, &origin, &["values"], name, &block) {
            Ok(edited) => {
                *text = edited;
                report.migrations.push(format!(
                    "values.{name} added with its options commented out: {version} adds component {name} ({state} by default)"
                ));
            }
            Err(_) => report.migrations.push(format!(
                "{version} adds component {name} ({state} by default); `cairn show {name}` lists its options"
            )),
        }
    }
    Ok(())
}

/// For each component both versions have and cairn.yaml configures (a
/// block mapping), the options the target adds, documented as comment
/// lines at the end of its block, as `init` writes them: an option the
/// user has not set is still where they look for it.
fn document_new_options(
    options: &Options,
    project: &Project,
    current: &Stack,
    target: &Stack,
    text: &mut String,
    report: &mut UpdateReport,
    check: bool,
) -> anyhow::Result<()> {
    let origin = project.config_path.display().to_string();
    let own = crate::config::UserConfig::parse(text, &origin)?.values;
    let would = if check { "would be " } else { "" };
    let both: Vec<&str> = target
        .definition
        .components
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| {
            current.definition.component(n).is_some() && own.get(*n).is_some_and(|v| v.is_object())
        })
        .collect();
    if both.is_empty() {
        return Ok(());
    }
    let runtime = options.sandbox.runtime()?;
    let progress = &*options.sandbox.progress;
    let (then, then_index) = load_components(&runtime, progress, current, &both)?;
    let (now, now_index) = load_components(&runtime, progress, target, &both)?;
    for ((name, i), j) in both.iter().zip(then_index).zip(now_index) {
        let known: std::collections::BTreeSet<String> =
            crate::values::options(&then[i].metadata.config_schema)
                .into_iter()
                .map(|o| o.name)
                .collect();
        let added: Vec<crate::values::OptionDoc> =
            crate::values::options(&now[j].metadata.config_schema)
                .into_iter()
                .filter(|o| !known.contains(&o.name))
                .collect();
        if added.is_empty() {
            continue;
        }
        let comment: String = added.iter().map(config_text::option_lines).collect();
        let names: Vec<&str> = added.iter().map(|o| o.name.as_str()).collect();
        match crate::edit::append_comment(text, &origin, &["values", name], &comment) {
            Ok(edited) => {
                *text = edited;
                report.migrations.push(format!(
                    "values.{name}: new options {would}documented (commented out): {}",
                    names.join(", ")
                ));
            }
            Err(_) => report.migrations.push(format!(
                "values.{name}: the new release adds options {}; `cairn show {name}` describes them",
                names.join(", ")
            )),
        }
    }
    Ok(())
}

/// Rewrites cairn.schema.json for the target, when the project has one.
fn refresh_schema(options: &Options, project: &Project, target: &Stack) -> anyhow::Result<()> {
    let path = project.root.join(config_text::SCHEMA_FILE);
    if !path.exists() {
        return Ok(());
    }
    let runtime = options.sandbox.runtime()?;
    let names: Vec<&str> = target
        .definition
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let (loaded, index) = load_components(&runtime, &*options.sandbox.progress, target, &names)?;
    let described: Vec<(&str, &crate::runtime::Metadata)> = names
        .iter()
        .zip(index)
        .map(|(name, i)| (*name, &loaded[i].metadata))
        .collect();
    let schema = config_text::file_schema(&target.definition.name, &described);
    crate::files::write_atomic(
        &path,
        format!("{}\n", serde_json::to_string_pretty(&schema)?).as_bytes(),
    )
    .with_context(|| format!("cannot write {}", path.display()))
}
