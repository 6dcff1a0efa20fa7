//! `cra server`.

/// Arguments of `cra server`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cra server`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cra server is not available in this build yet")
}
