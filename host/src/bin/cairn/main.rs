//! The `cairn` command: parses arguments into the library's options, makes
//! one library call per command, and prints the report it returns. It holds
//! no logic of its own, so a second front end gets the same behaviour from
//! the same calls.

mod args;
mod output;
mod spinner;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, ComponentCommand, Format, StackCommand};
use cairn::{author, ops};
use output::Outcome;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.output;
    output::finish(run(cli.command, format), format)
}

fn run(command: Command, format: Format) -> anyhow::Result<Outcome> {
    let progress = spinner::reporter();
    match command {
        Command::Render(args) => {
            let report = ops::render(&args.sandbox.sandbox(&progress)?, &args.options())?;
            if args.sandbox.verbose {
                output::logs(&report.logs);
            }
            output::render(&report, format);
            Ok(Outcome::Clean)
        }
        Command::Inspect(args) => {
            let report = ops::inspect(&args.sandbox.sandbox(&progress)?, &args.component)?;
            output::inspect(&report, format);
            Ok(Outcome::Clean)
        }
        Command::Init(args) => {
            let (options, init) = args.options(&progress)?;
            output::init(&ops::init(&options, &init)?, format);
            Ok(Outcome::Clean)
        }
        Command::Generate(args) => {
            let what = ops::GenerateOptions {
                force: args.force,
                commit: args.commit,
            };
            if let Some(fleet) = args.stack.fleet()? {
                let options = args.stack.options(&cairn::progress::silent())?;
                let task = progress.start(&format!("{} clusters", fleet.configs.len()));
                let done = ops::fleet::generate(&fleet.configs, &fleet.base, &options, what)?;
                drop(task);
                let outcome = output::fleet(
                    &done.clusters,
                    format,
                    output::Per {
                        text: &|r| output::generate(r, Format::Text),
                        findings: &|_| false,
                    },
                );
                output::committed(&done.commits, format);
                return Ok(outcome);
            }
            let report = ops::generate(&args.stack.options(&progress)?, what)?;
            if args.stack.sandbox.verbose {
                output::logs(&report.logs);
            }
            output::generate(&report, format);
            Ok(Outcome::Clean)
        }
        Command::Diff(args) => {
            if let Some(fleet) = args.fleet()? {
                let results = run_fleet(&args, &progress, &fleet, ops::diff)?;
                return Ok(output::fleet(
                    &results,
                    format,
                    output::Per {
                        text: &|r| output::diff(r, Format::Text),
                        findings: &|r| r.has_changes(),
                    },
                ));
            }
            let report = ops::diff(&args.options(&progress)?)?;
            if args.sandbox.verbose {
                output::logs(&report.logs);
            }
            output::diff(&report, format);
            Ok(Outcome::findings_if(report.has_changes()))
        }
        Command::Lint(args) => {
            let what = ops::LintOptions {
                schemas: args.schemas,
            };
            if let Some(fleet) = args.stack.fleet()? {
                let results = run_fleet(&args.stack, &progress, &fleet, |o| ops::lint(o, &what))?;
                return Ok(output::fleet(
                    &results,
                    format,
                    output::Per {
                        text: &|r| output::lint(r, Format::Text),
                        findings: &|r| !r.ok(),
                    },
                ));
            }
            let report = ops::lint(&args.stack.options(&progress)?, &what)?;
            output::lint(&report, format);
            Ok(Outcome::findings_if(!report.ok()))
        }
        Command::Update(args) => {
            let what = ops::UpdateOptions {
                check: args.check,
                to: args.to,
                stack: args.other_stack,
            };
            if let Some(fleet) = args.stack.fleet()? {
                let results = run_fleet(&args.stack, &progress, &fleet, |o| ops::update(o, &what))?;
                return Ok(output::fleet(
                    &results,
                    format,
                    output::Per {
                        text: &|r| output::update(r, Format::Text),
                        findings: &|r| r.update_available(),
                    },
                ));
            }
            let report = ops::update(&args.stack.options(&progress)?, &what)?;
            output::update(&report, format);
            Ok(Outcome::findings_if(report.update_available()))
        }
        Command::Verify(args) => {
            if let Some(fleet) = args.fleet()? {
                let results = run_fleet(&args, &progress, &fleet, ops::verify)?;
                return Ok(output::fleet(
                    &results,
                    format,
                    output::Per {
                        text: &|r| output::verify(r, Format::Text),
                        findings: &|r| !r.ok(),
                    },
                ));
            }
            let report = ops::verify(&args.options(&progress)?)?;
            output::verify(&report, format);
            Ok(Outcome::findings_if(!report.ok()))
        }
        Command::Show(args) => {
            let what = ops::ShowOptions {
                component: args.component,
                stack: args.stack,
                version: args.version,
            };
            let report = ops::show(&args.stack_args.options(&progress)?, &what)?;
            output::show(&report, format);
            Ok(Outcome::Clean)
        }
        Command::Trust {
            fingerprint,
            version,
            other_stack,
            stack,
        } => {
            let report = ops::trust(
                &stack.options(&progress)?,
                &fingerprint,
                version.as_deref(),
                other_stack.as_deref(),
            )?;
            output::trusted(&report, format);
            Ok(Outcome::Clean)
        }
        Command::Configure(args) => {
            let options = args.stack.options(&progress)?;
            if let Some(stack) = &args.init {
                let init = ops::InitOptions {
                    source: stack.clone(),
                    version: None,
                    signer: None,
                    unsigned: false,
                };
                output::configure_init(&ops::init(&options, &init)?);
            }
            let server = cairn::web::Server::bind(args.port)?;
            let config = options.config.clone();
            let stopped = server.run(options, args.idle_timeout, |url| {
                output::configure_started(url, &config);
                if !args.no_open {
                    output::opened(webbrowser::open(url).is_ok());
                }
            })?;
            output::configure_stopped(stopped);
            Ok(Outcome::Clean)
        }
        Command::Status(args) => {
            if let Some(fleet) = args.fleet()? {
                let results = run_fleet(&args, &progress, &fleet, ops::status)?;
                return Ok(output::fleet(
                    &results,
                    format,
                    output::Per {
                        text: &|r| output::status(r, Format::Text),
                        findings: &|_| false,
                    },
                ));
            }
            output::status(&ops::status(&args.options(&progress)?)?, format);
            Ok(Outcome::Clean)
        }
        Command::Bootstrap(args) => {
            if args.print_secrets && format == Format::Json {
                anyhow::bail!(
                    "--print-secrets writes the Secret manifests to stdout, which -o json needs for its report; use one of them"
                );
            }
            let report = cairn::bootstrap::bootstrap(&args.options()?)?;
            output::bootstrap(&report, format, args.print_secrets);
            Ok(Outcome::Clean)
        }
        Command::Component(command) => component(command, format, &progress),
        Command::Stack(command) => stack(command, format, &progress),
        Command::Catalog(command) => catalog(command, format, &progress),
        Command::Bundle(args::BundleCommand::Export {
            source,
            version,
            flux_manifests,
            out,
        }) => {
            let options = args::CatalogArgs { offline: false }.options(&progress);
            let report = ops::bundle::export(
                &options,
                &source,
                version.as_deref(),
                flux_manifests.as_deref(),
                &out,
            )?;
            output::bundled(&report, format);
            Ok(Outcome::Clean)
        }
    }
}

