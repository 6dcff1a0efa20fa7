//! Route-level tests over the real router and server, with in-memory doubles for the registry
//! and the scanner (the integration tests use the real registry and scanner).
//!
//! This module holds the doubles and the harness; `routes` tests the synchronous routes,
//! `scans` the queue and its callbacks, `outbox` durable delivery, `journal` the resumption
//! of scans a crash interrupted, and `hostile` what an attacker may send.

mod hostile;
mod journal;
mod outbox;
mod routes;
mod scans;

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
use super::{Agent as Service, Settings};

pub(super) const PASSWORD: &str = "s3cr3t-pa55";

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
            .map_err(|_| RegistryError::new(ErrorKind::InvalidInput, "invalid page cursor"))?;
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
pub(super) struct FakeConnector;

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
pub(super) struct FakeEngine {
    pub(super) gate: Arc<Semaphore>,
    pub(super) active: AtomicUsize,
    pub(super) peak: AtomicUsize,
}

impl FakeEngine {
    pub(super) fn new(open: bool) -> Arc<Self> {
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
        _vuln_db: Option<std::path::PathBuf>,
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
            scan_results: serde_json::from_value(json!({"scanResults": [{
                "target": {"image": "docker-image|x"},
                "identity": {"type": "deb"},
                "facts": [],
            }]}))
            .unwrap(),
            vulns: None,
        })
    }
}

/// Records every callback as (path, body).
#[derive(Clone, Default)]
pub(super) struct Receiver {
    pub(super) calls: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    pub(super) async fn spawn(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.serve(listener)
    }

    /// Serves on `addr` (a port the agent already calls).
    pub(super) async fn spawn_on(&self, addr: std::net::SocketAddr) -> String {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        self.serve(listener)
    }

    fn serve(&self, listener: tokio::net::TcpListener) -> String {
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
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    pub(super) async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        for _ in 0..1500 {
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

pub(super) struct Agent {
    pub(super) base: String,
    pub(super) http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Agent {
    pub(super) async fn start(settings: Settings, engine: Arc<FakeEngine>) -> Agent {
        let service = Service::builder(settings)
            .connector(Arc::new(FakeConnector))
            .engine(engine)
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(async move {
            service
                .serve(listener, async move {
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

    pub(super) fn creds(password: &str, base: &str) -> String {
        RegistryCredentials::Basic {
            kind: RegistryKind::Harbor,
            registry_base: base.into(),
            username: "robot".into(),
            password: password.to_owned().into(),
        }
        .to_base64()
    }

    pub(super) async fn get(&self, path: &str, auth: Option<&str>) -> (u16, Value) {
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

    pub(super) async fn post(&self, path: &str, body: &str) -> reqwest::Response {
        self.post_with(path, body, &[]).await
    }

    pub(super) async fn post_with(
        &self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", Self::creds(PASSWORD, "registry.test:5000"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body.to_owned()).send().await.unwrap()
    }

    /// Signals shutdown without waiting for it.
    pub(super) fn signal(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub(super) async fn metric(&self, series: &str) -> Option<u64> {
        let (_, text) = self.get("/metrics", None).await;
        text.as_str()?
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Ends the server abruptly, as a crash would: nothing is drained, flushed or reported,
    /// and what is on disk stays as it is.
    pub(super) async fn crash(self) {
        self.done.abort();
        let _ = self.done.await;
    }

    pub(super) async fn stop(mut self) {
        self.signal();
        tokio::time::timeout(Duration::from_secs(30), self.done)
            .await
            .unwrap()
            .unwrap();
    }
}

pub(super) fn settings(callback: Option<&str>) -> Settings {
    Settings {
        broker_client_url: callback.map(|c| c.parse().unwrap()),
        callback_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            request_timeout: Duration::from_secs(5),
        },
        shutdown_grace: Duration::from_millis(200),
        ..Settings::default()
    }
}
