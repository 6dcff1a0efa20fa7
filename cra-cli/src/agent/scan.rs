//! `POST /scan` (v2) and `POST /discover` (v1): accept at once with a job id, scan in the queue,
//! and hand the result (or the failure) to the outbox, which reports it to the broker client.
//!
//! Only validated, typed fields travel back: the job id, the image name as parsed and printed by
//! the agent, and the outcome. Other request fields are ignored, and error messages never repeat
//! a rejected value.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cra_core::{Platform, RegistryCredentials};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, warn};
use url::Url;

use crate::agent::callback::{FailureBody, ResultBody, Status};
use crate::agent::engine::{EngineError, FailureKind, ScanOutput};
use crate::agent::error::ApiError;
use crate::agent::image::ImageName;
use crate::agent::jobs::{QueueError, Start};
use crate::agent::journal::{Record, SealedCredentials, Ticket};
use crate::agent::metrics::ScanOutcome;
use crate::agent::outbox::store::{self, Header, ResultRoute};
use crate::agent::outbox::Report;
use crate::agent::routes::credentials;
use crate::agent::settings::Settings;
use crate::agent::state::{AppState, JobClaim};

/// The largest scan request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The header in which the broker client names its own URL, the callback base when the agent
/// has no `BROKER_CLIENT_URL` of its own.
pub const CLIENT_URL_HEADER: &str = "x-broker-client-url";

/// Which API the request came in on; it decides where the result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/discover`: the result goes to `/api/v1/recurring-tests/dependencies`.
    V1,
    /// `/scan`: the result goes to `/api/v2/import/result`.
    V2,
}

impl ApiVersion {
    fn route(self) -> ResultRoute {
        match self {
            ApiVersion::V1 => ResultRoute::V1,
            ApiVersion::V2 => ResultRoute::V2,
        }
    }
}

/// The scan request body; other fields are accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(alias = "imageName")]
    image: String,
    #[serde(default)]
    job_id: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    vulns: Option<bool>,
}

/// The 202 answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    job_id: String,
    status: &'static str,
    image: String,
}

/// A validated, queued scan, with its journal record.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) ticket: Ticket,
    pub(crate) image: ImageName,
    pub(crate) platform: Option<Platform>,
    /// The database to match against, when the request asked for findings.
    pub(crate) vuln_db: Option<PathBuf>,
    pub(crate) credentials: RegistryCredentials,
}

impl Job {
    fn id(&self) -> &str {
        &self.ticket.record.job_id
    }

    /// The job a journal record describes; `None` when the record no longer parses (it was
    /// written by a version that accepted something this one does not).
    pub(crate) fn resume(ticket: &Ticket, settings: &Settings) -> Option<Job> {
        let record = &ticket.record;
        let platform = match record.platform.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<Platform>().ok()?),
        };
        Some(Job {
            ticket: ticket.clone(),
            image: record.image.parse::<ImageName>().ok()?,
            platform,
            vuln_db: vuln_db(settings, record.vulns).ok()?,
            credentials: record.credentials.open().ok()?,
        })
    }
}

fn valid_job_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn parse(body: &[u8]) -> Result<Request, ApiError> {
    // Serde's messages quote the offending value; the answer names the field only.
    let value: Value =
        serde_json::from_slice(body).map_err(|_| ApiError::bad_request("the body is not JSON"))?;
    let Value::Object(fields) = &value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };
    if !fields.contains_key("image") && !fields.contains_key("imageName") {
        return Err(ApiError::bad_request("image is required"));
    }
    serde_json::from_value(value).map_err(|_| {
        ApiError::bad_request(
            "image, jobId and platform must be strings and vulns a boolean when given",
        )
    })
}

/// The database a scan that asks for findings is matched against: the agent's, when it has
/// one built.
fn vuln_db(settings: &Settings, wanted: bool) -> Result<Option<PathBuf>, ApiError> {
    if !wanted {
        return Ok(None);
    }
    match &settings.vuln_db {
        Some(dir) if cra_scan::vulns::db::path_in(dir).is_file() => Ok(Some(dir.clone())),
        _ => Err(ApiError::vulns_unavailable()),
    }
}

/// The callback base: the agent's own `BROKER_CLIENT_URL`, else the one the broker client sent.
fn callback_base(settings: &Settings, headers: &HeaderMap) -> Result<Url, ApiError> {
    if let Some(own) = &settings.broker_client_url {
        return Ok(own.clone());
    }
    let sent = headers
        .get(CLIENT_URL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match sent {
        None => Err(ApiError::callback_not_configured()),
        Some(value) => Settings::parse_callback_url(Some(value))
            .ok()
            .flatten()
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "the {CLIENT_URL_HEADER} header is not an absolute http:// or https:// URL"
                ))
            }),
    }
}

