//! The agent embedded in another program: built from settings, served on loopback, asked for its
//! health, and shut down.
//!
//! ```text
//! cargo run -p cra-examples --example embed_agent
//! ```
//!
//! A real embedding would give `broker_client_url` (or let the broker client send its URL with
//! each request) and keep serving until its own shutdown signal.

use std::io::Write;

use cra_cli::agent::{Agent, Settings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::default().validate()?;
    let agent = Agent::builder(settings).build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(agent.serve(listener, async move {
        let _ = stopped.await;
    }));

    let health = reqwest::get(format!("{base}/healthcheck"))
        .await?
        .text()
        .await?;
    writeln!(std::io::stdout().lock(), "{health}")?;

    let _ = stop.send(());
    served.await??;
    Ok(())
}
