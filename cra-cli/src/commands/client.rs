//! `cra client`.

/// Arguments of `cra client`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cra client`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cra client is not available in this build yet")
}
