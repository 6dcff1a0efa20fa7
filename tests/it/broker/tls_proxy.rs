//! TLS and proxies: `cra client` serving its local port over HTTPS, dialling an HTTPS `cra
//! server` whose certificate comes from a private CA, and going through a `CONNECT` proxy.

// Test helpers: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use cra_broker::client::{dial, ClientConfig, Settings};
use cra_tests::broker::{
    client_settings, cra_client, cra_server, free_port, stub_agent, stub_upstream, ConnectProxy,
    Log, Served, TOKEN,
};
use cra_tests::registry::generate_tls;

use super::scenario::{self, Running};

/// A CA, a certificate for `127.0.0.1`/`localhost` signed by it, and its key, as files.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
}

impl Pki {
    fn new() -> Self {
        let (ca, chain, key) = generate_tls();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
        std::fs::write(dir.path().join("cert.pem"), chain).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        Self { dir, ca }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// An HTTP client that trusts this CA only.
    fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.as_bytes()).unwrap())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }
}

/// Runs `cra client …` or `cra server …` in-process until the returned task is aborted.
fn spawn_cra(argv: &[&str]) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let cli = cra_cli::Cli::parse_from(std::iter::once("cra").chain(argv.iter().copied()));
    match cli.command {
        cra_cli::Command::Client(args) => tokio::spawn(cra_cli::commands::client::run(args)),
        cra_cli::Command::Server(args) => tokio::spawn(cra_cli::commands::server::run(args)),
        _ => panic!("only the broker commands run here"),
    }
}

/// `cra server --https-cert … --https-key …` on a random loopback port, with a stub agent for
/// its clients and a stub upstream for their callbacks; started once it answers its health check.
struct HttpsServer {
    pki: Pki,
    /// Its https URL.
    url: String,
    /// A client that trusts the private CA.
    http: reqwest::Client,
    agent: Served,
    agent_log: Log,
    _upstream: Served,
    _server: AbortOnDrop,
}

