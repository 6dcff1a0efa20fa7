//! The `cra` command as a library, so that tests can drive every subcommand in-process.
//!
//! `main.rs` only parses, sets up logging and calls [`run`]; each subcommand lives in
//! `commands/<name>.rs`, the agent service in `agent/`.

pub mod agent;
pub mod cli;
pub mod commands;
pub mod logging;

pub use cli::{Cli, Command};

/// Runs one parsed command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Agent(args) => commands::agent::run(args).await,
        Command::Client(args) => commands::client::run(args).await,
        Command::Server(args) => commands::server::run(args).await,
        Command::Scan(args) => commands::scan::run(args).await,
        Command::List(args) => commands::list::run(args).await,
    }
}
