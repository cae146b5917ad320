//! `render`: the low-level building block of `generate`, with no stack and
//! no lock: components from files, values from one file, the output tree
//! replacing a directory as a whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::Serialize;

use super::Sandbox;
use crate::render::{ComponentFailure, Instance};
use crate::runtime::{Diagnostic, Loaded, Runtime};

/// What to render, and where.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// A YAML file mapping component names to their values.
    pub values: Option<PathBuf>,
    /// The directory the tree replaces.
    pub out: PathBuf,
    /// `COMPONENT.wasm`, or `NAME=COMPONENT.wasm` to render it under
    /// another name (two copies of one component, say).
    pub components: Vec<String>,
}

/// What `render` wrote.
#[derive(Debug, Serialize)]
pub struct RenderReport {
    pub components: Vec<RenderedComponent>,
    /// Warnings and notes components returned, with the component's name.
    pub diagnostics: Vec<(String, Diagnostic)>,
    /// How many files the tree holds.
    pub files: usize,
    pub out: PathBuf,
    /// What components printed while rendering.
    #[serde(skip)]
    pub logs: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct RenderedComponent {
    pub name: String,
    pub version: String,
    pub files: usize,
}

/// `cairn render`: renders the components with the values and replaces
/// `what.out` with the tree, atomically.
pub fn render(sandbox: &Sandbox, what: &RenderOptions) -> anyhow::Result<RenderReport> {
    let runtime = sandbox.runtime()?;
    let mut values = match &what.values {
        Some(path) => read_values(path)?,
        None => BTreeMap::new(),
    };
    let specs: Vec<(Option<String>, PathBuf)> = what
        .components
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((name, path)) => (Some(name.to_string()), PathBuf::from(path)),
            None => (None, PathBuf::from(spec)),
        })
        .collect();
    // Each distinct file is loaded once, however many copies render.
    let mut paths: Vec<&PathBuf> = specs.iter().map(|(_, path)| path).collect();
    paths.sort();
    paths.dedup();
    let task = sandbox
        .progress
        .start(&format!("loading {} components", paths.len()));
    let loaded = paths
        .par_iter()
        .map(|path| load_file(&runtime, path))
        .collect::<anyhow::Result<Vec<Loaded>>>();
    drop(task);
    let loaded = loaded?;

    let mut instances = Vec::new();
    for (name, path) in &specs {
        let component = &loaded[paths.binary_search(&path).expect("every path was loaded")];
        let name = name
            .clone()
            .unwrap_or_else(|| component.metadata.name.clone());
        if !crate::names::component(&name) {
            bail!(
                "{}: {name:?} is not a valid component name (lower-case letters, digits and '-')",
                path.display()
            );
        }
        let values = values.remove(&name);
        instances.push(Instance {
            name,
            component,
            values,
        });
    }
    if let Some(unknown) = values.keys().next() {
        let names: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
        bail!(
            "{}: values for {unknown:?}, which is not among the components rendered ({}){}",
            what.values
                .as_deref()
                .unwrap_or(Path::new("values"))
                .display(),
            names.join(", "),
            crate::config::did_you_mean(unknown, &names)
        );
    }

    // Secret references resolve relative to the values file; with no
    // recipients here, a rendered Secret is refused.
    let base = what
        .values
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let resolver = crate::secrets::Resolver::new(base);
    let handling = crate::render::SecretHandling {
        resolver: &resolver,
        sealer: None,
    };
    let rendering = crate::render::render(&runtime, &instances, &handling)?;
    crate::repo::replace_dir(&what.out, &rendering.tree)?;
    Ok(RenderReport {
        components: rendering
            .components
            .iter()
            .map(|c| RenderedComponent {
                name: c.name.clone(),
                version: c.version.clone(),
                files: c.files,
            })
            .collect(),
        diagnostics: rendering.diagnostics,
        files: rendering.tree.len(),
        out: what.out.clone(),
        logs: rendering.logs,
    })
}

/// Reads and loads a component file.
pub(super) fn load_file(runtime: &Runtime, path: &Path) -> anyhow::Result<Loaded> {
    let wasm =
        std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))?;
    runtime.load(&wasm).map_err(|error| {
        ComponentFailure {
            component: path.display().to_string(),
            error,
        }
        .into()
    })
}

/// A values file: a mapping from component name to that component's values.
fn read_values(path: &Path) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read values file {}", path.display()))?;
    let values: Option<BTreeMap<String, serde_json::Value>> = crate::yaml::from_str(&text)
        .with_context(|| {
            format!(
                "{}: not a mapping from component name to values (e.g. `gateway: {{replicas: 2}}`)",
                path.display()
            )
        })?;
    Ok(values.unwrap_or_default())
}
