//! The stack commands: one function each, taking options and returning a
//! report for the CLI to print. They tie the stages together: config →
//! source → runtime/render → repo.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde::Serialize;

use crate::compose::Tree;
use crate::config::{CONFIG_FILE, Lock, LockedComponent, LockedStack, Project};
use crate::limits::Limits;
use crate::render::{self, Instance, Rendering};
use crate::repo::{self, Action, Plan};
use crate::runtime::{CodeCache, Loaded, Runtime};
use crate::secrets::PreviousCiphertext;
use crate::source::{Pin, SourceOptions, StackSource, TagVersion};
use crate::stack::Stack;

/// Options every stack command shares.
pub struct Options {
    /// The `cairn.yaml` to use.
    pub config: PathBuf,
    pub offline: bool,
    pub no_cache: bool,
    pub limits: Limits,
}

fn runtime(options: &Options) -> anyhow::Result<Runtime> {
    let cache = if options.no_cache {
        None
    } else {
        Some(CodeCache::user_default()?)
    };
    Runtime::new(options.limits.clone(), cache)
}

fn open_source(spec: &str, base: &Path, offline: bool, fetch: bool) -> anyhow::Result<StackSource> {
    let options = SourceOptions {
        base,
        cache: crate::cache::dir("git")?,
        offline,
    };
    StackSource::open(spec, &options, fetch)
}

/// A project opened for a command: config, lock and stack source.
struct Session {
    project: Project,
    /// The lock `generate` wrote, if any.
    lock: Option<Lock>,
    /// What `cairn bootstrap` recorded of Flux, carried into every new lock.
    flux: Option<crate::config::LockedFlux>,
    runtime: Runtime,
    /// Whether an interrupted apply was completed on opening.
    recovered: bool,
}

/// Whether a command may change the repo: only one that may completes an
/// interrupted `generate`; the others refuse to read a half-applied repo.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Completes an interrupted apply when `access` allows, else refuses to go
/// on while one is pending. Returns whether one was completed.
fn settle(project: &Project, access: Access) -> anyhow::Result<bool> {
    let layout = layout(project);
    match access {
        Access::Write => repo::recover(&layout),
        Access::Read if repo::pending(&project.root) => bail!(
            "{}: a `cairn generate` was interrupted here and left .cairn/journal.yaml; run `cairn generate` to complete it (other commands never replay it, and .cairn/ is never committed)",
            project.root.display()
        ),
        Access::Read => repo::discard_staging(&project.root).map(|()| false),
    }
}

fn layout(project: &Project) -> repo::Layout {
    repo::Layout::new(&project.root, &project.config.output)
}

impl Session {
    fn open(options: &Options, access: Access) -> anyhow::Result<Self> {
        let project = Project::load(&options.config)?;
        let recovered = settle(&project, access)?;
        let lock = Lock::read(&project.lock_path())?;
        let flux = lock.as_ref().and_then(|l| l.flux.clone());
        Ok(Self {
            project,
            lock: lock.filter(Lock::is_generated),
            flux,
            runtime: runtime(options)?,
            recovered,
        })
    }

    /// The locked pin, when the lock is for this source and still satisfies
    /// the requirement: then nothing needs fetching.
    fn locked_pin(&self) -> Option<Pin> {
        let lock = self.lock.as_ref()?;
        let stack = &self.project.config.stack;
        if lock.stack.source != stack.source {
            return None;
        }
        let version = lock
            .stack
            .version
            .as_deref()
            .and_then(|v| semver::Version::parse(v).ok());
        let satisfied = match stack.version.as_deref().map(str::trim) {
            None => version.is_none() && lock.stack.commit.is_none(),
            Some(req) => {
                lock.stack.tag.as_deref() == Some(req)
                    || lock
                        .stack
                        .commit
                        .as_deref()
                        .is_some_and(|c| req.len() >= 7 && c.starts_with(req))
                    || match (semver::VersionReq::parse(req), &version) {
                        (Ok(range), Some(v)) => range.matches(v),
                        _ => false,
                    }
            }
        };
        satisfied.then(|| pin_of(&lock.stack))
    }

    /// The source and the version to render: the locked one while it still
    /// satisfies cairn.yaml (no fetch), else the requirement resolved anew.
    /// Refuses when the locked tag now points at another commit: a published
    /// release must never change under its version.
    fn pin(&self, options: &Options) -> anyhow::Result<(StackSource, Pin)> {
        let locked = self.locked_pin();
        let source = self.source(options, locked.is_none())?;
        let Some(pin) = locked else {
            let pin = source.resolve(self.project.config.stack.version.as_deref())?;
            return Ok((source, pin));
        };
        if let (Some(tag), Some(commit)) = (&pin.tag, &pin.commit)
            && let Some(now) = source.versions()?.into_iter().find(|v| v.tag == *tag)
            && now.commit != *commit
        {
            bail!(
                "tag {tag} of stack {} now points at commit {}, but {} locked {commit}: the published release changed under the same version (tampering?). Refusing it; ask the stack's authors, and pin a commit in cairn.yaml if you trust it",
                self.project.config.stack.source,
                now.commit,
                crate::config::LOCK_FILE
            );
        }
        Ok((source, pin))
    }

