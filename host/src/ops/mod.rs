//! The commands as library calls: each takes options and returns a typed
//! report, and never prints. The CLI is one front end over them; a web
//! front end would call the same functions.
//!
//! They tie the stages together: `config` → `source`/`stack` → `render`
//! (values, runtime, compose, secrets) → `flux` → `repo` → `git`.
//! [`session`] opens a project (config, lock, the stack at its version) and
//! [`tree`] renders a stack into the tree and lock `generate` would write;
//! each command is a module of its own on top.

pub mod bundle;
pub mod catalog;
mod config_text;
pub mod configure;
pub mod fleet;
mod generate;
mod init;
mod inspect;
mod lint;
mod render;
mod session;
mod show;
mod status;
mod tree;
mod trust;
mod update;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;

pub use generate::{
    ConflictError, ConvergenceError, Counts, FileChange, GenerateOptions, GenerateReport,
    commit_message, diff, generate,
};
pub use init::{InitOptions, InitReport, init};
pub use inspect::{InspectReport, inspect};
pub use lint::{LintOptions, LintReport, lint};
pub use render::{RenderOptions, RenderReport, RenderedComponent, render};
pub use show::{ComponentPage, ComponentSummary, ShowOptions, ShowReport, show};
pub use status::{ComponentStatus, StatusReport, status};
pub use tree::{FieldProblem, InvalidValues, PolicyError};
pub use trust::{TrustReport, trust};
pub use update::{AvailableVersion, UpdateOptions, UpdateReport, UpdateStatus, update};
pub use verify::{Plaintext, VerifyReport, verify};

use crate::limits::Limits;
use crate::progress::Reporter;
use crate::runtime::{CodeCache, Compiler, Runtime};

/// How components are run, for every command that runs them.
#[derive(Clone)]
pub struct Sandbox {
    /// Compile afresh instead of using the compiled-component cache.
    pub no_cache: bool,
    pub limits: Limits,
    /// Told about slow steps (fetching, compiling).
    pub progress: Reporter,
    /// How components are compiled.
    pub compiler: Compiler,
    /// A runtime to use instead of making one: the clusters of a fleet
    /// share one engine and what it has loaded.
    pub shared: Option<Arc<Runtime>>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            no_cache: false,
            limits: Limits::default(),
            progress: crate::progress::silent(),
            compiler: Compiler::default(),
            shared: None,
        }
    }
}

impl Sandbox {
    /// The shared runtime, or a new one with these limits and the user's
    /// compile cache (unless `no_cache`).
    pub fn runtime(&self) -> anyhow::Result<Arc<Runtime>> {
        if let Some(shared) = &self.shared {
            return Ok(shared.clone());
        }
        let cache = if self.no_cache {
            None
        } else {
            Some(CodeCache::user_default()?)
        };
        Ok(Arc::new(
            Runtime::with_compiler(self.limits.clone(), cache, self.compiler)?
                .reporting(self.progress.clone()),
        ))
    }

    /// The same sandbox with one runtime made now, for many projects.
    pub fn shared(&self) -> anyhow::Result<Self> {
        Ok(Self {
            shared: Some(self.runtime()?),
            ..self.clone()
        })
    }
}

/// Options every stack command shares.
#[derive(Clone)]
pub struct Options {
    /// The `cairn.yaml` to use.
    pub config: PathBuf,
    /// Use only what is cached; never fetch.
    pub offline: bool,
    pub sandbox: Sandbox,
    /// Text to use as the cairn.yaml instead of the file's: unsaved edits,
    /// which `cairn configure` checks and reviews with the same commands.
    pub draft: Option<String>,
}

impl Options {
    /// The project these options name: the cairn.yaml, or the draft.
    pub fn project(&self) -> anyhow::Result<crate::config::Project> {
        match &self.draft {
            Some(text) => crate::config::Project::parse(&self.config, text.clone()),
            None => crate::config::Project::load(&self.config),
        }
    }

    /// Options for the project whose cairn.yaml is `config`, with the
    /// default sandbox.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        Self {
            config: config.into(),
            offline: false,
            sandbox: Sandbox::default(),
            draft: None,
        }
    }
}
