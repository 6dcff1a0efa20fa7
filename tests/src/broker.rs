//! Broker harness: a stub agent and a stub upstream on loopback, the cra server and client
//! in-process, and the stock snyk-broker (server or client) as a child process.
//!
//! Everything listens on 127.0.0.1 with a random port and stops when its guard is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use cra_broker::client::{BrokerClient, ClientConfig, Settings};
use cra_broker::server::{BrokerServer, ServerConfig};

/// The token every broker test uses.
pub const TOKEN: &str = "0b1d2c3e-aaaa-4bbb-8ccc-000000000001";

/// A task serving on loopback; aborted on drop.
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves a router on a random loopback port.
pub async fn serve(router: Router) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    serve_on(listener, router)
}

/// Serves `router` on `listener` until the returned guard is dropped.
pub fn serve_on(listener: tokio::net::TcpListener, router: Router) -> Served {
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Served { addr, task }
}

/// A request a stub saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Raw path and query.
    pub uri: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// What a stub has seen so far.
#[derive(Debug, Clone, Default)]
pub struct Log {
    seen: Arc<Mutex<Vec<Seen>>>,
    streams: Arc<Streams>,
}

/// The stub agent's `/list/big/<n>` bodies, as the agent side sees them.
#[derive(Debug, Default)]
struct Streams {
    /// Bytes handed to the connection so far, all streams together.
    produced: AtomicU64,
    /// Streams started and not yet dropped.
    open: AtomicUsize,
}

impl Log {
    /// Every request seen.
    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Bytes of `/list/big/<n>` bodies the stub has handed to its connections so far.
    pub fn produced(&self) -> u64 {
        self.streams.produced.load(Ordering::SeqCst)
    }

    /// `/list/big/<n>` bodies still being served: started and neither finished nor dropped.
    pub fn open_streams(&self) -> usize {
        self.streams.open.load(Ordering::SeqCst)
    }

    /// The requests whose path starts with `prefix`.
    pub fn matching(&self, prefix: &str) -> Vec<Seen> {
        self.all()
            .into_iter()
            .filter(|s| s.uri.starts_with(prefix))
            .collect()
    }

    async fn record(&self, request: Request) -> Seen {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, 64 << 20)
            .await
            .unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            uri: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            headers: parts.headers,
            body,
        };
        if let Ok(mut log) = self.seen.lock() {
            log.push(seen.clone());
        }
        seen
    }
}

/// The byte at `offset` of a generated body: a pattern a truncation or reordering would break.
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// A stand-in for the agent: answers every path, echoing what it got as JSON;
/// `/list/big/<n>` streams `n` pattern bytes; `/list/cut/<n>` sends `n` of the `2n` bytes it
/// announces and then breaks the connection, `/list/cut-chunked/<n>` does so without a length.
pub async fn stub_agent() -> (Served, Log) {
    let log = Log::default();
    let router = Router::new().fallback(agent).with_state(log.clone());
    (serve(router).await, log)
}

async fn agent(State(log): State<Log>, request: Request) -> Response {
    let seen = log.record(request).await;
    if let Some(size) = seen
        .uri
        .strip_prefix("/list/big/")
        .and_then(|n| n.parse::<u64>().ok())
    {
        return big_body(size, log.streams.clone());
    }
    for (prefix, declared) in [("/list/cut/", true), ("/list/cut-chunked/", false)] {
        if let Some(size) = seen
            .uri
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
        {
            return cut_body(size, declared);
        }
    }
    let headers: serde_json::Map<String, serde_json::Value> = seen
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let echo = serde_json::json!({
        "method": seen.method,
        "uri": seen.uri,
        "headers": headers,
        "body": String::from_utf8_lossy(&seen.body),
    });
    (
        [("content-type", "application/json"), ("x-agent", "stub")],
        echo.to_string(),
    )
        .into_response()
}