    /// Renders the stack at the version to use (see [`Session::pin`]).
    fn generate(&self, options: &Options) -> anyhow::Result<(StackSource, Generated)> {
        let (source, pin) = self.pin(options)?;
        let stack = Stack::load(&source, pin)?;
        let mut generated = generate_tree(
            &self.runtime,
            &self.project,
            stack,
            self.lock.as_ref(),
            PreviousCiphertext::Reseal,
        )?;
        generated.lock.flux = self.flux.clone();
        Ok((source, generated))
    }

    fn source(&self, options: &Options, fetch: bool) -> anyhow::Result<StackSource> {
        open_source(
            &self.project.config.stack.source,
            &self.project.root,
            options.offline,
            fetch,
        )
    }
}

/// The version a lock pins.
fn pin_of(locked: &LockedStack) -> Pin {
    Pin {
        version: locked
            .version
            .as_deref()
            .and_then(|v| semver::Version::parse(v).ok()),
        tag: locked.tag.clone(),
        commit: locked.commit.clone(),
    }
}

/// A stack rendered for a project: the tree and the lock describing it.
struct Generated {
    stack: Stack,
    rendering: Rendering,
    lock: Lock,
    /// The Flux Kustomizations applying it, one per component layer.
    layers: Vec<crate::flux::Layer>,
    /// Why the tree would not come up on an empty cluster, if it would not.
    convergence: Vec<crate::flux::Problem>,
}

/// Renders `stack` with the project's values. `unopened` says what to do
/// with sealed objects whose previous ciphertext no identity here opens.
fn generate_tree(
    runtime: &Runtime,
    project: &Project,
    stack: Stack,
    old_lock: Option<&Lock>,
    unopened: PreviousCiphertext,
) -> anyhow::Result<Generated> {
    let def = &stack.definition;
    let config = project.config_path.display();
    let names: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
    for name in project.config.values.keys() {
        if def.component(name).is_none() {
            bail!(
                "{config}: values.{name}: stack {} has no component {name:?}{}; its components are: {}",
                def.name,
                crate::config::did_you_mean(name, &names),
                names.join(", ")
            );
        }
    }
    let enabled: Vec<&str> = def
        .components
        .iter()
        .filter(|c| project.enabled(&c.name).unwrap_or(c.enabled))
        .map(|c| c.name.as_str())
        .collect();

    // A component whose bytes differ from what was locked for this very
    // version was changed after the fact: refuse it.
    if let Some(lock) = old_lock
        && lock.stack.commit.is_some()
        && lock.stack.commit == stack.pin.commit
    {
        for component in &def.components {
            if let Some(locked) = lock.components.get(&component.name)
                && !locked.sha256.eq_ignore_ascii_case(&component.sha256)
            {
                bail!(
                    "component {:?}: stack {} at {} declares sha256 {}, but {} locked {}; the published stack changed under the same version (tampering?). Refusing to run it",
                    component.name,
                    def.name,
                    stack.pin.describe(),
                    component.sha256,
                    crate::config::LOCK_FILE,
                    locked.sha256
                );
            }
        }
    }

    let (loaded, index) = load_components(runtime, &stack, &enabled)?;
    let instances: Vec<Instance<'_>> = enabled
        .iter()
        .zip(index)
        .map(|(name, i)| Instance {
            name: name.to_string(),
            component: &loaded[i],
            values: project.component_values(name),
        })
        .collect();
    let resolver = crate::secrets::Resolver::new(&project.root);
    let sealer = match &project.config.secrets {
        Some(secrets) if !secrets.age.is_empty() => Some(crate::secrets::Sealer::new(
            secrets.recipients(&config.to_string())?,
            crate::secrets::identities()?,
            {
                let output = project.output_dir();
                Box::new(move |path| repo::read(&output, path).ok().flatten())
            },
            unopened,
        )),
        _ => None,
    };
    let handling = render::SecretHandling {
        resolver: &resolver,
        sealer: sealer.as_ref(),
    };
    let mut rendering = render::render(runtime, &instances, &handling)
        .with_context(|| format!("{config}: cannot generate"))?;
    let flux_system = wire_bootstrap(project, &mut rendering.tree)?;
    let (layers, convergence) = flux_layers(project, &mut rendering, flux_system)
        .with_context(|| format!("{config}: cannot generate"))?;

    let configs: BTreeMap<&str, &serde_json::Value> = rendering
        .components
        .iter()
        .map(|c| (c.name.as_str(), &c.config))
        .collect();
    let lock = Lock {
        lock_version: Lock::VERSION,
        stack: LockedStack {
            name: def.name.clone(),
            source: project.config.stack.source.clone(),
            version: stack.pin.version.as_ref().map(ToString::to_string),
            tag: stack.pin.tag.clone(),
            commit: stack.pin.commit.clone(),
        },
        values_sha256: crate::files::sha256(&serde_json::to_string(&configs)?),
        components: rendering
            .components
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    LockedComponent {
                        version: c.version.clone(),
                        sha256: def
                            .component(&c.name)
                            .map(|d| d.sha256.to_lowercase())
                            .unwrap_or_default(),
                    },
                )
            })
            .collect(),
        files: rendering
            .tree
            .iter()
            .map(|(p, f)| (p.clone(), crate::files::sha256(&f.content)))
            .collect(),
        sealed: rendering.sealed.clone(),
        legacy_digests: BTreeMap::new(),
        flux: None,
    };
    Ok(Generated {
        stack,
        rendering,
        lock,
        layers,
        convergence,
    })
}

