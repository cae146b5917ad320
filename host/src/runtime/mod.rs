//! Runs components: the wasmtime engine, the sandbox each call gets, the
//! compiled-component cache, and the three calls of the contract (`describe`,
//! `facts`, `render`).
//!
//! This module knows nothing of stacks, values files or the repo. It takes
//! component bytes and JSON configuration in, and hands plain data out
//! ([`Metadata`], [`Fact`], [`Rendered`]), or a typed [`CallError`] that says
//! which limit was hit.

mod code_cache;
mod contract;
mod sandbox;

use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store, Trap};

pub use code_cache::CodeCache;
use sandbox::{LimitHit, Sandbox};

use crate::limits::Limits;

use contract::{Pre, RawError, RawMetadata};

/// How often the epoch ticks; deadlines are rounded up to it.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine, linker and cache shared by every component of a run.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    limits: Limits,
    cache: Option<CodeCache>,
    /// Bounds how many calls and compilations run at once, so that
    /// components running in parallel stay within `memory-total` together.
    slots: Slots,
    /// Told when a component is compiled, which is slow and happens once
    /// per component version (and compiler).
    progress: crate::progress::Reporter,
    _ticker: EpochTicker,
}

/// A component described, ready to call. Its code is compiled (or loaded
/// from the cache) when a call first needs it: a run whose calls are all
/// memoized loads no code at all.
pub struct Loaded {
    /// Hex sha256 of the component's bytes.
    pub sha256: String,
    pub metadata: Metadata,
    /// The interfaces the component imports: its capabilities.
    pub imports: Vec<String>,
    /// Whether the description (and so, usually, the code) came from the
    /// cache.
    pub cache_hit: bool,
    pre: OnceLock<Pre>,
    /// Reads the component's bytes, when its code must be compiled.
    source: Option<Source>,
}

/// Reads a component's bytes, on demand.
pub type Source = Box<dyn Fn() -> anyhow::Result<Vec<u8>> + Send + Sync>;

/// What `describe` said of a component and what it imports, kept beside
/// its compiled code.
#[derive(Serialize, Deserialize)]
struct Description {
    metadata: Metadata,
    imports: Vec<String>,
}

/// `describe` of a component, as plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub readme: String,
    /// The configuration JSON Schema, parsed.
    pub config_schema: serde_json::Value,
    pub provides: Vec<FactDecl>,
    pub reads: Vec<FactDecl>,
    /// The API groups whose CRDs the component's charts install.
    #[serde(default)]
    pub crd_groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FactDecl {
    pub key: String,
    pub description: String,
    pub required: bool,
    /// For a read fact: whether the reader is applied after the provider.
    #[serde(default)]
    pub wait: bool,
}

/// A typed fact value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Text(String),
    Flag(bool),
    Number(i64),
    Texts(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub key: String,
    pub value: FactValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub field: Option<String>,
    pub file: Option<String>,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl Diagnostic {
    /// The one way a diagnostic is shown, in every command:
    /// `warning: field: message (file)`.
    pub fn shown(&self) -> String {
        let mut text = format!("{}: ", self.severity.name());
        if let Some(field) = &self.field {
            text.push_str(&format!("{field}: "));
        }
        text.push_str(&self.message);
        if let Some(file) = &self.file {
            text.push_str(&format!(" ({file})"));
        }
        text
    }

    /// [`Diagnostic::shown`] for a diagnostic of `component`:
    /// `warning: component "x": field: message (file)`.
    pub fn shown_for(&self, component: &str) -> String {
        let shown = self.shown();
        let rest = &shown[self.severity.name().len() + 2..];
        format!("{}: component {component:?}: {rest}", self.severity.name())
    }
}

/// When Flux applies a file, relative to the component's other files (see
/// `layer` in the WIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// Applied first.
    Main,
    /// Objects of the kinds the component's own charts install, applied
    /// once `Main` is ready; written under `config/`.
    Config,
}

/// One file a component returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Relative to the component's directory (its `config/` for that layer).
    pub path: String,
    /// YAML text, as returned.
    pub content: String,
    pub layer: Layer,
}

/// What `render` returned, within the output limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rendered {
    pub files: Vec<OutputFile>,
    pub diagnostics: Vec<Diagnostic>,
    /// The captured stdout, stderr and log of the call.
    pub log: String,
}

