//! `cra agent`.

/// Arguments of `cra agent`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `cra agent`.
pub async fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("cra agent is not available in this build yet")
}
