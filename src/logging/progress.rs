//! The progress bar shown on a terminal during long runs, and the stderr writer that keeps log
//! lines from breaking it.
//!
//! Bars are drawn only when [`super::init`] found stderr to be a terminal, text log format, no
//! `-q`, and `TERM` not `dumb`; otherwise [`progress`] returns a handle whose methods do nothing,
//! so cron output never holds a control character. Log lines are written through
//! [`StderrAboveBars`], which hides the bars while a line is written and redraws them below it.
//! This module must not decide what is logged or when a page counts as done (the engine does).

use std::io::{self, Write};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;

use super::{LogFormat, LogOptions};

/// Set once by [`super::init`] when bars may be drawn.
static BARS: OnceLock<MultiProgress> = OnceLock::new();

/// Whether a run with these options may draw progress bars on stderr.
pub fn bars_wanted(opts: &LogOptions, stderr_is_terminal: bool, term: Option<&str>) -> bool {
    opts.format == LogFormat::Text && opts.verbosity >= 0 && stderr_is_terminal && term != Some("dumb")
}

/// Called by [`super::init`]: from now on [`progress`] draws bars on stderr.
pub(super) fn enable_on_stderr() {
    let _ = BARS.set(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
}

/// A progress handle for `total` units of work labelled `label` (e.g. a database's name): a bar
/// on a terminal, nothing otherwise. Cheap to clone; clones advance the same bar. The bar is
/// cleared by [`Progress::finish`] or when the last clone is dropped.
pub fn progress(total: u64, label: &str) -> Progress {
    progress_in(BARS.get(), total, label)
}

fn progress_in(bars: Option<&MultiProgress>, total: u64, label: &str) -> Progress {
    match bars {
        Some(multi) if total > 0 => Progress::on(multi, total, label),
        _ => Progress::hidden(),
    }
}

/// See [`progress`].
#[derive(Clone, Debug, Default)]
pub struct Progress {
    inner: Option<Arc<Bar>>,
}

#[derive(Debug)]
struct Bar(ProgressBar);

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Progress {
    /// A handle that draws nothing.
    pub fn hidden() -> Progress {
        Progress { inner: None }
    }

    /// A bar added to `multi` (tests pass a multi drawing to an in-memory terminal).
    pub fn on(multi: &MultiProgress, total: u64, label: &str) -> Progress {
        let style =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        let bar = multi.add(ProgressBar::new(total).with_style(style).with_prefix(label.to_string()));
        if !multi.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(500));
        }
        Progress { inner: Some(Arc::new(Bar(bar))) }
    }

    /// Whether this handle draws anything.
    pub fn is_visible(&self) -> bool {
        self.inner.is_some()
    }

    /// The amount of work grew (child pages found on the way).
    pub fn set_total(&self, total: u64) {
        if let Some(b) = &self.inner {
            b.0.set_length(total);
        }
    }

    /// One unit done; `title` (the page just finished) is shown beside the bar.
    pub fn inc(&self, title: &str) {
        if let Some(b) = &self.inner {
            b.0.inc(1);
            b.0.set_message(title.to_string());
        }
    }

    /// Units done so far (0 for a hidden handle).
    pub fn position(&self) -> u64 {
        self.inner.as_ref().map(|b| b.0.position()).unwrap_or(0)
    }

    /// Remove the bar from the terminal (log lines and the summary follow on a clean line).
    pub fn finish(&self) {
        if let Some(b) = &self.inner {
            b.0.finish_and_clear();
        }
    }
}

/// A [`MakeWriter`] for stderr that, while bars are drawn, hides them for the duration of each
/// write (one whole log line: the scrubbing writer above emits a line in one call).
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrAboveBars;

impl<'a> MakeWriter<'a> for StderrAboveBars {
    type Writer = StderrAboveBars;

    fn make_writer(&'a self) -> Self::Writer {
        StderrAboveBars
    }
}

impl Write for StderrAboveBars {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match BARS.get() {
            Some(multi) => multi.suspend(|| io::stderr().write_all(buf))?,
            None => io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use indicatif::TermLike;

    use super::*;

    /// A terminal that records what is drawn.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(&format!("{s}\n"));
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bars_only_on_a_terminal_with_text_logs_and_not_quiet() {
        let text = LogOptions { format: LogFormat::Text, verbosity: 0 };
        let json = LogOptions { format: LogFormat::Json, verbosity: 0 };
        let quiet = LogOptions { format: LogFormat::Text, verbosity: -1 };
        let verbose = LogOptions { format: LogFormat::Text, verbosity: 2 };
        assert!(bars_wanted(&text, true, Some("xterm-256color")));
        assert!(bars_wanted(&verbose, true, None));
        assert!(!bars_wanted(&text, false, Some("xterm")), "cron: stderr is a file or a pipe");
        assert!(!bars_wanted(&json, true, Some("xterm")));
        assert!(!bars_wanted(&quiet, true, Some("xterm")));
        assert!(!bars_wanted(&text, true, Some("dumb")));
    }

    #[test]
    fn without_a_terminal_progress_is_a_no_op() {
        let p = progress_in(None, 10, "Notes");
        assert!(!p.is_visible());
        p.inc("Row 1");
        p.clone().inc("Row 2");
        assert_eq!(p.position(), 0);
        p.finish();
    }

    #[test]
    fn a_bar_counts_pages_shows_the_last_title_and_clears_on_finish() {
        let screen = Screen::default();
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(screen.clone())));
        let p = Progress::on(&multi, 3, "Notes");
        assert!(p.is_visible());
        let clone = p.clone();
        p.inc("Weekly review");
        clone.inc("Goals 2026");
        assert_eq!(p.position(), 2);
        let drawn = screen.0.lock().unwrap().clone();
        assert!(drawn.contains("Notes [") && drawn.contains("2/3"), "{drawn:?}");
        assert!(drawn.contains("Goals 2026"), "{drawn:?}");
        // Nothing to draw for zero work, even with bars on.
        assert!(!progress_in(Some(&multi), 0, "Empty").is_visible());
        p.finish();
        drop((p, clone));
    }
}
