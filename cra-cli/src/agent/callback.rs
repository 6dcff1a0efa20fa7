//! What the agent posts to the broker client, and one attempt at posting it.
//!
//! Bodies are typed and carry only fields the agent produced or validated (the job id, the
//! validated image name, the outcome): nothing of the request is echoed as it came, so a value
//! the broker client substituted into the request cannot travel back out in a callback.
//! Delivery, with its retries, lives in [`crate::agent::outbox`].

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use reqwest::StatusCode;
use serde::Serialize;
use url::Url;

/// The v2 scan result path.
pub const V2_RESULT: &str = "/api/v2/import/result";
/// The v2 "scan done" path, posted after the result.
pub const V2_DONE: &str = "/api/v2/import/done";
/// The v1 (discover) result path.
pub const V1_RESULT: &str = "/api/v1/recurring-tests/dependencies";

/// How patiently callbacks are retried: exponential backoff from `initial_backoff`, doubling up
/// to `max_backoff`, until the entry is older than the outbox's age bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
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
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            request_timeout: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The waits between attempts, without end (the outbox's age bound ends them).
    pub fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff.max(self.initial_backoff))
            .without_max_times()
            .build()
    }
}

/// How a scan ended, as callbacks say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The scan produced a result.
    Success,
    /// The scan failed; the result carries the error.
    Failed,
}

/// The error of a failed scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureBody<'a> {
    /// The stable code (`image_too_large`, `not_found`, …).
    pub code: &'a str,
    /// What failed, without secrets.
    pub message: &'a str,
}

/// The result callback body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResultBody<'a, R: Serialize> {
    /// The job id.
    pub job_id: &'a str,
    /// The validated image name.
    pub image: &'a str,
    /// The outcome.
    pub status: Status,
    /// The digest of the scanned manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<&'a str>,
    /// The scan results, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_results: Option<&'a R>,
    /// The vulnerability findings and grade, on success of a scan that asked for them: the
    /// document `cra scan --vulns --format json` prints, without its `image`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<&'a cra_scan::vulns::VulnReport>,
    /// The error, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureBody<'a>>,
}

/// The done notice body, posted after the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DoneBody<'a> {
    /// The job id.
    pub job_id: &'a str,
    /// The validated image name.
    pub image: &'a str,
    /// The outcome.
    pub status: Status,
    /// Whether the receiver accepted the result.
    pub result_delivered: bool,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver accepted it.
    Delivered,
    /// Retrying may help (no answer, timeout, 404, 408, 429, 5xx), after the wait the receiver
    /// asked for, if any.
    Retry {
        /// Why, without the URL.
        reason: String,
        /// The receiver's `Retry-After`.
        asked: Option<Duration>,
    },
    /// The receiver refused the body itself (400, 413, 422 and other 4xx); retrying will not
    /// help.
    Refused(u16),
}

/// The URL of `path` under `base`, keeping any path the base has.
pub fn url(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{}", base.path().trim_end_matches('/'), path);
    url.set_path(&joined);
    url
}

/// POSTs `body` (JSON) to `path` under `base` once.
pub async fn attempt(
    client: &reqwest::Client,
    base: &Url,
    path: &str,
    body: Bytes,
    timeout: Duration,
) -> Attempt {
    let sent = client
        .post(url(base, path))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .timeout(timeout)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) => classify(
            response.status(),
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        ),
        // The URL may carry user info: the reason is kept without it.
        Err(err) => Attempt::Retry {
            reason: err.without_url().to_string(),
            asked: None,
        },
    }
}

fn classify(status: StatusCode, asked: Option<Duration>) -> Attempt {
    if status.is_success() {
        return Attempt::Delivered;
    }
    // A 404 is retried: a broker client that is starting, or a proxy in front of it, answers 404
    // for a while, and the result is worth more than the wait.
    let transient = status.is_server_error()
        || status == StatusCode::NOT_FOUND
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    if transient {
        Attempt::Retry {
            reason: format!("HTTP {}", status.as_u16()),
            asked,
        }
    } else {
        Attempt::Refused(status.as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
        };
        let waits: Vec<u128> = p.backoff().take(7).map(|d| d.as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(p.backoff().nth(10_000), Some(Duration::from_secs(1)));
    }

    #[test]
    fn urls_keep_the_base_path() {
        let base = Url::parse("http://client:7341").unwrap();
        assert_eq!(
            url(&base, V2_DONE).as_str(),
            "http://client:7341/api/v2/import/done"
        );
        let base = Url::parse("https://gw.local/broker/").unwrap();
        assert_eq!(
            url(&base, V1_RESULT).as_str(),
            "https://gw.local/broker/api/v1/recurring-tests/dependencies"
        );
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(StatusCode::OK, None), Attempt::Delivered);
        for s in [404, 408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(s).unwrap();
            assert!(
                matches!(classify(status, None), Attempt::Retry { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 413, 422] {
            let status = StatusCode::from_u16(s).unwrap();
            assert_eq!(classify(status, None), Attempt::Refused(s));
        }
    }

    #[test]
    fn bodies_carry_only_typed_fields() {
        let body = ResultBody::<Vec<u8>> {
            job_id: "j",
            image: "team/app:1",
            status: Status::Failed,
            image_digest: None,
            scan_results: None,
            vulnerabilities: None,
            error: Some(FailureBody {
                code: "not_found",
                message: "no such tag",
            }),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"jobId":"j","image":"team/app:1","status":"failed","error":{"code":"not_found","message":"no such tag"}}"#
        );
        let done = DoneBody {
            job_id: "j",
            image: "team/app:1",
            status: Status::Success,
            result_delivered: true,
        };
        assert_eq!(
            serde_json::to_string(&done).unwrap(),
            r#"{"jobId":"j","image":"team/app:1","status":"success","resultDelivered":true}"#
        );
    }
}
