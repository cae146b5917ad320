//! The WIT contract's versions, behind one interface: components built
//! against `cairn:component@0.2.0` (`wit/component.wit`) and against 0.1.0
//! (`host/wit/legacy/`), whose files all belong to the `main` layer and
//! which name no CRD groups. Each call's results come out as the same raw,
//! unchecked data; `runtime` checks and bounds them.

use wasmtime::Store;
use wasmtime::component::{HasSelf, InstancePre, Linker};

use super::sandbox::Sandbox;
use super::{Diagnostic, Fact, FactValue, Layer, Severity};

mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "stack-component",
    });
}

mod v1 {
    wasmtime::component::bindgen!({
        path: "wit/legacy",
        world: "stack-component",
    });
}

/// The version components are built against today.
pub const CURRENT: &str = "cairn:component@0.2.0";

/// What `describe` returned, before any check.
pub struct RawMetadata {
    pub name: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub readme: String,
    pub config_schema: String,
    pub provides: Vec<RawDecl>,
    pub reads: Vec<RawDecl>,
    pub crd_groups: Vec<String>,
}

pub struct RawDecl {
    pub key: String,
    pub description: String,
    pub required: bool,
    pub wait: bool,
}

/// What `render` returned, before any check.
pub struct RawOutput {
    pub files: Vec<(String, String, Layer)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A component's own error (`render-error`).
pub enum RawError {
    InvalidConfig(Vec<Diagnostic>),
    Failed(String),
}

/// Adds what components import besides WASI, in every version.
pub fn add_to_linker(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    v2::StackComponent::add_to_linker::<Sandbox, HasSelf<Sandbox>>(linker, |s| s)?;
    v1::StackComponent::add_to_linker::<Sandbox, HasSelf<Sandbox>>(linker, |s| s)?;
    Ok(())
}

/// A component ready to instantiate, in the version it exports.
pub enum Pre {
    V2(v2::StackComponentPre<Sandbox>),
    V1(v1::StackComponentPre<Sandbox>),
}

impl Pre {
    /// The version `pre` exports, or why it exports none cairn knows.
    pub fn new(pre: InstancePre<Sandbox>) -> Result<Self, String> {
        match v2::StackComponentPre::new(pre.clone()) {
            Ok(pre) => Ok(Pre::V2(pre)),
            Err(current) => match v1::StackComponentPre::new(pre) {
                Ok(pre) => Ok(Pre::V1(pre)),
                Err(_) => Err(format!(
                    "{current:#} (it must export the {CURRENT} stack-component world)"
                )),
            },
        }
    }

    pub fn describe(&self, store: &mut Store<Sandbox>) -> wasmtime::Result<RawMetadata> {
        match self {
            Pre::V2(pre) => {
                let m = pre.instantiate(&mut *store)?.call_describe(store)?;
                Ok(RawMetadata {
                    name: m.name,
                    version: m.version,
                    title: m.title,
                    description: m.description,
                    category: m.category,
                    readme: m.readme,
                    config_schema: m.config_schema,
                    provides: m.provides.into_iter().map(decl_v2).collect(),
                    reads: m.reads.into_iter().map(decl_v2).collect(),
                    crd_groups: m.crd_groups,
                })
            }
            Pre::V1(pre) => {
                let m = pre.instantiate(&mut *store)?.call_describe(store)?;
                Ok(RawMetadata {
                    name: m.name,
                    version: m.version,
                    title: m.title,
                    description: m.description,
                    category: m.category,
                    readme: m.readme,
                    config_schema: m.config_schema,
                    provides: m.provides.into_iter().map(decl_v1).collect(),
                    reads: m.reads.into_iter().map(decl_v1).collect(),
                    crd_groups: Vec::new(),
                })
            }
        }
    }

    pub fn facts(
        &self,
        store: &mut Store<Sandbox>,
        config: &str,
    ) -> wasmtime::Result<Result<Vec<Fact>, RawError>> {
        Ok(match self {
            Pre::V2(pre) => pre
                .instantiate(&mut *store)?
                .call_facts(store, config)?
                .map(|facts| facts.into_iter().map(fact_from_v2).collect())
                .map_err(error_v2),
            Pre::V1(pre) => pre
                .instantiate(&mut *store)?
                .call_facts(store, config)?
                .map(|facts| facts.into_iter().map(fact_from_v1).collect())
                .map_err(error_v1),
        })
    }

