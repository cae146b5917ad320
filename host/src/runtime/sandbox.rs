//! What one component call can see: a store with WASI linked but nothing
//! granted, fixed clocks, seeded randomness, captured output and the limits.
//!
//! Nothing here grants access to the host: no preopened directories, no
//! environment, no arguments, no sockets and no name lookups. A component
//! that tries gets the error WASI returns for a missing capability, as if the
//! host had none.
//!
//! Time is frozen and sleeping is virtual: the monotonic clock only moves
//! when the component sleeps, a sleep returns at once, and the time slept is
//! charged to the call's deadline. So no WASI call blocks in the host (where
//! epoch interruption cannot reach), and a component that sleeps past its
//! deadline is stopped like one that spins past it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::ResourceLimiter;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamError, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use crate::limits::Limits;

/// The instant every component sees as "now": 2020-01-01T00:00:00Z. Real time
/// would make output depend on when it was rendered.
const FIXED_NOW: Duration = Duration::from_secs(1_577_836_800);

/// The seed of every random generator a component gets. A fixed seed keeps
/// output byte-identical across runs, also for guests whose hash maps seed
/// themselves from WASI randomness.
const RANDOM_SEED: u64 = 0x6361_6972_6e00_0001;

/// The state of one store: one component instance and one call.
pub struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub log: CapturedLog,
    pub clock: VirtualClock,
}

impl Sandbox {
    /// A fresh sandbox for one call, whose deadline starts now.
    pub fn new(limits: &Limits) -> Self {
        let log = CapturedLog::new(limits.log.as_u64() as usize);
        let wasi = WasiCtx::builder()
            .stdout(log.clone())
            .stderr(log.clone())
            .wall_clock(FixedClock)
            .monotonic_clock(FixedClock)
            .secure_random(StdRng::seed_from_u64(RANDOM_SEED))
            .insecure_random(StdRng::seed_from_u64(RANDOM_SEED))
            .insecure_random_seed(u128::from(RANDOM_SEED))
            .max_random_size(64 * 1024)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: Limiter::new(limits),
            log,
            clock: VirtualClock {
                started: Instant::now(),
                deadline: limits.deadline,
                slept: Duration::ZERO,
                exhausted: false,
            },
        }
    }

    /// Replaces WASI's monotonic clock in `linker` with the virtual one.
    pub fn add_virtual_clock(
        linker: &mut wasmtime::component::Linker<Sandbox>,
    ) -> wasmtime::Result<()> {
        linker.allow_shadowing(true);
        monotonic_clock::add_to_linker::<Sandbox, ClockData>(linker, |s| ClockView {
            table: &mut s.table,
            clock: &mut s.clock,
        })?;
        linker.allow_shadowing(false);
        Ok(())
    }
}

/// The monotonic clock of one call: frozen at [`FIXED_NOW`] plus the time
/// the component has slept, which counts against the call's deadline.
pub struct VirtualClock {
    started: Instant,
    deadline: Duration,
    slept: Duration,
    /// Set when a sleep would end past the deadline; the call then traps.
    pub exhausted: bool,
}

/// Why a sleep was refused: it would end past the call's deadline.
#[derive(Debug, thiserror::Error)]
#[error("slept past the deadline")]
pub struct SleptPastDeadline;

struct ClockData;

impl HasData for ClockData {
    type Data<'a> = ClockView<'a>;
}

struct ClockView<'a> {
    table: &'a mut ResourceTable,
    clock: &'a mut VirtualClock,
}

impl ClockView<'_> {
    fn now_nanos(&self) -> u64 {
        (FIXED_NOW + self.clock.slept).as_nanos() as u64
    }

    /// Advances the clock by `nanos` and returns a pollable that is ready
    /// at once, or traps when the deadline would pass first.
    fn sleep(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let clock = &mut *self.clock;
        clock.slept = clock.slept.saturating_add(Duration::from_nanos(nanos));
        if clock.started.elapsed().saturating_add(clock.slept) > clock.deadline {
            clock.exhausted = true;
            return Err(SleptPastDeadline.into());
        }
        let ready = self.table.push(Ready)?;
        subscribe(self.table, ready)
    }
}

