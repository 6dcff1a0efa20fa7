//! Lists the repositories of a registry, or the tags of one repository.
//!
//! ```text
//! cargo run -p cra-examples --example list_tags -- http://127.0.0.1:5000 [REPOSITORY]
//! ```
//!
//! `REGISTRY_USERNAME` and `REGISTRY_PASSWORD` are sent when set.
//! A base without scheme is HTTPS.

use std::io::Write;

use cra_core::Secret;
use cra_registries::{generic, ConnectOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(base) = args.next() else {
        return Err("usage: list_tags <registry base> [repository]".into());
    };
    let username = std::env::var("REGISTRY_USERNAME").ok();
    let password = std::env::var("REGISTRY_PASSWORD").ok().map(Secret::new);
    let registry = generic(&base, username, password, &ConnectOptions::default())?;
    let mut out = std::io::stdout().lock();
    match args.next() {
        Some(repository) => {
            for tag in registry.list_all_tags(&repository).await? {
                writeln!(out, "{repository}:{tag}")?;
            }
        }
        None => {
            for repository in registry.list_all_repositories().await? {
                writeln!(out, "{repository}")?;
            }
        }
    }
    Ok(())
}
