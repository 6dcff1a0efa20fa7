//! Harness for the agent tests: the agent served in-process on loopback, a callback receiver
//! standing in for the broker client, and Debian-like layers built in memory.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, Uri};
use axum::routing::post;
use axum::Router;
use cra_cli::agent::Settings;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::image::Entry;

/// One callback the agent sent.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The request path (`/api/v2/import/result`).
    pub path: String,
    /// The JSON body.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

/// A loopback HTTP server recording every POST; it stops when dropped.
#[derive(Debug)]
pub struct CallbackReceiver {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Callback>>>,
    _stop: oneshot::Sender<()>,
}

impl CallbackReceiver {
    /// Starts on a random port; each answer waits `delay` first.
    pub async fn start(delay: Duration) -> CallbackReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        Self::serve(listener, delay)
    }

    /// Starts on `addr` (to bring a receiver back on a port the agent already calls).
    pub async fn start_on(addr: SocketAddr) -> CallbackReceiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the reserved port");
        Self::serve(listener, Duration::ZERO)
    }

    fn serve(listener: tokio::net::TcpListener, delay: Duration) -> CallbackReceiver {
        let addr = listener.local_addr().expect("local addr");
        let calls: Arc<Mutex<Vec<Callback>>> = Arc::default();
        let recorded = calls.clone();
        let app = Router::new().route(
            "/{*path}",
            post(move |uri: Uri, body: String| {
                let recorded = recorded.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
                    recorded.lock().expect("calls").push(Callback {
                        path: uri.path().to_owned(),
                        body,
                        at: Instant::now(),
                    });
                    StatusCode::OK
                }
            }),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        CallbackReceiver {
            addr,
            calls,
            _stop: stop,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every callback so far.
    pub fn calls(&self) -> Vec<Callback> {
        self.calls.lock().expect("calls").clone()
    }

    /// Waits until `n` callbacks arrived (at most `timeout`); panics with what came otherwise.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Callback> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} callbacks within {timeout:?}, got {calls:#?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The agent served in-process on `127.0.0.1:0`; [`RunningAgent::stop`] shuts it down gracefully.
#[derive(Debug)]
pub struct RunningAgent {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client for it.
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningAgent {
    /// Serves the agent with the real registry adapters and scanner.
    pub async fn start(settings: Settings) -> RunningAgent {
        Self::start_with_client(settings, reqwest::Client::new()).await
    }

    /// Like [`RunningAgent::start`], with the client to call it with (for HTTPS, one that
    /// trusts the agent's certificate); the base URL is `https://` when `settings.tls` is set.
    pub async fn start_with_client(settings: Settings, http: reqwest::Client) -> RunningAgent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let base = format!("{scheme}://{}", listener.local_addr().expect("local addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            cra_cli::agent::serve(listener, settings, async move {
                let _ = stopped.await;
            })
            .await
            .expect("agent serves");
        });
        RunningAgent {
            base,
            http,
            stop: Some(stop),
            task,
        }
    }

    /// `GET path` with an optional `Authorization`; returns the status and the JSON body (or the
    /// text as a JSON string).
    pub async fn get(&self, path: &str, auth: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.expect("agent answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// `POST path` with a JSON body and `Authorization`; returns the status and the JSON body.
    pub async fn post(&self, path: &str, auth: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", auth)
            .json(body)
            .send()
            .await
            .expect("agent answers");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// One sample of `/metrics`, by series name.
    pub async fn metric(&self, series: &str) -> Option<u64> {
        let (_, text) = self.get("/metrics", None).await;
        text.as_str()?
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Signals shutdown and waits (at most 60 s) for the agent to finish or report its scans.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(60), &mut self.task)
            .await
            .expect("agent stops within 60s")
            .expect("agent task");
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An uncompressed layer of a Debian 12 image whose dpkg status lists `packages`
/// (name, version), each installed.
pub fn debian_layer(packages: &[(&str, &str)]) -> Vec<u8> {
    let os_release = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                      VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    let mut status = String::new();
    for (name, version) in packages {
        status.push_str(&format!(
            "Package: {name}\nStatus: install ok installed\nPriority: optional\n\
             Architecture: amd64\nVersion: {version}\nDescription: {name} for tests\n\n"
        ));
    }
    crate::image::tar(&[
        Entry::file("etc/os-release", os_release),
        Entry::file("var/lib/dpkg/status", status),
    ])
}
