//! Renders a stack for a project into what `generate` writes: the tree
//! (components' files, the Flux layers and root kustomization) and the lock
//! describing it, with the convergence check of the Flux tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rayon::prelude::*;

use crate::compose::Tree;
use crate::config::{Lock, LockedComponent, LockedStack, Project};
use crate::progress::Progress;
use crate::render::{self, ComponentFailure, Instance, RenderError, Rendering};
use crate::repo;
use crate::runtime::{Loaded, Runtime};
use crate::secrets::PreviousCiphertext;
use crate::stack::Stack;

/// A stack rendered for a project: the tree and the lock describing it.
pub(super) struct Generated {
    pub stack: Stack,
    pub rendering: Rendering,
    pub lock: Lock,
    /// The Flux Kustomizations applying it, one per component layer.
    pub layers: Vec<crate::flux::Layer>,
    /// Why the tree would not come up on an empty cluster, if it would not.
    pub convergence: Vec<crate::flux::Problem>,
    /// What each component's manifests may do to the cluster.
    pub permissions: BTreeMap<String, crate::permissions::Permissions>,
    /// What in them breaks cairn.yaml's `policy:`, if anything: `generate`
    /// and `diff` refuse it, `lint` reports it.
    pub policy: Option<PolicyError>,
}

/// Manifests that break cairn.yaml's `policy:`: each names the component,
/// the file, the object and the rule.
#[derive(Debug, thiserror::Error)]
#[error(
    "{origin}: the policy refuses what components render:{}",
    .problems.iter().map(|p| format!("\n  - {p}")).collect::<String>()
)]
pub struct PolicyError {
    pub origin: String,
    pub problems: Vec<String>,
}

impl PolicyError {
    fn new(origin: String, problems: Vec<String>) -> Self {
        Self { origin, problems }
    }
}

/// The permissions of the components in `tree`, and what breaks `policy`.
pub(super) fn permissions_of(
    tree: &crate::compose::Tree,
    policy: Option<&crate::config::Policy>,
) -> (
    BTreeMap<String, crate::permissions::Permissions>,
    Vec<String>,
) {
    let files: Vec<crate::permissions::ComponentFile<'_>> = tree
        .iter()
        .filter_map(|(path, file)| {
            Some(crate::permissions::ComponentFile {
                component: file.component.as_deref()?,
                path,
                objects: file.documents(),
            })
        })
        .filter(|f| !f.path.ends_with(crate::config::layout::KUSTOMIZATION))
        .collect();
    crate::permissions::scan(&files, policy)
}

/// Values in cairn.yaml that cannot be used: every problem, each with the
/// line of cairn.yaml it is about.
#[derive(Debug, thiserror::Error)]
#[error(
    "{origin}: invalid values:{}",
    .problems.iter().map(|p| format!("\n  - {p}")).collect::<String>()
)]
pub struct InvalidValues {
    pub origin: String,
    /// The components whose values are invalid.
    pub components: Vec<String>,
    pub problems: Vec<String>,
    /// The same problems by component and field, for a front end that shows
    /// each at its field.
    pub fields: Vec<FieldProblem>,
}

/// One problem with one component's values.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldProblem {
    pub component: String,
    /// The dotted path of the field within the component's values (empty
    /// for the component as a whole).
    pub field: String,
    pub message: String,
}

impl InvalidValues {
    /// The problems of `unknown` components (name and message) and of
    /// components whose values are `invalid`.
    fn of(
        project: &Project,
        unknown: Vec<(String, String)>,
        invalid: &[(String, crate::values::ValuesError)],
    ) -> Self {
        let origin = project.config_path.display().to_string();
        let lines = crate::yaml::key_lines(&project.text);
        let line_of = |component: &str, field: &str| {
            // The key itself, else the nearest key above it.
            let mut path = format!("values.{component}");
            if !field.is_empty() {
                path = format!("{path}.{field}");
            }
            loop {
                if let Some(line) = lines.get(&path) {
                    return format!("line {line}: ");
                }
                match path.rfind(['.', '[']) {
                    Some(cut) => path.truncate(cut),
                    None => return String::new(),
                }
            }
        };
        let mut problems = Vec::new();
        let mut fields = Vec::new();
        for (component, message) in unknown {
            problems.push(format!(
                "{}values.{component}: {message}",
                line_of(&component, "")
            ));
            fields.push(FieldProblem {
                component,
                field: String::new(),
                message,
            });
        }
        for (component, err) in invalid {
            match err {
                crate::values::ValuesError::Invalid(violations) => {
                    for v in violations {
                        let field = if v.field.is_empty() {
                            format!("values.{component}")
                        } else {
                            format!("values.{component}.{}", v.field)
                        };
                        problems.push(format!(
                            "{}{field}: {}",
                            line_of(component, &v.field),
                            v.message
                        ));
                        fields.push(FieldProblem {
                            component: component.clone(),
                            field: v.field.clone(),
                            message: v.message.clone(),
                        });
                    }
                }
                crate::values::ValuesError::BadSchema(_) => {
                    problems.push(format!("component {component:?}: {err}"));
                    fields.push(FieldProblem {
                        component: component.clone(),
                        field: String::new(),
                        message: err.to_string(),
                    });
                }
            }
        }
        Self {
            origin,
            components: invalid.iter().map(|(c, _)| c.clone()).collect(),
            problems,
            fields,
        }
    }
}