/// Counts a body as open from its start until it is dropped.
struct OpenStream(Arc<Streams>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn big_body(size: u64, streams: Arc<Streams>) -> Response {
    const CHUNK: u64 = 64 * 1024;
    streams.open.fetch_add(1, Ordering::SeqCst);
    let open = OpenStream(streams);
    let chunks = futures_util::stream::unfold((0u64, open), move |(offset, open)| async move {
        if offset >= size {
            return None;
        }
        let len = CHUNK.min(size - offset);
        let chunk: Vec<u8> = (offset..offset + len).map(pattern_byte).collect();
        open.0.produced.fetch_add(len, Ordering::SeqCst);
        Some((
            Ok::<_, std::io::Error>(Bytes::from(chunk)),
            (offset + len, open),
        ))
    });
    let mut response = Response::new(Body::from_stream(chunks));
    response.headers_mut().insert(
        "content-type",
        "application/octet-stream".parse().expect("static header"),
    );
    response.headers_mut().insert(
        "content-length",
        size.to_string().parse().expect("number header"),
    );
    response
}

fn cut_body(size: u64, declared: bool) -> Response {
    let sent = Bytes::from((0..size).map(pattern_byte).collect::<Vec<u8>>());
    let chunks = futures_util::stream::iter([
        Ok(sent),
        Err(std::io::Error::other("the agent fails mid-stream")),
    ]);
    let mut response = Response::new(Body::from_stream(chunks));
    if declared {
        response.headers_mut().insert(
            "content-length",
            (2 * size).to_string().parse().expect("number header"),
        );
    }
    response
}

/// A stand-in for the platform behind the server: records callbacks, answers `{"received":true}`.
pub async fn stub_upstream() -> (Served, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    stub_upstream_on(listener)
}

/// [`stub_upstream`] on a listener the caller bound (to come up on an address a process already
/// calls).
pub fn stub_upstream_on(listener: tokio::net::TcpListener) -> (Served, Log) {
    let log = Log::default();
    let router = Router::new()
        .fallback(|State(log): State<Log>, request: Request| async move {
            log.record(request).await;
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"received\":true}",
            )
        })
        .with_state(log.clone());
    (serve_on(listener, router), log)
}

/// The accept file of a server whose client callbacks go to `upstream`.
pub fn server_accept(upstream: SocketAddr) -> String {
    format!(
        r#"{{"public":[{{"method":"any","path":"/*"}}],"private":[{{"method":"any","path":"/*","origin":"http://{upstream}"}}]}}"#
    )
}

/// A cra server in-process.
#[derive(Debug)]
pub struct CraServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The server, to query or shut down.
    pub server: BrokerServer,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CraServer {
    fn drop(&mut self) {
        self.server.shutdown();
        self.task.abort();
    }
}

/// Starts a cra server on `addr` (`127.0.0.1:0` for a random port).
pub async fn cra_server(addr: &str, upstream: SocketAddr) -> CraServer {
    let filter = cra_broker::filter::Filter::from_json(
        &server_accept(upstream),
        &cra_broker::filter::Vars::new(),
    )
    .expect("server accept file");
    let config = ServerConfig {
        filter,
        ..ServerConfig::default()
    };
    let server = BrokerServer::new(config).expect("server");
    let listener = bind_retrying(addr).await;
    let addr = listener.local_addr().expect("local addr");
    let serving = server.clone();
    let task = tokio::spawn(async move {
        let _ = serving.serve(listener).await;
    });
    CraServer { addr, server, task }
}

