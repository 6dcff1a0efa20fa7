//! Faults a registry can produce: wrong blob content, endless bodies and rate limits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cra_core::manifest::media_type;
use cra_core::{Digest, ErrorKind, PageRequest};
use cra_registries::{generic, ConnectOptions};
use cra_tests::registry::StubServer;
use futures_util::StreamExt;

use super::collect_blob;

#[tokio::test]
async fn wrong_blob_content_ends_with_digest_mismatch() {
    let app = Router::new().route(
        "/v2/app/blobs/{digest}",
        get(|| async { "not what was asked for" }),
    );
    let stub = StubServer::spawn(app).await;
    let registry = generic(&stub.base_url(), None, None, &ConnectOptions::default()).unwrap();
    let digest = Digest::sha256_of(b"the real content");
    let (bytes, err) = collect_blob(registry.as_ref(), "app", &digest, None).await;
    assert_eq!(
        bytes, b"not what was asked for",
        "bytes pass through before the verdict"
    );
    let err = err.expect("the last item is an error");
    assert_eq!(err.kind(), ErrorKind::DigestMismatch);
    assert!(err.to_string().contains(&digest.to_string()), "{err}");

    let app = Router::new().route(
        "/v2/app/manifests/{reference}",
        get(|| async {
            (
                [("content-type", media_type::OCI_MANIFEST)],
                r#"{"schemaVersion":2,"layers":[]}"#,
            )
        }),
    );
    let stub = StubServer::spawn(app).await;
    let registry = generic(&stub.base_url(), None, None, &ConnectOptions::default()).unwrap();
    let err = registry
        .fetch_manifest("app", &digest.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DigestMismatch, "{err}");
}

/// A body that never ends: `prefix`, then `filler` for ever, in 64 KiB chunks, without a
/// length; `served` counts the bytes handed to the connection.
fn endless(prefix: &'static str, filler: &'static str, served: Arc<AtomicUsize>) -> Response {
    let chunk = filler.repeat(64 * 1024 / filler.len());
    let chunks = futures_util::stream::iter(std::iter::once(prefix.to_owned()))
        .chain(futures_util::stream::repeat(chunk))
        .map(move |c| {
            served.fetch_add(c.len(), Ordering::SeqCst);
            Ok::<_, std::io::Error>(c)
        });
    Response::new(axum::body::Body::from_stream(chunks))
}

/// A hostile registry that streams manifests and listings without end: each read stops at its
/// limit (4 MiB for a manifest, 16 MiB for a listing) with a typed error, and the connection is
/// dropped instead of drained.
#[tokio::test]
async fn endless_manifests_and_listings_stop_at_their_limits() {
    let served = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/v2/_catalog",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                endless(r#"{"repositories":["a""#, r#","a""#, n)
            }),
        )
        .route(
            "/v2/app/tags/list",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                endless(r#"{"name":"app","tags":["1""#, r#","1""#, n)
            }),
        )
        .route(
            "/v2/app/manifests/{reference}",
            get(|State(n): State<Arc<AtomicUsize>>| async move {
                let mut response = endless(r#"{"schemaVersion":2,"layers":["#, " ", n);
                response.headers_mut().insert(
                    "content-type",
                    axum::http::HeaderValue::from_static(media_type::OCI_MANIFEST),
                );
                response
            }),
        )
        .with_state(served.clone());
    let stub = StubServer::spawn(app).await;
    let registry = generic(&stub.base_url(), None, None, &ConnectOptions::default()).unwrap();

    for (what, limit) in [
        ("manifest", 4 << 20),
        ("catalog", 16 << 20),
        ("tags", 16 << 20),
    ] {
        served.store(0, Ordering::SeqCst);
        let read = async {
            match what {
                "manifest" => registry.fetch_manifest("app", "1").await.map(|_| ()),
                "catalog" => registry
                    .list_repositories(&PageRequest::first(None))
                    .await
                    .map(|_| ()),
                _ => registry
                    .list_tags("app", &PageRequest::first(None))
                    .await
                    .map(|_| ()),
            }
        };
        let err = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .unwrap_or_else(|_| panic!("{what}: still reading after 30 s"))
            .expect_err(what);
        assert_eq!(err.kind(), ErrorKind::TooLarge, "{what}: {err}");
        // Give the stub a moment: it must stop soon after the client does.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = served.load(Ordering::SeqCst);
        assert!(
            sent < limit + (32 << 20),
            "{what}: the stub sent {sent} bytes for a {limit}-byte limit"
        );
    }
}

#[tokio::test]
async fn rate_limits_are_retried_then_reported_with_the_delay() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/v2/_catalog",
            get(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "120")],
                    r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
                )
            }),
        )
        .route(
            "/v2/flaky/tags/list",
            get(|State(calls): State<Arc<AtomicUsize>>| async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response()
                } else {
                    axum::Json(serde_json::json!({"name": "flaky", "tags": ["ok"]})).into_response()
                }
            }),
        )
        .with_state(calls.clone());
    let stub = StubServer::spawn(app).await;
    let registry = generic(&stub.base_url(), None, None, &ConnectOptions::default()).unwrap();
    let err = registry.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    let started = std::time::Instant::now();
    assert_eq!(registry.list_all_tags("flaky").await.unwrap(), vec!["ok"]);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
}
