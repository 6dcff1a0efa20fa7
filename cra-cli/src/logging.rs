//! Logging to stderr with `tracing`, configured from the environment as the stock broker is.
//!
//! - `LOG_LEVEL` (trace, debug, info, warn, error, fatal; default info): the level of cra's own
//!   targets; other crates log warnings and errors only.
//! - `DEBUG`: as in the stock broker, `DEBUG=*` turns on debug logs of everything, and
//!   `DEBUG=<pattern>[,<pattern>…]` those of the targets it matches (see [`DebugPatterns`]).
//! - `LOG_FORMAT=json`: one JSON object per line, for log shippers; otherwise text.
//! - `RUST_LOG`, when set, replaces all of the above with a full `tracing` filter.
//! - Colours only when stderr is a terminal and `NO_COLOR` is unset.
//!
//! Text lines cannot be forged: control characters in messages and fields (which may come from
//! images or registries) are escaped with [`cra_core::text::escape_untrusted`], so each event
//! is exactly one line.
//! Logging never fails a command: a closed stderr, or a reader that went away, drops the lines.

mod debug_patterns;
mod fields;

use std::io::{self, IsTerminal, Write};

use tracing::level_filters::LevelFilter;
use tracing::Metadata;
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

pub use debug_patterns::DebugPatterns;

/// The crates whose events `LOG_LEVEL` governs; every other target logs warnings and errors.
const OWN_TARGETS: [&str; 6] = [
    "cra",
    "cra_cli",
    "cra_core",
    "cra_registries",
    "cra_scan",
    "cra_broker",
];

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, control characters escaped.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging settings, read from the environment by [`Settings::from_env`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The level of cra's own targets.
    pub level: LevelFilter,
    /// Targets logged at debug level whatever `level` is.
    pub debug: DebugPatterns,
    /// The line format.
    pub format: LogFormat,
    /// Whether to colour the text format.
    pub ansi: bool,
}

impl Settings {
    /// The settings from `LOG_LEVEL`, `DEBUG`, `LOG_FORMAT` and `NO_COLOR`; `quiet` (`-q`)
    /// lowers the level to errors and ignores `DEBUG`.
    pub fn from_env(quiet: bool) -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let format = match var("LOG_FORMAT").as_deref().map(str::to_ascii_lowercase) {
            Some(f) if f == "json" => LogFormat::Json,
            _ => LogFormat::Text,
        };
        let (level, debug) = if quiet {
            (LevelFilter::ERROR, DebugPatterns::default())
        } else {
            (
                parse_level(var("LOG_LEVEL").as_deref()),
                DebugPatterns::parse(var("DEBUG").as_deref().unwrap_or("")),
            )
        };
        Self {
            level,
            debug,
            format,
            ansi: io::stderr().is_terminal() && var("NO_COLOR").is_none(),
        }
    }

    /// Whether an event or span with `metadata` is logged.
    pub fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        let own = OWN_TARGETS.iter().any(|crate_name| {
            target
                .strip_prefix(crate_name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        });
        let base = if own {
            self.level
        } else {
            self.level.min(LevelFilter::WARN)
        };
        *metadata.level() <= base
            || (*metadata.level() <= LevelFilter::DEBUG && self.debug.matches(target))
    }

    /// The most verbose level anything can be logged at.
    fn max_level(&self) -> LevelFilter {
        if self.debug.is_empty() {
            self.level
        } else {
            self.level.max(LevelFilter::DEBUG)
        }
    }
}

