//! The command line: parses arguments, calls one function per command, and
//! prints what it returns. Exit status: 0 success, 1 "there are differences"
//! (for commands that compare), 2 any error.

/// Everything cairn prints goes through these: component and stack texts
/// reach the terminal with their control characters escaped, never
/// interpreted (see [`crate::text::terminal`]).
macro_rules! out {
    ($($arg:tt)*) => {
        print!("{}", crate::text::terminal(&format!($($arg)*)))
    };
}
macro_rules! outln {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", crate::text::terminal(&format!($($arg)*)))
    };
}
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", crate::text::terminal(&format!($($arg)*)))
    };
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::author;
use crate::limits::Limits;
use crate::ops;
use crate::render::{self, Instance};
use crate::repo::Action;
use crate::runtime::{CodeCache, Loaded, Runtime};

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Share whole Kubernetes cluster stacks through GitOps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render components with values and write the output tree.
    ///
    /// The low-level building block of `generate`: no stack, no lock. Each
    /// component's files land in DIR/<name>/, with a kustomization.yaml in
    /// every directory. DIR is replaced as a whole, atomically.
    Render(RenderArgs),
    /// Show what a component is, what it needs and what it may do.
    Inspect(InspectArgs),
    /// Start a GitOps directory from a stack: writes cairn.yaml with every
    /// component's defaults.
    Init(InitArgs),
    /// Render the stack with cairn.yaml's values and update the repo: writes
    /// what changed, keeps hand edits, prunes what is no longer generated,
    /// and records it all in cairn.lock.
    Generate(GenerateArgs),
    /// Show what `generate` would change, as a unified diff; writes nothing.
    /// Exit status 0 when nothing would change, 1 when something would.
    Diff(StackArgs),
    /// Validate values and rendered output without writing.
    Lint(LintArgs),
    /// List newer stack versions with their changelogs, and move cairn.yaml
    /// to one of them.
    Update(UpdateArgs),
    /// Re-render from cairn.lock and check the repo matches it. Exit status 1
    /// when it does not (hand edits, drift).
    Verify(StackArgs),
    /// Show the stack, versions, components and generated files.
    Status(StackArgs),
    /// Set up Flux for a cluster: its install manifests and sync under
    /// PATH/flux-system, an SSH deploy key and an age identity kept outside
    /// the repo, and the age recipient in cairn.yaml. Running it again
    /// changes nothing and regenerates no key.
    Bootstrap(BootstrapArgs),
    /// Write, build and test components.
    #[command(subcommand)]
    Component(ComponentCommand),
    /// Build and check stacks (for stack authors).
    #[command(subcommand)]
    Stack(StackCommand),
}

