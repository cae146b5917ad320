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
    // What Flux applies: once generated, every YAML file on disk (what
    // cairn wrote, hand edits, the user's own files, Flux's own); before
    // that, the render.
    let mut files: Vec<(String, String)> = if session.lock.is_some() {
        let output = session.project.output_dir();
        let mut files = Vec::new();
        walk_yaml(&output, Path::new(""), &mut files, &mut report.problems);
        // cairn.yaml itself, when the output is its directory.
        let config = std::path::absolute(&session.project.config_path)?;
        files.retain(|(path, _)| {
            std::path::absolute(output.join(path)).ok().as_ref() != Some(&config)
        });
        files
    } else {
        generated
            .rendering
            .tree
            .iter()
            .filter(|(path, file)| {
                (file.component.is_some() && !path.ends_with(crate::config::layout::KUSTOMIZATION))
                    || *path == crate::config::layout::LAYERS_FILE
            })
            .map(|(path, file)| (path.clone(), file.content.clone()))
            .collect()
    };
    // The cluster sync bootstrap wrote, when it is not in the output.
    let sync = Path::new(crate::config::layout::FLUX_DIR).join(crate::config::layout::SYNC_FILE);
    let synced = files.iter().any(|(p, _)| Path::new(p) == sync);
    if !synced && let Ok(text) = std::fs::read_to_string(session.project.root.join(&sync)) {
        files.push((sync.display().to_string(), text));
    }
    // The policy, over the components' files as Flux would apply them
    // (hand edits included).
    let components: BTreeSet<&str> = generated
        .stack
        .definition
        .components
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let parsed: Vec<(&str, &str, Vec<serde_yaml::Value>)> = files
        .iter()
        .filter(|(path, _)| !path.ends_with(crate::config::layout::KUSTOMIZATION))
        .filter_map(|(path, content)| {
            let component = path.split('/').next().filter(|c| components.contains(c))?;
            let objects = crate::yaml::documents(content)
                .into_iter()
                .flatten()
                .filter(|d| !d.is_null())
                .collect();
            Some((component, path.as_str(), objects))
        })
        .collect();
    let scanned: Vec<crate::permissions::ComponentFile<'_>> = parsed
        .iter()
        .map(
            |(component, path, objects)| crate::permissions::ComponentFile {
                component,
                path,
                objects,
            },
        )
        .collect();
    let (_, breaches) = crate::permissions::scan(&scanned, session.project.config.policy.as_ref());
    report.problems.extend(breaches);
    for (path, content) in &files {
        if let Some(Err(err)) = crate::yaml::documents(content)
            .into_iter()
            .find(Result::is_err)
        {
            report.problems.push(format!(
                "{path}: {err} (cairn checks plain YAML only: no anchors, aliases, tags or merge keys)"
            ));
            continue;
        }
        for object in crate::crd::objects(content) {
            // Kustomize's own files, and YAML that is no object at all.
            let api = object.get("apiVersion").and_then(serde_json::Value::as_str);
            if api.is_none_or(|v| v.starts_with("kustomize.config.k8s.io/"))
                || object.get("kind").is_none()
            {
                continue;
            }
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

/// The most YAML files `lint` reads, and the largest.
const MAX_FILES: usize = 10_000;
const MAX_FILE: u64 = 16 << 20;

/// Every `.yaml`/`.yml` file under `dir` (relative to it), never through a
/// symbolic link, skipping hidden directories (`.git`, `.cairn`).
fn walk_yaml(
    dir: &Path,
    rel: &Path,
    files: &mut Vec<(String, String)>,
    problems: &mut Vec<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir.join(rel)) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = rel.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(dir.join(&path)) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if meta.file_type().is_symlink() {
            problems.push(format!(
                "{}: a symbolic link; cairn never follows one, so it was not checked",
                path.display()
            ));
        } else if meta.is_dir() {
            walk_yaml(dir, &path, files, problems);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            if files.len() >= MAX_FILES {
                problems.push(format!(
                    "more than {MAX_FILES} YAML files; the rest were not checked"
                ));
                return;
            }
            match crate::files::read_text_bounded(&dir.join(&path), MAX_FILE) {
                Ok(Some(text)) => files.push((path.display().to_string(), text)),
                Ok(None) => {}
                Err(err) => problems.push(format!("{}: cannot read it ({err})", path.display())),
            }
        }
    }
}