/// The components cairn.yaml gives values for that `stack` does not have,
/// each with what to do about it.
fn unknown_components(
    project: &Project,
    stack: &Stack,
    old_lock: Option<&Lock>,
) -> Vec<(String, String)> {
    let def = &stack.definition;
    let names: Vec<&str> = def.components.iter().map(|c| c.name.as_str()).collect();
    let mut unknown = Vec::new();
    for name in project.config.values.keys() {
        if def.component(name).is_some() {
            continue;
        }
        let at = stack.pin.describe();
        let removed = old_lock
            .filter(|l| l.components.contains_key(name))
            .map(|l| {
                let was = l.stack.tag.clone().or(l.stack.version.clone()).unwrap_or_default();
                format!(
                    "; it was in {was}, which {} records, so this release removed it: delete or comment out values.{name} (`cairn update` does this when it moves the version)",
                    crate::config::LOCK_FILE
                )
            });
        unknown.push((
            name.clone(),
            match removed {
                Some(removed) => format!(
                    "stack {} at {at} has no component {name:?}{removed}",
                    def.name
                ),
                None => format!(
                    "stack {} has no component {name:?}{}; its components are: {}",
                    def.name,
                    crate::config::did_you_mean(name, &names),
                    names.join(", ")
                ),
            },
        ));
    }
    unknown
}

/// The enabled components as render takes them: each loaded component
/// (`loaded[index[i]]` for `enabled[i]`) with the project's values for it.
fn instances<'l>(
    project: &Project,
    enabled: &[&str],
    loaded: &'l [Loaded],
    index: Vec<usize>,
) -> Vec<Instance<'l>> {
    enabled
        .iter()
        .zip(index)
        .map(|(name, i)| Instance {
            name: name.to_string(),
            component: &loaded[i],
            values: project.component_values(name),
        })
        .collect()
}

/// The components of `stack` the project enables.
fn enabled_components<'s>(project: &Project, stack: &'s Stack) -> Vec<&'s str> {
    stack
        .definition
        .components
        .iter()
        .filter(|c| project.enabled(&c.name).unwrap_or(c.enabled))
        .map(|c| c.name.as_str())
        .collect()
}

/// Every problem with the project's values for `stack`, as `generate`
/// would report them, without rendering: unsaved edits are checked so.
pub(super) fn check_values(
    runtime: &Runtime,
    progress: &dyn Progress,
    project: &Project,
    stack: &Stack,
) -> anyhow::Result<Result<(), InvalidValues>> {
    let unknown = unknown_components(project, stack, None);
    let enabled = enabled_components(project, stack);
    let (loaded, index) = load_components(runtime, progress, stack, &enabled)?;
    let instances = instances(project, &enabled, &loaded, index);
    let resolver = crate::secrets::Resolver::new(&project.root);
    let invalid = match render::check_values(&instances, &resolver) {
        Ok(()) => Vec::new(),
        Err(RenderError::Values(invalid)) => invalid,
        Err(other) => return Err(other.into()),
    };
    if unknown.is_empty() && invalid.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(InvalidValues::of(project, unknown, &invalid)))
}

