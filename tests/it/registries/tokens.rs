//! The token flow against stub servers: Bearer tokens per scope, renewal of a refused token, and logs
//! that carry no secret.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cra_core::{Digest, ErrorKind, PageRequest, Secret};
use cra_registries::{generic, ConnectOptions};
use cra_tests::logs::CapturedLogs;
use cra_tests::registry::StubServer;

use super::{auth_of, collect_blob, Seen};

#[tokio::test]
async fn bearer_flow_caches_tokens_per_scope_and_pages_tags() {
    let seen = Arc::new(Seen::default());
    let realm_base = Arc::new(Mutex::new(String::new()));
    let app = Router::new()
        .route(
            "/token",
            get(|State((seen, _)): State<(Arc<Seen>, Arc<Mutex<String>>)>, headers: HeaderMap, axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                seen.token_requests.fetch_add(1, Ordering::SeqCst);
                let q = q.unwrap_or_default();
                // "bob:pw" in base64.
                if auth_of(&headers).as_deref() != Some("Basic Ym9iOnB3") {
                    return (StatusCode::UNAUTHORIZED, "{}").into_response();
                }
                assert!(q.contains("service=stub"), "{q}");
                assert!(q.contains("scope=repository%3Aacme%2Fapi%3Apull"), "{q}");
                axum::Json(serde_json::json!({"access_token": "tok-123", "expires_in": 300})).into_response()
            }),
        )
        .route(
            "/v2/acme/api/tags/list",
            get(|State((_, realm)): State<(Arc<Seen>, Arc<Mutex<String>>)>, headers: HeaderMap, axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                if auth_of(&headers).as_deref() != Some("Bearer tok-123") {
                    let challenge = format!(
                        r#"Bearer realm="{}/token",service="stub",scope="repository:acme/api:pull""#,
                        realm.lock().unwrap()
                    );
                    return (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)], "").into_response();
                }
                let q = q.unwrap_or_default();
                let (tags, link): (&[&str], Option<&str>) = if q.contains("last=b") {
                    (&["c"], None)
                } else if q.contains("last=a") {
                    (&["b"], Some("</v2/acme/api/tags/list?last=b&n=1>; rel=\"next\""))
                } else {
                    (&["a"], Some("</v2/acme/api/tags/list?last=a&n=1>; rel=\"next\""))
                };
                let mut resp = axum::Json(serde_json::json!({"name": "acme/api", "tags": tags})).into_response();
                if let Some(link) = link {
                    resp.headers_mut().insert("link", link.parse().unwrap());
                }
                resp
            }),
        )
        .with_state((seen.clone(), realm_base.clone()));
    let stub = StubServer::spawn(app).await;
    *realm_base.lock().unwrap() = stub.base_url();

    let registry = generic(
        &stub.base_url(),
        Some("bob".into()),
        Some(Secret::new("pw")),
        &ConnectOptions::default(),
    )
    .unwrap();
    let first = registry
        .list_tags("acme/api", &PageRequest::first(Some(1)))
        .await
        .unwrap();
    assert_eq!(first.items, vec!["a"]);
    assert_eq!(
        first.next.as_deref(),
        Some("/v2/acme/api/tags/list?last=a&n=1")
    );
    assert_eq!(
        registry.list_all_tags("acme/api").await.unwrap(),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        seen.token_requests.load(Ordering::SeqCst),
        1,
        "the token is cached for its scope"
    );

    let wrong = generic(
        &stub.base_url(),
        Some("bob".into()),
        Some(Secret::new("nope")),
        &ConnectOptions::default(),
    )
    .unwrap();
    let err = wrong.list_all_tags("acme/api").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("token service rejected"), "{err}");
}

#[tokio::test]
async fn a_refused_cached_token_is_renewed_once() {
    // The registry honours only the newest token, as after a revocation.
    let issued = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route(
            "/token",
            get(|State(issued): State<Arc<AtomicUsize>>| async move {
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                axum::Json(serde_json::json!({"token": format!("tok-{n}"), "expires_in": 3600}))
            }),
        )
        .route(
            "/v2/_catalog",
            get(
                |State(issued): State<Arc<AtomicUsize>>, headers: HeaderMap| async move {
                    let newest = format!("Bearer tok-{}", issued.load(Ordering::SeqCst));
                    if auth_of(&headers).as_deref() != Some(newest.as_str())
                        || newest == "Bearer tok-0"
                    {
                        let challenge =
                            r#"Bearer realm="/token",service="stub",scope="registry:catalog:*""#;
                        return (
                            StatusCode::UNAUTHORIZED,
                            [("www-authenticate", challenge)],
                            "",
                        )
                            .into_response();
                    }
                    axum::Json(serde_json::json!({"repositories": ["a"]})).into_response()
                },
            ),
        )
        .with_state(issued.clone());
    let stub = StubServer::spawn(app).await;
    let registry = generic(&stub.base_url(), None, None, &ConnectOptions::default()).unwrap();
    assert_eq!(registry.list_all_repositories().await.unwrap(), vec!["a"]);
    assert_eq!(registry.list_all_repositories().await.unwrap(), vec!["a"]);
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "the cached token is reused"
    );
    issued.fetch_add(1, Ordering::SeqCst);
    assert_eq!(registry.list_all_repositories().await.unwrap(), vec!["a"]);
    assert_eq!(
        issued.load(Ordering::SeqCst),
        3,
        "one renewal after the 401"
    );
}

#[tokio::test]
async fn debug_logs_carry_no_secrets_or_signed_queries() {
    let logs = CapturedLogs::start(tracing::Level::DEBUG);

    let storage =
        StubServer::spawn(Router::new().route("/bucket/blob", get(|| async { "blob" }))).await;
    let target = format!(
        "{}/bucket/blob?X-Amz-Signature=signed-secret",
        storage.base_url()
    );
    let app = Router::new()
        .route(
            "/v2/app/blobs/{digest}",
            get(
                |State(target): State<String>, headers: HeaderMap| async move {
                    if auth_of(&headers).is_none() {
                        return (
                            StatusCode::UNAUTHORIZED,
                            [("www-authenticate", "Basic realm=\"stub\"".to_owned())],
                        )
                            .into_response();
                    }
                    Response::builder()
                        .status(307)
                        .header("location", target)
                        .body(axum::body::Body::empty())
                        .unwrap()
                },
            ),
        )
        .with_state(target);
    let stub = StubServer::spawn(app).await;
    let registry = generic(
        &stub.base_url(),
        Some("user".into()),
        Some(Secret::new("pass-word-42")),
        &ConnectOptions::default(),
    )
    .unwrap();
    let (bytes, err) =
        collect_blob(registry.as_ref(), "app", &Digest::sha256_of(b"blob"), None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(bytes, b"blob");

    let text = logs.text();
    assert!(text.contains("following redirect"), "{text}");
    assert!(text.contains("/bucket/blob"), "{text}");
    for secret in [
        "signed-secret",
        "X-Amz-Signature",
        "pass-word-42",
        "dXNlcjpwYXNzLXdvcmQtNDI",
    ] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the logs:\n{text}"
        );
    }
}
