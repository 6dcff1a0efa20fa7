//! Posting scan results to the broker client (`BROKER_CLIENT_URL`), retried with exponential
//! backoff while it is down.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tracing::{debug, info, warn};
use url::Url;

use crate::agent::metrics::Metrics;

/// The v2 scan result path.
pub const V2_RESULT: &str = "/api/v2/import/result";
/// The v2 "scan done" path, posted after the result.
pub const V2_DONE: &str = "/api/v2/import/done";
/// The v1 (discover) result path.
pub const V1_RESULT: &str = "/api/v1/recurring-tests/dependencies";

/// How often and how patiently a callback is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most attempts, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 12,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th failure (1-based): `initial * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Why a callback was given up on.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// `BROKER_CLIENT_URL` is not set.
    #[error("BROKER_CLIENT_URL is not set")]
    NotConfigured,
    /// The receiver answered with a status that retrying will not fix.
    #[error("POST {path} was refused with HTTP {status}")]
    Refused {
        /// The callback path.
        path: &'static str,
        /// The status.
        status: u16,
    },
    /// Every attempt failed.
    #[error("POST {path} failed {attempts} times; last: {last}")]
    Exhausted {
        /// The callback path.
        path: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// Sends callbacks; cheap to clone.
#[derive(Debug, Clone)]
pub struct Callbacks {
    client: reqwest::Client,
    base: Option<Url>,
    policy: RetryPolicy,
    metrics: Arc<Metrics>,
}

enum Attempt {
    Done,
    Retry(String, Option<Duration>),
    Fatal(u16),
}

impl Callbacks {
    /// A sender posting under `base`, with its own HTTP client.
    pub fn new(
        client: reqwest::Client,
        base: Option<Url>,
        policy: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            base,
            policy,
            metrics,
        }
    }

    /// Whether a callback base is configured.
    pub fn configured(&self) -> bool {
        self.base.is_some()
    }

    /// The URL of `path` under the base, keeping any path the base has.
    pub fn url(base: &Url, path: &str) -> Url {
        let mut url = base.clone();
        let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    /// POSTs a JSON body to `path`, retrying connection failures, timeouts, 408, 429 and 5xx.
    pub async fn post(
        &self,
        path: &'static str,
        body: &serde_json::Value,
    ) -> Result<(), CallbackError> {
        let result = self.post_inner(path, body).await;
        self.metrics.callback(result.is_ok());
        result
    }

    async fn post_inner(
        &self,
        path: &'static str,
        body: &serde_json::Value,
    ) -> Result<(), CallbackError> {
        let base = self.base.as_ref().ok_or(CallbackError::NotConfigured)?;
        let url = Self::url(base, path);
        let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        let attempts = self.policy.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.attempt(&url, bytes.clone()).await {
                Attempt::Done => {
                    debug!(path, attempt, "callback delivered");
                    return Ok(());
                }
                Attempt::Fatal(status) => {
                    warn!(path, status, "callback refused; not retrying");
                    return Err(CallbackError::Refused { path, status });
                }
                Attempt::Retry(why, asked) => {
                    last = why;
                    if attempt == attempts {
                        break;
                    }
                    let wait = asked
                        .unwrap_or_else(|| self.policy.backoff(attempt))
                        .min(self.policy.max_backoff);
                    info!(path, attempt, wait_ms = wait.as_millis() as u64, reason = %last, "callback failed; retrying");
                    self.metrics.callback_retry();
                    tokio::time::sleep(wait).await;
                }
            }
        }
        warn!(path, attempts, reason = %last, "callback given up");
        Err(CallbackError::Exhausted {
            path,
            attempts,
            last,
        })
    }

    async fn attempt(&self, url: &Url, body: Bytes) -> Attempt {
        let sent = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(self.policy.request_timeout)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    return Attempt::Done;
                }
                let asked = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                if status.is_server_error()
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT
                {
                    Attempt::Retry(format!("HTTP {}", status.as_u16()), asked)
                } else {
                    Attempt::Fatal(status.as_u16())
                }
            }
            // The URL may carry user info: the error is logged without it.
            Err(err) => Attempt::Retry(err.without_url().to_string(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::StatusCode as AxStatus;
    use axum::routing::post;
    use axum::Router;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            request_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        let waits: Vec<u128> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff(1000), Duration::from_secs(1));
    }

    #[test]
    fn urls_keep_the_base_path() {
        let base = Url::parse("http://client:7341").unwrap();
        assert_eq!(
            Callbacks::url(&base, V2_DONE).as_str(),
            "http://client:7341/api/v2/import/done"
        );
        let base = Url::parse("https://gw.local/broker/").unwrap();
        assert_eq!(
            Callbacks::url(&base, V1_RESULT).as_str(),
            "https://gw.local/broker/api/v1/recurring-tests/dependencies"
        );
    }

    async fn receiver(fail_first: usize, status: AxStatus) -> (Url, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            V2_RESULT,
            post(move |body: String| {
                let counter = counter.clone();
                async move {
                    assert!(body.contains("\"jobId\""));
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    if n < fail_first {
                        status
                    } else {
                        AxStatus::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (Url::parse(&format!("http://{addr}")).unwrap(), hits)
    }

    fn sender(base: Url) -> (Callbacks, Arc<Metrics>) {
        let metrics = Arc::new(Metrics::default());
        let c = Callbacks::new(reqwest::Client::new(), Some(base), fast(), metrics.clone());
        (c, metrics)
    }

    #[tokio::test]
    async fn retries_server_errors_until_delivered() {
        let (base, hits) = receiver(2, AxStatus::SERVICE_UNAVAILABLE).await;
        let (c, metrics) = sender(base);
        c.post(V2_RESULT, &serde_json::json!({"jobId": "j"}))
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 3);
        let text = metrics.render(crate::agent::jobs::QueueSnapshot::default());
        assert!(
            text.contains("cra_agent_callback_retries_total 2"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn does_not_retry_a_refusal() {
        let (base, hits) = receiver(10, AxStatus::FORBIDDEN).await;
        let (c, _) = sender(base);
        let err = c
            .post(V2_RESULT, &serde_json::json!({"jobId": "j"}))
            .await
            .unwrap_err();
        assert!(matches!(err, CallbackError::Refused { status: 403, .. }));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_when_nobody_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let (c, _) = sender(Url::parse(&format!("http://user:pw@{addr}")).unwrap());
        let err = c
            .post(V2_RESULT, &serde_json::json!({"jobId": "j"}))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("failed 5 times"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }
}
