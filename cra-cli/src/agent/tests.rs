//! Route-level tests over the real router and server, with in-memory doubles for the registry
//! and the scanner (the integration tests use the real registry and scanner).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use cra_core::{
    BlobStream, Digest, ErrorKind, FetchedManifest, Page, PageRequest, Platform, Reference,
    Registry, RegistryCredentials, RegistryError, RegistryKind,
};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::callback::RetryPolicy;
use super::connect::Connector;
use super::engine::{Engine, EngineError, FailureKind, ImageMetadata, ScanOutput};
use super::{serve_with, AppState, Settings};

const PASSWORD: &str = "s3cr3t-pa55";

#[derive(Debug)]
struct FakeRegistry {
    repos: BTreeMap<String, Vec<String>>,
}

fn not_found(what: &str) -> RegistryError {
    RegistryError::new(ErrorKind::NotFound, format!("{what} is unknown"))
}

#[async_trait]
impl Registry for FakeRegistry {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Harbor
    }
    fn host(&self) -> &str {
        "registry.test:5000"
    }
    async fn validate_credentials(&self) -> cra_core::Result<()> {
        Ok(())
    }
    async fn list_repositories(&self, _page: &PageRequest) -> cra_core::Result<Page<String>> {
        Ok(Page {
            items: self.repos.keys().cloned().collect(),
            next: None,
        })
    }
    async fn list_tags(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> cra_core::Result<Page<String>> {
        let tags = self
            .repos
            .get(repository)
            .ok_or_else(|| not_found(repository))?;
        let start: usize = page
            .cursor
            .as_deref()
            .map_or(Ok(0), str::parse)
            .unwrap_or(0);
        let size = page.size.unwrap_or(1000) as usize;
        let items: Vec<String> = tags.iter().skip(start).take(size).cloned().collect();
        let next = (start + size < tags.len()).then(|| (start + size).to_string());
        Ok(Page { items, next })
    }
    async fn fetch_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> cra_core::Result<FetchedManifest> {
        let tags = self
            .repos
            .get(repository)
            .ok_or_else(|| not_found(repository))?;
        if !tags.iter().any(|t| t == reference) {
            return Err(not_found(reference));
        }
        let bytes = Bytes::from(format!("{repository}:{reference}"));
        Ok(FetchedManifest {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: Digest::sha256_of(&bytes),
            bytes,
        })
    }
    async fn fetch_blob(
        &self,
        _repository: &str,
        digest: &Digest,
        _max_size: Option<u64>,
    ) -> cra_core::Result<BlobStream> {
        Err(not_found(&digest.to_string()))
    }
}

/// Accepts the fake registry's password, refuses any other, and fails for `down.test`.
#[derive(Debug)]
struct FakeConnector;

#[async_trait]
impl Connector for FakeConnector {
    async fn connect(
        &self,
        credentials: &RegistryCredentials,
    ) -> Result<Arc<dyn Registry>, RegistryError> {
        let RegistryCredentials::Basic {
            password,
            registry_base,
            ..
        } = credentials
        else {
            return Err(RegistryError::new(ErrorKind::Unsupported, "basic only"));
        };
        if registry_base == "down.test" {
            return Err(RegistryError::new(
                ErrorKind::Unavailable,
                "GET https://down.test/v2/: connection refused",
            ));
        }
        if password.expose() != PASSWORD {
            return Err(RegistryError::new(
                ErrorKind::Unauthorized,
                "GET /v2/: credentials rejected",
            ));
        }
        let mut repos = BTreeMap::new();
        repos.insert("team/app".to_owned(), vec!["1".to_owned(), "2".to_owned()]);
        repos.insert("big".to_owned(), vec!["1".to_owned()]);
        repos.insert(
            "many".to_owned(),
            (0..25).map(|i| format!("t{i:02}")).collect(),
        );
        Ok(Arc::new(FakeRegistry { repos }))
    }
}

/// Scans wait for a permit from `gate`, so that tests control when they finish.
#[derive(Debug)]
struct FakeEngine {
    gate: Arc<Semaphore>,
    active: AtomicUsize,
    peak: AtomicUsize,
}