/// Gives every component layer its Flux Kustomization (the layers file and
/// the root kustomization listing it), then checks that the tree, with
/// what the disk holds beside it, comes up on an empty cluster. Returns the
/// layers and every convergence problem found.
fn flux_layers(
    project: &Project,
    rendering: &mut Rendering,
    flux_system: bool,
) -> anyhow::Result<(Vec<crate::flux::Layer>, Vec<crate::flux::Problem>)> {
    let settings = project.config.flux.clone().unwrap_or_default();
    let (path, warning) = flux_path(project, &settings)?;
    if let Some(message) = warning {
        rendering.diagnostics.push((
            String::new(),
            crate::runtime::Diagnostic {
                severity: crate::runtime::Severity::Warning,
                message,
                field: None,
                file: None,
            },
        ));
    }
    let components: Vec<crate::flux::Component<'_>> = rendering
        .components
        .iter()
        .map(|c| crate::flux::Component {
            name: &c.name,
            reads: c.waits_for.iter().map(String::as_str).collect(),
        })
        .collect();
    let providers: BTreeMap<String, String> = rendering
        .facts
        .iter()
        .map(|(key, published)| (key.clone(), published.provider.clone()))
        .collect();
    let layers = crate::flux::layers(&rendering.tree, &components, &providers)
        .map_err(|problems| anyhow::anyhow!("{}", problems.join("\n")))?;
    if let Some(clash) = layers
        .iter()
        .find(|l| l.name == crate::config::layout::FLUX_NAME)
    {
        bail!(
            "component {:?} would be applied by a Flux Kustomization named {}, which is the cluster's own sync; rename it in the stack",
            clash.component,
            crate::config::layout::FLUX_NAME
        );
    }
    rendering.tree.insert(
        crate::config::layout::LAYERS_FILE.into(),
        crate::compose::TreeFile {
            component: None,
            content: crate::flux::manifest(&layers, &settings, &path),
        },
    );
    crate::flux::root(&mut rendering.tree, flux_system);
    let crd_groups: BTreeMap<String, Vec<String>> = rendering
        .components
        .iter()
        .map(|c| (c.name.clone(), c.crd_groups.clone()))
        .collect();
    let view = crate::flux::TreeView {
        tree: &rendering.tree,
        disk: crate::flux::DiskView {
            output: project.output_dir(),
        },
    };
    let problems = crate::flux::check(
        &view,
        &crate::flux::CheckInput {
            path: &path,
            entry: crate::config::layout::FLUX_NAME,
            crd_groups: &crd_groups,
        },
    );
    Ok((layers, problems))
}

/// The output directory relative to the root of the repository Flux pulls:
/// `flux.path` in cairn.yaml, else found from the git repository around
/// it. Outside any git repository, the output relative to cairn.yaml's
/// directory, as if that were the repository's root, with a warning.
fn flux_path(
    project: &Project,
    settings: &crate::config::FluxSettings,
) -> anyhow::Result<(String, Option<String>)> {
    if let Some(path) = &settings.path {
        return Ok((crate::names::normal_path(path), None));
    }
    let normal = |path: &Path| -> anyhow::Result<PathBuf> {
        Ok(std::path::absolute(path)?
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect())
    };
    let output = normal(&project.output_dir())?;
    let (root, warning) = match crate::git::work_tree(&output) {
        Some(root) => (root, None),
        None => (
            normal(&project.root)?,
            Some(format!(
                "{} is not in a git repository, so the Flux Kustomizations take its directory for the root of the repository Flux pulls; set flux.path in it (e.g. `flux: {{path: clusters/prod}}`) if that is not so",
                project.config_path.display()
            )),
        ),
    };
    let rel = output.strip_prefix(&root).unwrap_or(Path::new(""));
    let path = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Ok((path, warning))
}

