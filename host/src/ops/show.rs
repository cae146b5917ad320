//! `show`: a stack's components, or one component's options, as a page to
//! read: from the stack cairn.yaml names (at its locked or required
//! version), or from any stack source. Writes nothing.

use std::collections::BTreeMap;

use anyhow::bail;
use serde::Serialize;

use super::Options;
use super::session::{Access, Session, open_source};
use super::tree::load_components;
use crate::config::Project;
use crate::runtime::FactDecl;
use crate::stack::Stack;
use crate::values::OptionDoc;

/// What to show, and from where.
#[derive(Debug, Clone, Default)]
pub struct ShowOptions {
    /// One component's page; all components when `None`.
    pub component: Option<String>,
    /// A stack source (git URL or path) instead of the one in cairn.yaml.
    pub stack: Option<String>,
    /// With `stack`: the version (default: the newest release).
    pub version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ShowReport {
    pub stack: String,
    pub source: String,
    /// The version shown: a tag, a commit, or the working directory.
    pub version: String,
    pub components: Vec<ComponentSummary>,
    /// The page of the component asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentPage>,
}

#[derive(Debug, Serialize)]
pub struct ComponentSummary {
    pub name: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub version: String,
    /// On by default in the stack.
    pub default_enabled: bool,
    /// On in cairn.yaml (when shown for a project).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ComponentPage {
    pub name: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub version: String,
    pub options: Vec<OptionDoc>,
    pub provides: Vec<FactDecl>,
    pub reads: Vec<FactDecl>,
    pub crd_groups: Vec<String>,
    pub readme: String,
    /// What its manifests may do to the cluster, rendered with the
    /// project's values (or the defaults, for `--stack`); `None` when they
    /// cannot be rendered so.
    pub permissions: Option<crate::permissions::Permissions>,
    /// Why there are no permissions to show, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_unknown: Option<String>,
}

/// `cairn show [COMPONENT]`.
pub fn show(options: &Options, what: &ShowOptions) -> anyhow::Result<ShowReport> {
    let mut rendered: Option<anyhow::Result<BTreeMap<String, crate::permissions::Permissions>>> =
        None;
    let (stack, spec, project) = match &what.stack {
        Some(spec) => {
            let cwd = std::env::current_dir()?;
            // A stack's name in the followed catalogs stands for its source.
            let spec = &match super::catalog::lookup(options, spec)? {
                Some(found) => found.stack.source,
                None => spec.clone(),
            };
            let source = open_source(spec, &cwd, options, true)?;
            let pin = source.resolve(what.version.as_deref())?;
            (Stack::load(&source, pin)?, spec.clone(), None)
        }
        None => {
            let session = Session::open(options, Access::Read)?;
            let (_, stack) = session.stack(options)?;
            if what.component.is_some() {
                rendered = Some(session.generate(options).map(|(_, g)| g.permissions));
            }
            let spec = session.project.config.stack.source.clone();
            (stack, spec, Some(session.project))
        }
    };
    let def = &stack.definition;
    let names: Vec<&str> = match &what.component {
        Some(name) => {
            if def.component(name).is_none() {
                let all: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
                bail!(
                    "stack {} has no component {name:?}{}; its components are: {}",
                    def.name,
                    crate::config::did_you_mean(name, &all),
                    all.join(", ")
                );
            }
            vec![name.as_str()]
        }
        None => def.components.iter().map(|c| c.name.as_str()).collect(),
    };
    let runtime = options.sandbox.runtime()?;
    let (loaded, index) = load_components(&runtime, &*options.sandbox.progress, &stack, &names)?;
    let enabled = |name: &str| {
        project.as_ref().map(|p: &Project| {
            p.enabled(name)
                .unwrap_or_else(|| def.component(name).is_some_and(|c| c.enabled))
        })
    };
    let mut report = ShowReport {
        stack: def.name.clone(),
        source: spec,
        version: stack.pin.describe(),
        components: Vec::new(),
        component: None,
    };
    for (name, i) in names.iter().zip(index) {
        let meta = &loaded[i].metadata;
        report.components.push(ComponentSummary {
            name: name.to_string(),
            title: meta.title.clone(),
            description: meta.description.clone(),
            category: meta.category.clone(),
            version: meta.version.clone(),
            default_enabled: def.component(name).is_some_and(|c| c.enabled),
            enabled: enabled(name),
        });
        if what.component.is_some() {
            report.component = Some(ComponentPage {
                name: name.to_string(),
                title: meta.title.clone(),
                description: meta.description.clone(),
                category: meta.category.clone(),
                version: meta.version.clone(),
                options: crate::values::options(&meta.config_schema),
                provides: meta.provides.clone(),
                reads: meta.reads.clone(),
                crd_groups: meta.crd_groups.clone(),
                readme: meta.readme.clone(),
                permissions: match &rendered {
                    Some(Ok(all)) => Some(all.get(*name).cloned().unwrap_or_default()),
                    _ => None,
                },
                permissions_unknown: match &rendered {
                    Some(Err(err)) => Some(format!(
                        "it does not render with cairn.yaml's values: {}",
                        crate::text::one_line(&format!("{err:#}"), 300)
                    )),
                    None => Some(
                        "shown for a cluster's cairn.yaml, rendered with its values".to_string(),
                    ),
                    Some(Ok(_)) => None,
                },
            });
        }
    }
    Ok(report)
}
