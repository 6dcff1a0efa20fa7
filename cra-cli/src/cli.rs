//! The command line, as clap types; no logic lives here.

use clap::{Parser, Subcommand};

use crate::commands;

/// Scan container images (`scan`, `scan-registry`, `list`; `db` keeps the vulnerability database) and relay a
/// security platform's requests to private registries (`agent`, `client`, `server`);
/// `completions` and `man` document the command.
#[derive(Debug, Parser)]
#[command(name = "cra", bin_name = "cra", version, after_help = crate::exit::HELP)]
pub struct Cli {
    /// Log errors only, and draw no progress bar.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent service that the broker client forwards to.
    Agent(commands::agent::Args),
    /// Run the broker client: dial the broker server and relay allowed requests to the agent.
    Client(commands::client::Args),
    /// Run the broker server: accept broker clients and relay `/broker/<token>/*` to them.
    Server(commands::server::Args),
    /// Scan one image and print its packages.
    #[command(after_help = crate::exit::HELP)]
    Scan(commands::scan::Args),
    /// Scan every image of a registry (or those selected) into a directory of reports.
    #[command(after_help = crate::exit::HELP)]
    ScanRegistry(commands::scan_registry::Args),
    /// List the repositories of a registry, or the tags of one repository.
    #[command(after_help = crate::exit::HELP)]
    List(commands::list::Args),
    /// Manage the local vulnerability database.
    Db(commands::db::Args),
    /// Print a shell completion script (bash, elvish, fish, powershell, zsh).
    Completions(commands::docs::CompletionsArgs),
    /// Print the manual page (roff), e.g. `cra man > cra.1`.
    Man,
}