/// Renders `stack` with the project's values. `unopened` says what to do
/// with sealed objects whose previous ciphertext no identity here opens.
pub(super) fn generate_tree(
    runtime: &Runtime,
    progress: &dyn Progress,
    project: &Project,
    stack: Stack,
    old_lock: Option<&Lock>,
    unopened: PreviousCiphertext,
) -> anyhow::Result<Generated> {
    let def = &stack.definition;
    let config = project.config_path.display();
    let unknown = unknown_components(project, &stack, old_lock);
    let enabled = enabled_components(project, &stack);

    // A component whose bytes differ from what was locked for this very
    // version of its stack was changed after the fact: refuse it.
    if let Some(lock) = old_lock {
        for component in &def.components {
            let (name, pin, locked_commit) = match stack.stack_of(&component.name) {
                None => (&def.name, &stack.pin, lock.stack.commit.as_ref()),
                Some(included) => (
                    &included.name,
                    &included.pin,
                    lock.stacks
                        .iter()
                        .find(|s| s.source == included.source)
                        .and_then(|s| s.commit.as_ref()),
                ),
            };
            let same_version = locked_commit.is_some() && locked_commit == pin.commit.as_ref();
            if same_version
                && let Some(locked) = lock.components.get(&component.name)
                && !locked.sha256.eq_ignore_ascii_case(&component.sha256)
            {
                bail!(
                    "component {:?}: stack {name} at {} declares sha256 {}, but {} locked {}; the published stack changed under the same version (tampering?). Refusing to run it",
                    component.name,
                    pin.describe(),
                    component.sha256,
                    crate::config::LOCK_FILE,
                    locked.sha256
                );
            }
        }
    }

    let (loaded, index) = load_components(runtime, progress, &stack, &enabled)?;
    let instances = instances(project, &enabled, &loaded, index);
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
    if !unknown.is_empty() {
        // Every problem with the values at once: the unknown components'
        // and those of the others.
        let invalid = match render::check_values(&instances, &resolver) {
            Err(RenderError::Values(invalid)) => invalid,
            _ => Vec::new(),
        };
        return Err(InvalidValues::of(project, unknown, &invalid).into());
    }
    let mut rendering = match render::render(runtime, &instances, &handling) {
        Err(RenderError::Values(invalid)) => {
            return Err(InvalidValues::of(project, Vec::new(), &invalid).into());
        }
        result => result.with_context(|| format!("{config}: cannot generate"))?,
    };
    let (permissions, breaches) = permissions_of(&rendering.tree, project.config.policy.as_ref());
    let policy = (!breaches.is_empty()).then(|| PolicyError::new(config.to_string(), breaches));
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
            alias: BTreeMap::new(),
            signer: stack.pin.signer.clone(),
            unsigned: project.config.stack.unsigned,
        },
        stacks: stack
            .included
            .iter()
            .map(|included| LockedStack {
                name: included.name.clone(),
                source: included.source.clone(),
                version: included.pin.version.as_ref().map(ToString::to_string),
                tag: included.pin.tag.clone(),
                commit: included.pin.commit.clone(),
                alias: included.alias.clone(),
                signer: included.pin.signer.clone(),
                unsigned: project
                    .config
                    .stacks
                    .iter()
                    .any(|m| m.source == included.source && m.unsigned),
            })
            .collect(),
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
                        stack: stack.stack_of(&c.name).map(|i| i.source.clone()),
                    },
                )
            })
            .collect(),
        files: rendering
            .tree
            .iter()
            .map(|(p, f)| (p.clone(), crate::files::sha256(&f.content)))
            .collect(),
        edits: BTreeMap::new(),
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
        permissions,
        policy,
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
    let mut layers = crate::flux::layers(&rendering.tree, &components, &providers)
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
    let local = crate::config::layout::LOCAL_DIR;
    if let Some(clash) = layers.iter().find(|l| l.component == local) {
        bail!(
            "component {:?} would write into {local}/, the directory kept for your own resources; rename it in the stack",
            clash.component
        );
    }
    // The user's own resources, applied once the whole stack is ready.
    if project.output_dir().join(local).is_dir() {
        let depends_on = layers.iter().map(|l| l.name.clone()).collect();
        layers.push(crate::flux::Layer {
            name: local.into(),
            component: local.into(),
            layer: crate::runtime::Layer::Main,
            dir: local.into(),
            depends_on,
            decrypt: project
                .config
                .secrets
                .as_ref()
                .is_some_and(|s| !s.age.is_empty()),
        });
    }
    rendering.tree.insert(
        crate::config::layout::LAYERS_FILE.into(),
        crate::compose::TreeFile::new(None, crate::flux::manifest(&layers, &settings, &path)),
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
pub(super) fn flux_path(
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
        for doc in file.documents() {
            let key = crate::compose::object_id(doc);
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
pub(super) fn load_components(
    runtime: &Runtime,
    progress: &dyn Progress,
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
    let task = progress.start(&format!("loading {} components", firsts.len()));
    // Both cores: a cold load reads, hashes and compiles 15 MB components.
    let loaded = firsts
        .par_iter()
        .map(|name| {
            let (sha256, bytes) = stack.component_digest(name, &records, max_size)?;
            let source = stack.component_source(name, max_size, bytes)?;
            runtime
                .load_deferred(name, sha256, source)
                .map_err(|error| {
                    anyhow::Error::new(ComponentFailure {
                        component: name.to_string(),
                        error,
                    })
                })
        })
        .collect::<anyhow::Result<Vec<Loaded>>>();
    drop(task);
    Ok((loaded?, index))
}
