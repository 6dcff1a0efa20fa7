//! Credentials through substitution: the far side may have a secret variable filled into the
//! `Authorization` header of a request to the agent, and nowhere else. A request that asks for
//! one in a header, the body, the URL path or the query is refused as a whole, counted, logged
//! without the value, and answered without it; the agent never sees it. Plain variables (the
//! client's own URL, the registry type) stay substitutable. Each check runs with requests as
//! the cra server sends them and as the stock server does.

// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cra_broker::client::{BrokerClient, Settings};
use cra_tests::broker::{
    client_settings, cra_client_with_handle, free_port, server_accept, stock_broker, stub_agent,
    stub_upstream, Log, StockBroker, TOKEN,
};

use super::scenario::{self, http, Running};

/// The client's own URL, a plain variable.
const CLIENT_URL: &str = "http://broker-client.internal:7341";

/// Every secret variable of the client, with its value in these tests.
fn secrets() -> Vec<(&'static str, String)> {
    vec![
        ("CR_CREDENTIALS", scenario::expected_credentials()),
        ("CR_USERNAME", "labuser".into()),
        ("CR_PASSWORD", "labpass".into()),
        ("CR_TOKEN", "labtoken-7f3a".into()),
        ("CR_EXTERNAL_ID", "labexternal-91c2".into()),
    ]
}

/// The client settings: every secret variable set, and a client URL.
fn configure(settings: &mut Settings) {
    settings.broker_client_url = Some(CLIENT_URL.into());
    settings.registry_variables.extend([
        ("CR_TOKEN".to_owned(), "labtoken-7f3a".to_owned()),
        ("CR_EXTERNAL_ID".to_owned(), "labexternal-91c2".to_owned()),
    ]);
}

/// Where a request asks for a variable.
#[derive(Debug, Clone, Copy)]
enum Place {
    Header,
    Body,
    Path,
    Query,
}

const PLACES: [Place; 4] = [Place::Header, Place::Body, Place::Path, Place::Query];

/// A request through the server asking for `${var}` in `place`; `ack` picks the
/// acknowledgement path instead of the response stream.
fn asking(server: &str, var: &str, place: Place, ack: bool) -> reqwest::RequestBuilder {
    let reference = format!("${{{var}}}");
    let base = format!("{server}/broker/{TOKEN}");
    let request = match place {
        Place::Header => http()
            .post(format!("{base}/scan"))
            .header("x-note", &reference)
            .header("x-broker-var-sub", "x-note")
            .header("content-type", "application/json")
            .body(r#"{"image":"registry.example/team/app:1"}"#),
        Place::Body => http()
            .post(format!("{base}/scan"))
            .header("content-type", "application/json")
            .body(
                serde_json::json!({
                    "image": "registry.example/team/app:1",
                    "BROKER_VAR_SUB": ["note"],
                    "note": reference,
                })
                .to_string(),
            ),
        Place::Path => http().get(format!("{base}/list/team{reference}")),
        Place::Query => http().get(format!("{base}/list/team?note={reference}")),
    };
    if ack {
        request.header("x-broker-ws-response", "true")
    } else {
        request
    }
}

/// The whole matrix against one server; returns how many requests were refused.
async fn matrix(server: &str, agent: &Log, client: &BrokerClient) -> u64 {
    let before = client.refused_secret_requests();
    let mut refused = 0;
    for (var, value) in secrets() {
        for place in PLACES {
            for ack in [false, true] {
                let seen_before = agent.all().len();
                let response = asking(server, var, place, ack).send().await.unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                assert_eq!(status, 403, "{var} in {place:?} (ack {ack}): {text}");
                assert!(text.contains("refused"), "{var} in {place:?}: {text}");
                assert!(!text.contains(&value), "{var} in {place:?} echoed: {text}");
                assert_eq!(
                    agent.all().len(),
                    seen_before,
                    "{var} in {place:?} reached the agent"
                );
                refused += 1;
            }
        }

        // The Authorization header may have it, on both response paths.
        for ack in [false, true] {
            let mut request = http()
                .post(format!("{server}/broker/{TOKEN}/scan"))
                .header("authorization", format!("${{{var}}}"))
                .header("x-broker-var-sub", "authorization")
                .header("content-type", "application/json")
                .body(r#"{"image":"registry.example/team/app:1"}"#);
            if ack {
                request = request.header("x-broker-ws-response", "true");
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{var} in Authorization");
            let scans = agent.matching("/scan");
            let last = scans.last().unwrap();
            assert_eq!(last.headers["authorization"], value.as_str(), "{var}");
        }
    }
    assert_eq!(client.refused_secret_requests() - before, refused);

    // Plain variables fill any listed header or body field.
    let response = http()
        .post(format!("{server}/broker/{TOKEN}/scan"))
        .header("x-note", "${CR_TYPE}")
        .header("x-broker-var-sub", "x-note")
        .header("content-type", "application/json")
        .body(r#"{"BROKER_VAR_SUB":["callback"],"callback":"${BROKER_CLIENT_URL}/api"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let scans = agent.matching("/scan");
    let last = scans.last().unwrap();
    assert_eq!(last.headers["x-note"], "docker-hub");
    let body: serde_json::Value = serde_json::from_slice(&last.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"callback": format!("{CLIENT_URL}/api")})
    );
    refused
}

/// Requests as the cra server sends them; the refusals are logged without any secret.
#[tokio::test]
async fn secrets_fill_only_the_authorization_header_through_the_cra_server() {
    // The default single-threaded runtime: every task logs on this thread, into the capture.
    let captured = cra_tests::logs::CapturedLogs::start_filtered("warn,cra_broker=trace");
    tokio::time::timeout(Duration::from_secs(120), async {
        let running = Running::start_with(configure).await;
        let refused = matrix(&running.server_url, &running.agent_log, &running.client).await;
        assert_eq!(refused, 40);
    })
    .await
    .expect("the matrix finishes in time");
    let text = captured.text();
    assert_eq!(
        text.matches("asks for a secret outside the Authorization header")
            .count(),
        40,
        "{text}"
    );
    for (var, value) in secrets() {
        assert!(text.contains(var), "{var} refusal not logged:\n{text}");
        assert!(!text.contains(&value), "{var} logged:\n{text}");
    }
}

/// Requests as the stock server sends them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_fill_only_the_authorization_header_through_the_stock_server() {
    let Some(install) = stock_broker() else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(240), async {
        let (agent, agent_log) = stub_agent().await;
        let (upstream, _) = stub_upstream().await;
        let scratch = tempfile::tempdir().unwrap();
        let accept = scratch.path().join("accept.json");
        std::fs::write(&accept, server_accept(upstream.addr)).unwrap();
        let port = free_port();
        let server_url = format!("http://127.0.0.1:{port}");
        let _server = StockBroker::start(
            &install,
            "server",
            &[
                ("PORT", port.to_string()),
                ("ACCEPT", accept.to_string_lossy().into_owned()),
                ("BROKER_TYPE", "server".into()),
            ],
        );
        let mut settings = client_settings(&server_url, agent.addr);
        configure(&mut settings);
        let (_served, client) = cra_client_with_handle(settings).await;
        scenario::wait_connected(&server_url).await;
        let refused = matrix(&server_url, &agent_log, &client).await;
        assert_eq!(refused, 40);
    })
    .await
    .expect("the matrix finishes in time");
}