async fn bind_retrying(addr: &str) -> tokio::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) if Instant::now() > deadline => panic!("cannot bind {addr}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The registry settings of the tests' cra clients.
pub fn registry_variables() -> cra_core::RegistryVariables {
    cra_core::RegistryVariables {
        kind: Some("docker-hub".into()),
        base: Some("registry.example".into()),
        username: Some("labuser".into()),
        password: Some(cra_core::Secret::new("labpass")),
        ..Default::default()
    }
}

/// The settings of a cra client for the tests.
pub fn client_settings(server: &str, agent: SocketAddr) -> Settings {
    Settings {
        broker_token: Some(TOKEN.into()),
        broker_server_url: Some(server.into()),
        cr_agent_url: Some(format!("http://{agent}")),
        cr_credentials: Some(
            registry_variables()
                .credentials()
                .expect("credentials")
                .to_base64(),
        ),
        registry_variables: registry_variables()
            .by_name()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect(),
        validation_url: Some(format!("http://{agent}/systemcheck")),
        ..Settings::default()
    }
}

/// Starts a cra client in-process with fast reconnects.
pub async fn cra_client(settings: Settings) -> Served {
    cra_client_with_handle(settings).await.0
}

/// As [`cra_client`], also returning the client, to read its counters.
pub async fn cra_client_with_handle(settings: Settings) -> (Served, BrokerClient) {
    let mut config: ClientConfig = settings
        .into_config_with(|_| None)
        .expect("client settings");
    config.reconnect = cra_broker::client::Reconnect {
        min: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    let client = BrokerClient::new(config).expect("client");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let running = client.clone();
    let task = tokio::spawn(async move {
        let _ = running.run(listener).await;
    });
    (Served { addr, task }, client)
}

/// Polls `url` until it answers `status`, or panics after `timeout`.
pub async fn wait_for_status(url: &str, status: u16, timeout: Duration) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(response) = http.get(url).send().await {
            if response.status().as_u16() == status {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer {status} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where the stock snyk-broker is installed: `CRA_STOCK_BROKER`, else `<repo>/target/stock-broker`
/// (where `.ci/install-broker.sh` puts it); `None`, with a message, when it is absent.
#[allow(clippy::print_stderr)]
pub fn stock_broker() -> Option<PathBuf> {
    let dir = std::env::var_os("CRA_STOCK_BROKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/stock-broker"));
    let cli = dir.join("node_modules/snyk-broker/dist/cli/index.js");
    if cli.is_file() && dir.join("config.default.json").is_file() {
        Some(dir)
    } else {
        // A skipped interop test must say so in the test output.
        eprintln!(
            "skipping: stock snyk-broker not installed at {} (run .ci/install-broker.sh or set CRA_STOCK_BROKER)",
            dir.display()
        );
        None
    }
}

/// A stock snyk-broker process; killed on drop.
#[derive(Debug)]
pub struct StockBroker {
    child: Child,
    /// The process output, for failure messages.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl StockBroker {
    /// Starts `broker <mode>` with `env` (plus quiet defaults) in a scratch directory.
    pub fn start(install: &Path, mode: &str, env: &[(&str, String)]) -> Self {
        let dir = tempfile::tempdir().expect("scratch dir");
        let log = dir.path().join("broker.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new("node");
        command
            .arg(install.join("node_modules/snyk-broker/dist/cli/index.js"))
            .arg(mode)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("LOG_LEVEL", "info")
            .env("IPV6_CONNECTIVITY_CHECK_ENABLED", "false")
            .env("PREFLIGHT_CHECKS_ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("node runs");
        Self {
            child,
            log,
            _dir: dir,
        }
    }

    /// The process output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for StockBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback HTTP proxy: it opens `CONNECT` tunnels and forwards plain requests in absolute
/// form, to loopback targets only, and records what it did.
#[derive(Debug)]
pub struct ConnectProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Proxied>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What the proxy did for one inbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Proxied {
    Tunnel(String),
    Forward(String),
}

impl ConnectProxy {
    /// Starts the proxy on a random loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(proxy_connection(stream, log.clone()));
            }
        });
        Self { addr, seen, task }
    }

    fn seen(&self) -> Vec<Proxied> {
        self.seen.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The `host:port` of every `CONNECT` tunnel opened so far.
    pub fn tunnels(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|p| match p {
                Proxied::Tunnel(target) => Some(target),
                Proxied::Forward(_) => None,
            })
            .collect()
    }

    /// The `host:port` of every connection that forwarded plain requests so far.
    pub fn forwards(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter_map(|p| match p {
                Proxied::Forward(target) => Some(target),
                Proxied::Tunnel(_) => None,
            })
            .collect()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn proxy_connection(mut inbound: tokio::net::TcpStream, seen: Arc<Mutex<Vec<Proxied>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match inbound.read(&mut byte).await {
            Ok(1) if head.len() < 8192 => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut words = text.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return;
    };
    // `CONNECT 127.0.0.1:80`, or `GET http://127.0.0.1:80/path` sent on as `GET /path`.
    let (proxied, authority, rewritten) = if method == "CONNECT" {
        (Proxied::Tunnel(target.to_owned()), target.to_owned(), None)
    } else {
        let Some(rest) = target.strip_prefix("http://") else {
            return;
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let rewritten = text.replacen(target, path, 1);
        (
            Proxied::Forward(authority.to_owned()),
            authority.to_owned(),
            Some(rewritten),
        )
    };
    // Nothing a test runs may leave the machine.
    let outbound = match authority.strip_prefix("127.0.0.1:") {
        Some(_) => tokio::net::TcpStream::connect(&authority).await.ok(),
        None => None,
    };
    let Some(mut outbound) = outbound else {
        let _ = inbound
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if let Ok(mut log) = seen.lock() {
        log.push(proxied);
    }
    let ready = match rewritten {
        None => {
            inbound
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
        }
        Some(head) => outbound.write_all(head.as_bytes()).await,
    };
    if ready.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
