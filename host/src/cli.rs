//! The command line: parses arguments, calls one function per command, and
//! prints what it returns. Exit status: 0 success, 1 "there are differences"
//! (for commands that compare), 2 any error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use crate::limits::Limits;
use crate::render::{self, Instance};
use crate::runtime::{Cache, Loaded, Runtime};

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
}

/// How components are run.
#[derive(Args)]
struct SandboxArgs {
    /// Compile components afresh instead of using the compiled-component cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Override a sandbox limit, e.g. `--limit deadline=30s --limit memory=512MiB`.
    /// Limits: deadline, memory, stack, table-elements, instances, hostcall-data,
    /// handles, log, output-files, output-file-size, output-total, path-length.
    #[arg(long = "limit", value_name = "NAME=VALUE", global = true)]
    limits: Vec<String>,
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
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn runtime(args: &SandboxArgs) -> anyhow::Result<Runtime> {
    let mut limits = Limits::default();
    for assignment in &args.limits {
        limits.set(assignment)?;
    }
    let cache = if args.no_cache {
        None
    } else {
        Some(Cache::user_default()?)
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
        if !crate::runtime::valid_name(&name) {
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
            did_you_mean(unknown, &names)
        );
    }

    let rendering = render::render(&runtime, &instances)?;
    crate::repo::replace_dir(&args.out, &rendering.tree)?;

    for c in &rendering.components {
        println!("rendered {} {} ({} files)", c.name, c.version, c.files);
    }
    for (component, d) in &rendering.diagnostics {
        let field = d
            .field
            .as_deref()
            .map(|f| format!(" ({component}.{f})"))
            .unwrap_or_default();
        eprintln!("{:?} from {component}: {}{field}", d.severity, d.message);
    }
    println!(
        "wrote {} files to {}",
        rendering.tree.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A values file: a mapping from component name to that component's values.
fn read_values(path: &Path) -> anyhow::Result<BTreeMap<String, serde_json::Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read values file {}", path.display()))?;
    let values: Option<BTreeMap<String, serde_json::Value>> = serde_yaml::from_str(&text).with_context(|| {
        format!(
            "{}: not a mapping from component name to values (e.g. `ingress-nginx: {{replicas: 2}}`)",
            path.display()
        )
    })?;
    Ok(values.unwrap_or_default())
}

/// ` (did you mean "x"?)` when one of `candidates` is close to `word`.
pub fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
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
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Text => {
            println!("{} {} - {}", meta.name, meta.version, meta.title);
            println!("  {}", meta.description);
            println!("category: {}", meta.category);
            println!("sha256:   {}", component.sha256);
            let facts = |title: &str, decls: &[crate::runtime::FactDecl]| {
                println!("{title}:");
                if decls.is_empty() {
                    println!("  (none)");
                }
                for d in decls {
                    let required = if d.required { " (required)" } else { "" };
                    println!("  {:<24} {}{required}", d.key, d.description);
                }
            };
            facts("provides facts", &meta.provides);
            facts("reads facts", &meta.reads);
            println!("imports (capabilities):");
            for import in &component.imports {
                println!("  {import}");
            }
            println!("config schema:");
            for line in serde_json::to_string_pretty(&meta.config_schema)?.lines() {
                println!("  {line}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
