//! cairn: share whole Kubernetes cluster stacks through GitOps.
//!
//! The data flows one way through these modules:
//! `config` (cairn.yaml, stack.yaml, cairn.lock) → `source` and `stack` (a
//! stack at a version, from git or a directory) → `values` (check values)
//! → `runtime` (run components in the sandbox) → `compose` (resolve facts,
//! validate and assemble output) → `repo` (plan and write files; `merge`
//! keeps hand edits) → `git` (commit). `render` drives the middle stages for
//! a set of components, `ops` implements each stack command on top, and
//! `cli` is a thin layer over all of it. `secrets` (over `sops`) resolves
//! secret values and seals rendered Secrets; `bootstrap` (with `keys`) sets
//! up Flux and the cluster's keys.

pub mod author;
pub mod bootstrap;
pub mod cache;
pub mod cli;
pub mod compose;
pub mod config;
pub mod crd;
pub mod files;
pub mod flux;
#[doc(hidden)]
pub mod fuzz;
pub mod git;
pub mod keys;
pub mod limits;
pub mod merge;
pub mod names;
pub mod ops;
pub mod progress;
pub mod render;
pub mod repo;
pub mod runtime;
pub mod secrets;
pub mod sops;
pub mod source;
pub mod stack;
pub mod text;
pub mod values;
pub mod yaml;
