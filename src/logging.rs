//! Logging: one `tracing` subscriber writing to stderr, as timestamped human-readable lines (good
//! in a cron mail or log file) or as JSON lines (for log shippers).
//!
//! The level comes from `-q`/`-v` unless `RUST_LOG` is set, which then wins. The levels of this
//! tool's own lines: `info` per database and per page result (the default), `debug` per-page
//! decisions (`-v`), `trace` each request and git command (`-vv`). Libraries (hyper, reqwest, h2,
//! rustls: connection-pool noise) stay at `warn` at every `-v` level. Every formatted
//! line passes through [`crate::redact::scrub`] before it is written, so a registered secret can
//! never reach the log, whatever a caller passes to `tracing`. This module decides how lines look
//! and where they go; it must not decide what is logged.
//!
//! On a terminal (and not `-q`, not `--log-format json`) long runs also show a progress bar
//! ([`progress`]); log lines are printed above it. Without a terminal (cron, a pipe, a log file)
//! there is no bar and no control character at all.

mod progress;

pub use progress::{bars_wanted, progress, Progress, StderrAboveBars};

use std::io::{self, IsTerminal, Write};

use tracing::{Metadata, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{self, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::redact;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `2026-11-21T03:00:00.123+01:00  INFO notion_git_backup::sync: message key=value`
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub format: LogFormat,
    /// -1 (`--quiet`): warnings and errors only; 0: info for this tool; 1 (`-v`): debug for this
    /// tool; 2 or more (`-vv`): trace for this tool. Libraries log warnings only (use `RUST_LOG`
    /// to see their internals).
    pub verbosity: i8,
}

/// The filter directives used when `RUST_LOG` is not set.
pub fn default_directives(verbosity: i8) -> &'static str {
    match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "warn,notion_git_backup=info",
        1 => "warn,notion_git_backup=debug",
        _ => "warn,notion_git_backup=trace",
    }
}

/// The filter: `rust_log` (the value of `RUST_LOG`) when set, non-empty and valid, otherwise
/// the default for `verbosity`.
pub fn filter(verbosity: i8, rust_log: Option<&str>) -> EnvFilter {
    rust_log
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(default_directives(verbosity)))
}

/// Builds the subscriber writing scrubbed lines to `make_writer`. [`init`] uses it with stderr;
/// tests use it with an in-memory writer and `tracing::subscriber::with_default`.
pub fn subscriber<W>(
    opts: &LogOptions,
    rust_log: Option<&str>,
    make_writer: W,
    ansi: bool,
) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let writer = Scrubbing(make_writer);
    let layer = match opts.format {
        LogFormat::Text => fmt::layer().with_writer(writer).with_timer(LocalTime).with_ansi(ansi).boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(writer).with_timer(LocalTime).with_ansi(false).boxed(),
    };
    tracing_subscriber::registry().with(layer.with_filter(filter(opts.verbosity, rust_log)))
}

/// Installs the process-wide subscriber on stderr, and enables progress bars when stderr is a
/// terminal (see [`bars_wanted`]). Calling it again is harmless: the first subscriber stays.
pub fn init(opts: &LogOptions) {
    let terminal = io::stderr().is_terminal();
    let ansi = opts.format == LogFormat::Text && terminal && std::env::var_os("NO_COLOR").is_none();
    if bars_wanted(opts, terminal, std::env::var("TERM").ok().as_deref()) {
        progress::enable_on_stderr();
    }
    let rust_log = std::env::var("RUST_LOG").ok();
    // Err only when a global subscriber is already set (a second call, or a test harness).
    let _ = subscriber(opts, rust_log.as_deref(), StderrAboveBars, ansi).try_init();
}

/// Local time with its UTC offset, to the millisecond: unambiguous in a cron log.
struct LocalTime;

impl FormatTime for LocalTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z"))
    }
}

/// A [`MakeWriter`] whose writers pass each formatted line through [`redact::scrub`].
#[derive(Debug, Clone)]
pub struct Scrubbing<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbing<M> {
    type Writer = ScrubbingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbingWriter::new(self.0.make_writer())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        ScrubbingWriter::new(self.0.make_writer_for(meta))
    }
}

/// Collects one event's output and writes it, scrubbed, when flushed or dropped: a secret split
/// across several `write` calls is still found.
pub struct ScrubbingWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> ScrubbingWriter<W> {
    fn new(inner: W) -> Self {
        Self { inner, buf: Vec::new() }
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let clean = redact::scrub(&String::from_utf8_lossy(&self.buf));
        self.buf.clear();
        self.inner.write_all(clean.as_bytes())
    }
}