/// When `cairn bootstrap` set up Flux beside the output, refuses a
/// component that would compete with the cluster sync bootstrap owns.
/// Returns whether Flux's directory is in the output's root, for the root
/// kustomization to list.
fn wire_bootstrap(project: &Project, tree: &mut Tree) -> anyhow::Result<bool> {
    let Some((owned, owned_path)) = crate::bootstrap::owned_sync(&project.root) else {
        return Ok(false);
    };
    let flux_dir = crate::config::layout::FLUX_DIR;
    // Bootstrap wires an output in a subdirectory itself, in the cluster's
    // own kustomization; an output at the root is listed here.
    let at_root = project.config.output.trim_end_matches('/') == ".";
    if at_root && tree.keys().any(|p| p.starts_with(&format!("{flux_dir}/"))) {
        bail!(
            "{}: a component named {flux_dir} would write into the directory `cairn bootstrap` owns; rename it in the stack",
            project.config_path.display()
        );
    }
    let mut clashes = Vec::new();
    for (path, file) in tree.iter() {
        // Checked when the tree was assembled.
        for doc in crate::yaml::documents_checked(&file.content)
            .into_iter()
            .flatten()
        {
            let key = crate::compose::object_id(&doc);
            let same_path = doc.get("kind").and_then(serde_yaml::Value::as_str)
                == Some("Kustomization")
                && doc
                    .get("apiVersion")
                    .and_then(serde_yaml::Value::as_str)
                    .is_some_and(|v| v.starts_with("kustomize.toolkit.fluxcd.io/"))
                && doc
                    .get("spec")
                    .and_then(|s| s.get("path"))
                    .and_then(serde_yaml::Value::as_str)
                    .map(crate::names::normal_path)
                    == owned_path;
            if owned.contains(&key) || same_path {
                clashes.push(format!(
                    "component {:?}, file {path:?}: {key} competes with the cluster sync `cairn bootstrap` owns ({flux_dir}/{})",
                    file.component.as_deref().unwrap_or(""),
                    crate::config::layout::SYNC_FILE
                ));
            }
        }
    }
    if !clashes.is_empty() {
        bail!(
            "{}: {}
the cluster's own GitRepository and Kustomization belong to bootstrap: disable the component (e.g. `flux-sync: {{enabled: false}}`), or point it at another name and path",
            project.config_path.display(),
            clashes.join("\n")
        );
    }
    Ok(at_root)
}

/// Loads the named components of `stack`, each distinct `.wasm` once (a
/// stack may run one component under several names). Returns the loaded
/// components and, per name, the index of its component.
fn load_components(
    runtime: &Runtime,
    stack: &Stack,
    names: &[&str],
) -> anyhow::Result<(Vec<Loaded>, Vec<usize>)> {
    let mut paths: Vec<&str> = Vec::new();
    let mut index = Vec::new();
    for name in names {
        let path = stack
            .definition
            .component(name)
            .map_or("", |c| c.path.as_str());
        index.push(match paths.iter().position(|p| *p == path) {
            Some(i) => i,
            None => {
                paths.push(path);
                paths.len() - 1
            }
        });
    }
    // The first name using each file stands for it in errors.
    let firsts: Vec<&str> = (0..paths.len())
        .map(|i| names[index.iter().position(|&j| j == i).unwrap_or(0)])
        .collect();
    let records = crate::stack::DigestRecords::at(
        crate::cache::dir("digests")?,
        crate::cache::CacheKey::user(),
    );
    let max_size = runtime.limits().component_size.as_u64();
    let spinner = crate::progress::Spinner::new(format!("loading {} components", firsts.len()));
    // Both cores: a cold load reads, hashes and compiles 15 MB components.
    let loaded = firsts
        .par_iter()
        .map(|name| {
            let (sha256, bytes) = stack.component_digest(name, &records, max_size)?;
            let read = || match bytes {
                Some(bytes) => Ok(bytes),
                None => stack.component_wasm(name, max_size).map(|(bytes, _)| bytes),
            };
            runtime
                .load_lazy(sha256, read)
                .map_err(|err| anyhow::anyhow!("{}", render::describe_failure(name, &err)))
        })
        .collect::<anyhow::Result<Vec<Loaded>>>();
    spinner.finish();
    Ok((loaded?, index))
}

/// Everything `generate` and `diff` decide before writing.
struct Prepared {
    session: Session,
    generated: Generated,
    plan: Plan,
    lock_text: String,
    lock_changed: bool,
}

fn prepare(options: &Options, force: bool, access: Access) -> anyhow::Result<Prepared> {
    let session = Session::open(options, access)?;
    let (source, generated) = session.generate(options)?;
    if !generated.convergence.is_empty() {
        return Err(ConvergenceError(generated.convergence.clone()).into());
    }
    let tree = &generated.rendering.tree;
    let output = session.project.output_dir();
    let disk = repo::scan(&output, tree, session.lock.as_ref())?;
    let edited = repo::edited(session.lock.as_ref(), &disk);

    let mut bases = BTreeMap::new();
    if let Some(lock) = &session.lock {
        let blobs = crate::cache::Blobs::user()?;
        let mut missing = Vec::new();
        for path in &edited {
            match blobs.get(&lock.files[path]) {
                Some(base) => {
                    bases.insert(path.clone(), base);
                }
                None => missing.push(path.clone()),
            }
        }
        // Not in this machine's cache: re-render the locked version with
        // today's values; where that reproduces what was locked (same
        // effective values, same file hash), it is the merge base.
        if !missing.is_empty()
            && lock.stack.commit.is_some()
            && let Ok(old_stack) = Stack::load(&source, pin_of(&lock.stack))
            && let Ok(old) = generate_tree(
                &session.runtime,
                &session.project,
                old_stack,
                None,
                PreviousCiphertext::Reseal,
            )
            && old.lock.values_sha256 == lock.values_sha256
        {
            for path in missing {
                if let Some(file) = old.rendering.tree.get(&path)
                    && crate::files::sha256(&file.content) == lock.files[&path]
                {
                    bases.insert(path, file.content.clone());
                }
            }
        }
    }

    let plan = repo::plan(tree, session.lock.as_ref(), &disk, &bases, force);
    let lock_text = generated.lock.to_text();
    // The lock was read and parsed when the session opened.
    let lock_changed = session.lock.as_ref() != Some(&generated.lock);
    Ok(Prepared {
        session,
        generated,
        plan,
        lock_text,
        lock_changed,
    })
}

