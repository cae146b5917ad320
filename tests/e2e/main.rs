//! The end-to-end tests: the real `cairn` binary against real components
//! built from plugins/, real git repositories in temp dirs, and real
//! clients (kubectl, age, Flux's CRDs). One test binary, so the support
//! code is compiled once and the tests share one compiled-component cache.

mod support;

mod author;
mod bootstrap;
mod bundle;
mod catalog;
mod configure;
mod day2;
mod fleet;
mod fuzz;
mod hostile;
mod json;
mod oci;
mod permissions;
mod reference;
mod render;
mod sandbox;
mod secrets;
mod signing;
mod stack;
mod stacks;
mod workspace;
