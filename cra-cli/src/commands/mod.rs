//! One module per subcommand: its clap arguments and its `run`.

pub mod agent;
pub mod client;
pub mod db;
pub mod docs;
pub mod list;
pub mod scan;
pub mod scan_registry;
pub mod server;
