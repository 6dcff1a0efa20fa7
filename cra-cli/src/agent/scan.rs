//! `POST /scan` (v2) and `POST /discover` (v1): accept at once with a job id, scan in the queue,
//! and report the result (or the failure) to the broker client.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cra_core::{Platform, RegistryCredentials};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use crate::agent::callback::{V1_RESULT, V2_DONE, V2_RESULT};
use crate::agent::engine::{EngineError, FailureKind, ScanOutput};
use crate::agent::error::ApiError;
use crate::agent::image::ImageName;
use crate::agent::jobs::{QueueError, Start};
use crate::agent::metrics::ScanOutcome;
use crate::agent::routes::credentials;
use crate::agent::state::AppState;

/// The largest scan request body.
pub const MAX_BODY: usize = 64 * 1024;

/// Which API the request came in on; it decides where the result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/discover`: the result goes to `/api/v1/recurring-tests/dependencies`.
    V1,
    /// `/scan`: the result goes to `/api/v2/import/result`.
    V2,
}

impl ApiVersion {
    fn result_path(self) -> &'static str {
        match self {
            ApiVersion::V1 => V1_RESULT,
            ApiVersion::V2 => V2_RESULT,
        }
    }
}

/// The scan request body; unknown fields are kept and echoed in the callbacks.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(alias = "imageName")]
    image: String,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A validated, queued scan.
#[derive(Debug)]
struct Job {
    id: String,
    version: ApiVersion,
    image: ImageName,
    platform: Option<Platform>,
    credentials: RegistryCredentials,
    extra: Map<String, Value>,
}

fn valid_job_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn parse(body: &[u8]) -> Result<Request, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid scan request: {e}")))
}

/// `POST /scan`.
pub async fn scan_v2(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(state, headers, &body, ApiVersion::V2)
}

/// `POST /discover`.
pub async fn discover_v1(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(state, headers, &body, ApiVersion::V1)
}

fn accept(
    state: AppState,
    headers: HeaderMap,
    body: &[u8],
    version: ApiVersion,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !state.queue.is_open() {
        return Err(ApiError::shutting_down());
    }
    let credentials = credentials(&headers)?;
    let request = parse(body)?;
    let image: ImageName = request
        .image
        .parse()
        .map_err(|e: crate::agent::image::ImageNameError| ApiError::bad_request(e.to_string()))?;
    let platform = request
        .platform
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(str::parse::<Platform>)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let id = match request.job_id {
        Some(id) if valid_job_id(&id) => id,
        Some(_) => {
            return Err(ApiError::bad_request(
                "jobId must be 1 to 128 letters, digits, '-', '_', '.' or ':'",
            ))
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    if !state.callbacks.configured() {
        return Err(ApiError::callback_not_configured());
    }
    let job = Job {
        id: id.clone(),
        version,
        image,
        platform,
        credentials,
        extra: request.extra,
    };
    let image_text = job.image.to_string();
    let worker = state.clone();
    match state
        .queue
        .submit(move |start| async move { run(worker, job, start).await })
    {
        Ok(()) => {
            state.metrics.scan_accepted();
            info!(job = %id, image = %image_text, "scan queued");
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"jobId": id, "status": "queued", "image": image_text})),
            ))
        }
        Err(QueueError::Full) => {
            state.metrics.scan_finished(ScanOutcome::Rejected);
            Err(ApiError::queue_full(state.settings.queue_retry_after))
        }
        Err(QueueError::Closed) => Err(ApiError::shutting_down()),
    }
}

async fn run(state: AppState, job: Job, start: Start) {
    let outcome = match start {
        Start::Abandoned => Err(EngineError::new(
            FailureKind::ShuttingDown,
            "the agent shut down before the scan started",
        )),
        Start::Run(cancel) => {
            info!(job = %job.id, image = %job.image, "scan started");
            let limit = state.settings.scan_timeout;
            let timed = async {
                tokio::time::timeout(limit, scan(&state, &job))
                    .await
                    .unwrap_or_else(|_| {
                        Err(EngineError::new(
                            FailureKind::TimedOut,
                            format!("the scan took longer than {}s", limit.as_secs()),
                        ))
                    })
            };
            tokio::select! {
                result = timed => result,
                _ = cancel.cancelled() => Err(EngineError::new(
                    FailureKind::ShuttingDown,
                    "the agent shut down during the scan",
                )),
            }
        }
    };
    match &outcome {
        Ok(_) => {
            info!(job = %job.id, image = %job.image, "scan succeeded");
            state.metrics.scan_finished(ScanOutcome::Succeeded);
        }
        Err(err) => {
            warn!(job = %job.id, image = %job.image, code = err.code(), error = %err, "scan failed");
            state.metrics.scan_finished(ScanOutcome::Failed);
        }
    }
    report(&state, &job, outcome).await;
}

