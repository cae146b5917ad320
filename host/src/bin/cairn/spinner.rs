//! Progress for slow steps, drawn as spinners on stderr when it is a
//! terminal, one line per step running (components compile two at a
//! time); when stderr is not a terminal nothing is drawn, so logs and CI
//! output stay clean.

use std::sync::Arc;
use std::time::Duration;

use cairn::progress::{Progress, Reporter, Task};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

struct Spinners(MultiProgress);

impl Progress for Spinners {
    fn start(&self, message: &str) -> Task {
        let bar = self.0.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        // Messages can name what a stack controls (a source URL): escaped.
        bar.set_message(cairn::text::terminal(message).into_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        let multi = self.0.clone();
        Task::new(move || {
            bar.finish_and_clear();
            multi.remove(&bar);
        })
    }
}

pub fn reporter() -> Reporter {
    Arc::new(Spinners(MultiProgress::with_draw_target(
        ProgressDrawTarget::stderr(),
    )))
}