/// `LOG_LEVEL` as the stock broker reads it (`fatal` is `error`); unknown values mean info.
fn parse_level(value: Option<&str>) -> LevelFilter {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("trace") => LevelFilter::TRACE,
        Some("debug") => LevelFilter::DEBUG,
        Some("warn" | "warning") => LevelFilter::WARN,
        Some("error" | "fatal") => LevelFilter::ERROR,
        Some("off" | "silent") => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

/// Installs the global subscriber from the environment (see the module docs).
pub fn init(quiet: bool) {
    init_with(
        &Settings::from_env(quiet),
        EnvFilter::try_from_env("RUST_LOG").ok(),
    );
}

/// Installs the global subscriber; `rust_log`, when given, replaces the settings' filter.
pub fn init_with(settings: &Settings, rust_log: Option<EnvFilter>) {
    let registry = tracing_subscriber::registry();
    // A second init (tests driving several commands in one process) is harmless.
    let _ = match rust_log {
        Some(env) => registry
            .with(layer(settings, Stderr).with_filter(env))
            .try_init(),
        None => {
            let for_filter = settings.clone();
            let filter = filter_fn(move |metadata| for_filter.enabled(metadata))
                .with_max_level_hint(settings.max_level());
            registry
                .with(layer(settings, Stderr).with_filter(filter))
                .try_init()
        }
    };
}

/// The formatting layer for `settings`, writing through `writer`.
pub fn layer<S, W>(settings: &Settings, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Write errors are dropped in the writer; the layer must not report them itself, because it
    // would report them with `eprintln!`, which panics when stderr is closed.
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .log_internal_errors(false);
    match settings.format {
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Text => base
            .with_ansi(settings.ansi)
            .fmt_fields(fields::escaping())
            .boxed(),
    }
}

/// stderr, where a failed write (closed descriptor, reader gone) drops the line instead of
/// failing, panicking or retrying.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

impl MakeWriter<'_> for Stderr {
    type Writer = Stderr;

    fn make_writer(&self) -> Self::Writer {
        Stderr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl MakeWriter<'_> for Captured {
        type Writer = Captured;

        fn make_writer(&self) -> Self::Writer {
            self.clone()
        }
    }

    fn settings(level: LevelFilter, debug: &str, format: LogFormat) -> Settings {
        Settings {
            level,
            debug: DebugPatterns::parse(debug),
            format,
            ansi: false,
        }
    }

    /// Runs `f` under a subscriber built from `settings`; returns what it wrote.
    fn capture(settings: &Settings, f: impl FnOnce()) -> String {
        let out = Captured::default();
        let filter_settings = settings.clone();
        let subscriber = tracing_subscriber::registry().with(
            layer(settings, out.clone())
                .with_filter(filter_fn(move |m| filter_settings.enabled(m))),
        );
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn levels_parse_as_the_stock_broker_reads_them() {
        assert_eq!(parse_level(Some("DEBUG")), LevelFilter::DEBUG);
        assert_eq!(parse_level(Some("fatal")), LevelFilter::ERROR);
        assert_eq!(parse_level(Some("nonsense")), LevelFilter::INFO);
        assert_eq!(parse_level(None), LevelFilter::INFO);
    }

    #[test]
    fn debug_star_turns_on_debug_for_every_target() {
        let s = settings(LevelFilter::INFO, "*", LogFormat::Text);
        let out = capture(&s, || {
            tracing::debug!(target: "cra_broker::client", "relayed");
            tracing::debug!(target: "hyper::proto", "read frame");
            tracing::trace!(target: "cra_broker::client", "not at trace");
        });
        assert!(
            out.contains("relayed") && out.contains("read frame"),
            "{out}"
        );
        assert!(!out.contains("not at trace"), "{out}");
    }

    #[test]
    fn debug_needle_turns_on_debug_for_matching_targets_only() {
        let s = settings(LevelFilter::INFO, "broker", LogFormat::Text);
        let out = capture(&s, || {
            tracing::debug!(target: "cra_broker::client", "relayed");
            tracing::debug!(target: "cra_scan::pipeline", "walked");
            tracing::info!(target: "cra_scan::pipeline", "scanned");
            tracing::info!(target: "hyper::proto", "chatty dependency");
        });
        assert!(out.contains("relayed") && out.contains("scanned"), "{out}");
        assert!(!out.contains("walked"), "{out}");
        assert!(!out.contains("chatty dependency"), "{out}");
    }

    #[test]
    fn without_debug_the_level_rules() {
        let s = settings(LevelFilter::WARN, "", LogFormat::Text);
        let out = capture(&s, || {
            tracing::info!(target: "cra_cli::agent", "hidden");
            tracing::warn!(target: "cra_cli::agent", "shown");
        });
        assert!(out.contains("shown") && !out.contains("hidden"), "{out}");
    }

    #[test]
    fn text_lines_cannot_be_forged() {
        let s = settings(LevelFilter::INFO, "", LogFormat::Text);
        let hostile = "etc/\x1b[31mred\n2026-01-01T00:00:00Z  INFO forged\r\u{9b}";
        let out = capture(&s, || {
            tracing::info!(target: "cra_scan", path = %hostile, debug = ?hostile, "entry {hostile}");
            let err = std::io::Error::other(hostile.to_owned());
            tracing::warn!(target: "cra_scan", error = &err as &dyn std::error::Error, "failed");
        });
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(out.contains("entry etc/\\x1b[31mred\\n2026"), "{out}");
        assert!(out.contains("path=etc/\\x1b[31mred\\n"), "{out}");
    }

    #[test]
    fn json_lines_keep_the_text_as_json_escapes() {
        let s = settings(LevelFilter::INFO, "", LogFormat::Json);
        let out = capture(&s, || {
            tracing::info!(target: "cra_scan", path = "a\nb\x1b", "hello");
        });
        assert_eq!(out.lines().count(), 1, "{out}");
        let line: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(line["message"], "hello");
        assert_eq!(line["path"], "a\nb\x1b");
        assert_eq!(line["level"], "INFO");
    }
}