    pub fn render(
        &self,
        store: &mut Store<Sandbox>,
        config: &str,
        facts: &[Fact],
    ) -> wasmtime::Result<Result<RawOutput, RawError>> {
        Ok(match self {
            Pre::V2(pre) => {
                let facts: Vec<_> = facts.iter().map(fact_to_v2).collect();
                pre.instantiate(&mut *store)?
                    .call_render(store, config, &facts)?
                    .map(|out| RawOutput {
                        files: out
                            .files
                            .into_iter()
                            .map(|f| {
                                let layer = match f.layer {
                                    v2::cairn::component::types::Layer::Main => Layer::Main,
                                    v2::cairn::component::types::Layer::Config => Layer::Config,
                                };
                                (f.path, f.content, layer)
                            })
                            .collect(),
                        diagnostics: out.diagnostics.into_iter().map(diagnostic_v2).collect(),
                    })
                    .map_err(error_v2)
            }
            Pre::V1(pre) => {
                let facts: Vec<_> = facts.iter().map(fact_to_v1).collect();
                pre.instantiate(&mut *store)?
                    .call_render(store, config, &facts)?
                    .map(|out| RawOutput {
                        files: out
                            .files
                            .into_iter()
                            .map(|f| (f.path, f.content, Layer::Main))
                            .collect(),
                        diagnostics: out.diagnostics.into_iter().map(diagnostic_v1).collect(),
                    })
                    .map_err(error_v1)
            }
        })
    }
}

/// The conversions of one version's types, which differ between versions
/// only in the module they live in.
fn decl_v2(d: v2::cairn::component::types::FactDecl) -> RawDecl {
    RawDecl {
        key: d.key,
        description: d.description,
        required: d.required,
        wait: d.wait,
    }
}

/// A 0.1.0 component waits for every fact it reads, the safe reading of a
/// contract that did not say.
fn decl_v1(d: v1::cairn::component::types::FactDecl) -> RawDecl {
    RawDecl {
        key: d.key,
        description: d.description,
        required: d.required,
        wait: true,
    }
}

macro_rules! conversions {
    ($version:ident, $fact_from:ident, $fact_to:ident, $diagnostic:ident, $error:ident) => {
        fn $fact_from(fact: $version::cairn::component::types::Fact) -> Fact {
            use $version::cairn::component::types::FactValue as V;
            let value = match fact.value {
                V::Text(v) => FactValue::Text(v),
                V::Flag(v) => FactValue::Flag(v),
                V::Number(v) => FactValue::Number(v),
                V::Texts(v) => FactValue::Texts(v),
            };
            Fact {
                key: fact.key,
                value,
            }
        }

        fn $fact_to(fact: &Fact) -> $version::cairn::component::types::Fact {
            use $version::cairn::component::types::FactValue as V;
            let value = match &fact.value {
                FactValue::Text(v) => V::Text(v.clone()),
                FactValue::Flag(v) => V::Flag(*v),
                FactValue::Number(v) => V::Number(*v),
                FactValue::Texts(v) => V::Texts(v.clone()),
            };
            $version::cairn::component::types::Fact {
                key: fact.key.clone(),
                value,
            }
        }

        fn $diagnostic(d: $version::cairn::component::types::Diagnostic) -> Diagnostic {
            use $version::cairn::component::types::Severity as S;
            Diagnostic {
                severity: match d.severity {
                    S::Error => Severity::Error,
                    S::Warning => Severity::Warning,
                    S::Info => Severity::Info,
                },
                message: d.message,
                field: d.field,
                file: d.file,
            }
        }

        fn $error(err: $version::cairn::component::types::RenderError) -> RawError {
            use $version::cairn::component::types::RenderError as E;
            match err {
                E::InvalidConfig(diags) => {
                    RawError::InvalidConfig(diags.into_iter().map($diagnostic).collect())
                }
                E::Failed(message) => RawError::Failed(message),
            }
        }

        impl $version::cairn::component::types::Host for Sandbox {}

        impl $version::cairn::component::host::Host for Sandbox {
            fn log(&mut self, level: $version::cairn::component::host::Level, message: String) {
                use $version::cairn::component::host::Level as L;
                let level = match level {
                    L::Debug => "debug",
                    L::Info => "info",
                    L::Warn => "warn",
                    L::Error => "error",
                };
                self.log.append(format!("[{level}] {message}\n").as_bytes());
            }
        }
    };
}

conversions!(v2, fact_from_v2, fact_to_v2, diagnostic_v2, error_v2);
conversions!(v1, fact_from_v1, fact_to_v1, diagnostic_v1, error_v1);
