//! Write cairn stack components in Rust.
//!
//! A component is a type implementing [`Component`]: a typed configuration
//! (serde + schemars, so the JSON Schema cairn validates against is derived
//! from the same struct the component reads), the facts it publishes, and a
//! `render` that returns manifests. [`export_component!`] turns it into a
//! WebAssembly component implementing the `cairn:component` world.
//!
//! ```ignore
//! use cairn_sdk::prelude::*;
//!
//! #[derive(Deserialize, Serialize, JsonSchema)]
//! #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
//! pub struct Config { namespace: String }
//! impl Default for Config { fn default() -> Self { Self { namespace: "demo".into() } } }
//!
//! pub struct Demo;
//! impl Component for Demo {
//!     type Config = Config;
//!     fn metadata() -> Metadata { Metadata::new("demo", env!("CARGO_PKG_VERSION")) }
//!     fn render(config: &Config, _facts: &Facts) -> Result<Output, Error> {
//!         Output::new().file("namespace.yaml", &[Namespace::new(&config.namespace)])
//!     }
//! }
//! cairn_sdk::export_component!(Demo);
//! ```
//!
//! Everything here is plain Rust: [`testing`] runs a component natively, so its
//! unit tests need no wasm runtime.

mod facts;
pub mod k8s;
mod output;
pub mod testing;

pub use facts::{FactDecl, FactValue, Facts};
pub use output::{Diagnostic, Error, Layer, Output, OutputFile, Severity};
pub use schemars::{self, JsonSchema};
pub use serde::{self, Deserialize, Serialize};
pub use serde_json::{self, json};

/// The generated bindings of the `cairn:component` world. Component authors do
/// not need them directly; [`export_component!`] wires a [`Component`] to them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "stack-component",
        pub_export_macro: true,
        export_macro_name: "__export_world",
        default_bindings_module: "cairn_sdk::bindings",
    });
}

/// Everything a component usually needs, in one import.
pub mod prelude {
    pub use crate::k8s::{
        Exposure, GitRepository, HelmRelease, HelmRepository, Kustomization, Namespace, Object,
        ObjectMeta, OciRepository,
    };
    pub use crate::{
        Component, Diagnostic, Error, FactDecl, FactValue, Facts, JsonSchema, Layer, Metadata,
        Output, Severity, log,
    };
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::{Value, json};
}

/// What `cairn inspect` and stack catalogues show about a component.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub category: String,
    /// A markdown page for users; `include_str!("../README.md")` is typical.
    pub readme: String,
    /// The API groups whose CRDs this component's charts install; objects
    /// of these groups go in the `config` layer ([`Output::config_file`]).
    pub crd_groups: Vec<String>,
}

impl Metadata {
    /// Metadata with a name and version; fill in the rest with the builder
    /// methods.
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            title: name.into(),
            ..Self::default()
        }
    }
    pub fn title(mut self, title: &str) -> Self {
        self.title = title.into();
        self
    }
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }
    pub fn category(mut self, category: &str) -> Self {
        self.category = category.into();
        self
    }
    pub fn readme(mut self, readme: &str) -> Self {
        self.readme = readme.into();
        self
    }
    /// Declares the API groups whose CRDs the component's charts install
    /// (`cert-manager.io`), so cairn can check they are applied in order.
    pub fn crd_groups(mut self, groups: &[&str]) -> Self {
        self.crd_groups = groups.iter().map(|g| g.to_string()).collect();
        self
    }
}

/// A cairn component.
///
/// cairn validates the user's values against the schema of `Config` and fills
/// in its defaults before calling [`Component::facts`] or
/// [`Component::render`], so both receive a complete, valid configuration.
pub trait Component {
    /// The configuration users set under this component's name in `cairn.yaml`.
    /// Use `#[serde(default, deny_unknown_fields)]` so that defaults appear in
    /// the schema and misspelt keys are rejected.
    type Config: serde::de::DeserializeOwned + JsonSchema;

    fn metadata() -> Metadata;

    /// The facts [`Component::facts`] may publish.
    fn provides() -> Vec<FactDecl> {
        Vec::new()
    }

    /// The facts [`Component::render`] reads; only these are passed in.
    fn reads() -> Vec<FactDecl> {
        Vec::new()
    }

    /// Phase 1: facts for other components, from this component's own config.
    fn facts(config: &Self::Config) -> Result<Facts, Error> {
        let _ = config;
        Ok(Facts::new())
    }

    /// Phase 2: the component's files.
    fn render(config: &Self::Config, facts: &Facts) -> Result<Output, Error>;
}

/// The JSON Schema of a component's configuration, as cairn receives it.
pub fn config_schema<C: Component>() -> String {
    let schema = schemars::schema_for!(C::Config);
    serde_json::to_string_pretty(&schema).expect("a JSON Schema always serialises")
}

/// Parses the configuration cairn passes in. cairn has validated it against
/// the schema already, so a failure here means the schema and the struct
/// disagree: report it as invalid config rather than panicking.
pub(crate) fn parse_config<C: Component>(config: &str) -> Result<C::Config, Error> {
    serde_json::from_str(config).map_err(|err| Error::invalid(None, &err.to_string()))
}

/// Writes a message to the component's log, which cairn shows when the
/// component fails or when run with `--verbose`.
pub mod log {
    use crate::bindings::cairn::component::host::{self, Level};

    fn write(level: Level, message: &str) {
        if cfg!(target_family = "wasm") {
            host::log(level, message);
        } else {
            eprintln!("[{level:?}] {message}");
        }
    }
    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }
    pub fn info(message: &str) {
        write(Level::Info, message)
    }
    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }
    pub fn error(message: &str) {
        write(Level::Error, message)
    }
}

/// Connects a [`Component`] to the WebAssembly exports. Not public API: use
/// [`export_component!`].
#[doc(hidden)]
pub struct Exports<C>(std::marker::PhantomData<C>);

impl<C: Component> bindings::Guest for Exports<C> {
    fn describe() -> bindings::cairn::component::types::Metadata {
        let meta = C::metadata();
        bindings::cairn::component::types::Metadata {
            name: meta.name,
            version: meta.version,
            title: meta.title,
            description: meta.description,
            category: meta.category,
            readme: meta.readme,
            config_schema: config_schema::<C>(),
            provides: C::provides().into_iter().map(Into::into).collect(),
            reads: C::reads().into_iter().map(Into::into).collect(),
            crd_groups: meta.crd_groups,
        }
    }

    fn facts(
        config: String,
    ) -> Result<
        Vec<bindings::cairn::component::types::Fact>,
        bindings::cairn::component::types::RenderError,
    > {
        let config = parse_config::<C>(&config).map_err(Error::into_wit)?;
        let facts = C::facts(&config).map_err(Error::into_wit)?;
        Ok(facts.into_wit())
    }

    fn render(
        config: String,
        facts: Vec<bindings::cairn::component::types::Fact>,
    ) -> Result<
        bindings::cairn::component::types::RenderOutput,
        bindings::cairn::component::types::RenderError,
    > {
        let config = parse_config::<C>(&config).map_err(Error::into_wit)?;
        let facts = Facts::from_wit(facts);
        let output = C::render(&config, &facts).map_err(Error::into_wit)?;
        Ok(output.into_wit())
    }
}

/// Exports a [`Component`] as the component's implementation of the
/// `cairn:component` world. Use it once, at the crate root.
#[macro_export]
macro_rules! export_component {
    ($component:ty) => {
        type __CairnExports = $crate::Exports<$component>;
        $crate::bindings::__export_world!(__CairnExports with_types_in $crate::bindings);
    };
}