/// Why the tree would not come up on an empty cluster; nothing is written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the tree would not come up on an empty cluster, so nothing was written:{}",
    .0.iter().map(|p| format!("\n  - {p}")).collect::<String>()
)]
pub struct ConvergenceError(pub Vec<crate::flux::Problem>);

/// Files cairn would overwrite or delete and cannot without losing edits.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe_conflicts(.0))]
pub struct ConflictError(pub Vec<repo::FileConflict>);

fn describe_conflicts(conflicts: &[repo::FileConflict]) -> String {
    let mut out = String::from("conflicts; nothing was written:");
    for c in conflicts {
        out.push_str(&format!("\n  - {}: {}", c.path, c.reason));
        for field in &c.fields {
            out.push_str(&format!("\n      {field}"));
        }
    }
    out
}

/// What `generate` did (or `diff` would do).
#[derive(Debug, Serialize)]
pub struct GenerateReport {
    pub stack: String,
    pub from: Option<String>,
    pub to: String,
    /// Per component: how many files were created, updated, merged, deleted.
    pub components: BTreeMap<String, Counts>,
    pub kept_edits: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub message: String,
    pub recovered: bool,
    pub wrote: bool,
    pub commit: Option<String>,
    #[serde(skip)]
    pub changes: Vec<repo::FileChange>,
    /// What components printed while rendering, for `--verbose`.
    #[serde(skip)]
    pub logs: Vec<(String, String)>,
    /// The output directory as cairn.yaml gives it, for display.
    #[serde(skip)]
    pub output: PathBuf,
    pub warnings: Vec<String>,
    /// The order Flux brings the stack up in: waves of Kustomizations,
    /// each waiting for the ones before.
    pub order: Vec<Vec<String>>,
    /// Whether this run changes that order (the layers file).
    pub order_changed: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub merged: usize,
    pub deleted: usize,
}

fn report(prepared: &Prepared) -> GenerateReport {
    let old = prepared.session.lock.as_ref();
    let new = &prepared.generated.lock;
    let describe = |stack: &LockedStack| {
        stack
            .tag
            .clone()
            .or_else(|| {
                stack
                    .commit
                    .as_ref()
                    .map(|c| format!("commit {}", &c[..c.len().min(12)]))
            })
            .unwrap_or_else(|| "working directory".into())
    };
    let mut components: BTreeMap<String, Counts> = BTreeMap::new();
    for change in &prepared.plan.changes {
        let name = change.component.clone().unwrap_or_else(|| "(root)".into());
        let counts = components.entry(name).or_default();
        match change.action {
            Action::Create => counts.created += 1,
            Action::Update => counts.updated += 1,
            Action::Merge => counts.merged += 1,
            Action::Delete => counts.deleted += 1,
        }
    }
    let old_names: BTreeSet<&String> = old
        .map(|l| l.components.keys().collect())
        .unwrap_or_default();
    let new_names: BTreeSet<&String> = new.components.keys().collect();
    GenerateReport {
        stack: new.stack.name.clone(),
        from: old.map(|l| describe(&l.stack)),
        to: describe(&new.stack),
        components,
        kept_edits: prepared.plan.kept_edits.clone(),
        added: new_names
            .difference(&old_names)
            .map(|s| s.to_string())
            .collect(),
        removed: old_names
            .difference(&new_names)
            .map(|s| s.to_string())
            .collect(),
        message: prepared.generated.stack.definition.message.clone(),
        recovered: prepared.session.recovered,
        wrote: false,
        commit: None,
        changes: prepared.plan.changes.clone(),
        logs: prepared.generated.rendering.logs.clone(),
        output: PathBuf::from(&prepared.session.project.config.output),
        warnings: prepared
            .generated
            .rendering
            .diagnostics
            .iter()
            .map(|(c, d)| match (c.is_empty(), &d.field) {
                (true, _) => d.message.clone(),
                (false, Some(f)) => format!("{c}.{f}: {}", d.message),
                (false, None) => format!("{c}: {}", d.message),
            })
            .chain(resealed_warning(&prepared.generated.rendering.unopened))
            .collect(),
        order: crate::flux::waves(&prepared.generated.layers),
        order_changed: prepared
            .plan
            .changes
            .iter()
            .any(|c| c.path == crate::config::layout::LAYERS_FILE),
    }
}

