//! The checks every server/client pairing must pass.

// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine;
use cra_broker::client::{BrokerClient, Settings};
use cra_tests::broker::{
    client_settings, cra_client_with_handle, cra_server, pattern_byte, stub_agent, stub_upstream,
    wait_for_status, CraServer, Log, Served, TOKEN,
};
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

/// A cra server and a cra client in-process, between a stub agent and a stub upstream; every
/// part stops when this is dropped.
pub(super) struct Running {
    pub(super) agent_log: Log,
    pub(super) upstream_log: Log,
    pub(super) server_url: String,
    pub(super) client_url: String,
    /// The client, to read its counters.
    pub(super) client: BrokerClient,
    // Dropped in this order: the client before the server, the stubs last.
    _client: Served,
    server: Option<CraServer>,
    upstream: Served,
    pub(super) agent: Served,
}

impl Running {
    /// Starts everything and waits until the client is connected.
    pub(super) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// As [`Self::start`], with the client's settings adjusted by `configure` first.
    pub(super) async fn start_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let (agent, agent_log) = stub_agent().await;
        let (upstream, upstream_log) = stub_upstream().await;
        let server = cra_server("127.0.0.1:0", upstream.addr).await;
        let server_url = format!("http://{}", server.addr);
        let mut settings = client_settings(&server_url, agent.addr);
        configure(&mut settings);
        let (served, client) = cra_client_with_handle(settings).await;
        let client_url = format!("http://{}", served.addr);
        wait_connected(&server_url).await;
        Self {
            agent_log,
            upstream_log,
            server_url,
            client_url,
            client,
            _client: served,
            server: Some(server),
            upstream,
            agent,
        }
    }

    pub(super) fn pair(&self) -> Pair<'_> {
        Pair {
            server: self.server_url.clone(),
            client: self.client_url.clone(),
            agent: &self.agent_log,
            upstream: &self.upstream_log,
            cra_client: true,
        }
    }

    /// The server goes away, the client notices, and a new server comes up on the same port;
    /// returns once the client has reconnected to it.
    pub(super) async fn restart_server(&mut self) {
        self.stop_server().await;
        self.start_server().await;
    }

    /// The server goes away; returns once the client has noticed.
    pub(super) async fn stop_server(&mut self) {
        self.server = None;
        wait_for_status(
            &format!("{}/healthcheck", self.client_url),
            500,
            Duration::from_secs(10),
        )
        .await;
    }

    /// A server comes up on the port of the last one; returns once the client has reconnected.
    pub(super) async fn start_server(&mut self) {
        let addr = self.server_addr().to_owned();
        self.server = Some(cra_server(&addr, self.upstream.addr).await);
        wait_connected(&self.server_url).await;
    }

    /// The server's `host:port`.
    pub(super) fn server_addr(&self) -> &str {
        self.server_url.trim_start_matches("http://")
    }
}
