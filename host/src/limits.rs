//! Every limit of the sandbox, in one place.
//!
//! A component is untrusted code. These bounds are what make running a third
//! party's stack safe: whatever a component does, cairn stops it within
//! `deadline`, with at most `memory` of guest memory, and accepts at most the
//! output sizes below. Each default is generous for real components (the
//! reference stack uses a small fraction of each) and each can be overridden
//! with `--limit NAME=VALUE`.

use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

/// The sandbox limits for one run of cairn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Wall-clock time one call into a component (describe, facts or render)
    /// may take, enforced by epoch interruption; time the component sleeps
    /// counts too (sleeps are virtual: they return at once). Default 10 s.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// Linear memory one call may grow to, all of its memories together.
    /// Default 256 MiB.
    pub memory: ByteSize,
    /// Linear memory all calls running at once may use together: cairn runs
    /// at most `memory-total / memory` calls (and compilations) in parallel,
    /// whatever the number of cores. Default 2 GiB.
    pub memory_total: ByteSize,
    /// The size of one component's `.wasm`. Default 64 MiB (the JavaScript
    /// and Python components of the reference stack are 12 and 18 MB).
    pub component_size: ByteSize,
    /// Wasm stack one call may use before it traps. Default 1 MiB.
    pub stack: ByteSize,
    /// Table elements one call may grow to, all tables together.
    /// Default 100 000.
    pub table_elements: usize,
    /// Core instances, tables and memories one component may create.
    /// Default 64 each; real components use a handful.
    pub instances: usize,
    /// Bytes one host call may copy from the guest to the host (wasmtime's
    /// hostcall fuel). Default 64 MiB.
    pub hostcall_data: ByteSize,
    /// Live component-model handles (resources) in one store. Default 10 000.
    pub handles: usize,
    /// Bytes of stdout, stderr and `log` kept per call; the rest is dropped,
    /// never trapping the guest. Default 64 KiB.
    pub log: ByteSize,
    /// Files one component may output. Default 1 000.
    pub output_files: usize,
    /// Bytes one output file may hold. Default 4 MiB.
    pub output_file_size: ByteSize,
    /// Bytes all of one component's files may hold together. Default 16 MiB.
    pub output_total: ByteSize,
    /// Characters an output path may have. Default 200.
    pub path_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
            memory: ByteSize::mib(256),
            memory_total: ByteSize::gib(2),
            component_size: ByteSize::mib(64),
            stack: ByteSize::mib(1),
            table_elements: 100_000,
            instances: 64,
            hostcall_data: ByteSize::mib(64),
            handles: 10_000,
            log: ByteSize::kib(64),
            output_files: 1_000,
            output_file_size: ByteSize::mib(4),
            output_total: ByteSize::mib(16),
            path_length: 200,
        }
    }
}

/// The names `--limit` accepts, for error messages.
pub const NAMES: &[&str] = &[
    "deadline",
    "memory",
    "memory-total",
    "component-size",
    "stack",
    "table-elements",
    "instances",
    "hostcall-data",
    "handles",
    "log",
    "output-files",
    "output-file-size",
    "output-total",
    "path-length",
];

impl Limits {
    /// How many calls may run at once within `memory-total` (at least one).
    pub fn concurrent_calls(&self) -> usize {
        let per_call = self.memory.as_u64().max(1);
        usize::try_from(self.memory_total.as_u64() / per_call)
            .unwrap_or(usize::MAX)
            .max(1)
    }

    /// Applies one `NAME=VALUE` override, e.g. `deadline=2s` or `memory=64MiB`.
    pub fn set(&mut self, assignment: &str) -> anyhow::Result<()> {
        let Some((name, value)) = assignment.split_once('=') else {
            anyhow::bail!("--limit takes NAME=VALUE (e.g. deadline=2s), got {assignment:?}");
        };
        let (name, value) = (name.trim(), value.trim());
        let bad = |what: &str| anyhow::anyhow!("--limit {name}: {value:?} is not {what}");
        let size = |v: &str| {
            v.parse::<ByteSize>()
                .map_err(|_| bad("a size such as 64MiB"))
        };
        let count = |v: &str| v.parse::<usize>().map_err(|_| bad("a whole number"));
        match name {
            "deadline" => {
                self.deadline =
                    humantime::parse_duration(value).map_err(|_| bad("a duration such as 10s"))?
            }
            "memory" => self.memory = size(value)?,
            "memory-total" => self.memory_total = size(value)?,
            "component-size" => self.component_size = size(value)?,
            "stack" => self.stack = size(value)?,
            "table-elements" => self.table_elements = count(value)?,
            "instances" => self.instances = count(value)?,
            "hostcall-data" => self.hostcall_data = size(value)?,
            "handles" => self.handles = count(value)?,
            "log" => self.log = size(value)?,
            "output-files" => self.output_files = count(value)?,
            "output-file-size" => self.output_file_size = size(value)?,
            "output-total" => self.output_total = size(value)?,
            "path-length" => self.path_length = count(value)?,
            _ => anyhow::bail!(
                "unknown limit {name:?}; the limits are: {}",
                NAMES.join(", ")
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_units() {
        let mut limits = Limits::default();
        limits.set("deadline=1500ms").unwrap();
        limits.set("memory=64MiB").unwrap();
        limits.set("output-files=3").unwrap();
        assert_eq!(limits.deadline, Duration::from_millis(1500));
        assert_eq!(limits.memory, ByteSize::mib(64));
        assert_eq!(limits.output_files, 3);
    }

    #[test]
    fn unknown_and_malformed_overrides_are_refused() {
        let mut limits = Limits::default();
        assert!(
            limits
                .set("cpu=2")
                .unwrap_err()
                .to_string()
                .contains("deadline, memory")
        );
        assert!(
            limits
                .set("memory=lots")
                .unwrap_err()
                .to_string()
                .contains("a size")
        );
        assert!(limits.set("deadline").is_err());
    }
}