fn catalog(
    command: args::CatalogCommand,
    format: Format,
    progress: &cairn::progress::Reporter,
) -> anyhow::Result<Outcome> {
    use args::CatalogCommand;
    match command {
        CatalogCommand::Add {
            source,
            version,
            common,
        } => {
            let added = ops::catalog::add(&common.options(progress), &source, version.as_deref())?;
            output::catalog_added(&added, format);
            Ok(Outcome::Clean)
        }
        CatalogCommand::List { common } => {
            output::catalogs(&ops::catalog::list(&common.options(progress))?, format);
            Ok(Outcome::Clean)
        }
        CatalogCommand::Search {
            term,
            category,
            common,
        } => {
            let found = ops::catalog::search(
                &common.options(progress),
                term.as_deref(),
                category.as_deref(),
            )?;
            output::found_stacks(&found, format);
            Ok(Outcome::findings_if(found.is_empty()))
        }
        CatalogCommand::Update { name, common } => {
            let moved = ops::catalog::update(&common.options(progress), name.as_deref())?;
            output::catalogs_updated(&moved, format);
            Ok(Outcome::Clean)
        }
        CatalogCommand::Remove { name } => {
            ops::catalog::remove(&name)?;
            output::catalog_removed(&name, format);
            Ok(Outcome::Clean)
        }
    }
}