impl<W: Write> Write for ScrubbingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for ScrubbingWriter<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An in-memory log destination.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn capture(opts: &LogOptions, rust_log: Option<&str>, log: impl FnOnce()) -> String {
        let out = Capture::default();
        let sub = subscriber(opts, rust_log, out.clone(), false);
        tracing::subscriber::with_default(sub, log);
        out.text()
    }

    #[test]
    fn registered_secret_logged_through_tracing_comes_out_masked() {
        let secret = "ntn_logging_test_5ecret_value";
        redact::register_secret(secret);
        let text = capture(&LogOptions::default(), None, || {
            tracing::info!(token = secret, "calling Notion with {secret}");
            tracing::warn!(url = %format!("https://x.example/?k={secret}"), "retrying");
        });
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("calling Notion with ***"), "{text}");
        assert!(text.contains("token=\"***\""), "{text}");
        assert!(text.contains("url=https://x.example/?k=***"), "{text}");
        assert_eq!(text.lines().count(), 2, "{text}");
    }

    #[test]
    fn json_lines_are_valid_json_and_masked() {
        let secret = "gitea_json_test_5ecret_value";
        redact::register_secret(secret);
        let opts = LogOptions { format: LogFormat::Json, verbosity: 0 };
        let text = capture(&opts, None, || {
            tracing::info!(repo = "backups/notes", "pushed with {secret}");
        });
        assert!(!text.contains(secret), "{text}");
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "pushed with ***");
        assert_eq!(line["fields"]["repo"], "backups/notes");
        assert!(line["timestamp"].is_string());
    }

    #[test]
    fn text_lines_start_with_a_timestamp_and_level() {
        let text = capture(&LogOptions::default(), None, || tracing::info!("hello"));
        let line = text.lines().next().unwrap();
        let stamp = line.split_whitespace().next().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "{line}");
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.ends_with("hello"), "{line}");
    }

    #[test]
    fn quiet_keeps_warnings_and_errors_only() {
        let opts = LogOptions { format: LogFormat::Text, verbosity: -1 };
        let text = capture(&opts, None, || {
            tracing::info!("info line");
            tracing::warn!("warn line");
            tracing::error!("error line");
        });
        assert!(!text.contains("info line"), "{text}");
        assert!(text.contains("warn line") && text.contains("error line"), "{text}");
    }

    #[test]
    fn verbose_shows_debug_of_this_crate() {
        let opts = LogOptions { format: LogFormat::Text, verbosity: 1 };
        let text = capture(&opts, None, || {
            tracing::debug!("debug line");
            tracing::trace!("trace line");
        });
        assert!(text.contains("debug line"), "{text}");
        assert!(!text.contains("trace line"), "{text}");
    }

    #[test]
    fn rust_log_wins_over_verbosity_and_invalid_rust_log_falls_back() {
        let quiet = LogOptions { format: LogFormat::Text, verbosity: -1 };
        let text = capture(&quiet, Some("debug"), || tracing::debug!("debug line"));
        assert!(text.contains("debug line"), "{text}");
        let text = capture(&quiet, Some("=%%bad[["), || {
            tracing::info!("info line");
            tracing::warn!("warn line");
        });
        assert!(!text.contains("info line") && text.contains("warn line"), "{text}");
    }

    #[test]
    fn default_directives_follow_verbosity() {
        assert_eq!(default_directives(-3), "warn");
        assert_eq!(default_directives(0), "warn,notion_git_backup=info");
        assert_eq!(default_directives(1), "warn,notion_git_backup=debug");
        assert_eq!(default_directives(2), "warn,notion_git_backup=trace");
        assert_eq!(default_directives(5), "warn,notion_git_backup=trace");
    }

    /// One line per level from this crate and from the libraries whose pool chatter buried
    /// `-vv`; returns which of them each verbosity prints, as `target:level`.
    fn shown(verbosity: i8, rust_log: Option<&str>) -> Vec<String> {
        let opts = LogOptions { format: LogFormat::Text, verbosity };
        let text = capture(&opts, rust_log, || {
            tracing::trace!(target: "notion_git_backup::notion::client", "m");
            tracing::debug!(target: "notion_git_backup::sync::plan", "m");
            tracing::info!(target: "notion_git_backup::sync", "m");
            tracing::warn!(target: "notion_git_backup::sync", "m");
            tracing::debug!(target: "hyper_util::client::legacy::pool", "m");
            tracing::info!(target: "hyper_util::client::legacy::pool", "m");
            tracing::warn!(target: "hyper_util::client::legacy::pool", "m");
            tracing::debug!(target: "reqwest::connect", "m");
            tracing::trace!(target: "h2::codec", "m");
            tracing::debug!(target: "rustls::client", "m");
        });
        text.lines()
            .map(|l| {
                let mut w = l.split_whitespace().skip(1);
                let level = w.next().unwrap().to_lowercase();
                let target = w.next().unwrap().trim_end_matches(':').to_string();
                format!("{target}:{level}")
            })
            .collect()
    }

    #[test]
    fn each_v_adds_this_tools_lines_and_never_connection_pool_noise() {
        let ours = |levels: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = [
                ("notion_git_backup::notion::client", "trace"),
                ("notion_git_backup::sync::plan", "debug"),
                ("notion_git_backup::sync", "info"),
                ("notion_git_backup::sync", "warn"),
            ]
            .iter()
            .filter(|(_, l)| levels.contains(l))
            .map(|(t, l)| format!("{t}:{l}"))
            .collect();
            v.push("hyper_util::client::legacy::pool:warn".into());
            v
        };
        assert_eq!(shown(-1, None), ours(&["warn"]));
        assert_eq!(shown(0, None), ours(&["info", "warn"]));
        assert_eq!(shown(1, None), ours(&["debug", "info", "warn"]));
        assert_eq!(shown(2, None), ours(&["trace", "debug", "info", "warn"]));
        // RUST_LOG still opens the libraries up for whoever asks.
        let all = shown(0, Some("hyper_util=debug,notion_git_backup=info"));
        assert!(all.contains(&"hyper_util::client::legacy::pool:debug".to_string()), "{all:?}");
        assert!(!all.iter().any(|l| l.starts_with("reqwest")), "{all:?}");
    }

    #[test]
    fn init_twice_does_not_panic() {
        init(&LogOptions::default());
        init(&LogOptions { format: LogFormat::Json, verbosity: 2 });
    }

    #[test]
    fn secret_split_across_writes_is_still_masked() {
        redact::register_secret("split-across-writes-secret");
        let out = Capture::default();
        {
            let mut w = Scrubbing(out.clone()).make_writer();
            w.write_all(b"a split-across-").unwrap();
            w.write_all(b"writes-secret b\n").unwrap();
        }
        assert_eq!(out.text(), "a *** b\n");
    }
}