async fn scan(state: &AppState, job: &Job) -> Result<ScanOutput, EngineError> {
    let registry = state.connector.connect(&job.credentials).await?;
    let reference = job.image.reference(registry.host()).map_err(|e| {
        EngineError::new(
            FailureKind::Registry(cra_core::ErrorKind::InvalidInput),
            e.to_string(),
        )
    })?;
    state
        .engine
        .scan(registry, reference, job.platform.clone())
        .await
}

/// The result callback body: the request's extra fields, then the agent's own.
fn result_body(job: &Job, outcome: &Result<ScanOutput, EngineError>) -> Value {
    let mut body = job.extra.clone();
    body.insert("jobId".into(), json!(job.id));
    body.insert("image".into(), json!(job.image.to_string()));
    match outcome {
        Ok(output) => {
            body.insert("status".into(), json!("success"));
            if let Some(digest) = &output.digest {
                body.insert("imageDigest".into(), json!(digest));
            }
            let results = match &output.scan_results {
                Value::Object(o) => o.get("scanResults").cloned().unwrap_or(Value::Null),
                other => other.clone(),
            };
            body.insert("scanResults".into(), results);
        }
        Err(err) => {
            body.insert("status".into(), json!("failed"));
            body.insert(
                "error".into(),
                json!({"code": err.code(), "message": err.message}),
            );
        }
    }
    Value::Object(body)
}

fn done_body(job: &Job, ok: bool, delivered: bool) -> Value {
    let mut body = job.extra.clone();
    body.insert("jobId".into(), json!(job.id));
    body.insert("image".into(), json!(job.image.to_string()));
    body.insert(
        "status".into(),
        json!(if ok { "success" } else { "failed" }),
    );
    body.insert("resultDelivered".into(), json!(delivered));
    Value::Object(body)
}

async fn report(state: &AppState, job: &Job, outcome: Result<ScanOutput, EngineError>) {
    let ok = outcome.is_ok();
    let result = result_body(job, &outcome);
    drop(outcome);
    let delivered = match state
        .callbacks
        .post(job.version.result_path(), &result)
        .await
    {
        Ok(()) => true,
        Err(err) => {
            warn!(job = %job.id, error = %err, "scan result not delivered");
            false
        }
    };
    drop(result);
    if let Err(err) = state
        .callbacks
        .post(V2_DONE, &done_body(job, ok, delivered))
        .await
    {
        warn!(job = %job.id, error = %err, "scan done notice not delivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_parsing_is_tolerant_but_typed() {
        let r = parse(br#"{"image":"a/b:1","orgId":"o1","nested":{"x":1}}"#).unwrap();
        assert_eq!(r.image, "a/b:1");
        assert_eq!(r.extra["orgId"], "o1");
        assert_eq!(r.extra["nested"]["x"], 1);
        let r = parse(br#"{"imageName":"a"}"#).unwrap();
        assert_eq!(r.image, "a");
        for bad in [
            &b"not json"[..],
            b"[]",
            b"{}",
            br#"{"image":1}"#,
            br#"{"image":"a","platform":7}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn job_ids() {
        assert!(valid_job_id("5b3c-aa_1.2:x"));
        for bad in ["", "a b", "a\nb", &"x".repeat(129)] {
            assert!(!valid_job_id(bad), "{bad:?}");
        }
    }

    fn job(extra: Map<String, Value>) -> Job {
        Job {
            id: "j1".into(),
            version: ApiVersion::V2,
            image: "team/app:1".parse().unwrap(),
            platform: None,
            credentials: RegistryCredentials::Basic {
                kind: cra_core::RegistryKind::Harbor,
                registry_base: "h".into(),
                username: "u".into(),
                password: "p".to_owned().into(),
            },
            extra,
        }
    }

    #[test]
    fn callback_bodies() {
        let mut extra = Map::new();
        extra.insert("orgId".into(), json!("o1"));
        extra.insert("status".into(), json!("spoofed"));
        let j = job(extra);
        let ok = result_body(
            &j,
            &Ok(ScanOutput {
                digest: Some("sha256:x".into()),
                scan_results: json!({"scanResults": [{"identity": {"type": "deb"}}]}),
            }),
        );
        assert_eq!(ok["status"], "success");
        assert_eq!(ok["orgId"], "o1");
        assert_eq!(ok["jobId"], "j1");
        assert_eq!(ok["image"], "team/app:1");
        assert_eq!(ok["scanResults"][0]["identity"]["type"], "deb");
        let failed = result_body(
            &j,
            &Err(EngineError::new(FailureKind::TooLarge, "image is 3 GB")),
        );
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["error"]["code"], "image_too_large");
        let done = done_body(&j, false, true);
        assert_eq!(done["status"], "failed");
        assert_eq!(done["resultDelivered"], true);
    }
}