#[derive(Subcommand)]
enum ComponentCommand {
    /// Scaffold a component that builds, renders and tests out of the box.
    New {
        name: String,
        #[arg(long, value_enum, default_value_t = author::Language::Rust)]
        lang: author::Language,
        /// Directory to create (default: ./NAME).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Local path to the Rust SDK (cairn's plugins/sdk), for Rust components.
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Build the component in DIR with its language's toolchain.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the component (default: DIR/build/NAME.wasm).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Build, then run the component in the real sandbox against its
    /// fixtures (tests/*/values.yaml, facts.yaml, expected/).
    Test {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Accept the current output as the expected one.
        #[arg(long)]
        bless: bool,
        /// Test this built component instead of building.
        #[arg(long, value_name = "FILE")]
        wasm: Option<PathBuf>,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
}

#[derive(Subcommand)]
enum StackCommand {
    /// Build the components that name a `source`, check every component
    /// loads with a valid schema, and fill in the sha256s in stack.yaml.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Write the built stack (stack.yaml and components) to DIR instead
        /// of in place.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Check the stack without building: exit 1 when a sha256 in stack.yaml
    /// does not match its component.
    Check {
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
}

/// Where the project is and how to reach its stack.
#[derive(Args)]
struct StackArgs {
    /// The cairn.yaml to use.
    #[arg(long, value_name = "FILE", default_value = "cairn.yaml", global = true)]
    config: PathBuf,
    /// Use only what is cached; never fetch.
    #[arg(long, global = true)]
    offline: bool,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct InitArgs {
    /// The stack: a git URL (https, ssh, file://) or a local path.
    source: String,
    /// Version requirement: a semver range (^1.2), a tag, or a commit.
    /// Default: the newest release.
    #[arg(long)]
    version: Option<String>,
    /// Directory to create cairn.yaml in.
    #[arg(long, default_value = ".")]
    path: PathBuf,
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct GenerateArgs {
    /// Commit the changed files, cairn.yaml and cairn.lock (refuses if other
    /// changes are staged).
    #[arg(long)]
    commit: bool,
    /// On conflicts, take the new render.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    stack: StackArgs,
}

#[derive(Args)]
struct LintArgs {
    /// Also validate objects against the CRDs (openAPIV3Schema) in DIR.
    #[arg(long, value_name = "DIR")]
    schemas: Option<PathBuf>,
    #[command(flatten)]
    stack: StackArgs,
}

#[derive(Args)]
struct UpdateArgs {
    /// Only list newer versions; change nothing.
    #[arg(long)]
    check: bool,
    /// The version to move to (default: the newest).
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(flatten)]
    stack: StackArgs,
}

#[derive(Args)]
struct BootstrapArgs {
    /// The cluster's name: names its directory and its keys.
    #[arg(long)]
    cluster: String,
    /// The GitOps repository Flux pulls, as ssh://git@HOST/ORG/REPO.git (the
    /// scp form git@HOST:ORG/REPO is converted).
    #[arg(long)]
    url: String,
    /// The branch Flux follows.
    #[arg(long, default_value = "main")]
    branch: String,
    /// The cluster's directory, relative to the repository root, holding
    /// its cairn.yaml (default: clusters/CLUSTER).
    #[arg(long)]
    path: Option<String>,
    /// How often Flux applies the cluster's directory (a Go duration).
    #[arg(long, default_value = "10m0s")]
    interval: String,
    /// The Flux release to install (default: the one installed already,
    /// else 2.9.4). Changing it rewrites gotk-components.yaml only.
    #[arg(long, value_name = "X.Y.Z")]
    flux_version: Option<String>,
    /// Flux's install manifests, e.g. from `flux install --export`.
    /// Otherwise a `flux` CLI on PATH makes them, else they are downloaded
    /// (cached, their sha256 checked against cairn.lock).
    #[arg(long, value_name = "FILE")]
    flux_manifests: Option<PathBuf>,
    /// The deploy key's algorithm.
    #[arg(long, value_enum, default_value_t = crate::keys::KeyType::Ed25519)]
    key_type: crate::keys::KeyType,
    /// Where the keys are kept, outside the repository (default: the user's
    /// config directory, cairn/keys/CLUSTER).
    #[arg(long, value_name = "DIR")]
    keys_dir: Option<PathBuf>,
    /// The git host's SSH host keys, in known_hosts format.
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
    /// Ask the git host for its host keys (ssh-keyscan) and trust them.
    #[arg(long, conflicts_with = "known_hosts")]
    scan_host_key: bool,
    /// Set up no age identity and no SOPS decryption.
    #[arg(long)]
    no_sops: bool,
    /// Print the Secret manifests (with the private keys) to stdout, e.g.
    /// to pipe into `kubectl apply -f -`; nothing else goes to stdout.
    #[arg(long)]
    print_secrets: bool,
    /// Never download the Flux manifests.
    #[arg(long)]
    offline: bool,
}

/// How components are run.
#[derive(Args)]
struct SandboxArgs {
    /// Compile components afresh instead of using the compiled-component cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Override a sandbox limit, e.g. `--limit deadline=30s --limit memory=512MiB`.
    /// Limits: deadline, memory, memory-total, component-size, stack,
    /// table-elements, instances, hostcall-data, handles, log, output-files,
    /// output-file-size, output-total, path-length.
    #[arg(long = "limit", value_name = "NAME=VALUE", global = true)]
    limits: Vec<String>,
    /// Show what components printed or logged while rendering.
    #[arg(short, long, global = true)]
    verbose: bool,
}

/// Prints components' captured output to stderr, indented under their names.
fn print_logs(logs: &[(String, String)]) {
    for (component, log) in logs {
        errln!("component {component:?} said:");
        for line in log.lines() {
            errln!("  | {line}");
        }
    }
}

#[derive(Args)]
struct RenderArgs {
    /// YAML file of values, keyed by component name.
    #[arg(long, value_name = "VALUES.yaml")]
    values: Option<PathBuf>,
    /// Directory to write the output tree to.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Components to render: COMPONENT.wasm, or NAME=COMPONENT.wasm to render
    /// it under another name (e.g. two copies of one component).
    #[arg(required = true, value_name = "COMPONENT.wasm")]
    components: Vec<String>,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Args)]
struct InspectArgs {
    /// The component to inspect.
    #[arg(value_name = "COMPONENT.wasm")]
    component: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => run_render(args),
        Command::Inspect(args) => run_inspect(args),
        Command::Init(args) => run_init(args),
        Command::Generate(args) => run_generate(args),
        Command::Diff(args) => run_diff(args),
        Command::Lint(args) => run_lint(args),
        Command::Update(args) => run_update(args),
        Command::Verify(args) => run_verify(args),
        Command::Status(args) => run_status(args),
        Command::Bootstrap(args) => run_bootstrap(args),
        Command::Component(command) => run_component(command),
        Command::Stack(command) => run_stack(command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            errln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn limits(args: &SandboxArgs) -> anyhow::Result<Limits> {
    let mut limits = Limits::default();
    for assignment in &args.limits {
        limits.set(assignment)?;
    }
    Ok(limits)
}

fn options(args: &StackArgs) -> anyhow::Result<ops::Options> {
    Ok(ops::Options {
        config: args.config.clone(),
        offline: args.offline,
        no_cache: args.sandbox.no_cache,
        limits: limits(&args.sandbox)?,
    })
}

fn runtime(args: &SandboxArgs) -> anyhow::Result<Runtime> {
    let limits = limits(args)?;
    let cache = if args.no_cache {
        None
    } else {
        Some(CodeCache::user_default()?)
    };
    Runtime::new(limits, cache)
}

/// Reads and loads a component file.
fn load(runtime: &Runtime, path: &Path) -> anyhow::Result<Loaded> {
    let wasm =
        std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))?;
    runtime.load(&wasm).map_err(|err| {
        anyhow::anyhow!(
            "{}",
            render::describe_failure(&path.display().to_string(), &err)
        )
    })
}

fn run_render(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let runtime = runtime(&args.sandbox)?;
    let mut values = match &args.values {
        Some(path) => read_values(path)?,
        None => BTreeMap::new(),
    };
    let specs: Vec<(Option<String>, PathBuf)> = args
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
    let loaded: Vec<Loaded> = paths
        .par_iter()
        .map(|path| load(&runtime, path))
        .collect::<anyhow::Result<_>>()?;

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
            args.values
                .as_deref()
                .unwrap_or(Path::new("values"))
                .display(),
            names.join(", "),
            crate::config::did_you_mean(unknown, &names)
        );
    }

    // Secret references resolve relative to the values file; with no
    // recipients here, a rendered Secret is refused.
    let base = args
        .values
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let resolver = crate::secrets::Resolver::new(base);
    let handling = render::SecretHandling {
        resolver: &resolver,
        sealer: None,
    };
    let rendering = render::render(&runtime, &instances, &handling)?;
    crate::repo::replace_dir(&args.out, &rendering.tree)?;

    if args.sandbox.verbose {
        print_logs(&rendering.logs);
    }
    for c in &rendering.components {
        outln!("rendered {} {} ({} files)", c.name, c.version, c.files);
    }
    for (component, d) in &rendering.diagnostics {
        let field = d
            .field
            .as_deref()
            .map(|f| format!(" ({component}.{f})"))
            .unwrap_or_default();
        errln!("{:?} from {component}: {}{field}", d.severity, d.message);
    }
    outln!(
        "wrote {} files to {}",
        rendering.tree.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A values file: a mapping from component name to that component's values.
fn run_bootstrap(args: BootstrapArgs) -> anyhow::Result<ExitCode> {
    let report = crate::bootstrap::bootstrap(&crate::bootstrap::BootstrapOptions {
        cluster: args.cluster,
        url: args.url,
        branch: args.branch,
        path: args.path,
        interval: args.interval,
        flux_version: args.flux_version,
        flux_manifests: args.flux_manifests,
        key_type: args.key_type,
        keys_dir: args.keys_dir,
        known_hosts: args.known_hosts,
        scan_host_key: args.scan_host_key,
        no_sops: args.no_sops,
        offline: args.offline,
        cwd: std::env::current_dir()?,
    })?;
    if args.print_secrets {
        out!("{}", report.manifests);
    }
    // With --print-secrets, stdout carries only the manifests.
    let say = |line: String| {
        if args.print_secrets {
            errln!("{line}");
        } else {
            outln!("{line}");
        }
    };
    say(format!(
        "cluster {} at {} with Flux {} ({})",
        report.cluster, report.path, report.flux_version, report.flux_source
    ));
    if report.converted {
        say(format!(
            "url: {} (Flux accepts only ssh:// URLs, so the scp form was converted)",
            report.url
        ));
    }
    if report.written.is_empty() {
        say("nothing changed".into());
    }
    for path in &report.written {
        say(format!("  wrote {path}"));
    }
    let keys = report.keys_dir.display();
    if report.generated.is_empty() {
        say(format!("keys: reused those in {keys}"));
    } else {
        say(format!(
            "keys: generated {} in {keys} (private, never in the repository)",
            report.generated.join(" and ")
        ));
    }
    say(String::new());
    say("Add this deploy key to the repository (read-only is enough):".into());
    say(format!("  {}", report.deploy_key));
    if let Some(recipient) = &report.age_recipient {
        say(format!(
            "Secrets are encrypted for the cluster's age recipient {recipient}"
        ));
    }
    say(String::new());
    let path = &report.path;
    let mut step = 0;
    let mut next = |text: String| {
        step += 1;
        say(format!("{step}. {text}"));
    };
    if report.needs_generate {
        next(format!(
            "cd {path} && cairn generate   # lists flux-system in the cluster's kustomization, encrypts secrets"
        ));
    }
    next("commit and push".into());
    next(format!(
        "kubectl apply --server-side -f {path}/{}/{}",
        crate::config::layout::FLUX_DIR,
        crate::config::layout::COMPONENTS_FILE
    ));
    next(format!(
        "kubectl apply -f {}",
        report.keys_dir.join(crate::keys::SECRETS_FILE).display()
    ));
    next(format!(
        "kubectl apply --server-side -k {path}/{}",
        crate::config::layout::FLUX_DIR
    ));
    Ok(ExitCode::SUCCESS)
}

fn read_values(path: &Path) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read values file {}", path.display()))?;
    let values: Option<BTreeMap<String, serde_json::Value>> = crate::yaml::from_str(&text).with_context(|| {
        format!(
            "{}: not a mapping from component name to values (e.g. `ingress-nginx: {{replicas: 2}}`)",
            path.display()
        )
    })?;
    Ok(values.unwrap_or_default())
}

fn run_inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let runtime = runtime(&args.sandbox)?;
    let component = load(&runtime, &args.component)?;
    let meta = &component.metadata;
    match args.output {
        Format::Json => {
            let report = serde_json::json!({
                "name": meta.name,
                "version": meta.version,
                "title": meta.title,
                "description": meta.description,
                "category": meta.category,
                "sha256": component.sha256,
                "provides": meta.provides,
                "reads": meta.reads,
                "imports": component.imports,
                "configSchema": meta.config_schema,
                "readme": meta.readme,
            });
            outln!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Text => {
            outln!("{} {} - {}", meta.name, meta.version, meta.title);
            outln!("  {}", meta.description);
            outln!("category: {}", meta.category);
            outln!("sha256:   {}", component.sha256);
            let facts = |title: &str, decls: &[crate::runtime::FactDecl]| {
                outln!("{title}:");
                if decls.is_empty() {
                    outln!("  (none)");
                }
                for d in decls {
                    let required = if d.required { " (required)" } else { "" };
                    outln!("  {:<24} {}{required}", d.key, d.description);
                }
            };
            facts("provides facts", &meta.provides);
            facts("reads facts", &meta.reads);
            outln!("imports (capabilities):");
            for import in &component.imports {
                outln!("  {import}");
            }
            outln!("config schema:");
            for line in serde_json::to_string_pretty(&meta.config_schema)?.lines() {
                outln!("  {line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let options = ops::Options {
        config: args.path.join(crate::config::CONFIG_FILE),
        offline: args.offline,
        no_cache: args.sandbox.no_cache,
        limits: limits(&args.sandbox)?,
    };
    let path = ops::init(&options, &args.source, args.version.as_deref(), &args.path)?;
    outln!("wrote {}", path.display());
    outln!("set your values there, then run `cairn generate`");
    Ok(ExitCode::SUCCESS)
}

fn print_summary(report: &ops::GenerateReport, verb: &str) {
    if report.recovered {
        outln!("completed an interrupted generate first");
    }
    match &report.from {
        Some(from) if *from != report.to => {
            outln!("stack {}: {from} -> {}", report.stack, report.to)
        }
        _ => outln!("stack {} {}", report.stack, report.to),
    }
    for name in &report.added {
        outln!("  + component {name}");
    }
    for name in &report.removed {
        outln!("  - component {name}");
    }
    if report.components.is_empty() {
        outln!("nothing to change");
    }
    for (component, c) in &report.components {
        let mut parts = Vec::new();
        for (n, what) in [
            (c.created, "created"),
            (c.updated, "updated"),
            (c.merged, "merged"),
            (c.deleted, "deleted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let verb = if verb.is_empty() {
            String::new()
        } else {
            format!(" {verb}")
        };
        outln!("  {component}: {}{verb}", parts.join(", "));
    }
    for path in &report.kept_edits {
        outln!("  kept your edits to {path}");
    }
    if report.order_changed {
        print_order(&report.order);
    }
    for warning in &report.warnings {
        errln!("warning: {warning}");
    }
}

/// The waves Flux brings the stack up in.
fn print_order(order: &[Vec<String>]) {
    outln!("Flux brings the stack up in this order, each step once those before are ready:");
    outln!(
        "  0. {} (Flux itself, and the list of layers)",
        crate::config::layout::FLUX_NAME
    );
    for (i, wave) in order.iter().enumerate() {
        outln!("  {}. {}", i + 1, wave.join(", "));
    }
}

fn run_generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let report = ops::generate(&options(&args.stack)?, args.force, args.commit)?;
    if args.stack.sandbox.verbose {
        print_logs(&report.logs);
    }
    print_summary(&report, "");
    if let Some(commit) = &report.commit {
        outln!("committed {}", &commit[..commit.len().min(12)]);
    }
    if report.wrote && !report.message.trim().is_empty() {
        outln!();
        outln!("{}", report.message.trim_end());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_diff(args: StackArgs) -> anyhow::Result<ExitCode> {
    let report = ops::diff(&options(&args)?)?;
    if args.sandbox.verbose {
        print_logs(&report.logs);
    }
    for change in &report.changes {
        let label = if report.output == Path::new(".") {
            change.path.clone()
        } else {
            report.output.join(&change.path).display().to_string()
        };
        let (old_label, new_label) = match change.action {
            Action::Create => ("/dev/null".to_string(), label.clone()),
            Action::Delete => (label.clone(), "/dev/null".to_string()),
            _ => (label.clone(), label.clone()),
        };
        let old = change.old.as_deref().unwrap_or("");
        let new = change.new.as_deref().unwrap_or("");
        let diff = similar::TextDiff::from_lines(old, new);
        out!(
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&old_label, &new_label)
        );
    }
    print_summary(&report, "would be");
    Ok(if report.changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_lint(args: LintArgs) -> anyhow::Result<ExitCode> {
    let report = ops::lint(&options(&args.stack)?, args.schemas.as_deref())?;
    for problem in &report.problems {
        outln!("{problem}");
    }
    if args.schemas.is_some() {
        for kind in &report.unchecked_kinds {
            outln!(
                "note: no schema for {kind} in {}",
                args.schemas.as_deref().unwrap_or(Path::new("")).display()
            );
        }
        outln!(
            "{} objects, {} checked against CRD schemas, {} problems",
            report.objects,
            report.checked,
            report.problems.len()
        );
    } else if report.problems.is_empty() {
        outln!("{} objects, values and output valid", report.objects);
    } else {
        outln!(
            "{} objects, {} problems",
            report.objects,
            report.problems.len()
        );
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_update(args: UpdateArgs) -> anyhow::Result<ExitCode> {
    let report = ops::update(&options(&args.stack)?, args.check, args.to.as_deref())?;
    if let Format::Json = args.output {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "current: {}, latest: {}",
        report.current.as_deref().unwrap_or("none"),
        report.latest.as_deref().unwrap_or("none")
    );
    for v in &report.versions {
        let within = if v.within_requirement {
            ""
        } else {
            " (beyond your version requirement)"
        };
        outln!(
            "\n{} {}{within}",
            v.tag,
            &v.commit[..v.commit.len().min(12)]
        );
        for line in v.changelog.trim_end().lines() {
            outln!("  {line}");
        }
    }
    match (&report.requirement, report.status.as_str()) {
        (Some(req), _) => {
            outln!("\ncairn.yaml now requires {req}; run `cairn generate` to apply it")
        }
        (None, "up-to-date") => outln!("up to date"),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn run_verify(args: StackArgs) -> anyhow::Result<ExitCode> {
    let report = ops::verify(&options(&args)?)?;
    if !report.unchecked.is_empty() {
        outln!(
            "note: no age identity here opens {} sealed object(s), so they were not checked against the locked inputs (set SOPS_AGE_KEY_FILE): {}",
            report.unchecked.len(),
            report.unchecked.join(", ")
        );
    }
    if report.ok() {
        outln!("the repo matches cairn.lock");
        return Ok(ExitCode::SUCCESS);
    }
    if report.values_changed {
        outln!("values in cairn.yaml changed since the last generate; run `cairn generate`");
    }
    for path in &report.edited {
        outln!("edited: {path}");
    }
    for path in &report.missing {
        outln!("missing: {path}");
    }
    for path in &report.drift {
        outln!("renders differently from the lock: {path}");
    }
    for (path, why) in &report.plaintext {
        outln!("plaintext secret: {path} {why}");
    }
    Ok(ExitCode::from(1))
}

fn run_status(args: StackArgs) -> anyhow::Result<ExitCode> {
    let report = ops::status(&options(&args)?)?;
    outln!("stack:      {} ({})", report.stack, report.source);
    outln!(
        "requires:   {}",
        report.requirement.as_deref().unwrap_or("any")
    );
    outln!(
        "locked:     {}",
        report.locked.as_deref().unwrap_or("not generated yet")
    );
    outln!(
        "newest:     {}",
        report.newest_known.as_deref().unwrap_or("unknown")
    );
    outln!("components:");
    for (name, enabled) in &report.components {
        outln!("  {} {name}", if *enabled { "on " } else { "off" });
    }
    outln!(
        "files:      {} generated, {} with hand edits",
        report.files_owned,
        report.edited.len()
    );
    for path in &report.edited {
        outln!("  edited: {path}");
    }
    outln!(
        "flux:       {}",
        report
            .flux
            .as_deref()
            .unwrap_or("not bootstrapped (cairn bootstrap)")
    );
    if !report.order.is_empty() {
        print_order(&report.order);
    }
    if report.recipients == 0 {
        outln!("secrets:    off (no age recipients under secrets.age)");
    } else {
        outln!(
            "secrets:    {} sealed for {} age recipients",
            report.sealed,
            report.recipients
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_component(command: ComponentCommand) -> anyhow::Result<ExitCode> {
    match command {
        ComponentCommand::New {
            name,
            lang,
            path,
            sdk,
        } => {
            let dir = path.unwrap_or_else(|| PathBuf::from(&name));
            author::scaffold(&name, lang, &dir, sdk.as_deref())?;
            outln!("created {} in {}", name, dir.display());
            outln!("next: cd {} && cairn component test", dir.display());
        }
        ComponentCommand::Build { dir, out } => {
            let out = author::build(&dir, out.as_deref())?;
            outln!("built {}", out.display());
        }
        ComponentCommand::Test {
            dir,
            bless,
            wasm,
            sandbox,
        } => {
            let wasm = match wasm {
                Some(wasm) => wasm,
                None => author::build(&dir, None)?,
            };
            let runtime = runtime(&sandbox)?;
            let results = author::test(&runtime, &dir, &wasm, bless)?;
            let mut failed = 0;
            for result in &results {
                if result.blessed {
                    outln!("blessed {}", result.case);
                } else if result.diffs.is_empty() {
                    outln!("ok      {}", result.case);
                } else {
                    failed += 1;
                    outln!("FAILED  {}", result.case);
                    for diff in &result.diffs {
                        out!("{diff}");
                    }
                }
            }
            outln!("{} passed, {failed} failed", results.len() - failed);
            if failed > 0 {
                outln!("if the new output is right, accept it with `cairn component test --bless`");
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_stack(command: StackCommand) -> anyhow::Result<ExitCode> {
    let (dir, sandbox, write, out) = match command {
        StackCommand::Build { dir, sandbox, out } => (dir, sandbox, true, out),
        StackCommand::Check { dir, sandbox } => (dir, sandbox, false, None),
    };
    let runtime = runtime(&sandbox)?;
    let reports = author::stack(&runtime, &dir, write, out.as_deref())?;
    let mut drift = 0;
    for r in &reports {
        match (&r.declared, write) {
            (Some(declared), false) => {
                drift += 1;
                outln!(
                    "{} {}: sha256 {} but stack.yaml says {declared}",
                    r.name,
                    r.version,
                    r.sha256
                );
            }
            (Some(_), true) => outln!("{} {}: sha256 updated to {}", r.name, r.version, r.sha256),
            (None, _) => outln!("{} {}: ok", r.name, r.version),
        }
    }
    if drift > 0 {
        outln!("stack.yaml is out of date; run `cairn stack build`");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
