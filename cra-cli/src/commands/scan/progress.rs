//! The progress bar `cra scan` draws on a terminal's stderr.

use std::sync::atomic::{AtomicUsize, Ordering};

use cra_core::Digest;
use cra_scan::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar on stderr over the bytes of all layers.
pub(super) struct Bar {
    bar: ProgressBar,
    done: AtomicUsize,
}

impl Bar {
    pub(super) fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} layers {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message("0 done");
        Self {
            bar,
            done: AtomicUsize::new(0),
        }
    }
}

impl Progress for Bar {
    fn layer_started(&self, _index: usize, _digest: &Digest, size: u64) {
        self.bar.inc_length(size);
    }

    fn bytes(&self, _index: usize, n: u64) {
        self.bar.inc(n);
    }

    fn layer_done(&self, _index: usize) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{n} done"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