/// Runs `command` for each cluster of `fleet`. Clusters report no
/// progress of their own (their spinners would fight); one spinner stands
/// for the fleet while it runs.
fn run_fleet<R: Send>(
    args: &args::StackArgs,
    progress: &cairn::progress::Reporter,
    fleet: &args::Fleet,
    command: impl Fn(&ops::Options) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<ops::fleet::ClusterResult<R>>> {
    let options = args.options(&cairn::progress::silent())?;
    let _task = progress.start(&format!("{} clusters", fleet.configs.len()));
    ops::fleet::each(&fleet.configs, &fleet.base, &options, command)
}

fn component(
    command: ComponentCommand,
    format: Format,
    progress: &cairn::progress::Reporter,
) -> anyhow::Result<Outcome> {
    match command {
        ComponentCommand::New {
            name,
            lang,
            path,
            sdk,
        } => {
            let dir = path.unwrap_or_else(|| PathBuf::from(&name));
            let lang = lang.parse().map_err(anyhow::Error::msg)?;
            author::scaffold(&name, lang, &dir, sdk.as_deref())?;
            output::scaffolded(&name, &dir, format);
            Ok(Outcome::Clean)
        }
        ComponentCommand::Build { dir, out } => {
            let built = author::build(&dir, out.as_deref(), &**progress)?;
            output::built(&built, format);
            Ok(Outcome::Clean)
        }
        ComponentCommand::Test {
            dir,
            bless,
            wasm,
            sandbox,
        } => {
            let wasm = match wasm {
                Some(wasm) => wasm,
                None => author::build(&dir, None, &**progress)?,
            };
            let runtime = sandbox.sandbox(progress)?.runtime()?;
            let results = author::test(&runtime, &dir, &wasm, bless)?;
            let failed = output::component_test(&results, format);
            Ok(Outcome::findings_if(failed > 0))
        }
    }
}

fn stack(
    command: StackCommand,
    format: Format,
    progress: &cairn::progress::Reporter,
) -> anyhow::Result<Outcome> {
    let (dir, sandbox, write, out) = match command {
        StackCommand::Build { dir, sandbox, out } => (dir, sandbox, true, out),
        StackCommand::Check { dir, sandbox } => (dir, sandbox, false, None),
        StackCommand::Push {
            reference,
            key,
            dir,
            sandbox,
        } => {
            let runtime = sandbox.sandbox(progress)?.runtime()?;
            let report = author::push(&runtime, &dir, &reference, key.as_deref(), &**progress)?;
            output::pushed(&report, format);
            return Ok(Outcome::Clean);
        }
        StackCommand::Release {
            version,
            key,
            dir,
            sandbox,
        } => {
            let runtime = sandbox.sandbox(progress)?.runtime()?;
            let report = author::release(&runtime, &dir, &version, &key, &**progress)?;
            output::released(&report, format);
            return Ok(Outcome::Clean);
        }
    };
    let runtime = sandbox.sandbox(progress)?.runtime()?;
    let reports = author::stack(&runtime, &dir, write, out.as_deref(), &**progress)?;
    let stale = output::stack(&reports, write, format);
    Ok(Outcome::findings_if(stale > 0))
}