impl FakeEngine {
    fn new(open: bool) -> Arc<Self> {
        Arc::new(FakeEngine {
            gate: Arc::new(Semaphore::new(if open { 1000 } else { 0 })),
            active: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Engine for FakeEngine {
    async fn inspect(
        &self,
        registry: Arc<dyn Registry>,
        reference: Reference,
        platform: Option<Platform>,
    ) -> Result<ImageMetadata, EngineError> {
        let m = registry
            .fetch_manifest(reference.repository(), &reference.manifest_reference())
            .await?;
        Ok(ImageMetadata {
            repository: reference.repository().to_owned(),
            tag: reference.tag().map(str::to_owned),
            digest: m.digest.to_string(),
            config_digest: Digest::sha256_of(b"config").to_string(),
            platform: platform.unwrap_or_default().to_string(),
            created: None,
            size: 10,
            layers: Vec::new(),
        })
    }

    async fn scan(
        &self,
        registry: Arc<dyn Registry>,
        reference: Reference,
        _platform: Option<Platform>,
    ) -> Result<ScanOutput, EngineError> {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let _permit = self.gate.acquire().await;
        self.active.fetch_sub(1, Ordering::SeqCst);
        if reference.repository() == "big" {
            return Err(EngineError::new(
                FailureKind::TooLarge,
                "the image declares 3000000000 bytes; the limit is 2147483648",
            ));
        }
        let m = registry
            .fetch_manifest(reference.repository(), &reference.manifest_reference())
            .await?;
        Ok(ScanOutput {
            digest: Some(m.digest.to_string()),
            scan_results: json!([{"identity": {"type": "deb"}, "facts": []}]),
        })
    }
}

/// Records every callback as (path, body).
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    async fn spawn(&self) -> String {
        let calls = self.calls.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |uri: axum::http::Uri, body: String| {
                let calls = calls.clone();
                async move {
                    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    calls.lock().unwrap().push((uri.path().to_owned(), v));
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        for _ in 0..500 {
            let calls = self.calls.lock().unwrap().clone();
            if calls.len() >= n {
                return calls;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "expected {n} callbacks, got {:?}",
            self.calls.lock().unwrap()
        );
    }
}

struct Agent {
    base: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Agent {
    async fn start(settings: Settings, engine: Arc<FakeEngine>) -> Agent {
        let state = AppState::new(settings, Arc::new(FakeConnector), engine).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            serve_with(listener, state, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Agent {
            base,
            http: reqwest::Client::new(),
            stop: Some(tx),
            done,
        }
    }

    fn creds(password: &str, base: &str) -> String {
        RegistryCredentials::Basic {
            kind: RegistryKind::Harbor,
            registry_base: base.into(),
            username: "robot".into(),
            password: password.to_owned().into(),
        }
        .to_base64()
    }

    async fn get(&self, path: &str, auth: Option<&str>) -> (u16, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("authorization", Self::creds(PASSWORD, "registry.test:5000"))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.done)
            .await
            .unwrap()
            .unwrap();
    }
}

fn settings(callback: Option<&str>) -> Settings {
    Settings {
        broker_client_url: callback.map(|c| c.parse().unwrap()),
        callback_retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            request_timeout: Duration::from_secs(5),
        },
        shutdown_grace: Duration::from_millis(200),
        ..Settings::default()
    }
}

#[tokio::test]
async fn synchronous_routes_and_typed_errors() {
    let agent = Agent::start(settings(None), FakeEngine::new(true)).await;
    let good = Agent::creds(PASSWORD, "registry.test:5000");
    let good = Some(good.as_str());

    let (s, body) = agent.get("/healthcheck", None).await;
    assert_eq!((s, &body["ok"]), (200, &json!(true)));

    let (s, body) = agent.get("/list", good).await;
    assert_eq!((s, body), (200, json!(["big", "many", "team/app"])));
    let (s, body) = agent.get("/list/team/app", good).await;
    assert_eq!((s, body), (200, json!(["1", "2"])));
    let (s, body) = agent.get("/list/many", good).await;
    assert_eq!((s, body.as_array().map(Vec::len)), (200, Some(25)));

    let (s, body) = agent.get("/list-paginated/many?size=10", good).await;
    assert_eq!(s, 200);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(10));
    assert_eq!(body["next"], "10");
    let (s, body) = agent
        .get("/list-paginated/many?size=10&cursor=20", good)
        .await;
    assert_eq!((s, &body["next"]), (200, &Value::Null));
    assert_eq!(body["items"], json!(["t20", "t21", "t22", "t23", "t24"]));
    let (s, body) = agent.get("/list-paginated/many?size=0", good).await;
    assert_eq!((s, &body["error"]["code"]), (400, &json!("bad_request")));

    let (s, body) = agent.get("/list-with-metadata/team/app", good).await;
    assert_eq!((s, body), (200, json!([{"tag": "1"}, {"tag": "2"}])));

    let (s, body) = agent.get("/image-metadata/team/app:2", good).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["repository"], "team/app");
    assert_eq!(body["tag"], "2");
    assert_eq!(body["platform"], "linux/amd64");
    let want = Digest::sha256_of(b"team/app:2").to_string();
    assert_eq!(body["digest"], want);

    let (s, body) = agent
        .get("/get-state-identifier?image=team/app:2", good)
        .await;
    assert_eq!((s, &body["stateIdentifier"]), (200, &json!(want)));
    let (s, body) = agent
        .get("/get-state-identifier?repository=team/app&tag=1", good)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        body["stateIdentifier"],
        Digest::sha256_of(b"team/app:1").to_string()
    );

    let (s, body) = agent.get("/validate-credentials", good).await;
    assert_eq!((s, &body["registryType"]), (200, &json!("harbor-cr")));

    // Typed errors.
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("/list", None, 401, "missing_credentials"),
        ("/list", Some("%%%".into()), 400, "invalid_credentials"),
        (
            "/list",
            Some(Agent::creds("wrong", "registry.test:5000")),
            401,
            "unauthorized",
        ),
        (
            "/validate-credentials",
            Some(Agent::creds(PASSWORD, "down.test")),
            502,
            "registry_unavailable",
        ),
        (
            "/list/nope",
            Some(Agent::creds(PASSWORD, "r")),
            404,
            "not_found",
        ),
        (
            "/list/UPPER",
            Some(Agent::creds(PASSWORD, "r")),
            400,
            "bad_request",
        ),
        (
            "/image-metadata/team/app:%20x",
            Some(Agent::creds(PASSWORD, "r")),
            400,
            "bad_request",
        ),
        (
            "/image-metadata/team/app:9",
            Some(Agent::creds(PASSWORD, "r")),
            404,
            "not_found",
        ),
        (
            "/get-state-identifier",
            Some(Agent::creds(PASSWORD, "r")),
            400,
            "bad_request",
        ),
        ("/list-paginated", None, 404, "not_found"),
        ("/nowhere", None, 404, "not_found"),
    ];
    for (path, auth, status, code) in cases {
        let (s, body) = agent.get(path, auth.as_deref()).await;
        assert_eq!(s, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(!body.to_string().contains(PASSWORD), "{body}");
    }
    // A wrong method is a JSON 405 as well.
    let resp = agent
        .http
        .delete(format!("{}/list", agent.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let allow = resp.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // systemcheck lists every check; without BROKER_CLIENT_URL it fails on the callback one.
    let (s, body) = agent.get("/systemcheck", good).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["ok"], false);
    let names: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["credentials", "registry", "callback"]);
    let (s, body) = agent
        .get(
            "/systemcheck",
            Some(&Agent::creds("nope", "registry.test:5000")),
        )
        .await;
    assert_eq!((s, &body["checks"][1]["ok"]), (401, &json!(false)));

    let (s, text) = agent.get("/metrics", None).await;
    assert_eq!(s, 200);
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("cra_agent_scans_queued 0"), "{text}");
    assert!(
        text.contains(
            "cra_agent_http_requests_total{method=\"GET\",route=\"/list/{*repository}\",status=\"200\"} 2"
        ),
        "{text}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn scans_are_queued_limited_and_reported() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let engine = FakeEngine::new(false);
    let mut s = settings(Some(&url));
    s.max_active_operations = 2;
    s.max_queued_operations = 3;
    let agent = Agent::start(s, engine.clone()).await;

    let mut ids = Vec::new();
    for i in 0..5 {
        let resp = agent
            .post(
                "/scan",
                &json!({"image": "team/app:1", "orgId": "o", "jobId": format!("job-{i}")})
                    .to_string(),
            )
            .await;
        assert_eq!(resp.status().as_u16(), 202);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "queued");
        ids.push(body["jobId"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two run, three wait: the sixth is refused with Retry-After.
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    let (_, text) = agent.get("/metrics", None).await;
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("cra_agent_scans_running 2"), "{text}");
    assert!(text.contains("cra_agent_scans_queued 3"), "{text}");

    engine.gate.add_permits(100);
    let calls = receiver.wait_for(10).await;
    assert_eq!(engine.peak.load(Ordering::SeqCst), 2);
    for id in &ids {
        let mine: Vec<&(String, Value)> = calls.iter().filter(|(_, b)| b["jobId"] == *id).collect();
        assert_eq!(mine.len(), 2, "{id}: {mine:?}");
        assert_eq!(mine[0].0, "/api/v2/import/result");
        assert_eq!(mine[0].1["status"], "success");
        assert_eq!(mine[0].1["orgId"], "o");
        assert_eq!(mine[0].1["scanResults"][0]["identity"]["type"], "deb");
        assert_eq!(mine[1].0, "/api/v2/import/done");
        assert_eq!(mine[1].1["status"], "success");
    }
    agent.stop().await;
}

#[tokio::test]
async fn failures_go_through_the_callback_and_discover_uses_v1() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let agent = Agent::start(settings(Some(&url)), FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"big:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    let resp = agent.post("/discover", r#"{"image":"team/app:9"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    let calls = receiver.wait_for(4).await;
    let find = |path: &str| {
        calls
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .unwrap()
    };
    let big = find("/api/v2/import/result");
    assert_eq!(big["status"], "failed");
    assert_eq!(big["error"]["code"], "image_too_large");
    let v1 = find("/api/v1/recurring-tests/dependencies");
    assert_eq!(v1["status"], "failed");
    assert_eq!(v1["error"]["code"], "not_found");

    // Bad requests are refused at once.
    for (body, code) in [
        ("nope", "bad_request"),
        (r#"{"image":"UP:1"}"#, "bad_request"),
        (r#"{"image":"a","platform":"x"}"#, "bad_request"),
        (r#"{"image":"a","jobId":"a b"}"#, "bad_request"),
    ] {
        let resp = agent.post("/scan", body).await;
        assert_eq!(resp.status().as_u16(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{body}");
    }
    let resp = agent.post("/scan", &"x".repeat(200_000)).await;
    assert_eq!(resp.status().as_u16(), 413);
    agent.stop().await;
}

#[tokio::test]
async fn shutdown_reports_queued_and_running_scans() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let engine = FakeEngine::new(false);
    let agent = Agent::start(settings(Some(&url)), engine.clone()).await;
    for _ in 0..3 {
        let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
        assert_eq!(resp.status().as_u16(), 202);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    agent.stop().await;
    let calls = receiver.wait_for(6).await;
    let results: Vec<&Value> = calls
        .iter()
        .filter(|(p, _)| p == "/api/v2/import/result")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(results.len(), 3);
    for r in results {
        assert_eq!(r["status"], "failed");
        assert_eq!(r["error"]["code"], "shutting_down");
    }
}

#[tokio::test]
async fn scans_need_a_callback_target() {
    let agent = Agent::start(settings(None), FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "callback_not_configured");
    agent.stop().await;
}

#[tokio::test]
async fn callbacks_are_retried_until_the_receiver_is_back() {
    // Reserve a port, start the receiver on it only after the scan finished.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let mut s = settings(Some(&format!("http://{addr}")));
    s.callback_retry = RetryPolicy {
        max_attempts: 50,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    };
    let agent = Agent::start(s, FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let receiver = Receiver::default();
    let calls = receiver.calls.clone();
    let app = Router::new().route(
        "/{*path}",
        post(move |uri: axum::http::Uri, body: String| {
            let calls = calls.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                calls.lock().unwrap().push((uri.path().to_owned(), v));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].0, "/api/v2/import/result");
    assert_eq!(got[0].1["status"], "success");
    assert_eq!(got[1].0, "/api/v2/import/done");
    let (_, text) = agent.get("/metrics", None).await;
    let text = text.as_str().unwrap().to_owned();
    let retries: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cra_agent_callback_retries_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(retries >= 1, "{text}");
    agent.stop().await;
}

#[tokio::test]
async fn scans_that_take_too_long_are_cut_and_reported() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let mut s = settings(Some(&url));
    s.scan_timeout = Duration::from_millis(100);
    // The engine never opens its gate: the scan would hang forever.
    let agent = Agent::start(s, FakeEngine::new(false)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    let calls = receiver.wait_for(2).await;
    assert_eq!(calls[0].1["status"], "failed");
    assert_eq!(calls[0].1["error"]["code"], "scan_timeout");
    agent.stop().await;
}
