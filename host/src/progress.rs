//! Progress for slow steps (fetching, compiling), on a terminal only: when
//! stderr is not a terminal nothing is drawn, so logs and CI output stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Spinner(ProgressBar);

impl Spinner {
    pub fn new(message: String) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(bar)
    }

    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}
