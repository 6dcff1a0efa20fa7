//! The command line, as clap types; no logic lives here.

use clap::{Parser, Subcommand};

use crate::commands;

/// cra: scan container images in private registries, and relay the platform's requests to them.
#[derive(Debug, Parser)]
#[command(name = "cra", version, about)]
pub struct Cli {
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
    Scan(commands::scan::Args),
    /// List the repositories of a registry, or the tags of one repository.
    List(commands::list::Args),
    /// Manage the local vulnerability database.
    Db(commands::db::Args),
}
