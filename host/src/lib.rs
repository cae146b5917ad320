//! cairn: share whole Kubernetes cluster stacks through GitOps.
//!
//! The data flows one way through these modules:
//! `values` (check a component's values) → `runtime` (run components in the
//! sandbox) → `compose` (resolve facts, validate and assemble output) →
//! `repo` (write files) ; `render` drives the first three for a set of
//! components, and `cli` is a thin layer over all of it.

pub mod cli;
pub mod compose;
pub mod limits;
pub mod render;
pub mod repo;
pub mod runtime;
pub mod values;