impl HttpsServer {
    async fn start() -> Self {
        let pki = Pki::new();
        let (agent, agent_log) = stub_agent().await;
        let (upstream, _) = stub_upstream().await;
        let accept = pki.dir.path().join("server-accept.json");
        std::fs::write(&accept, cra_tests::broker::server_accept(upstream.addr)).unwrap();
        let port = free_port().to_string();
        let task = spawn_cra(&[
            "server",
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--accept",
            accept.to_str().unwrap(),
            "--https-cert",
            &pki.path("cert.pem"),
            "--https-key",
            &pki.path("key.pem"),
        ]);
        let url = format!("https://localhost:{port}");
        let http = pki.http();
        wait_https(&http, &format!("{url}/healthcheck")).await;
        Self {
            pki,
            url,
            http,
            agent,
            agent_log,
            _upstream: upstream,
            _server: AbortOnDrop(task),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<anyhow::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn wait_https(http: &reqwest::Client, url: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !http
        .get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never answered 200"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config(settings: Settings) -> ClientConfig {
    settings.into_config_with(|_| None).unwrap()
}

/// The error chain of a dial, one cause after another.
async fn dial_error(settings: Settings) -> String {
    let config = config(settings);
    let tls = Arc::new(dial::tls_config(config.ca_pem.as_deref()).unwrap());
    let Err(err) = dial::dial(&config, &tls).await else {
        panic!("the dial must fail");
    };
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_client_serves_its_local_port_over_https() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let pki = Pki::new();
        let (agent, _) = stub_agent().await;
        let (upstream, upstream_log) = stub_upstream().await;
        let server = cra_server("127.0.0.1:0", upstream.addr).await;
        let port = free_port().to_string();
        let _client = AbortOnDrop(spawn_cra(&[
            "client",
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--broker-token",
            TOKEN,
            "--broker-server-url",
            &format!("http://{}", server.addr),
            "--cr-agent-url",
            &format!("http://{}", agent.addr),
            "--cr-credentials",
            "e30K",
            "--https-cert",
            &pki.path("cert.pem"),
            "--https-key",
            &pki.path("key.pem"),
        ]));
        let http = pki.http();
        let local = format!("https://localhost:{port}");
        wait_https(&http, &format!("{local}/healthcheck")).await;
        let health: serde_json::Value = http
            .get(format!("{local}/healthcheck"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["websocketConnectionOpen"], true);

        // An agent callback over HTTPS goes out through the tunnel.
        let response = http
            .post(format!("{local}/api/v2/import/done"))
            .header("content-type", "application/json")
            .body(r#"{"done":true}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let seen = upstream_log.matching("/api/v2/import/done");
        assert_eq!(seen.len(), 1);
        assert_eq!(&seen[0].body[..], br#"{"done":true}"#);

        // The port speaks TLS only, and a client that does not trust the CA is refused.
        let plain = scenario::http()
            .get(format!("http://127.0.0.1:{port}/healthcheck"))
            .send()
            .await;
        assert!(plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()));
        let untrusting = reqwest::Client::builder().no_proxy().build().unwrap();
        let err = untrusting
            .get(format!("{local}/healthcheck"))
            .send()
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
    })
    .await
    .expect("the scenario finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_client_dials_an_https_server_with_a_private_ca() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let server = HttpsServer::start().await;
        let (pki, server_url, http) = (&server.pki, &server.url, &server.http);
        let (agent, agent_log) = (&server.agent, &server.agent_log);

        let mut settings = client_settings(server_url, agent.addr);
        settings.ca_cert = Some(pki.path("ca.pem"));
        let _client = cra_client(settings).await;
        let status = format!("{server_url}/connection-status/{TOKEN}");
        wait_https(http, &status).await;

        // Both response paths work over TLS: the response stream POSTed back to the server,
        // and the acknowledgement on the websocket.
        for ack in [false, true] {
            let mut request = http.get(format!("{server_url}/broker/{TOKEN}/list/tls?ack={ack}"));
            if ack {
                request = request.header("x-broker-ws-response", "true");
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "ack: {ack}");
            let echo: serde_json::Value = response.json().await.unwrap();
            assert_eq!(echo["uri"], format!("/list/tls?ack={ack}"));
        }
        let size = 8 * 1024 * 1024u64;
        let body = http
            .get(format!("{server_url}/broker/{TOKEN}/list/big/{size}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len() as u64, size);
        assert!(body
            .iter()
            .enumerate()
            .all(|(i, b)| *b == cra_tests::broker::pattern_byte(i as u64)));
        assert_eq!(agent_log.matching("/list/").len(), 3);

        // Verification is on: without the CA, or with another CA, the dial fails and says why.
        let other = Pki::new();
        for ca in [None, Some(other.path("ca.pem"))] {
            let mut settings = client_settings(server_url, agent.addr);
            settings.ca_cert = ca.clone();
            let chain = dial_error(settings).await;
            assert!(
                chain.starts_with("TLS handshake failed") && chain.contains("certificate"),
                "{ca:?}: {chain}"
            );
        }
    })
    .await
    .expect("the scenario finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_client_reaches_the_server_through_a_connect_proxy() {
    tokio::time::timeout(Duration::from_secs(90), async {
        let server = HttpsServer::start().await;
        let (pki, server_url, http) = (&server.pki, &server.url, &server.http);
        let (agent, agent_log) = (&server.agent, &server.agent_log);
        let server_port = server_url.rsplit(':').next().unwrap().to_owned();
        let proxy = ConnectProxy::start().await;

        // The server is dialled as 127.0.0.1 so that the proxy may reach it.
        let server_ip_url = format!("https://127.0.0.1:{server_port}");
        let mut settings = client_settings(&server_ip_url, agent.addr);
        settings.ca_cert = Some(pki.path("ca.pem"));
        settings.https_proxy = Some(format!("http://{}", proxy.addr));
        // The agent is plain HTTP: HTTPS_PROXY does not apply to it.
        let client = cra_client(settings.clone()).await;
        let status = format!("{server_url}/connection-status/{TOKEN}");
        wait_https(http, &status).await;
        let response = http
            .get(format!("{server_url}/broker/{TOKEN}/list/proxied"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(agent_log.matching("/list/proxied").len(), 1);
        let tunnels = proxy.tunnels();
        let target = format!("127.0.0.1:{server_port}");
        // One tunnel for the websocket, at least one for the response stream.
        assert!(tunnels.len() >= 2, "{tunnels:?}");
        assert!(tunnels.iter().all(|t| *t == target), "{tunnels:?}");
        drop(client);

        // NO_PROXY names the server: no new tunnel.
        let before = proxy.tunnels().len();
        let mut direct = settings;
        direct.no_proxy = Some("localhost,127.0.0.1".into());
        let _client = cra_client(direct).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let response = http
                .get(format!("{server_url}/broker/{TOKEN}/list/direct"))
                .send()
                .await
                .unwrap();
            if response.status() == 200 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never relayed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(proxy.tunnels().len(), before, "{:?}", proxy.tunnels());

        // A proxy that refuses the tunnel is a dial error that says so.
        let mut refused = client_settings("https://localhost:1", agent.addr);
        refused.https_proxy = Some(format!("http://{}", proxy.addr));
        let chain = dial_error(refused).await;
        assert!(chain.contains("proxy refused"), "{chain}");
    })
    .await
    .expect("the scenario finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_carries_the_tunnel_and_the_plain_http_calls() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let proxy = ConnectProxy::start().await;
        let running =
            Running::start_with(|settings| settings.http_proxy = Some(proxy.addr.to_string()))
                .await;
        let (server_url, agent_log) = (&running.server_url, &running.agent_log);
        let response = scenario::http()
            .get(format!("{server_url}/broker/{TOKEN}/list/via-proxy"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(agent_log.matching("/list/via-proxy").len(), 1);
        // The websocket is tunnelled; the response stream to the server and the call to the
        // agent are forwarded (the stock client proxies its downstream calls too).
        let tunnels = proxy.tunnels();
        assert!(!tunnels.is_empty(), "the websocket did not use the proxy");
        assert!(
            tunnels.iter().all(|t| t == running.server_addr()),
            "{tunnels:?}"
        );
        let forwards = proxy.forwards();
        assert!(
            forwards.iter().any(|f| f == running.server_addr()),
            "{forwards:?}"
        );
        assert!(
            forwards.contains(&running.agent.addr.to_string()),
            "{forwards:?}"
        );
    })
    .await
    .expect("the scenario finishes in time");
}
