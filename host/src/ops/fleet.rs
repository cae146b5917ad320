//! Many clusters at once: every cairn.yaml below a directory (or those
//! named), each command run for each of them in parallel, with one runtime
//! (one engine, one compile and render cache) for all. A cluster that
//! fails does not stop the others; each result names its cluster.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{GenerateOptions, GenerateReport, Options};
use crate::config::CONFIG_FILE;

/// The most cairn.yaml files one fleet holds, and how deep they are
/// looked for.
const MAX_CLUSTERS: usize = 10_000;
const MAX_DEPTH: usize = 32;

/// One cluster's result.
pub struct ClusterResult<R> {
    /// The cluster's directory, as given or found (relative to where the
    /// search started).
    pub cluster: String,
    pub config: PathBuf,
    pub result: anyhow::Result<R>,
}

/// Every `cairn.yaml` below `root`, sorted: hidden directories (`.git`,
/// `.cairn`), `node_modules` and symbolic links are not entered, and a
/// cluster's own output is not searched twice.
pub fn discover(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_file() && name == CONFIG_FILE {
                found.push(entry.path());
                if found.len() > MAX_CLUSTERS {
                    anyhow::bail!(
                        "more than {MAX_CLUSTERS} cairn.yaml files below {}; name the clusters with --config",
                        root.display()
                    );
                }
            } else if kind.is_dir()
                && !name.starts_with('.')
                && name != "node_modules"
                && depth < MAX_DEPTH
            {
                dirs.push((entry.path(), depth + 1));
            }
        }
    }
    found.sort();
    if found.is_empty() {
        anyhow::bail!(
            "no cairn.yaml below {}; run `cairn init` in each cluster's directory",
            root.display()
        );
    }
    Ok(found)
}

/// How a cluster is named: its directory, relative to `base` when inside.
pub fn cluster_name(config: &Path, base: &Path) -> String {
    let dir = config.parent().unwrap_or(Path::new(""));
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    let name = rel.to_string_lossy();
    if name.is_empty() {
        ".".into()
    } else {
        name.trim_start_matches("./").to_string()
    }
}

/// Runs `command` for every cluster, in parallel, sharing one runtime.
pub fn each<R: Send>(
    configs: &[PathBuf],
    base: &Path,
    options: &Options,
    command: impl Fn(&Options) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<ClusterResult<R>>> {
    let sandbox = options.sandbox.shared()?;
    Ok(configs
        .par_iter()
        .map(|config| {
            let cluster_options = Options {
                config: config.clone(),
                offline: options.offline,
                sandbox: sandbox.clone(),
                draft: None,
            };
            ClusterResult {
                cluster: cluster_name(config, base),
                config: config.clone(),
                result: command(&cluster_options),
            }
        })
        .collect())
}

/// What `generate` did across a fleet.
pub struct FleetGenerate {
    pub clusters: Vec<ClusterResult<GenerateReport>>,
    /// With `commit`: one commit per git repository, of every cluster in it
    /// that generated.
    pub commits: Vec<String>,
}

/// `generate` for every cluster; with `what.commit`, everything the
/// clusters that succeeded wrote is committed at the end, once per
/// repository, after checking nothing else is staged.
pub fn generate(
    configs: &[PathBuf],
    base: &Path,
    options: &Options,
    what: GenerateOptions,
) -> anyhow::Result<FleetGenerate> {
    let mut repos: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    if what.commit {
        for (i, config) in configs.iter().enumerate() {
            let root = crate::git::work_tree(config.parent().unwrap_or(Path::new(".")))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--commit needs a git repository, and {} is not inside one (`git init` it first)",
                        config.display()
                    )
                })?;
            repos.entry(root).or_default().push(i);
        }
        for root in repos.keys() {
            crate::git::check_clean_index(root)?;
        }
    }
    let uncommitted = GenerateOptions {
        commit: false,
        ..what
    };
    let clusters = each(configs, base, options, |options| {
        super::generate::generate_collecting(options, uncommitted, what.commit)
    })?;
    let mut commits = Vec::new();
    let mut reports = Vec::new();
    for cluster in clusters {
        let ClusterResult {
            cluster,
            config,
            result,
        } = cluster;
        reports.push((cluster, config, result));
    }
    for (root, members) in &repos {
        let mut paths = Vec::new();
        let mut lines = Vec::new();
        for &i in members {
            if let (name, _, Ok((report, cluster_paths))) = &reports[i] {
                paths.extend(cluster_paths.iter().cloned());
                let subject = super::commit_message(report);
                lines.push(format!(
                    "{name}: {}",
                    subject.lines().next().unwrap_or_default()
                ));
            }
        }
        if paths.is_empty() {
            continue;
        }
        let message = format!(
            "cairn: generate {} cluster(s)\n\n{}\n",
            lines.len(),
            lines.join("\n")
        );
        if let Some(commit) = crate::git::commit(root, &paths, &message)? {
            commits.push(commit);
        }
    }
    Ok(FleetGenerate {
        clusters: reports
            .into_iter()
            .map(|(cluster, config, result)| ClusterResult {
                cluster,
                config,
                result: result.map(|(report, _)| report),
            })
            .collect(),
        commits,
    })
}
