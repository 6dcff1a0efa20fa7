//! The stock snyk-broker server ↔ `cra client` (in-process).

use std::time::Duration;

use cra_tests::broker::{
    client_settings, cra_client, free_port, server_accept, stock_broker, stub_agent, stub_upstream,
    StockBroker,
};

use super::scenario::{self, Pair};

fn start_server(install: &std::path::Path, port: u16, accept: &std::path::Path) -> StockBroker {
    StockBroker::start(
        install,
        "server",
        &[
            ("PORT", port.to_string()),
            ("ACCEPT", accept.to_string_lossy().into_owned()),
            ("BROKER_TYPE", "server".into()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_server_with_cra_client() {
    let Some(install) = stock_broker() else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(240), async {
        let (agent, agent_log) = stub_agent().await;
        let (upstream, upstream_log) = stub_upstream().await;
        let scratch = tempfile::tempdir().unwrap();
        let accept = scratch.path().join("accept.json");
        std::fs::write(&accept, server_accept(upstream.addr)).unwrap();
        let port = free_port();
        let server_url = format!("http://127.0.0.1:{port}");
        let mut server = start_server(&install, port, &accept);
        let client = cra_client(client_settings(&server_url, agent.addr)).await;
        let client_url = format!("http://{}", client.addr);
        scenario::wait_connected(&server_url).await;

        let pair = Pair {
            server: server_url.clone(),
            client: client_url,
            agent: &agent_log,
            upstream: &upstream_log,
            cra_client: true,
        };
        scenario::all(&pair).await;

        server.kill();
        let _server = start_server(&install, port, &accept);
        scenario::wait_connected(&server_url).await;
        scenario::relayed_get(&pair).await;
        drop(client);
    })
    .await
    .expect("the scenario finishes in time");
}
