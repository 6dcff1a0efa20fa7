//! A broker server, a broker client and an agent on loopback, in one process: one request goes
//! through `/broker/<token>/…` to the agent and back.
//!
//! ```text
//! cargo run -p cra-examples --example broker_roundtrip
//! ```

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use cra_broker::client::{BrokerClient, Settings};
use cra_broker::server::{BrokerServer, ServerConfig};

const TOKEN: &str = "0b1d2c3e-aaaa-4bbb-8ccc-000000000001";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The agent: lists one repository.
    let agent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let agent_addr = agent.local_addr()?;
    let routes = Router::new().route("/list", get(|| async { r#"["library/debian"]"# }));
    tokio::spawn(async move { axum::serve(agent, routes).await });

    // The server, which the outside calls.
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server_addr = server.local_addr()?;
    tokio::spawn(BrokerServer::new(ServerConfig::default())?.serve(server));

    // The client, which dials the server and forwards allowed requests to the agent.
    let settings = Settings {
        broker_token: Some(TOKEN.into()),
        broker_server_url: Some(format!("http://{server_addr}")),
        cr_agent_url: Some(format!("http://{agent_addr}")),
        cr_credentials: Some("e30K".into()),
        ..Settings::default()
    };
    let client = BrokerClient::new(settings.into_config_with(|_| None)?)?;
    let local = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    tokio::spawn(client.run(local));

    let http = reqwest::Client::new();
    let url = format!("http://{server_addr}/broker/{TOKEN}/list");
    for _ in 0..100 {
        let response = http.get(&url).send().await?;
        if response.status().is_success() {
            let body = response.text().await?;
            #[allow(clippy::print_stdout)]
            {
                println!("GET /broker/<token>/list -> {body}");
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the client did not connect".into())
}
