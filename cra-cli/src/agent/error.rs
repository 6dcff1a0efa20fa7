//! The agent's errors: [`AgentError`] when it cannot start or serve, and [`ApiError`], the typed
//! JSON answer of a failed request: `{"error": {"code": "…", "message": "…"}}` with the status
//! its kind maps to, and a `Retry-After` header when waiting helps.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cra_core::{CredentialsError, ErrorKind, RegistryError};
use serde::Serialize;

/// Why the agent could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The CA bundle could not be read or parsed.
    #[error("cannot use the CA bundle {path:?}")]
    CaBundle {
        /// The configured path.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The HTTPS certificate or key could not be loaded.
    #[error("cannot load the HTTPS certificate and key")]
    Tls(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    /// The state directory cannot be used.
    #[error("cannot keep callbacks in the state directory")]
    Outbox(#[from] crate::agent::outbox::OutboxError),
    /// The scan journal cannot be used.
    #[error("cannot keep the scan journal in the state directory")]
    Journal(#[source] std::io::Error),
    /// Serving failed.
    #[error("serving HTTP failed")]
    Io(#[from] std::io::Error),
}

/// A failed request, ready to be sent as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`unauthorized`, `not_found`, `queue_full`, …).
    pub code: &'static str,
    /// A human-readable message without secrets.
    pub message: String,
    /// How long the caller should wait before retrying, when known.
    pub retry_after: Option<Duration>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no credentials came with the request.
    pub fn missing_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            "the Authorization header with the registry credentials is missing",
        )
    }

    /// 429: the scan queue is full.
    pub fn queue_full(retry_after: Duration) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            "too many scans are waiting; retry later",
        )
        .with_retry_after(retry_after)
    }

    /// 503: the agent is shutting down and accepts no new scans.
    pub fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the agent is shutting down and accepts no new scans",
        )
    }

    /// 503: scans cannot be reported: `BROKER_CLIENT_URL` is not set and the request did not
    /// name the broker client's URL either.
    pub fn callback_not_configured() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "callback_not_configured",
            "neither BROKER_CLIENT_URL nor the x-broker-client-url header names where scan results go",
        )
    }

    /// 501: the request asks for vulnerability findings and the agent has no database
    /// (`CRA_DB_DIR`, kept by `cra db update`).
    pub fn vulns_unavailable() -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "vulns_unavailable",
            "the agent has no vulnerability database: run `cra db update` on the agent's host \
             (CRA_DB_DIR)",
        )
    }

    /// 503: the scan cannot be recorded in the state directory, so it is not accepted.
    pub fn journal_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "state_unavailable",
            "the agent cannot record the scan in its state directory; retry later",
        )
    }

    /// 404: a well-formed page cursor names no page (the agent did not issue it, or the
    /// registry no longer knows it).
    pub fn page_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "page_not_found",
            "the cursor names no page of this repository; list again from the first page",
        )
    }

    /// 409: a scan with this job id is queued or running already.
    pub fn job_conflict(id: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "job_conflict",
            format!("a scan with jobId {id} is queued or running already"),
        )
    }

    /// 400: the registry base holds user info, which the agent refuses (and never repeats).
    pub fn user_info_in_base() -> Self {
        Self::bad_request(
            "the registry base must not hold user info (user:password@); \
             give the user name and password in their own fields",
        )
    }

    /// 502: a registry operation took longer than allowed.
    pub fn registry_timeout(after: Duration) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "registry_timeout",
            format!("the registry did not answer within {}s", after.as_secs()),
        )
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The JSON body of this error.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                retry_after: self.retry_after.map(|d| d.as_secs().max(1)),
            },
        })
        .unwrap_or_default()
    }
}

/// The status and code a registry error kind maps to.
pub fn status_of(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "bad_request"),
        ErrorKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        ErrorKind::DigestMismatch => (StatusCode::BAD_GATEWAY, "digest_mismatch"),
        ErrorKind::Protocol => (StatusCode::BAD_GATEWAY, "registry_protocol_error"),
        ErrorKind::Unavailable => (StatusCode::BAD_GATEWAY, "registry_unavailable"),
        _ => (StatusCode::BAD_GATEWAY, "registry_error"),
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        let (status, code) = status_of(err.kind());
        let mut api = ApiError::new(status, code, err.to_string());
        if err.kind() == ErrorKind::RateLimited {
            api.retry_after = Some(err.retry_after().unwrap_or(Duration::from_secs(60)));
        }
        api
    }
}

impl From<CredentialsError> for ApiError {
    fn from(err: CredentialsError) -> Self {
        // The registry type is named without the value given, which the request chose.
        let why = match err {
            CredentialsError::UnknownType(_) => "unknown registry type".to_owned(),
            other => other.to_string(),
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
            format!("the Authorization header does not hold CR_CREDENTIALS: {why}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(after) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// The code for a status that axum produced itself (an unknown route, a wrong method, a body
/// that is too large), so that those answers are JSON too.
pub fn code_of_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => "bad_request",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_kinds_map_to_statuses() {
        let cases = [
            (ErrorKind::Unauthorized, 401),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::RateLimited, 429),
            (ErrorKind::InvalidInput, 400),
            (ErrorKind::Unsupported, 501),
            (ErrorKind::TooLarge, 413),
            (ErrorKind::DigestMismatch, 502),
            (ErrorKind::Protocol, 502),
            (ErrorKind::Unavailable, 502),
        ];
        for (kind, want) in cases {
            let api = ApiError::from(RegistryError::new(kind, "GET /v2/x/tags/list"));
            assert_eq!(api.status.as_u16(), want, "{kind:?}");
            assert!(api.message.contains("GET /v2/x/tags/list"));
        }
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let err = RegistryError::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_secs(7)));
        let response = ApiError::from(err).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn body_shape() {
        let body = ApiError::queue_full(Duration::from_secs(30)).body();
        assert_eq!(body["error"]["code"], "queue_full");
        assert_eq!(body["error"]["retryAfter"], 30);
        let body = ApiError::bad_request("nope").body();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "bad_request", "message": "nope"}})
        );
    }
}
