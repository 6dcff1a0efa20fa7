//! The checks every server/client pairing must pass.

// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine;
use cra_tests::broker::{pattern_byte, Log, TOKEN};
use futures_util::StreamExt;

/// Size of the streamed response.
pub(super) const BIG: u64 = 50 * 1024 * 1024;

/// Where the pieces are.
pub(super) struct Pair<'a> {
    pub(super) server: String,
    pub(super) client: String,
    pub(super) agent: &'a Log,
    pub(super) upstream: &'a Log,
    /// Whether the client is cra's (the stock client lets encoded traversal through).
    pub(super) cra_client: bool,
}

pub(super) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub(super) fn expected_credentials() -> String {
    let line = "{\"type\":\"docker-hub\", \"username\":\"labuser\", \"password\":\"labpass\", \"registryBase\":\"registry.example\"}\n";
    base64::engine::general_purpose::STANDARD.encode(line)
}

/// A GET through `/broker/<token>/…` reaches the agent with the raw URL, prepared headers and
/// substituted credentials, on both response paths.
pub(super) async fn relayed_get(pair: &Pair<'_>) {
    let url = format!(
        "{}/broker/{TOKEN}/list/library%2Fdebian?page=2",
        pair.server
    );
    let response = http()
        .get(&url)
        .header("authorization", "${CR_CREDENTIALS}")
        .header("x-leak", "${BROKER_TOKEN}")
        .header("x-broker-var-sub", "authorization,x-leak")
        .header("user-agent", "tester/1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-agent"], "stub");
    let echo: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echo["uri"], "/list/library%2Fdebian?page=2");
    assert_eq!(
        echo["headers"]["authorization"],
        expected_credentials().as_str()
    );
    assert_eq!(echo["headers"]["x-broker-origin-ua"], "tester/1");
    assert!(echo["headers"]["user-agent"]
        .as_str()
        .unwrap()
        .starts_with("Snyk Broker Client"));
    if pair.cra_client {
        assert_eq!(
            echo["headers"]["x-leak"], "",
            "BROKER_TOKEN must never be substituted"
        );
    }

    let response = http()
        .get(format!("{}/broker/{TOKEN}/list", pair.server))
        .header("x-broker-ws-response", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-broker-ws-response"], "true");
    let echo: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echo["uri"], "/list");
}

/// A 50 MB response arrives whole and in order.
pub(super) async fn big_response(pair: &Pair<'_>) {
    let url = format!("{}/broker/{TOKEN}/list/big/{BIG}", pair.server);
    let response = http().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut offset = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for (i, byte) in chunk.iter().enumerate() {
            assert_eq!(
                *byte,
                pattern_byte(offset + i as u64),
                "byte {}",
                offset + i as u64
            );
        }
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, BIG);
}

/// Requests outside the rules get the stock 401 and never reach the agent.
pub(super) async fn denied(pair: &Pair<'_>) {
    let mut urls = vec!["/admin", "/list-paginated"];
    if pair.cra_client {
        urls.extend(["/list/a%2F..%2F..%2Fadmin", "/list/%252e%252e/admin"]);
    }
    for path in urls {
        let response = http()
            .get(format!("{}/broker/{TOKEN}{path}", pair.server))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["message"], "blocked", "{path}");
    }
    assert!(pair.agent.matching("/admin").is_empty());
    assert!(pair.agent.all().iter().all(|s| !s.uri.contains("admin")));
    assert!(pair.agent.matching("/list-paginated").is_empty());
}

/// An agent callback to the client goes out through the tunnel; one outside the rules does not.
pub(super) async fn callback(pair: &Pair<'_>) {
    let response = http()
        .post(format!("{}/api/v2/import/done?x=1", pair.client))
        .header("content-type", "application/json")
        .body(r#"{"done":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["received"], true);
    let seen = pair.upstream.matching("/api/v2/import/done");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, "/api/v2/import/done?x=1");
    assert_eq!(&seen[0].body[..], br#"{"done":true}"#);
    assert_eq!(seen[0].headers["x-broker-token"], TOKEN);

    let response = http()
        .post(format!("{}/api/v1/secret", pair.client))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(pair.upstream.matching("/api/v1/secret").is_empty());
}

/// Every check, in order.
pub(super) async fn all(pair: &Pair<'_>) {
    relayed_get(pair).await;
    big_response(pair).await;
    denied(pair).await;
    callback(pair).await;
}

/// Waits until the server reports a client for the token.
pub(super) async fn wait_connected(server: &str) {
    cra_tests::broker::wait_for_status(
        &format!("{server}/connection-status/{TOKEN}"),
        200,
        Duration::from_secs(60),
    )
    .await;
}
