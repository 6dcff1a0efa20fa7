//! Logging to stderr with `tracing`, at the level `LOG_LEVEL` names (debug, info, warn, error).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `LOG_LEVEL` (default `info`) sets the level for cra's crates,
/// and `RUST_LOG`, when set, overrides it with a full filter.
pub fn init() {
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".to_owned());
    let level = match level.to_ascii_lowercase().as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => level.to_ascii_lowercase(),
        "fatal" => "error".to_owned(),
        _ => "info".to_owned(),
    };
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "warn,cra={level},cra_cli={level},cra_core={level},cra_registries={level},cra_scan={level},cra_broker={level}"
        ))
    });
    // A second init (tests driving several commands in one process) is harmless.
    // A failed write is dropped quietly: reporting it would itself write to stderr, which panics
    // when nobody reads it any more.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_target(false)
        .try_init();
}
