//! `inspect`: what a component is, what it needs and what it may do, from
//! the component itself (its `describe`) and its imports.

use std::path::Path;

use serde::Serialize;

use super::Sandbox;
use super::render::load_file;
use crate::runtime::FactDecl;

/// A component as it describes itself. Every text in it comes from the
/// component: a front end shows it as data, never as markup or commands.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectReport {
    pub name: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub sha256: String,
    pub provides: Vec<FactDecl>,
    pub reads: Vec<FactDecl>,
    /// The interfaces it imports: its capabilities.
    pub imports: Vec<String>,
    /// The API groups whose CRDs its charts install.
    pub crd_groups: Vec<String>,
    pub config_schema: serde_json::Value,
    pub readme: String,
}

/// `cairn inspect`: loads the component at `path` and describes it.
pub fn inspect(sandbox: &Sandbox, path: &Path) -> anyhow::Result<InspectReport> {
    let runtime = sandbox.runtime()?;
    let component = load_file(&runtime, path)?;
    let meta = component.metadata;
    Ok(InspectReport {
        name: meta.name,
        version: meta.version,
        title: meta.title,
        description: meta.description,
        category: meta.category,
        sha256: component.sha256,
        provides: meta.provides,
        reads: meta.reads,
        imports: component.imports,
        crd_groups: meta.crd_groups,
        config_schema: meta.config_schema,
        readme: meta.readme,
    })
}
