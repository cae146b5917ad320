//! Run a component natively, without wasm, for fast unit tests.
//!
//! These go through the same configuration parsing as the exported
//! component. They do not validate against the JSON Schema or fill in
//! schema defaults (cairn does that); serde's `#[serde(default)]` does the
//! latter for Rust components. Use `cairn component test` to run the real
//! component in the real sandbox.

use crate::{Component, Error, Facts, Output, parse_config};

/// Phase 1 with `values` (JSON) as the component's configuration.
pub fn facts<C: Component>(values: serde_json::Value) -> Result<Facts, Error> {
    let config = parse_config::<C>(&values.to_string())?;
    C::facts(&config)
}

/// Phase 2 with `values` (JSON) and the given facts.
pub fn render<C: Component>(values: serde_json::Value, facts: &Facts) -> Result<Output, Error> {
    let config = parse_config::<C>(&values.to_string())?;
    C::render(&config, facts)
}

/// The component's configuration JSON Schema as a JSON value.
pub fn schema<C: Component>() -> serde_json::Value {
    serde_json::from_str(&crate::config_schema::<C>()).expect("schema is JSON")
}
