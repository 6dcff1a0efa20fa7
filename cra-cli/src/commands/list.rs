//! `cra list`.

/// Arguments of `cra list`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cra list`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cra list is not available in this build yet")
}