/// Which call of the contract failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Describe,
    Facts,
    Render,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Describe => "describe",
            Phase::Facts => "facts",
            Phase::Render => "render",
        })
    }
}

/// Why a call into a component failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("exceeded the {} {phase} deadline", humantime::format_duration(*.limit))]
    Deadline { phase: Phase, limit: Duration },
    #[error("exceeded the {limit} memory limit during {phase}")]
    Memory { phase: Phase, limit: ByteSize },
    #[error("exceeded the table limit of {limit} elements during {phase}")]
    Table { phase: Phase, limit: usize },
    #[error("exceeded the {limit} wasm stack limit during {phase} (unbounded recursion?)")]
    Stack { phase: Phase, limit: ByteSize },
    #[error("crashed during {phase}: {message}")]
    Trap { phase: Phase, message: String },
    #[error("rejected its configuration")]
    InvalidConfig(Vec<Diagnostic>),
    #[error("failed during {phase}: {message}")]
    Failed { phase: Phase, message: String },
    #[error("exceeded the output limit: {0}")]
    Output(String),
    #[error("cannot be instantiated: {0}")]
    Instantiate(String),
    #[error("returned invalid {phase} data: {message}")]
    Contract { phase: Phase, message: String },
}

impl Failure {
    /// The same failure with `hide` applied to every text the component
    /// wrote (messages, diagnostics).
    pub fn redacted(self, hide: &dyn Fn(&str) -> String) -> Self {
        match self {
            Failure::Trap { phase, message } => Failure::Trap {
                phase,
                message: hide(&message),
            },
            Failure::Failed { phase, message } => Failure::Failed {
                phase,
                message: hide(&message),
            },
            Failure::Contract { phase, message } => Failure::Contract {
                phase,
                message: hide(&message),
            },
            Failure::InvalidConfig(diags) => Failure::InvalidConfig(
                diags
                    .into_iter()
                    .map(|mut d| {
                        d.message = hide(&d.message);
                        d
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

/// A failed call, with what the component printed before it failed.
#[derive(Debug, thiserror::Error)]
#[error("{failure}")]
pub struct CallError {
    pub failure: Failure,
    pub log: String,
}

/// How components are compiled to machine code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compiler {
    /// Winch, wasmtime's baseline compiler: compiles a 15 MB JavaScript or
    /// Python component about five times faster than Cranelift, and its
    /// code runs somewhat slower. With compiled code cached once per
    /// component version and calls memoized, compiling is what a user
    /// waits for (a first run, a CI runner with a cold cache), so this is
    /// the default where Winch runs (x86-64, aarch64).
    #[default]
    Baseline,
    /// Cranelift, with optimisation: the fastest code, the slowest compile.
    Optimizing,
}

impl Runtime {
    /// An engine configured with `limits`, caching compiled components in
    /// `cache` when given.
    pub fn new(limits: Limits, cache: Option<CodeCache>) -> anyhow::Result<Self> {
        Self::with_compiler(limits, cache, Compiler::default())
    }

    /// [`Runtime::new`] compiling with `compiler`.
    pub fn with_compiler(
        limits: Limits,
        cache: Option<CodeCache>,
        compiler: Compiler,
    ) -> anyhow::Result<Self> {
        let winch = compiler == Compiler::Baseline
            && cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(usize::try_from(limits.stack.as_u64())?)
            .strategy(if winch {
                wasmtime::Strategy::Winch
            } else {
                wasmtime::Strategy::Cranelift
            })
            .cranelift_opt_level(wasmtime::OptLevel::Speed)
            .parallel_compilation(true);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Sandbox::add_virtual_clock(&mut linker)?;
        contract::add_to_linker(&mut linker)?;
        let ticker = EpochTicker::start(engine.clone());
        let slots = limits.concurrent_calls();
        Ok(Self {
            engine,
            linker,
            limits,
            cache,
            slots: Slots::new(slots),
            progress: crate::progress::silent(),
            _ticker: ticker,
        })
    }

    /// The same runtime, telling `progress` when it compiles a component.
    pub fn reporting(mut self, progress: crate::progress::Reporter) -> Self {
        self.progress = progress;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles (or loads from the cache) and describes a component.
    pub fn load(&self, wasm: &[u8]) -> Result<Loaded, CallError> {
        self.load_hashed(wasm, format!("{:x}", Sha256::digest(wasm)))
    }

    /// Like [`Runtime::load`], for a caller that has already computed the
    /// component's sha256 (hashing a 15 MB component twice shows).
    pub fn load_hashed(&self, wasm: &[u8], sha256: String) -> Result<Loaded, CallError> {
        self.load_lazy(sha256, || Ok(wasm.to_vec()))
    }

    /// Loads the component whose sha256 is `sha256`, reading its bytes with
    /// `wasm` only when the compiled-component cache does not have it: a
    /// warm run need not read or inflate a 15 MB component at all.
    pub fn load_lazy(
        &self,
        sha256: String,
        wasm: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> Result<Loaded, CallError> {
        let label = sha256[..sha256.len().min(12)].to_string();
        let component = self.compiled(&label, &sha256, wasm)?;
        self.described(sha256, component, None)
    }

    /// Describes the component whose sha256 is `sha256` from what the cache
    /// kept of it, without loading its code: that waits for its first call
    /// (see [`Loaded`]), and `source` reads its bytes if it must be
    /// compiled. Without a kept description, compiles and describes now.
    pub fn load_deferred(
        &self,
        label: &str,
        sha256: String,
        source: Source,
    ) -> Result<Loaded, CallError> {
        if let Some(Description { metadata, imports }) = self
            .cache
            .as_ref()
            .and_then(|cache| cache.load_description(&self.engine, &sha256))
        {
            return Ok(Loaded {
                sha256,
                metadata,
                imports,
                cache_hit: true,
                pre: OnceLock::new(),
                source: Some(source),
            });
        }
        let component = self.compiled(label, &sha256, &source)?;
        self.described(sha256, component, Some(source))
    }

    /// The compiled component: from the cache, or compiled from `wasm()`
    /// (saying so: `label` names the component).
    fn compiled(
        &self,
        label: &str,
        sha256: &str,
        wasm: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> Result<(Component, bool), CallError> {
        let limit = self.limits.component_size;
        // Started once the bytes are read (only on a miss), ended when
        // compiling is done.
        let compiling = std::cell::RefCell::new(None);
        let bytes = || {
            let bytes = wasm().map_err(|err| wasmtime::Error::msg(format!("{err:#}")))?;
            *compiling.borrow_mut() = Some(self.progress.start(&format!(
                "compiling {label} ({}), once per version of it",
                ByteSize::b(bytes.len() as u64)
            )));
            if bytes.len() as u64 > limit.as_u64() {
                return Err(wasmtime::Error::msg(format!(
                    "it is {}, more than the {limit} a component may be (--limit component-size)",
                    ByteSize::b(bytes.len() as u64)
                )));
            }
            if wasmparser_is_core_module(&bytes) {
                return Err(wasmtime::Error::msg(
                    "it is a core WebAssembly module, not a component: make it one with `wasm-tools component new` and the WASI reactor adapter (see docs/authoring.md)",
                ));
            }
            Ok(bytes)
        };
        let _slot = self.slots.acquire();
        match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, sha256, bytes),
            None => bytes()
                .and_then(|wasm| Component::new(&self.engine, wasm))
                .map(|c| (c, false)),
        }
        .map_err(|err| instantiate(format!("not a valid WebAssembly component: {err:#}")))
    }

    /// Links a compiled component into the sandbox.
    fn pre(&self, component: &Component) -> Result<Pre, CallError> {
        let pre = self.linker.instantiate_pre(component).map_err(|err| {
            instantiate(format!(
                "{err:#} (the sandbox grants only WASI 0.2 and cairn:component/host)"
            ))
        })?;
        Pre::new(pre).map_err(instantiate)
    }

    /// A compiled component, described: from what the cache kept, or by
    /// calling `describe`, whose answer depends on no input (so it is kept
    /// beside the code: a warm run saves an instantiation, tens of
    /// milliseconds for JavaScript and Python components).
    fn described(
        &self,
        sha256: String,
        (component, cache_hit): (Component, bool),
        source: Option<Source>,
    ) -> Result<Loaded, CallError> {
        let pre = self.pre(&component)?;
        let cached = self
            .cache
            .as_ref()
            .and_then(|cache| cache.load_description(&self.engine, &sha256));
        let Description { metadata, imports } = match cached {
            Some(description) => description,
            None => {
                let (meta, _log) = self.call(Phase::Describe, |store| pre.describe(store))?;
                let metadata = Metadata::from_raw(meta).map_err(|message| CallError {
                    failure: Failure::Contract {
                        phase: Phase::Describe,
                        message,
                    },
                    log: String::new(),
                })?;
                let imports = component
                    .component_type()
                    .imports(&self.engine)
                    .map(|(name, _)| name.to_string())
                    .collect();
                let description = Description { metadata, imports };
                if let Some(cache) = &self.cache {
                    cache.store_description(&self.engine, &sha256, &description);
                }
                description
            }
        };
        Ok(Loaded {
            sha256,
            metadata,
            imports,
            cache_hit,
            pre: OnceLock::from(pre),
            source,
        })
    }

    /// The component's linked code, compiled or loaded on its first call.
    fn linked<'l>(&self, component: &'l Loaded) -> Result<&'l Pre, CallError> {
        if let Some(pre) = component.pre.get() {
            return Ok(pre);
        }
        let source = component
            .source
            .as_ref()
            .expect("a component without code has a source");
        let compiled = self.compiled(&component.metadata.name, &component.sha256, source)?;
        let pre = self.pre(&compiled.0)?;
        Ok(component.pre.get_or_init(|| pre))
    }

    /// A memoized result of `phase` for `component` on `input`, when
    /// `memoize` and the cache has one (see [`CodeCache::load_result`]).
    fn recall<T: serde::de::DeserializeOwned>(
        &self,
        memo: Option<&str>,
        component: &Loaded,
    ) -> Option<T> {
        let (cache, memo) = (self.cache.as_ref()?, memo?);
        cache.load_result(&self.engine, &component.sha256, memo)
    }

    fn remember<T: Serialize>(&self, memo: Option<&str>, component: &Loaded, value: &T) {
        if let (Some(cache), Some(memo)) = (self.cache.as_ref(), memo) {
            cache.store_result(&self.engine, &component.sha256, memo, value);
        }
    }

    /// The name of the memoized result of a call: the phase and a digest
    /// of everything the call depends on (its input and the limits it ran
    /// under; the component and engine are in the entry's key).
    fn memo_name(&self, phase: impl std::fmt::Display, input: &[&str]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(format!("{:?}", self.limits).as_bytes());
        for part in input {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        format!("{phase}-{:x}", hasher.finalize())
    }

    /// The configuration `prepare` made of `values` (JSON) for `component`
    /// before: a pure function of the component's schema and the values.
    /// Never asked for values that hold a secret.
    pub fn recall_config(&self, component: &Loaded, values: &str) -> Option<serde_json::Value> {
        let memo = self.memo_name("values", &[values]);
        self.recall(Some(&memo), component)
    }

    /// Keeps what [`Runtime::recall_config`] answers.
    pub fn remember_config(&self, component: &Loaded, values: &str, config: &serde_json::Value) {
        let memo = self.memo_name("values", &[values]);
        self.remember(Some(&memo), component, config);
    }

    /// Phase 1: the facts the component publishes for `config` (JSON).
    /// With `memoize`, a result kept from an earlier identical call is
    /// used instead of calling the component (and a new one is kept): the
    /// sandbox makes every call a pure function of its input.
    pub fn facts(
        &self,
        component: &Loaded,
        config: &str,
        memoize: bool,
    ) -> Result<Vec<Fact>, CallError> {
        let memo = memoize.then(|| self.memo_name(Phase::Facts, &[config]));
        if let Some(facts) = self.recall::<Vec<Fact>>(memo.as_deref(), component)
            && facts.len() <= MAX_FACT_DECLS
        {
            return Ok(facts);
        }
        let pre = self.linked(component)?;
        let (result, log) = self.call(Phase::Facts, |store| pre.facts(store, config))?;
        match result {
            Ok(facts) if facts.len() > MAX_FACT_DECLS => Err(CallError {
                failure: Failure::Contract {
                    phase: Phase::Facts,
                    message: format!(
                        "published {} facts, more than the {MAX_FACT_DECLS} a component may",
                        facts.len()
                    ),
                },
                log,
            }),
            Ok(facts) => {
                self.remember(memo.as_deref(), component, &facts);
                Ok(facts)
            }
            Err(err) => Err(guest_error(err, Phase::Facts, log)),
        }
    }

    /// Phase 2: the component's files for `config` (JSON) and `facts`,
    /// memoized like [`Runtime::facts`].
    pub fn render(
        &self,
        component: &Loaded,
        config: &str,
        facts: &[Fact],
        memoize: bool,
    ) -> Result<Rendered, CallError> {
        let memo = memoize.then(|| {
            let facts = serde_json::to_string(facts).expect("facts serialise");
            self.memo_name(Phase::Render, &[config, &facts])
        });
        // A kept result still meets today's output limits, or is not used.
        if let Some(rendered) = self.recall::<Rendered>(memo.as_deref(), component)
            && self.check_output_limits(&rendered).is_ok()
        {
            return Ok(rendered);
        }
        let pre = self.linked(component)?;
        let (result, log) = self.call(Phase::Render, |store| pre.render(store, config, facts))?;
        let output = result.map_err(|err| guest_error(err, Phase::Render, log.clone()))?;
        let rendered = Rendered {
            files: output
                .files
                .into_iter()
                .map(|(path, content, layer)| OutputFile {
                    path,
                    content,
                    layer,
                })
                .collect(),
            diagnostics: output
                .diagnostics
                .into_iter()
                .take(MAX_DIAGNOSTICS)
                .map(Diagnostic::cleaned)
                .collect(),
            log,
        };
        self.check_output_limits(&rendered)
            .map_err(|message| CallError {
                failure: Failure::Output(message),
                log: rendered.log.clone(),
            })?;
        self.remember(memo.as_deref(), component, &rendered);
        Ok(rendered)
    }

    fn check_output_limits(&self, rendered: &Rendered) -> Result<(), String> {
        let limits = &self.limits;
        if rendered.files.len() > limits.output_files {
            return Err(format!(
                "{} files, more than the {} allowed (--limit output-files)",
                rendered.files.len(),
                limits.output_files
            ));
        }
        let mut total = 0u64;
        for OutputFile { path, content, .. } in &rendered.files {
            let size = content.len() as u64;
            if size > limits.output_file_size.as_u64() {
                return Err(format!(
                    "file {path:?} holds {}, more than the {} allowed per file (--limit output-file-size)",
                    ByteSize::b(size),
                    limits.output_file_size
                ));
            }
            total += size;
        }
        if total > limits.output_total.as_u64() {
            return Err(format!(
                "{} files hold {} together, more than the {} allowed (--limit output-total)",
                rendered.files.len(),
                ByteSize::b(total),
                limits.output_total
            ));
        }
        Ok(())
    }

    /// Runs `f` (which instantiates the component and calls it) in a fresh
    /// store, within the limits.
    fn call<R>(
        &self,
        phase: Phase,
        f: impl FnOnce(&mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> Result<(R, String), CallError> {
        let _slot = self.slots.acquire();
        let mut store = Store::new(&self.engine, Sandbox::new(&self.limits));
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(
            usize::try_from(self.limits.hostcall_data.as_u64()).unwrap_or(usize::MAX),
        );
        store.set_max_component_handles(self.limits.handles);
        let ticks = self
            .limits
            .deadline
            .as_nanos()
            .div_ceil(EPOCH_TICK.as_nanos())
            .max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();

        let result = f(&mut store);
        let log = store.data().log.text();
        match result {
            Ok(value) => Ok((value, log)),
            Err(_) if store.data().clock.exhausted => Err(CallError {
                failure: Failure::Deadline {
                    phase,
                    limit: self.limits.deadline,
                },
                log,
            }),
            Err(err) => {
                let failure = self.classify(err, phase, store.data().limiter.hit);
                Err(CallError { failure, log })
            }
        }
    }

    /// Turns a wasmtime error into the limit or fault it stands for.
    fn classify(&self, err: wasmtime::Error, phase: Phase, hit: Option<LimitHit>) -> Failure {
        let limits = &self.limits;
        match (err.downcast_ref::<Trap>(), hit) {
            (Some(Trap::Interrupt), _) => Failure::Deadline {
                phase,
                limit: limits.deadline,
            },
            (Some(Trap::StackOverflow), _) => Failure::Stack {
                phase,
                limit: limits.stack,
            },
            (_, Some(LimitHit::Memory)) => Failure::Memory {
                phase,
                limit: limits.memory,
            },
            (_, Some(LimitHit::Table)) => Failure::Table {
                phase,
                limit: limits.table_elements,
            },
            (Some(trap), None) => Failure::Trap {
                phase,
                message: trap.to_string(),
            },
            (None, None) => Failure::Trap {
                phase,
                message: format!("{err:#}"),
            },
        }
    }
}

/// A component that cannot be made ready to call.
fn instantiate(message: String) -> CallError {
    CallError {
        failure: Failure::Instantiate(message),
        log: String::new(),
    }
}

fn guest_error(err: RawError, phase: Phase, log: String) -> CallError {
    let failure = match err {
        RawError::InvalidConfig(diags) => Failure::InvalidConfig(
            diags
                .into_iter()
                .take(MAX_DIAGNOSTICS)
                .map(Diagnostic::cleaned)
                .collect(),
        ),
        RawError::Failed(message) => Failure::Failed {
            phase,
            message: crate::text::lines(&message, MAX_LINE * 4),
        },
    };
    CallError { failure, log }
}

impl Metadata {
    /// Checks what `describe` returned and bounds every text in it: names
    /// and keys must be well-formed, human texts are cut to one line (they
    /// land in YAML comments and on terminals), the schema is bounded
    /// before it is parsed.
    fn from_raw(meta: RawMetadata) -> Result<Self, String> {
        if !crate::names::component(&meta.name) {
            return Err(format!(
                "name {:?} must be lower-case letters, digits and '-', at most 63 characters",
                crate::text::one_line(&meta.name, 80)
            ));
        }
        if meta.config_schema.len() > crate::values::MAX_SCHEMA_BYTES {
            return Err(format!(
                "config-schema is {}, more than the {} a schema may be",
                ByteSize::b(meta.config_schema.len() as u64),
                ByteSize::b(crate::values::MAX_SCHEMA_BYTES as u64)
            ));
        }
        let config_schema: serde_json::Value = serde_json::from_str(&meta.config_schema)
            .map_err(|err| format!("config-schema is not JSON: {err}"))?;
        crate::values::check_bounds(&config_schema)
            .map_err(|err| format!("config-schema: {err}"))?;
        let too_many = |what: &str, n: usize| {
            (n > MAX_FACT_DECLS).then(|| format!("declares {n} {what}, more than {MAX_FACT_DECLS}"))
        };
        if let Some(err) = too_many("provided facts", meta.provides.len())
            .or_else(|| too_many("read facts", meta.reads.len()))
        {
            return Err(err);
        }
        if meta.crd_groups.len() > MAX_FACT_DECLS {
            return Err(format!(
                "declares {} CRD groups, more than {MAX_FACT_DECLS}",
                meta.crd_groups.len()
            ));
        }
        let mut crd_groups = Vec::new();
        for group in meta.crd_groups {
            if !crate::names::api_group(&group) {
                return Err(format!(
                    "crd-groups: {:?} is not an API group (lower-case DNS name, e.g. cert-manager.io)",
                    crate::text::one_line(&group, 80)
                ));
            }
            crd_groups.push(group);
        }
        let decls = |decls: Vec<contract::RawDecl>| -> Result<Vec<FactDecl>, String> {
            decls
                .into_iter()
                .map(|d| {
                    if !crate::names::fact_key(&d.key) {
                        return Err(format!(
                            "fact key {:?} is not lower-case dot-separated words",
                            crate::text::one_line(&d.key, 80)
                        ));
                    }
                    Ok(FactDecl {
                        key: d.key,
                        description: crate::text::one_line(&d.description, MAX_LINE),
                        required: d.required,
                        wait: d.wait,
                    })
                })
                .collect()
        };
        Ok(Self {
            name: meta.name,
            version: crate::text::one_line(&meta.version, 64),
            title: crate::text::one_line(&meta.title, 80),
            description: crate::text::one_line(&meta.description, MAX_LINE),
            category: crate::text::one_line(&meta.category, 40),
            readme: crate::text::lines(&meta.readme, MAX_README),
            config_schema,
            provides: decls(meta.provides)?,
            reads: decls(meta.reads)?,
            crd_groups,
        })
    }
}

/// The longest one-line text kept from a component (descriptions,
/// diagnostics); the rest is cut.
const MAX_LINE: usize = 300;
/// The longest readme kept, in characters.
const MAX_README: usize = 64 * 1024;
/// The most facts a component may declare it provides, or reads.
const MAX_FACT_DECLS: usize = 256;
/// The most diagnostics kept from one call.
const MAX_DIAGNOSTICS: usize = 100;

/// Whether `bytes` start like a core WebAssembly module (version 1) rather
/// than a component, which shares the magic but not the layer.
fn wasmparser_is_core_module(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[4..8] == [1, 0, 0, 0]
}

impl Diagnostic {
    /// The diagnostic with its texts bounded and escaped.
    fn cleaned(self) -> Self {
        Self {
            message: crate::text::lines(&self.message, MAX_LINE * 4),
            field: self.field.map(|f| crate::text::one_line(&f, 200)),
            file: self.file.map(|f| crate::text::one_line(&f, 200)),
            ..self
        }
    }
}

/// A counting semaphore: at most `n` holders at once.
struct Slots {
    free: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Self {
        Self {
            free: std::sync::Mutex::new(n.max(1)),
            freed: std::sync::Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the
/// runtime lives, which is what makes deadlines fire. Dropping it stops the
/// thread at once (the channel closes), so short runs do not wait a tick.
struct EpochTicker {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cairn-epoch".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(EPOCH_TICK)
                {
                    engine.increment_epoch();
                }
            })
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::{RawDecl, RawMetadata};

    fn raw() -> RawMetadata {
        RawMetadata {
            name: "app".into(),
            version: "1.0.0".into(),
            title: "App".into(),
            description: "An app".into(),
            category: "apps".into(),
            readme: String::new(),
            config_schema: r#"{"type": "object"}"#.into(),
            provides: Vec::new(),
            reads: Vec::new(),
            crd_groups: Vec::new(),
        }
    }

    fn decl(key: &str) -> RawDecl {
        RawDecl {
            key: key.into(),
            description: "d".into(),
            required: false,
            wait: false,
        }
    }

    #[test]
    fn metadata_is_checked_and_its_texts_bounded() {
        // (what, change to a valid describe, Ok or part of the error)
        type Change = fn(&mut RawMetadata);
        let cases: &[(&str, Change, Result<(), &str>)] = &[
            ("valid", |_| {}, Ok(())),
            (
                "bad name",
                |m| m.name = "App_1".into(),
                Err("name \"App_1\""),
            ),
            (
                "schema not JSON",
                |m| m.config_schema = "{".into(),
                Err("config-schema is not JSON"),
            ),
            (
                "schema too large",
                |m| m.config_schema = " ".repeat(crate::values::MAX_SCHEMA_BYTES + 1),
                Err("more than the"),
            ),
            (
                "bad fact key",
                |m| m.provides = vec![decl("Not A Key")],
                Err("fact key \"Not A Key\""),
            ),
            (
                "too many facts",
                |m| m.reads = (0..=MAX_FACT_DECLS).map(|_| decl("a.b")).collect(),
                Err("read facts, more than"),
            ),
            (
                "bad CRD group",
                |m| m.crd_groups = vec!["Not/A.Group".into()],
                Err("is not an API group"),
            ),
        ];
        for (what, change, want) in cases {
            let mut meta = raw();
            change(&mut meta);
            match (Metadata::from_raw(meta), want) {
                (Ok(_), Ok(())) => {}
                (Err(err), Err(part)) => assert!(err.contains(part), "{what}: {err}"),
                (Ok(_), Err(part)) => panic!("{what}: accepted, want {part:?}"),
                (Err(err), Ok(())) => panic!("{what}: {err}"),
            }
        }
    }

    #[test]
    fn texts_that_reach_comments_and_terminals_are_one_line() {
        let mut meta = raw();
        meta.description = "line one\nvalues:\n  injected: true".into();
        meta.title = "x".repeat(1000);
        let meta = Metadata::from_raw(meta).unwrap();
        assert!(!meta.description.contains('\n'), "{}", meta.description);
        assert_eq!(meta.title, format!("{}...", "x".repeat(80)));
    }
}
