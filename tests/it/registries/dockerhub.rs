//! Docker Hub's pull quota, against a loopback server replaying its documented headers:
//! - `ratelimit-limit: 100;w=21600`, `ratelimit-remaining: 76;w=21600` and
//!   `docker-ratelimit-source` on manifest responses, and 429 `TOOMANYREQUESTS` without
//!   `Retry-After` once the quota is used up (docs.docker.com "Docker Hub usage and limits",
//!   section on checking the rate limit);
//! - the Hub API's 429 with `X-Retry-After` as a Unix time (docs/docker
//!   content/reference/api/hub/latest.yaml, "Rate limiting").

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::vendors::{check, gate, names, query_param, slice, Case, Ctx, GOOD, THROTTLED};
use axum::extract::State;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cra_core::{ErrorKind, PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::logs::CapturedLogs;
use cra_tests::registry::StubServer;
use serde_json::json;
use serde_json::Value;

const SOURCE: &str = "203.0.113.7";
const MANIFEST: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;

/// What the stub's manifest endpoint reports, call after call.
const REMAINING: [u64; 5] = [76, 10, 9, 4, 0];

#[derive(Clone, Default)]
struct Stub {
    base: Arc<Mutex<String>>,
    manifest_requests: Arc<AtomicUsize>,
}

/// The manifest of `acme/app`, behind Docker Hub's Bearer challenge, with its quota headers.
async fn manifest(State(stub): State<Stub>, headers: HeaderMap) -> Response {
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some("Bearer hub-registry-token");
    if !authorized {
        let challenge = format!(
            r#"Bearer realm="{}/token",service="registry.docker.io",scope="repository:acme/app:pull""#,
            stub.base.lock().unwrap()
        );
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", challenge)],
            "",
        )
            .into_response();
    }
    let n = stub.manifest_requests.fetch_add(1, Ordering::SeqCst);
    let remaining = REMAINING[n.min(REMAINING.len() - 1)];
    let quota = [
        ("ratelimit-limit", "100;w=21600".to_owned()),
        ("ratelimit-remaining", format!("{remaining};w=21600")),
        ("docker-ratelimit-source", SOURCE.to_owned()),
    ];
    if remaining == 0 {
        let body = json!({"errors": [{"code": "TOOMANYREQUESTS",
            "message": "You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}]});
        return (StatusCode::TOO_MANY_REQUESTS, quota, Json(body)).into_response();
    }
    (
        quota,
        [(
            "content-type",
            "application/vnd.oci.image.manifest.v1+json".to_owned(),
        )],
        MANIFEST,
    )
        .into_response()
}

#[tokio::test]
async fn docker_hub_pull_quota_is_warned_about_and_reported_when_used_up() {
    let logs = CapturedLogs::start(tracing::Level::WARN);

    let stub = Stub::default();
    let router = Router::new()
        .route(
            "/token",
            get(|| async { Json(json!({"token": "hub-registry-token", "expires_in": 300})) }),
        )
        .route("/v2/acme/app/manifests/{reference}", get(manifest))
        .with_state(stub.clone());
    let server = StubServer::spawn(router).await;
    *stub.base.lock().unwrap() = server.base_url();
    let creds = RegistryCredentials::Basic {
        kind: RegistryKind::DockerHub,
        registry_base: format!("{}/acme", server.base_url()),
        username: String::new(),
        password: Secret::new(""),
    };
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/hub", server.base_url())),
        ..ConnectOptions::default()
    };
    let registry = connect(&creds, &opts).await.unwrap();

    for _ in 0..4 {
        let got = registry.fetch_manifest("acme/app", "v1").await.unwrap();
        assert_eq!(got.bytes.as_ref(), MANIFEST.as_bytes());
    }
    let err = registry.fetch_manifest("acme/app", "v1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(
        err.retry_after(),
        Some(Duration::from_secs(21600)),
        "no Retry-After: the window bounds the wait"
    );
    let message = err.to_string();
    assert!(
        message.contains("0 of 100 pulls left per 21600s"),
        "{message}"
    );
    assert!(message.contains(SOURCE), "{message}");
    assert_eq!(
        stub.manifest_requests.load(Ordering::SeqCst),
        5,
        "a used-up quota is not retried"
    );

    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("pull quota is running low"))
        .collect();
    // 76 is plenty; 10 is low; 9 is not much lower; 4 is half of 10; 0 is used up.
    assert_eq!(warnings.len(), 3, "{text}");
    for (line, left) in warnings.iter().zip(["10", "4", "0"]) {
        assert!(
            line.contains(&format!("{left} of 100 pulls left per 21600s")),
            "{line}"
        );
    }
}

#[tokio::test]
async fn docker_hub_api_x_retry_after_is_a_unix_time() {
    let router = Router::new().route(
        "/hub/v2/auth/token",
        post(|| async {
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 30;
            (
                StatusCode::TOO_MANY_REQUESTS,
                [
                    ("x-ratelimit-limit", "180".to_owned()),
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-reset", at.to_string()),
                    ("x-retry-after", at.to_string()),
                ],
                Json(json!({"message": "Too Many Requests"})),
            )
        }),
    );
    let server = StubServer::spawn(router).await;
    let creds = RegistryCredentials::Basic {
        kind: RegistryKind::DockerHub,
        registry_base: format!("{}/acme", server.base_url()),
        username: "acme-bot".into(),
        password: Secret::new("dckr_pat_secret"),
    };
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/hub", server.base_url())),
        ..ConnectOptions::default()
    };
    let registry = connect(&creds, &opts).await.unwrap();
    let err = registry
        .list_repositories(&PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    let wait = err.retry_after().unwrap();
    assert!(
        (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&wait),
        "{wait:?}"
    );
    assert!(!err.to_string().contains("dckr_pat_secret"), "{err}");
}

// Docker Hub: docs/docker content/reference/api/hub/latest.yaml (POST /v2/auth/token with
// identifier/secret; GET /v2/namespaces/{namespace}/repositories with `next`).
#[tokio::test]
async fn docker_hub_logs_in_and_lists_a_namespace() {
    let router = Router::new()
        .route(
            "/hub/v2/auth/token",
            post(|Json(body): Json<Value>| async move {
                match body["secret"].as_str() {
                    Some(GOOD) if body["identifier"] == "acme-bot" => Json(json!({"access_token": "hub-jwt"})).into_response(),
                    Some(THROTTLED) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "").into_response(),
                    _ => (StatusCode::UNAUTHORIZED, Json(json!({"errinfo": {}, "message": "incorrect username or password"}))).into_response(),
                }
            }),
        )
        .route(
            "/hub/v2/namespaces/{ns}/repositories",
            get(|Path(ns): Path<String>, State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, "hub-jwt", None, json!({"message": "unauthorized"})) {
                    return r;
                }
                assert_eq!(ns, "acme");
                let page: usize = query_param(&q, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let size: usize = query_param(&q, "page_size").and_then(|p| p.parse().ok()).unwrap_or(10);
                let (got, more) = slice(&names(""), page, size);
                let results: Vec<Value> = got.iter().map(|n| json!({"name": n, "namespace": "acme", "is_private": true})).collect();
                let next = more.then(|| format!("{}/hub/v2/namespaces/acme/repositories?page={}&page_size={size}", ctx.base(), page + 1));
                Json(json!({"count": 5, "next": next, "previous": null, "results": results})).into_response()
            }),
        )
        .route(
            "/hub/v2/namespaces/{ns}/repositories/{repo}/tags",
            get(|Path((_, repo)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, "hub-jwt", None, json!({})) {
                    return r;
                }
                if repo != "alpha" {
                    return (StatusCode::NOT_FOUND, Json(json!({"message": "object not found"}))).into_response();
                }
                Json(json!({"count": 1, "next": null, "results": [{"name": "1.0", "digest": format!("sha256:{}", "d".repeat(64)), "tag_last_pushed": "2026-10-01T12:00:00.000000Z"}]})).into_response()
            }),
        );
    check(
        Case {
            kind: RegistryKind::DockerHub,
            base_path: "/acme",
            api_path: Some("/hub"),
            username: "acme-bot",
            expected: names("acme/"),
            missing: "acme/nope",
            metadata_for_missing: true,
            metadata: Some(("acme/alpha", "1.0", 'd')),
        },
        router,
    )
    .await;
}
