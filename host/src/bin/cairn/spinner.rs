//! Progress for slow steps, drawn as a spinner on stderr when it is a
//! terminal; when it is not, nothing is drawn, so logs and CI output stay
//! clean.

use std::sync::Arc;
use std::time::Duration;

use cairn::progress::{Progress, Reporter, Task};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

struct Spinner;

impl Progress for Spinner {
    fn start(&self, message: &str) -> Task {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        // Messages can name what a stack controls (a source URL): escaped.
        bar.set_message(cairn::text::terminal(message).into_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        Task::new(move || bar.finish_and_clear())
    }
}

pub fn reporter() -> Reporter {
    Arc::new(Spinner)
}
