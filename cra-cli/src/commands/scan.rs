//! `cra scan`.

/// Arguments of `cra scan`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cra scan`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cra scan is not available in this build yet")
}
