//! `lint`: validates values and the rendered output without writing:
//! plaintext secrets, whether the Flux tree comes up on an empty cluster,
//! and with CRD schemas, every object whose kind one defines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Options;
use super::session::{Access, Session};
use super::tree::flux_path;

/// What to check beyond values and output.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// A directory of CRDs (openAPIV3Schema) to validate objects against.
    pub schemas: Option<PathBuf>,
}

/// What `lint` found: every problem, not the first only.
#[derive(Debug, Default, Serialize)]
pub struct LintReport {
    pub objects: usize,
    /// Objects checked against a CRD schema.
    pub checked: usize,
    pub problems: Vec<String>,
    /// `apiVersion kind` of objects no schema in `--schemas` covers.
    pub unchecked_kinds: BTreeSet<String>,
    /// The schema directory used, if any.
    pub schemas: Option<PathBuf>,
}

impl LintReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// `cairn lint`: validates values and rendered output without writing; with
/// `schemas`, validates every object whose kind a CRD there defines.
pub fn lint(options: &Options, what: &LintOptions) -> anyhow::Result<LintReport> {
    let schemas = what.schemas.as_deref();
    let session = Session::open(options, Access::Read)?;
    let (_, generated) = session.generate(options)?;
    let crds = match schemas {
        Some(dir) => crate::crd::load_dir(dir)?,
        None => crate::crd::Schemas::default(),
    };
    let mut report = LintReport {
        schemas: what.schemas.clone(),
        ..LintReport::default()
    };
    for (path, why) in crate::secrets::scan_plaintext(&session.project.output_dir()) {
        report.problems.push(format!("{path}: {why}"));
    }
    // Whether the repo as it is comes up on an empty cluster; before the
    // first generate, whether the render would.
    let convergence = if session.lock.is_some() {
        let crd_groups: BTreeMap<String, Vec<String>> = generated
            .rendering
            .components
            .iter()
            .map(|c| (c.name.clone(), c.crd_groups.clone()))
            .collect();
        let settings = session.project.config.flux.clone().unwrap_or_default();
        let (path, _) = flux_path(&session.project, &settings)?;
        crate::flux::check(
            &crate::flux::DiskView {
                output: session.project.output_dir(),
            },
            &crate::flux::CheckInput {
                path: &path,
                entry: crate::config::layout::FLUX_NAME,
                crd_groups: &crd_groups,
            },
        )
    } else {
        generated.convergence.clone()
    };
    report
        .problems
        .extend(convergence.iter().map(ToString::to_string));
    // What the components render, the Flux Kustomizations applying them,
    // and the cluster sync bootstrap wrote.
    let mut files: Vec<(String, String)> = generated
        .rendering
        .tree
        .iter()
        .filter(|(path, file)| {
            (file.component.is_some() && !path.ends_with(crate::config::layout::KUSTOMIZATION))
                || *path == crate::config::layout::LAYERS_FILE
        })
        .map(|(path, file)| (path.clone(), file.content.clone()))
        .collect();
    let sync = Path::new(crate::config::layout::FLUX_DIR).join(crate::config::layout::SYNC_FILE);
    if let Ok(text) = std::fs::read_to_string(session.project.root.join(&sync)) {
        files.push((sync.display().to_string(), text));
    }
    for (path, content) in &files {
        for object in crate::crd::objects(content) {
            report.objects += 1;
            if schemas.is_none() {
                continue;
            }
            match crds.validate(&object) {
                None => {
                    report.unchecked_kinds.insert(crate::crd::type_of(&object));
                }
                Some(errors) => {
                    report.checked += 1;
                    let name = crate::crd::name_of(&object);
                    report
                        .problems
                        .extend(errors.into_iter().map(|e| format!("{path}: {name}: {e}")));
                }
            }
        }
    }
    Ok(report)
}
