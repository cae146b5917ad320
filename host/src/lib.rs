//! cairn: share whole Kubernetes cluster stacks through GitOps.
//!
//! The data flows one way through these modules:
//! `config` (cairn.yaml, stack.yaml, cairn.lock) → `source` and `stack` (a
//! stack at a version, from git or a directory) → `values` (check values)
//! → `runtime` (run components in the sandbox) → `compose` (resolve facts,
//! validate and assemble output) → `render` (the middle stages for a set
//! of components, with `secrets` sealing) → `flux` (the Kustomizations that
//! apply it) → `repo` (plan and write files; `merge` keeps hand edits) →
//! `git` (commit). `ops` implements each command on top, as a library call
//! returning a typed report; `bootstrap` (with `keys`) sets up Flux and the
//! cluster's keys, `author` builds and tests components and stacks.
//! Leaf modules at the bottom (`files`, `text`, `yaml`, `names`, `limits`,
//! `cache`, `edit`) serve them all. ARCHITECTURE.md gives each module's
//! invariants; a test keeps the imports pointing one way.
//!
//! The library never prints: the `cairn` binary is one front end over
//! `ops`, and decides what reaches the terminal.

#![deny(clippy::print_stdout, clippy::print_stderr)]

#[cfg(test)]
mod architecture;
pub mod author;
pub mod bootstrap;
pub mod bundle;
pub mod cache;
pub mod catalog;
pub mod compose;
pub mod config;
pub mod crd;
pub mod edit;
pub mod files;
pub mod flux;
#[doc(hidden)]
pub mod fuzz;
pub mod git;
pub mod keys;
pub mod limits;
pub mod merge;
pub mod names;
pub mod oci;
pub mod ops;
pub mod permissions;
pub mod progress;
pub mod render;
pub mod repo;
pub mod runtime;
pub mod secrets;
pub mod signing;
pub mod sops;
pub mod source;
pub mod stack;
pub mod text;
pub mod values;
pub mod web;
pub mod yaml;
