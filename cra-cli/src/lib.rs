//! The `cra` command as a library, so that tests can drive every subcommand in-process.
//!
//! [`main`] parses, sets up logging, runs, prints the error chain and picks the exit status;
//! `main.rs` only calls it. Each subcommand lives in `commands/<name>.rs`, the agent service
//! in `agent/`.

pub mod agent;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod exit;
pub mod logging;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use cra_core::text::escape_untrusted;

pub use cli::{Cli, Command};
pub use exit::Status;

/// The runtime for `command`.
///
/// The broker ends (`cra client`, `cra server`) run on one thread: a relay spends its time
/// moving chunks from one socket to another, and on one thread a chunk is read and written by
/// the same worker, where the multi-threaded runtime often hands it to another thread. Measured
/// on two cores with a 100 MB response, a relay then switches context about four times less and
/// spends some 15 % less CPU per byte. The agent and the CLI scans use every core.
pub fn runtime(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match command {
        Command::Client(_) | Command::Server(_) | Command::Completions(_) | Command::Man => {
            tokio::runtime::Builder::new_current_thread()
        }
        Command::Agent(_)
        | Command::Scan(_)
        | Command::ScanRegistry(_)
        | Command::List(_)
        | Command::Db(_) => tokio::runtime::Builder::new_multi_thread(),
    };
    builder.enable_all().build()
}

/// Runs one parsed command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Agent(args) => commands::agent::run(args).await,
        Command::Client(args) => commands::client::run(args).await,
        Command::Server(args) => commands::server::run(args).await,
        Command::Scan(mut args) => {
            args.quiet = cli.quiet;
            commands::scan::run(args).await
        }
        Command::ScanRegistry(mut args) => {
            args.quiet = cli.quiet;
            commands::scan_registry::run(args).await
        }
        Command::List(args) => commands::list::run(args).await,
        Command::Db(args) => commands::db::run(args).await,
        Command::Completions(args) => {
            let mut out = std::io::stdout().lock();
            commands::docs::completions(args.shell, &mut out);
            Ok(out.flush()?)
        }
        Command::Man => {
            let mut out = std::io::stdout().lock();
            commands::docs::man(&mut out)?;
            Ok(out.flush()?)
        }
    }
}

/// The whole `cra` program: parse the process arguments, log, run, report, and exit with the
/// documented status (see [`exit`]).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout with status 0, usage errors to stderr with 2.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    logging::init(cli.quiet);
    let result = match runtime(&cli.command) {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match result {
        Ok(()) => Status::Success.into(),
        Err(err) => {
            report(&err, &mut logging::Stderr);
            Status::of(&err).into()
        }
    }
}

/// Writes `err` and its causes, one per line, escaped: a cause may quote image content.
pub fn report(err: &anyhow::Error, out: &mut dyn Write) {
    let mut previous = err.to_string();
    let mut text = format!("error: {}\n", escape_untrusted(&previous));
    // A cause whose text the line before already says (a registry error keeps the adapter's
    // error as its source, for callers that downcast) is not repeated.
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !previous.contains(&cause) {
            text.push_str(&format!("  caused by: {}\n", escape_untrusted(&cause)));
        }
        previous = cause;
    }
    // Nothing is left to tell the user when stderr itself is gone.
    let _ = out.write_all(text.as_bytes());
}