impl monotonic_clock::Host for ClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        Ok(self.now_nanos())
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Duration> {
        Ok(1)
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let now = self.now_nanos();
        self.sleep(when.saturating_sub(now))
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.sleep(duration)
    }
}

/// A pollable that is always ready: the end of a virtual sleep.
struct Ready;

#[async_trait::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Which limit a store hit, recorded when it is hit so a trap that follows
/// can be reported as what it really is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    Memory,
    Table,
}

/// Enforces the memory and table limits over everything one call creates
/// (a component may hold many core instances, each with memories and
/// tables: the limits count them together), and remembers which one was hit.
pub struct Limiter {
    memory: usize,
    table_elements: usize,
    instances: usize,
    /// Bytes of linear memory and table elements in use, over all of them.
    memory_used: usize,
    table_used: usize,
    pub hit: Option<LimitHit>,
}

impl Limiter {
    fn new(limits: &Limits) -> Self {
        Self {
            memory: usize::try_from(limits.memory.as_u64()).unwrap_or(usize::MAX),
            table_elements: limits.table_elements,
            instances: limits.instances,
            memory_used: 0,
            table_used: 0,
            hit: None,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_used
            .saturating_add(desired.saturating_sub(current));
        if total > self.memory {
            self.hit = Some(LimitHit::Memory);
            return Ok(false);
        }
        self.memory_used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .table_used
            .saturating_add(desired.saturating_sub(current));
        if total > self.table_elements {
            self.hit = Some(LimitHit::Table);
            return Ok(false);
        }
        self.table_used = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }
    fn tables(&self) -> usize {
        self.instances
    }
    fn memories(&self) -> usize {
        self.instances
    }
}

/// A clock that never moves.
struct FixedClock;

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        FIXED_NOW
    }
}

impl HostMonotonicClock for FixedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        FIXED_NOW.as_nanos() as u64
    }
}

/// stdout, stderr and `log` of one call, interleaved, keeping the first
/// `capacity` bytes. Writes past that are accepted and dropped: a chatty or
/// hostile guest is never trapped by its own output, and the host's memory
/// stays bounded.
#[derive(Clone)]
pub struct CapturedLog {
    inner: Arc<Mutex<LogBuffer>>,
}

struct LogBuffer {
    bytes: Vec<u8>,
    capacity: usize,
    dropped: u64,
}

impl CapturedLog {
    fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(LogBuffer {
                bytes: Vec::new(),
                capacity,
                dropped: 0,
            })),
        }
    }

    pub(super) fn append(&self, data: &[u8]) {
        let mut buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let room = buf.capacity.saturating_sub(buf.bytes.len());
        let kept = data.len().min(room);
        buf.bytes.extend_from_slice(&data[..kept]);
        buf.dropped += (data.len() - kept) as u64;
    }

    /// The captured text, control characters but newlines and tabs
    /// escaped, with a note of how much was dropped.
    pub fn text(&self) -> String {
        let buf = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = crate::text::terminal(&String::from_utf8_lossy(&buf.bytes)).into_owned();
        if buf.dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "... {} more bytes of output dropped (log limit {})\n",
                buf.dropped,
                bytesize::ByteSize::b(buf.capacity as u64)
            ));
        }
        text
    }
}

impl IsTerminal for CapturedLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// The most a guest may hand over in one write; it then asks again.
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for CapturedLog {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedLog {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_tables_count_together_across_instances() {
        let limits = Limits {
            memory: bytesize::ByteSize::mib(10),
            table_elements: 100,
            ..Limits::default()
        };
        let mut limiter = Limiter::new(&limits);
        let mib = 1 << 20;
        // Two memories of 6 MiB each: the second passes the total.
        assert!(limiter.memory_growing(0, 6 * mib, None).unwrap());
        assert!(!limiter.memory_growing(0, 6 * mib, None).unwrap());
        assert_eq!(limiter.hit, Some(LimitHit::Memory));
        // Growing one that exists counts only the growth.
        assert!(limiter.memory_growing(6 * mib, 10 * mib, None).unwrap());
        assert!(limiter.table_growing(0, 60, None).unwrap());
        assert!(!limiter.table_growing(0, 60, None).unwrap());
        assert_eq!(limiter.hit, Some(LimitHit::Table));
    }
}
