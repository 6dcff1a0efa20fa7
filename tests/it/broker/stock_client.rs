//! `cra server` (in-process) ↔ the stock snyk-broker client.

use std::time::Duration;

use cra_tests::broker::{
    cra_server, free_port, stock_broker, stub_agent, stub_upstream, StockBroker, TOKEN,
};

use super::scenario::{self, Pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_server_with_stock_client() {
    let Some(install) = stock_broker() else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(240), async {
        let (agent, agent_log) = stub_agent().await;
        let (upstream, upstream_log) = stub_upstream().await;
        let server = cra_server("127.0.0.1:0", upstream.addr).await;
        let server_url = format!("http://{}", server.addr);
        let scratch = tempfile::tempdir().unwrap();
        let accept = scratch.path().join("accept.json");
        std::fs::write(&accept, cra_broker::filter::CONTAINER_REGISTRY_AGENT).unwrap();
        let client_port = free_port();
        let client_url = format!("http://127.0.0.1:{client_port}");
        let client = StockBroker::start(
            &install,
            "client",
            &[
                ("BROKER_TOKEN", TOKEN.into()),
                ("BROKER_SERVER_URL", server_url.clone()),
                ("BROKER_CLIENT_URL", client_url.clone()),
                ("CR_AGENT_URL", format!("http://{}", agent.addr)),
                ("CR_CREDENTIALS", scenario::expected_credentials()),
                ("ACCEPT", accept.to_string_lossy().into_owned()),
                ("ACCEPT_ESSENTIALS", "false".into()),
                ("ACCEPT_GIT", "false".into()),
                ("ACCEPT_IAC", "false".into()),
                ("ACCEPT_LARGE_MANIFESTS", "false".into()),
                ("ACCEPT_CUSTOM_PR_TEMPLATES", "false".into()),
                (
                    "BROKER_DOWNSTREAM_TYPE_CONTAINER_REGISTRY_AGENT",
                    "true".into(),
                ),
                ("PORT", client_port.to_string()),
            ],
        );
        let connected = tokio::time::timeout(
            Duration::from_secs(60),
            scenario::wait_connected(&server_url),
        )
        .await;
        assert!(
            connected.is_ok(),
            "stock client never connected:\n{}",
            client.output()
        );

        let pair = Pair {
            server: server_url.clone(),
            client: client_url,
            agent: &agent_log,
            upstream: &upstream_log,
            cra_client: false,
        };
        scenario::all(&pair).await;

        let addr = server.addr.to_string();
        drop(server);
        let _server = cra_server(&addr, upstream.addr).await;
        let reconnected = tokio::time::timeout(
            Duration::from_secs(60),
            scenario::wait_connected(&server_url),
        )
        .await;
        assert!(
            reconnected.is_ok(),
            "stock client never reconnected:\n{}",
            client.output()
        );
        scenario::relayed_get(&pair).await;
    })
    .await
    .expect("the scenario finishes in time");
}
