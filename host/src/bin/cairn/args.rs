//! The command line's grammar (clap), and how each command's arguments
//! become the library's options. Nothing here runs a command.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use cairn::author::Language;
use cairn::keys::KeyType;
use cairn::limits::Limits;
use cairn::ops;
use cairn::progress::Reporter;

/// The names a `--flag` of a library enum accepts.
fn names_of<T>(all: &[(&'static str, T)]) -> PossibleValuesParser {
    PossibleValuesParser::new(all.iter().map(|(name, _)| *name))
}

#[derive(Parser)]
#[command(
    name = "cairn",
    version,
    about = "Share whole Kubernetes cluster stacks through GitOps"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How to print the result: text for people, or one JSON document on
    /// stdout for programs (errors too, as {"error": {...}}).
    #[arg(short, long, value_enum, default_value_t = Format::Text, global = true)]
    pub output: Format,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// List the stack's newer versions with their changelogs, and move
    /// cairn.yaml to one of them (or back to an older one), adding the
    /// blocks of components it adds and commenting out those it removes.
    Update(UpdateArgs),
    /// Re-render from cairn.lock and check the repo matches it. Exit status 1
    /// when it does not (hand edits, drift).
    Verify(StackArgs),
    /// Show the stack, versions, components and generated files.
    Status(StackArgs),
    /// List the stack's components, or show one component's options (with
    /// their types, defaults and descriptions), what it provides and reads,
    /// and its readme. For the stack in cairn.yaml, or any with --stack.
    Show(ShowArgs),
    /// Trust a new key to sign the stack's releases: FINGERPRINT (as `init`
    /// or the refusal printed it, checked with the publisher) must be the
    /// key that signed the release (default: the newest).
    /// Shows the keys trusted before and adds this one to `stack.signers`.
    Trust {
        fingerprint: String,
        #[arg(long)]
        version: Option<String>,
        /// Another stack of cairn.yaml's `stacks:` (its source, or its
        /// name) instead of the main one.
        #[arg(long = "stack", value_name = "STACK")]
        other_stack: Option<String>,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Choose components and fill in their options in a local web page:
    /// tiles per category, a form per component made from its schema, the
    /// same checks as `generate`, a review of what `cairn diff` would show,
    /// and Save, which writes cairn.yaml (comments kept) and nothing else.
    /// Listens on 127.0.0.1 only; the address printed carries a one-time
    /// secret.
    Configure(ConfigureArgs),
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
    /// Follow catalogs of stacks and search them. A stack a followed
    /// catalog lists can be named for its source: `cairn init reference`,
    /// `cairn show --stack acme/platform`.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Carry a stack release to a machine with no network.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Write one file holding the release of the stack at SOURCE (its git
    /// URL) that --version names (default: the newest), with its signature,
    /// and Flux's install manifests when given. On the other machine,
    /// `cairn init FILE` and `cairn bootstrap --flux-manifests FILE` take
    /// it, offline; the lock is what it would be from SOURCE.
    Export {
        source: String,
        #[arg(long)]
        version: Option<String>,
        /// Flux's install manifests, for `cairn bootstrap` there.
        #[arg(long, value_name = "FILE")]
        flux_manifests: Option<PathBuf>,
        /// The file to write.
        #[arg(long, short = 'O', value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Follow the catalog in SOURCE (a git repository or directory with a
    /// catalog.yaml), pinned to the version --version resolves to (default
    /// its newest release).
    Add {
        source: String,
        #[arg(long)]
        version: Option<String>,
        #[command(flatten)]
        common: CatalogArgs,
    },
    /// The catalogs you follow and the stacks they list.
    List {
        #[command(flatten)]
        common: CatalogArgs,
    },
    /// Stacks whose name, description, categories or publisher contain
    /// TERM, in every catalog you follow.
    Search {
        term: Option<String>,
        /// Only stacks of this category.
        #[arg(long)]
        category: Option<String>,
        #[command(flatten)]
        common: CatalogArgs,
    },
    /// Move the catalogs you follow (or the one named) to their newest
    /// version within the requirement given when added.
    Update {
        name: Option<String>,
        #[command(flatten)]
        common: CatalogArgs,
    },
    /// Stop following a catalog.
    Remove { name: String },
}

#[derive(Args)]
pub struct CatalogArgs {
    /// Use only what is cached; never fetch.
    #[arg(long)]
    pub offline: bool,
}

impl CatalogArgs {
    pub fn options(&self, progress: &Reporter) -> ops::Options {
        ops::Options {
            offline: self.offline,
            sandbox: ops::Sandbox {
                progress: progress.clone(),
                ..ops::Sandbox::default()
            },
            ..ops::Options::new("cairn.yaml")
        }
    }
}

#[derive(Subcommand)]
pub enum ComponentCommand {
    /// Scaffold a component that builds, renders and tests out of the box.
    New {
        name: String,
        #[arg(long, default_value = "rust", value_parser = names_of(&Language::ALL))]
        lang: String,
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
pub enum StackCommand {
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
    /// Check the stack, then publish it to an OCI registry as REFERENCE
    /// (oci://HOST/REPO:v1.2.0), signed with your SSH key (--key); clusters
    /// use oci://HOST/REPO as the source. A tag that exists is refused.
    Push {
        reference: String,
        /// The SSH private key to sign the release with.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
    /// Check the stack, then tag HEAD as VERSION with an annotated tag
    /// signed by your SSH key (as `git tag -s` with gpg.format=ssh; `git
    /// verify-tag` checks it). Publish by pushing the tag.
    Release {
        /// The version, e.g. v1.2.0.
        version: String,
        /// The SSH private key to sign with (not passphrase-protected; for
        /// one that is, use `git tag -s`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        sandbox: SandboxArgs,
    },
}

/// Where the project is and how to reach its stack.
#[derive(Args)]
pub struct StackArgs {
    /// The cairn.yaml to use. Given more than once, status, diff, verify,
    /// lint, generate and update run for each (a fleet).
    #[arg(long, value_name = "FILE", default_value = "cairn.yaml", global = true)]
    pub config: Vec<PathBuf>,
    /// Run for every cairn.yaml below the current directory (status, diff,
    /// verify, lint, generate, update).
    #[arg(long, global = true, conflicts_with = "config")]
    pub all: bool,
    /// Use only what is cached; never fetch.
    #[arg(long, global = true)]
    pub offline: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args)]
pub struct InitArgs {
    /// The stack: a git URL (https, ssh, file://) or a local path.
    pub source: String,
    /// Version requirement: a semver range (^1.2), a tag, or a commit.
    /// Default: the newest release.
    #[arg(long)]
    pub version: Option<String>,
    /// Directory to create cairn.yaml in.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The SSH public key (`ssh-ed25519 AAAA...`) the release must be
    /// signed with. Without it, cairn trusts the key that signed the release
    /// and prints its fingerprint: check it with the publisher.
    #[arg(long, value_name = "KEY", conflicts_with = "unsigned")]
    pub signer: Option<String>,
    /// Start from a stack whose releases are not signed; cairn.yaml records
    /// the opt-out (`unsigned: true`).
    #[arg(long)]
    pub unsigned: bool,
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Commit the changed files, cairn.yaml and cairn.lock (refuses if other
    /// changes are staged).
    #[arg(long)]
    pub commit: bool,
    /// On conflicts, take the new render.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Args)]
pub struct LintArgs {
    /// Also validate objects against the CRDs (openAPIV3Schema) in DIR.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Args)]
pub struct ConfigureArgs {
    /// Start a new cluster directory from this stack first (as `cairn init
    /// STACK --path DIR`, DIR being the directory of --config).
    #[arg(long, value_name = "STACK")]
    pub init: Option<String>,
    /// The port to listen on (default: one the system picks).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the address instead of opening it in a browser.
    #[arg(long)]
    pub no_open: bool,
    /// Stop after this long without a request from the page.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub idle_timeout: std::time::Duration,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The component to show (default: list them all).
    pub component: Option<String>,
    /// Another stack: a git URL or a local path.
    #[arg(long, value_name = "SOURCE")]
    pub stack: Option<String>,
    /// With --stack: the version (a semver range, tag or commit; default
    /// the newest release).
    #[arg(long, requires = "stack")]
    pub version: Option<String>,
    #[command(flatten)]
    pub stack_args: StackArgs,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// Only say what would change; write nothing. Exit status 1 when there
    /// is a version to move to.
    #[arg(long)]
    pub check: bool,
    /// The version to move to, newer or older (default: the newest
    /// release). Pinned exactly in cairn.yaml.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Update another stack of cairn.yaml's `stacks:` (its source, or its
    /// name) instead of the main one.
    #[arg(long = "stack", value_name = "STACK")]
    pub other_stack: Option<String>,
    #[command(flatten)]
    pub stack: StackArgs,
}

#[derive(Args)]
pub struct BootstrapArgs {
    /// The cluster's name: names its directory and its keys.
    #[arg(long)]
    pub cluster: String,
    /// The GitOps repository Flux pulls, as ssh://git@HOST/ORG/REPO.git (the
    /// scp form git@HOST:ORG/REPO is converted).
    #[arg(long)]
    pub url: String,
    /// The branch Flux follows.
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// The cluster's directory, relative to the repository root, holding
    /// its cairn.yaml (default: clusters/CLUSTER).
    #[arg(long)]
    pub path: Option<String>,
    /// How often Flux applies the cluster's directory (a Go duration).
    #[arg(long, default_value = "10m0s")]
    pub interval: String,
    /// The Flux release to install (default: the one installed already,
    /// else 2.9.4). Changing it rewrites gotk-components.yaml only.
    #[arg(long, value_name = "X.Y.Z")]
    pub flux_version: Option<String>,
    /// Flux's install manifests, e.g. from `flux install --export`.
    /// Otherwise a `flux` CLI on PATH makes them, else they are downloaded
    /// (cached, their sha256 checked against cairn.lock).
    #[arg(long, value_name = "FILE")]
    pub flux_manifests: Option<PathBuf>,
    /// The deploy key's algorithm.
    #[arg(long, default_value = "ed25519", value_parser = names_of(&KeyType::ALL))]
    pub key_type: String,
    /// Where the keys are kept, outside the repository (default: the user's
    /// config directory, cairn/keys/CLUSTER).
    #[arg(long, value_name = "DIR")]
    pub keys_dir: Option<PathBuf>,
    /// The git host's SSH host keys, in known_hosts format.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Ask the git host for its host keys (ssh-keyscan) and trust them.
    #[arg(long, conflicts_with = "known_hosts")]
    pub scan_host_key: bool,
    /// Set up no age identity and no SOPS decryption.
    #[arg(long)]
    pub no_sops: bool,
    /// Print the Secret manifests (with the private keys) to stdout, e.g.
    /// to pipe into `kubectl apply -f -`; nothing else goes to stdout.
    #[arg(long)]
    pub print_secrets: bool,
    /// Never download the Flux manifests.
    #[arg(long)]
    pub offline: bool,
}

/// How components are run.
#[derive(Args)]
pub struct SandboxArgs {
    /// Compile components afresh instead of using the compiled-component cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Override a sandbox limit, e.g. `--limit deadline=30s --limit memory=512MiB`.
    /// Limits: deadline, memory, memory-total, component-size, stack,
    /// table-elements, instances, hostcall-data, handles, log, output-files,
    /// output-file-size, output-total, path-length.
    #[arg(long = "limit", value_name = "NAME=VALUE", global = true)]
    pub limits: Vec<String>,
    /// Show what components printed or logged while rendering.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// How components are compiled: winch compiles fast (the default: code
    /// is cached and calls memoized, so compiling is what you wait for),
    /// cranelift makes faster code.
    #[arg(long, value_enum, default_value_t = CompilerArg::Winch, global = true)]
    pub compiler: CompilerArg,
}

#[derive(Args)]
pub struct RenderArgs {
    /// YAML file of values, keyed by component name.
    #[arg(long, value_name = "VALUES.yaml")]
    pub values: Option<PathBuf>,
    /// Directory to write the output tree to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Components to render: COMPONENT.wasm, or NAME=COMPONENT.wasm to render
    /// it under another name (e.g. two copies of one component).
    #[arg(required = true, value_name = "COMPONENT.wasm")]
    pub components: Vec<String>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The component to inspect.
    #[arg(value_name = "COMPONENT.wasm")]
    pub component: PathBuf,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompilerArg {
    Winch,
    Cranelift,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

impl SandboxArgs {
    pub fn sandbox(&self, progress: &Reporter) -> anyhow::Result<ops::Sandbox> {
        let mut limits = Limits::default();
        for assignment in &self.limits {
            limits.set(assignment)?;
        }
        Ok(ops::Sandbox {
            no_cache: self.no_cache,
            limits,
            progress: progress.clone(),
            compiler: match self.compiler {
                CompilerArg::Winch => cairn::runtime::Compiler::Baseline,
                CompilerArg::Cranelift => cairn::runtime::Compiler::Optimizing,
            },
            shared: None,
        })
    }
}

/// The clusters a command runs for, when it runs for more than one.
pub struct Fleet {
    pub configs: Vec<PathBuf>,
    /// What cluster names are relative to.
    pub base: PathBuf,
}

impl StackArgs {
    /// Options for the (first) cairn.yaml given.
    pub fn options(&self, progress: &Reporter) -> anyhow::Result<ops::Options> {
        Ok(ops::Options {
            config: self
                .config
                .first()
                .cloned()
                .unwrap_or_else(|| "cairn.yaml".into()),
            offline: self.offline,
            sandbox: self.sandbox.sandbox(progress)?,
            draft: None,
        })
    }

    /// With `--all` or several `--config`: the clusters to run for.
    pub fn fleet(&self) -> anyhow::Result<Option<Fleet>> {
        let configs = if self.all {
            ops::fleet::discover(Path::new("."))?
        } else if self.config.len() > 1 {
            self.config.clone()
        } else {
            return Ok(None);
        };
        Ok(Some(Fleet {
            configs,
            base: ".".into(),
        }))
    }
}

impl InitArgs {
    pub fn options(&self, progress: &Reporter) -> anyhow::Result<(ops::Options, ops::InitOptions)> {
        Ok((
            ops::Options {
                config: self.path.join(cairn::config::CONFIG_FILE),
                offline: self.offline,
                sandbox: self.sandbox.sandbox(progress)?,
                draft: None,
            },
            ops::InitOptions {
                source: self.source.clone(),
                version: self.version.clone(),
                signer: self.signer.clone(),
                unsigned: self.unsigned,
            },
        ))
    }
}

impl RenderArgs {
    pub fn options(&self) -> ops::RenderOptions {
        ops::RenderOptions {
            values: self.values.clone(),
            out: self.out.clone(),
            components: self.components.clone(),
        }
    }
}

impl BootstrapArgs {
    pub fn options(&self) -> anyhow::Result<cairn::bootstrap::BootstrapOptions> {
        Ok(cairn::bootstrap::BootstrapOptions {
            cluster: self.cluster.clone(),
            url: self.url.clone(),
            branch: self.branch.clone(),
            path: self.path.clone(),
            interval: self.interval.clone(),
            flux_version: self.flux_version.clone(),
            flux_manifests: self.flux_manifests.clone(),
            key_type: self.key_type.parse().map_err(anyhow::Error::msg)?,
            keys_dir: self.keys_dir.clone(),
            known_hosts: self.known_hosts.clone(),
            scan_host_key: self.scan_host_key,
            no_sops: self.no_sops,
            offline: self.offline,
            cwd: std::env::current_dir().context("cannot tell the current directory")?,
        })
    }
}
