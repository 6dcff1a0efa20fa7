//! `cra server` ↔ `cra client`, in-process.

use std::time::Duration;

use cra_tests::broker::{
    client_settings, cra_client, cra_server, stub_agent, stub_upstream, wait_for_status, TOKEN,
};

use super::scenario::{self, http, Pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_pair_relays_streams_filters_and_survives_a_server_restart() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let (agent, agent_log) = stub_agent().await;
        let (upstream, upstream_log) = stub_upstream().await;
        let server = cra_server("127.0.0.1:0", upstream.addr).await;
        let server_url = format!("http://{}", server.addr);
        let client = cra_client(client_settings(&server_url, agent.addr)).await;
        let client_url = format!("http://{}", client.addr);
        scenario::wait_connected(&server_url).await;
        wait_for_status(
            &format!("{client_url}/healthcheck"),
            200,
            Duration::from_secs(10),
        )
        .await;

        let pair = Pair {
            server: server_url.clone(),
            client: client_url.clone(),
            agent: &agent_log,
            upstream: &upstream_log,
            cra_client: true,
        };
        scenario::all(&pair).await;

        // Health and system checks, secrets masked.
        let health: serde_json::Value = http()
            .get(format!("{client_url}/healthcheck"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["websocketConnectionOpen"], true);
        let system = http()
            .get(format!("{client_url}/systemcheck"))
            .send()
            .await
            .unwrap();
        assert_eq!(system.status(), 200);
        let system: serde_json::Value = system.json().await.unwrap();
        let credentials = scenario::expected_credentials();
        assert_eq!(
            system[0]["brokerClientValidationUrl"],
            "${CR_AGENT_URL}/systemcheck"
        );
        assert_eq!(
            system[0]["maskedCredentials"],
            format!(
                "{}***{}",
                &credentials[..3],
                &credentials[credentials.len() - 3..]
            )
        );
        assert!(!system.to_string().contains(&credentials));
        let seen = agent_log.matching("/systemcheck");
        assert_eq!(seen[0].headers["authorization"], credentials.as_str());

        // Unknown tokens and forged response streams get the stock answers.
        let response = http()
            .get(format!("{server_url}/broker/another-token/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["x-broker-failure"], "no-connection");
        let response = http()
            .post(format!("{server_url}/response-data/{TOKEN}/not-a-stream"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        let status: serde_json::Value = http()
            .get(format!("{server_url}/connection-status/{TOKEN}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            status["clients"][0]["filters"]["private"][0]["path"],
            "/healthcheck"
        );

        // The server goes away and comes back on the same port; the client reconnects.
        let addr = server.addr.to_string();
        drop(server);
        wait_for_status(
            &format!("{client_url}/healthcheck"),
            500,
            Duration::from_secs(10),
        )
        .await;
        let server = cra_server(&addr, upstream.addr).await;
        scenario::wait_connected(&server_url).await;
        scenario::relayed_get(&pair).await;
        drop(server);
        drop(client);
    })
    .await
    .expect("the scenario finishes in time");
}