/// Whether the agent can report scans: it has a base, or the request brings one.
pub fn can_report(settings: &Settings, headers: &HeaderMap) -> bool {
    callback_base(settings, headers).is_ok()
}

/// `POST /scan`.
pub async fn scan_v2(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    accept(state, headers, &body, ApiVersion::V2).await
}

/// `POST /discover`.
pub async fn discover_v1(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    accept(state, headers, &body, ApiVersion::V1).await
}

async fn accept(
    state: AppState,
    headers: HeaderMap,
    body: &[u8],
    version: ApiVersion,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
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
        .map_err(|_| ApiError::bad_request("platform must be os/architecture[/variant]"))?;
    let id = match request.job_id {
        Some(id) if valid_job_id(&id) => id,
        Some(_) => {
            return Err(ApiError::bad_request(
                "jobId must be 1 to 128 letters, digits, '-', '_', '.' or ':'",
            ))
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let callback_base = callback_base(&state.settings, &headers)?;
    let vuln_db = vuln_db(&state.settings, request.vulns.unwrap_or(false))?;
    // A full queue is answered before anything is written.
    if state.queue.is_full() {
        state.metrics.scan_finished(ScanOutcome::Rejected);
        return Err(ApiError::queue_full(state.settings.queue_retry_after));
    }
    let claim = state
        .claim_job(&id)
        .ok_or_else(|| ApiError::job_conflict(&id))?;
    let image_text = image.to_string();
    let record = Record {
        job_id: id.clone(),
        route: version.route(),
        image: image_text.clone(),
        platform: platform.as_ref().map(Platform::to_string),
        vulns: vuln_db.is_some(),
        credentials: SealedCredentials::seal(&credentials),
        base: callback_base,
        accepted_ms: store::now_ms(),
        attempts: 0,
    };
    // The scan is acknowledged only once it is on disk: an agent killed from here on resumes it.
    let ticket = state.journal.record(record).await.map_err(|err| {
        warn!(job = %id, error = %err, "cannot record the scan in the journal");
        ApiError::journal_unavailable()
    })?;
    let job = Job {
        ticket: ticket.clone(),
        image,
        platform,
        vuln_db,
        credentials,
    };
    match enqueue(&state, job, claim) {
        Ok(()) => {
            state.metrics.scan_accepted();
            info!(job = %id, image = %image_text, "scan queued");
            Ok((
                StatusCode::ACCEPTED,
                Json(Accepted {
                    job_id: id,
                    status: "queued",
                    image: image_text,
                }),
            ))
        }
        Err(err) => {
            if let Err(io) = state.journal.remove(&ticket).await {
                warn!(job = %id, error = %io, "cannot remove the record of a refused scan");
            }
            match err {
                QueueError::Full => {
                    state.metrics.scan_finished(ScanOutcome::Rejected);
                    Err(ApiError::queue_full(state.settings.queue_retry_after))
                }
                QueueError::Closed => Err(ApiError::shutting_down()),
            }
        }
    }
}

/// Queues `job`; it runs when a slot is free and ends by handing its outcome to the outbox.
pub(crate) fn enqueue(state: &AppState, job: Job, claim: JobClaim) -> Result<(), QueueError> {
    let worker = state.clone();
    state
        .queue
        .submit(move |start| async move { run(worker, job, start, claim).await })
}

async fn run(state: AppState, mut job: Job, start: Start, claim: JobClaim) {
    let outcome = match start {
        Start::Abandoned => Err(EngineError::new(
            FailureKind::ShuttingDown,
            "the agent shut down before the scan started",
        )),
        Start::Run(cancel) => {
            if let Err(err) = state.journal.started(&mut job.ticket).await {
                warn!(job = %job.id(), error = %err, "cannot record the start of a scan");
            }
            info!(job = %job.id(), image = %job.image, "scan started");
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
            info!(job = %job.id(), image = %job.image, "scan succeeded");
            state.metrics.scan_finished(ScanOutcome::Succeeded);
        }
        Err(err) => {
            warn!(job = %job.id(), image = %job.image, code = err.code(), error = %err, "scan failed");
            state.metrics.scan_finished(ScanOutcome::Failed);
        }
    }
    finish(&state, &job.ticket, &outcome).await;
    // The job id is free again once its result is in the outbox.
    drop(claim);
}

/// Hands a scan's outcome to the outbox and then drops its journal record, before delivery
/// starts: a crash in between finds both, and the outbox entry wins.
pub(crate) async fn finish(
    state: &AppState,
    ticket: &Ticket,
    outcome: &Result<ScanOutput, EngineError>,
) {
    let job_id = &ticket.record.job_id;
    let report = report(&ticket.record, outcome);
    let kept = state.outbox.keep(report).await;
    if let Err(err) = state.journal.remove(ticket).await {
        warn!(job = %job_id, error = %err, "cannot remove the journal record of a finished scan");
    }
    match kept {
        Ok(kept) => kept.send(),
        Err(err) => {
            warn!(job = %job_id, error = %err, "scan result not kept for delivery");
            state.metrics.callback(false);
        }
    }
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
        .scan(
            registry,
            reference,
            job.platform.clone(),
            job.vuln_db.clone(),
        )
        .await
}

/// The outbox entry of a finished job: its header and the result body.
fn report(job: &Record, outcome: &Result<ScanOutput, EngineError>) -> Report {
    let body = match outcome {
        Ok(output) => ResultBody {
            job_id: &job.job_id,
            image: &job.image,
            status: Status::Success,
            image_digest: output.digest.as_deref(),
            scan_results: Some(&output.scan_results.scan_results),
            vulnerabilities: output.vulns.as_ref(),
            error: None,
        },
        Err(err) => ResultBody {
            job_id: &job.job_id,
            image: &job.image,
            status: Status::Failed,
            image_digest: None,
            scan_results: None,
            vulnerabilities: None,
            error: Some(FailureBody {
                code: err.code(),
                message: &err.message,
            }),
        },
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Report {
        header: Header {
            job_id: job.job_id.clone(),
            image: job.image.clone(),
            success: outcome.is_ok(),
            base: job.base.clone(),
            route: job.route,
            created_ms: store::now_ms(),
            result_sent: false,
            result_delivered: false,
        },
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_parsing_is_tolerant_but_typed() {
        let r = parse(br#"{"image":"a/b:1","orgId":"o1","nested":{"x":1}}"#).unwrap();
        assert_eq!(r.image, "a/b:1");
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
        // A rejected value is never repeated.
        let err = parse(br#"{"image":"a","jobId":{"k":"s3cr3t"}}"#).unwrap_err();
        assert!(!err.message.contains("s3cr3t"), "{}", err.message);
    }

    #[test]
    fn job_ids() {
        assert!(valid_job_id("5b3c-aa_1.2:x"));
        for bad in ["", "a b", "a\nb", &"x".repeat(129)] {
            assert!(!valid_job_id(bad), "{bad:?}");
        }
    }

    fn job() -> Record {
        Record {
            job_id: "j1".into(),
            route: ResultRoute::V2,
            image: "team/app:1".into(),
            platform: None,
            vulns: false,
            credentials: SealedCredentials::seal(&RegistryCredentials::Basic {
                kind: cra_core::RegistryKind::Harbor,
                registry_base: "h".into(),
                username: "u".into(),
                password: "p".to_owned().into(),
            }),
            base: Url::parse("http://127.0.0.1:7341").unwrap(),
            accepted_ms: 1,
            attempts: 0,
        }
    }

    #[test]
    fn result_bodies() {
        let j = job();
        let ok = report(
            &j,
            &Ok(ScanOutput {
                digest: Some("sha256:x".into()),
                scan_results: serde_json::from_value(json!({"scanResults": [{
                    "target": {"image": "docker-image|x"},
                    "identity": {"type": "deb"},
                    "facts": [],
                }]}))
                .unwrap(),
                vulns: None,
            }),
        );
        let body: Value = serde_json::from_slice(&ok.body).unwrap();
        assert_eq!(
            body,
            json!({"jobId": "j1", "image": "team/app:1", "status": "success",
                   "imageDigest": "sha256:x", "scanResults": [{"target": {"image": "docker-image|x"},
                   "identity": {"type": "deb"}, "facts": []}]})
        );
        assert!(ok.header.success);
        assert_eq!(ok.header.route, ResultRoute::V2);
        let failed = report(
            &j,
            &Err(EngineError::new(FailureKind::TooLarge, "image is 3 GB")),
        );
        let body: Value = serde_json::from_slice(&failed.body).unwrap();
        assert_eq!(body["status"], "failed");
        assert_eq!(body["error"]["code"], "image_too_large");
        assert!(!failed.header.success);
    }

    #[test]
    fn the_agents_own_callback_url_overrides_the_clients() {
        let mut headers = HeaderMap::new();
        let none = Settings::default();
        assert_eq!(
            callback_base(&none, &headers).unwrap_err().code,
            "callback_not_configured"
        );
        headers.insert(CLIENT_URL_HEADER, "http://client:7341".parse().unwrap());
        assert_eq!(
            callback_base(&none, &headers).unwrap().as_str(),
            "http://client:7341/"
        );
        let own = Settings {
            broker_client_url: Some(Url::parse("http://own:1").unwrap()),
            ..Settings::default()
        };
        assert_eq!(
            callback_base(&own, &headers).unwrap().as_str(),
            "http://own:1/"
        );
        headers.insert(CLIENT_URL_HEADER, "ftp://x".parse().unwrap());
        assert_eq!(callback_base(&none, &headers).unwrap_err().status, 400);
    }
}