/// Says that sealed objects were encrypted afresh because no identity here
/// opens their previous ciphertext.
fn resealed_warning(unopened: &BTreeSet<String>) -> Option<String> {
    (!unopened.is_empty()).then(|| {
        format!(
            "{} sealed object(s) were encrypted afresh: no age identity here opens their previous ciphertext, so cairn cannot tell whether they changed (set SOPS_AGE_KEY_FILE to an identity among secrets.age to keep unchanged ones as they are): {}",
            unopened.len(),
            unopened.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// `cairn generate`: renders, plans, and applies atomically.
pub fn generate(options: &Options, force: bool, commit: bool) -> anyhow::Result<GenerateReport> {
    let prepared = prepare(options, force, Access::Write)?;
    if !prepared.plan.conflicts.is_empty() {
        return Err(ConflictError(prepared.plan.conflicts.clone()).into());
    }
    let project = &prepared.session.project;
    if commit {
        crate::git::check_clean_index(&project.root)?;
    }
    let mut report = report(&prepared);
    if !prepared.plan.is_empty() || prepared.lock_changed {
        crate::cache::Blobs::user()?.put_all(
            prepared
                .generated
                .rendering
                .tree
                .values()
                .map(|f| f.content.as_str()),
        );
        repo::apply(
            &layout(project),
            &prepared.plan.changes,
            &prepared.lock_text,
        )?;
        report.wrote = true;
    }
    let sops_config = write_sops_config(project)?;
    report.wrote |= sops_config.is_some();
    if commit && report.wrote {
        let message = commit_message(&report);
        let mut paths: Vec<PathBuf> = prepared
            .plan
            .changes
            .iter()
            .map(|c| project.output_dir().join(&c.path))
            .collect();
        paths.push(project.config_path.clone());
        paths.push(project.lock_path());
        paths.extend(sops_config);
        report.commit = crate::git::commit(&project.root, &paths, &message)?;
    }
    Ok(report)
}

/// Says what changed: versions, components added and removed, files.
pub fn commit_message(report: &GenerateReport) -> String {
    let mut subject = match &report.from {
        Some(from) if *from != report.to => format!(
            "cairn: update {} from {from} to {}",
            report.stack, report.to
        ),
        Some(_) => format!("cairn: regenerate {} {}", report.stack, report.to),
        None => format!("cairn: generate {} {}", report.stack, report.to),
    };
    if subject.len() > 72 {
        subject.truncate(72);
    }
    let mut body = Vec::new();
    if !report.added.is_empty() {
        body.push(format!("Added components: {}.", report.added.join(", ")));
    }
    if !report.removed.is_empty() {
        body.push(format!(
            "Removed components: {}.",
            report.removed.join(", ")
        ));
    }
    for (component, c) in &report.components {
        body.push(format!(
            "{component}: {} created, {} updated, {} merged, {} deleted",
            c.created, c.updated, c.merged, c.deleted
        ));
    }
    format!("{subject}\n\n{}\n", body.join("\n"))
}

/// Keeps the repository's `.sops.yaml` in step with cairn.yaml's
/// recipients; returns its path when it was written.
fn write_sops_config(project: &Project) -> anyhow::Result<Option<PathBuf>> {
    let Some(secrets) = project
        .config
        .secrets
        .as_ref()
        .filter(|s| !s.age.is_empty())
    else {
        return Ok(None);
    };
    let output = std::path::absolute(project.output_dir())?;
    let Some(root) = crate::git::work_tree(&output) else {
        return Ok(None);
    };
    let rel = output.strip_prefix(&root).unwrap_or(&output);
    let path = root.join(crate::secrets::SOPS_CONFIG);
    let existing = std::fs::read_to_string(&path).ok();
    let recipients: Vec<String> = secrets.age.iter().map(|r| r.trim().to_string()).collect();
    match crate::secrets::sops_config(existing.as_deref(), &rel.to_string_lossy(), &recipients)
        .with_context(|| path.display().to_string())?
    {
        Some(text) => {
            crate::files::no_links(&root, Path::new(crate::secrets::SOPS_CONFIG))?;
            crate::files::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Some(path))
        }
        None => Ok(None),
    }
}

/// `cairn diff`: what `generate` would do, writing nothing.
pub fn diff(options: &Options) -> anyhow::Result<GenerateReport> {
    let prepared = prepare(options, false, Access::Read)?;
    if !prepared.plan.conflicts.is_empty() {
        return Err(ConflictError(prepared.plan.conflicts.clone()).into());
    }
    let mut report = report(&prepared);
    for change in &mut report.changes {
        for text in [&mut change.old, &mut change.new].into_iter().flatten() {
            *text = hide_ciphertext(text);
        }
    }
    Ok(report)
}

/// `text` with each SOPS-sealed object replaced by a line naming it: a
/// diff shows that a sealed object changed, never its ciphertext, which
/// would otherwise reach whoever reads the diff (a CI log, say) and holds a
/// key of its recipients.
fn hide_ciphertext(text: &str) -> String {
    let docs = crate::yaml::documents(text);
    if !docs
        .iter()
        .any(|d| d.as_ref().is_ok_and(crate::sops::is_encrypted))
    {
        return text.to_string();
    }
    docs.into_iter()
        .flatten()
        .map(|doc| {
            if crate::sops::is_encrypted(&doc) {
                // A digest of the ciphertext tells new ciphertext from old.
                let sealed = serde_yaml::to_string(&doc).unwrap_or_default();
                format!(
                    "# {}: sealed with SOPS (ciphertext {} not shown)\n",
                    crate::compose::object_id(&doc),
                    &crate::files::sha256(sealed)[..12]
                )
            } else {
                serde_yaml::to_string(&doc).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Files whose content differs from what the lock says was generated.
    pub edited: Vec<String>,
    pub missing: Vec<String>,
    /// Files the lock names that the locked inputs no longer render the
    /// same (values changed, or a component is not deterministic).
    pub drift: Vec<String>,
    pub values_changed: bool,
    /// Generated files that now hold a plaintext secret or key, with why.
    pub plaintext: Vec<(String, String)>,
    /// Sealed objects no identity here opens, so whether they still hold
    /// what the locked inputs render could not be checked.
    pub unchecked: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.edited.is_empty()
            && self.missing.is_empty()
            && self.drift.is_empty()
            && !self.values_changed
            && self.plaintext.is_empty()
    }
}

/// `cairn verify`: re-renders exactly what the lock pins and compares it,
/// and the files on disk, with the lock.
pub fn verify(options: &Options) -> anyhow::Result<VerifyReport> {
    let session = Session::open(options, Access::Read)?;
    let Some(lock) = session.lock.clone() else {
        bail!(
            "{} has no {} yet; run `cairn generate` first",
            session.project.root.display(),
            crate::config::LOCK_FILE
        );
    };
    let source = session.source(options, false)?;
    let stack = Stack::load(&source, pin_of(&lock.stack))?;
    let generated = generate_tree(
        &session.runtime,
        &session.project,
        stack,
        Some(&lock),
        PreviousCiphertext::KeepUnopened,
    )?;
    let mut report = VerifyReport {
        values_changed: generated.lock.values_sha256 != lock.values_sha256,
        unchecked: generated.rendering.unopened.iter().cloned().collect(),
        ..VerifyReport::default()
    };
    let paths: BTreeSet<&String> = lock
        .files
        .keys()
        .chain(generated.lock.files.keys())
        .collect();
    for path in paths {
        if lock.files.get(path) != generated.lock.files.get(path) {
            report.drift.push(path.clone());
        }
    }
    let disk = repo::scan(&session.project.output_dir(), &Tree::new(), Some(&lock))?;
    report.missing = disk
        .iter()
        .filter(|(_, content)| content.is_none())
        .map(|(path, _)| path.clone())
        .collect();
    report.edited = repo::edited(Some(&lock), &disk);
    report.plaintext = crate::secrets::scan_plaintext(&session.project.output_dir());
    Ok(report)
}

/// What `status` shows.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub source: String,
    pub requirement: Option<String>,
    pub locked: Option<String>,
    pub newest_known: Option<String>,
    pub components: Vec<(String, bool)>,
    pub files_owned: usize,
    pub edited: Vec<String>,
    /// The Flux release `cairn bootstrap` installed, and where from.
    pub flux: Option<String>,
    /// Age recipients Secrets are sealed for, and how many are sealed.
    pub recipients: usize,
    pub sealed: usize,
    /// The order Flux brings the stack up in, from the layers file.
    pub order: Vec<Vec<String>>,
}

/// `cairn status`: reads only what is local (no fetch, no render).
pub fn status(options: &Options) -> anyhow::Result<StatusReport> {
    let project = Project::load(&options.config)?;
    settle(&project, Access::Read)?;
    let lock = Lock::read(&project.lock_path())?;
    let flux = lock
        .as_ref()
        .and_then(|l| l.flux.as_ref())
        .map(|f| format!("{} (from {})", f.version, f.source));
    let sealed = lock.as_ref().map_or(0, |l| l.sealed.len());
    let lock = lock.filter(Lock::is_generated);
    let source = open_source(&project.config.stack.source, &project.root, true, false).ok();
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
    let components = stack_def
        .as_ref()
        .map(|d| {
            d.components
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        project.enabled(&c.name).unwrap_or(c.enabled),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
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
    })
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
    /// `up-to-date`, `update-available` or `updated`.
    pub status: String,
    pub current: Option<String>,
    pub latest: Option<String>,
    pub versions: Vec<AvailableVersion>,
    /// The requirement written to `cairn.yaml`, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
}

/// `cairn update`: lists newer versions with their changelogs, and unless
/// `check`, moves `cairn.yaml` to `to` (default: the newest).
pub fn update(options: &Options, check: bool, to: Option<&str>) -> anyhow::Result<UpdateReport> {
    let project = Project::load(&options.config)?;
    let lock = Lock::read(&project.lock_path())?;
    let source = open_source(
        &project.config.stack.source,
        &project.root,
        options.offline,
        true,
    )?;
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
            "up-to-date"
        } else {
            "update-available"
        }
        .into(),
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
    let text = std::fs::read_to_string(&project.config_path)?;
    let updated = set_stack_version(&text, &new_requirement).with_context(|| {
        format!(
            "{}: cannot find `stack:` to update",
            project.config_path.display()
        )
    })?;
    crate::files::write_atomic(&project.config_path, updated.as_bytes())
        .with_context(|| format!("cannot write {}", project.config_path.display()))?;
    report.status = "updated".into();
    report.requirement = Some(new_requirement);
    Ok(report)
}

/// Sets `stack.version` in the text of a `cairn.yaml`, keeping everything
/// else (comments included) as it is.
fn set_stack_version(text: &str, version: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let stack = lines.iter().position(|l| l.trim_end() == "stack:")?;
    let mut out: Vec<String> = lines[..=stack].iter().map(|l| l.to_string()).collect();
    let mut replaced = false;
    let mut indent = "  ".to_string();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(stack + 1) {
        let trimmed = line.trim_start();
        if !line.is_empty() && !line.starts_with(' ') && !line.starts_with('#') {
            end = i;
            break;
        }
        if trimmed.starts_with("source:") {
            indent = line[..line.len() - trimmed.len()].to_string();
        }
        if trimmed.starts_with("version:") {
            out.push(format!(
                "{}version: \"{version}\"",
                &line[..line.len() - trimmed.len()]
            ));
            replaced = true;
        } else {
            out.push(line.to_string());
        }
    }
    if !replaced {
        out.push(format!("{indent}version: \"{version}\""));
    }
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Some(joined)
}

/// `cairn init`: writes `cairn.yaml` for `source`, with each component's
/// defaults commented with its description.
pub fn init(
    options: &Options,
    source_spec: &str,
    version: Option<&str>,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    let config_path = dir.join(CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already exists; edit it, or use `cairn update` to change the version",
            config_path.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A local path is given relative to where the user is, but cairn.yaml
    // resolves it relative to itself.
    let cwd = std::env::current_dir()?;
    let source_spec = &crate::source::relocate(source_spec, &cwd, &cwd.join(dir));
    let source = open_source(source_spec, dir, options.offline, true)?;
    let pin = source.resolve(version)?;
    let requirement = match (version, &pin.version) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(v)) => Some(format!("^{v}")),
        (None, None) => None,
    };
    let stack = Stack::load(&source, pin)?;
    let runtime = runtime(options)?;
    let def = &stack.definition;
    let names: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
    let (loaded, index) = load_components(&runtime, &stack, &names)?;
    let loaded: Vec<&Loaded> = index.into_iter().map(|i| &loaded[i]).collect();

    let mut text = format!(
        "# cairn.yaml: the stack this directory is generated from, and your values.\n\
         # Run `cairn generate` after changing it; `cairn diff` shows what would change.\n\
         stack:\n  source: {}\n",
        yaml_scalar(source_spec)
    );
    if let Some(req) = &requirement {
        text.push_str(&format!("  version: {}\n", yaml_scalar(req)));
    }
    text.push_str("# Where generated files go, relative to this file.\noutput: .\nvalues:\n");
    for (component, loaded) in def.components.iter().zip(loaded) {
        let meta = &loaded.metadata;
        // Component texts are cut to one line where they enter cairn; cut
        // again here so a comment can never end early.
        text.push_str(&format!(
            "  # {}: {}\n",
            crate::text::one_line(&meta.title, 80),
            crate::text::one_line(&meta.description, 200)
        ));
        text.push_str(&format!(
            "  {}:\n    enabled: {}\n",
            component.name, component.enabled
        ));
        let defaults = crate::values::defaults(&meta.config_schema)
            .map_err(|err| anyhow::anyhow!("component {:?}: {err}", component.name))?;
        // Secret fields are never given a value here, whatever the schema's
        // default: they get a commented example of a reference.
        let secrets = crate::values::top_level_secrets(&meta.config_schema);
        if let Some(map) = defaults.as_object() {
            let shown: serde_json::Map<String, serde_json::Value> = map
                .iter()
                .filter(|(key, _)| !secrets.contains(*key))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !shown.is_empty() {
                for line in serde_yaml::to_string(&shown)?.lines() {
                    text.push_str(&format!("    {line}\n"));
                }
            }
        }
        for name in &secrets {
            text.push_str(&format!(
                "    # {name}: {{env: NAME}}  # a secret: {{env: NAME}}, {{file: PATH}} or {{sops: FILE, key: KEY}}\n"
            ));
        }
    }
    crate::files::write_atomic(&config_path, text.as_bytes())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    Ok(config_path)
}

fn yaml_scalar(text: &str) -> String {
    serde_yaml::to_string(text)
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| format!("{text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_the_version_keeping_comments() {
        let text = "# mine\nstack:\n  source: ./s # here\n  version: ^0.1\noutput: .\n";
        assert_eq!(
            set_stack_version(text, "^0.2.0").unwrap(),
            "# mine\nstack:\n  source: ./s # here\n  version: \"^0.2.0\"\noutput: .\n"
        );
        let text = "stack:\n  source: ./s\nvalues: {}\n";
        assert_eq!(
            set_stack_version(text, "v1.0.0").unwrap(),
            "stack:\n  source: ./s\n  version: \"v1.0.0\"\nvalues: {}\n"
        );
    }
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
}

/// `cairn lint`: validates values and rendered output without writing; with
/// `schemas`, validates every object whose kind a CRD there defines.
pub fn lint(options: &Options, schemas: Option<&Path>) -> anyhow::Result<LintReport> {
    let session = Session::open(options, Access::Read)?;
    let (_, generated) = session.generate(options)?;
    let crds = match schemas {
        Some(dir) => crate::crd::load_dir(dir)?,
        None => crate::crd::Schemas::default(),
    };
    let mut report = LintReport::default();
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
