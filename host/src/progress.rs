//! Progress of slow steps (fetching, compiling, building), reported to
//! whoever drives the library: the CLI draws a spinner on a terminal, a web
//! front end could stream it. The library itself never draws or prints.

use std::sync::Arc;

/// Told when a slow step starts; the step ends when its [`Task`] drops.
pub trait Progress: Send + Sync {
    fn start(&self, message: &str) -> Task;
}

/// A running step: ends (its indicator cleared) when dropped.
#[must_use = "the step ends when the task is dropped"]
pub struct Task(Option<Box<dyn FnOnce() + Send>>);

impl Task {
    /// A step that runs `end` when it ends.
    pub fn new(end: impl FnOnce() + Send + 'static) -> Self {
        Self(Some(Box::new(end)))
    }

    /// A step nobody watches.
    pub fn none() -> Self {
        Self(None)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(end) = self.0.take() {
            end();
        }
    }
}

/// Reports nothing: the default for callers that show no progress.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _message: &str) -> Task {
        Task::none()
    }
}

/// What options carry: shared, so one reporter serves every step.
pub type Reporter = Arc<dyn Progress>;

/// A reporter that reports nothing.
pub fn silent() -> Reporter {
    Arc::new(Silent)
}
