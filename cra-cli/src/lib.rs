//! The `cra` command as a library, so that tests can drive every subcommand in-process.
//!
//! `main.rs` only parses, sets up logging and calls [`run`]; each subcommand lives in
//! `commands/<name>.rs`, the agent service in `agent/`.

pub mod agent;
pub mod cli;
pub mod commands;
pub mod logging;

pub use cli::{Cli, Command};

/// The runtime for `command`.
///
/// The broker ends (`cra client`, `cra server`) run on one thread: a relay spends its time
/// moving chunks from one socket to another, and on one thread a chunk is read and written by
/// the same worker, where the multi-threaded runtime often hands it to another thread. Measured
/// on two cores with a 100 MB response, a relay then switches context about four times less and
/// spends some 15 % less CPU per byte. The agent and the CLI scans use every core.
pub fn runtime(command: &Command) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match command {
        Command::Client(_) | Command::Server(_) => tokio::runtime::Builder::new_current_thread(),
        Command::Agent(_) | Command::Scan(_) | Command::List(_) | Command::Db(_) => {
            tokio::runtime::Builder::new_multi_thread()
        }
    };
    builder.enable_all().build()
}

/// Runs one parsed command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Agent(args) => commands::agent::run(args).await,
        Command::Client(args) => commands::client::run(args).await,
        Command::Server(args) => commands::server::run(args).await,
        Command::Scan(args) => commands::scan::run(args).await,
        Command::List(args) => commands::list::run(args).await,
        Command::Db(args) => commands::db::run(args).await,
    }
}
