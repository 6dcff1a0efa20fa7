//! cra-registries against the real CNCF registry on loopback, and stub servers for the faults
//! and auth flows it cannot produce.

mod cli;
mod dockerhub;
mod ecr;
mod gar;
mod vendors;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cra_core::manifest::{media_type, select_platform};
use cra_core::{Digest, ErrorKind, Manifest, PageRequest, Platform, Registry, Secret};
use cra_registries::{generic, ConnectOptions};
use cra_tests::logs::CapturedLogs;
use cra_tests::registry::{registry_available, Auth, RegistryServer, StubServer};
use futures_util::StreamExt;

fn open(server: &RegistryServer) -> Arc<dyn Registry> {
    let opts = ConnectOptions {
        ca_bundle: server.ca_bundle_path(),
        ..ConnectOptions::default()
    };
    generic(
        &server.base_url(),
        server.username(),
        server.password(),
        &opts,
    )
    .expect("connect to the loopback registry")
}

async fn collect_blob(
    registry: &dyn Registry,
    repo: &str,
    digest: &Digest,
    max: Option<u64>,
) -> (Vec<u8>, Option<cra_core::RegistryError>) {
    // A blob the registry announces as too large fails before streaming; others fail in the stream.
    let mut stream = match registry.fetch_blob(repo, digest, max).await {
        Ok(stream) => stream,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut bytes = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing after an error");
                return (bytes, Some(e));
            }
        }
    }
    (bytes, None)
}

#[tokio::test]
async fn harness_pushes_an_image_the_registry_serves() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    let image = server
        .push_small_image("team/app", "v1", "amd64", b"layer-bytes")
        .await;
    let http = reqwest::Client::new();
    let url = format!("{}/v2/team/app/manifests/v1", server.base_url());
    let resp = http
        .get(&url)
        .basic_auth("alice", Some("s3cret"))
        .header("accept", image.media_type.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        image.manifest.as_slice()
    );
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn catalog_pages_through_link_headers() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::None).await;
    let mut names: Vec<String> = (0..7).map(|i| format!("team{}/app", i)).collect();
    for name in &names {
        server
            .push_small_image(name, "v1", "amd64", name.as_bytes())
            .await;
    }
    names.sort();
    let registry = open(&server);
    assert_eq!(registry.host(), server.host());

    let mut page = PageRequest::first(Some(3));
    let mut pages = Vec::new();
    loop {
        let got = registry.list_repositories(&page).await.unwrap();
        pages.push(got.items.clone());
        match got.next {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
        assert!(pages.len() < 10, "pagination must end");
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    assert_eq!(pages.concat(), names);
    assert_eq!(registry.list_all_repositories().await.unwrap(), names);
    let foreign = PageRequest {
        size: Some(3),
        cursor: Some("http://169.254.169.254/v2/_catalog".into()),
    };
    let err = registry.list_repositories(&foreign).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn manifests_by_tag_and_digest_index_and_blobs() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::None).await;
    let amd = server
        .push_small_image("multi", "amd", "amd64", b"amd64 layer")
        .await;
    let arm = server
        .push_small_image("multi", "arm", "arm64", b"arm64 layer")
        .await;
    let attestation = serde_json::json!({
        "mediaType": media_type::OCI_MANIFEST, "digest": amd.config_digest.to_string(), "size": 10,
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
    });
    let (index_digest, index_bytes) = server
        .push_index(
            "multi",
            "latest",
            &[(&amd, "linux", "amd64"), (&arm, "linux", "arm64")],
            &[attestation],
        )
        .await;
    let registry = open(&server);

    let by_tag = registry.fetch_manifest("multi", "latest").await.unwrap();
    assert_eq!(by_tag.digest, index_digest);
    assert_eq!(by_tag.media_type, media_type::OCI_INDEX);
    assert_eq!(by_tag.bytes.as_ref(), index_bytes.as_slice());
    let Manifest::Index(index) = Manifest::parse(&by_tag.media_type, &by_tag.bytes).unwrap() else {
        panic!("expected an index");
    };
    let wanted: Platform = "linux/arm64".parse().unwrap();
    let entry = select_platform(&index, &wanted).unwrap();
    let by_digest = registry
        .fetch_manifest("multi", entry.digest().as_ref())
        .await
        .unwrap();
    assert_eq!(by_digest.digest, arm.digest);
    assert_eq!(by_digest.media_type, media_type::OCI_MANIFEST);

    let (bytes, err) = collect_blob(registry.as_ref(), "multi", &arm.layer_digests[0], None).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(bytes, b"arm64 layer");
    let (_, err) = collect_blob(registry.as_ref(), "multi", &arm.layer_digests[0], Some(4)).await;
    assert_eq!(err.unwrap().kind(), ErrorKind::TooLarge);

    let mut tags = registry.list_all_tags("multi").await.unwrap();
    tags.sort();
    assert_eq!(tags, vec!["amd", "arm", "latest"]);

    let err = registry.fetch_manifest("multi", "nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = registry
        .list_tags("no/such/repo", &PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("NAME_UNKNOWN"), "{err}");
    let missing = Digest::sha256_of(b"missing");
    let Err(err) = registry.fetch_blob("multi", &missing, None).await else {
        panic!("a missing blob must fail");
    };
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let err = registry
        .fetch_manifest("multi", "../etc")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn basic_auth_accepts_good_and_rejects_bad_credentials() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    server
        .push_small_image("private/app", "v1", "amd64", b"x")
        .await;
    let registry = open(&server);
    registry.validate_credentials().await.unwrap();
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        vec!["private/app"]
    );
    assert_eq!(
        registry.list_all_tags("private/app").await.unwrap(),
        vec!["v1"]
    );

    let opts = ConnectOptions::default();
    let wrong = generic(
        &server.base_url(),
        Some("alice".into()),
        Some(Secret::new("wrong-password")),
        &opts,
    )
    .unwrap();
    let err = wrong.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(!err.to_string().contains("wrong-password"));
    assert_eq!(
        wrong.validate_credentials().await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    assert!(!format!("{wrong:?}").contains("wrong-password"));

    let anonymous = generic(&server.base_url(), None, None, &opts).unwrap();
    let err = anonymous
        .fetch_manifest("private/app", "v1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("requires credentials"), "{err}");
}

#[tokio::test]
async fn tls_with_ca_bundle_and_clear_error_without() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::Tls).await;
    server
        .push_small_image("secure/app", "v1", "amd64", b"tls layer")
        .await;
    let registry = open(&server);
    assert!(server.base_url().starts_with("https://"));
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        vec!["secure/app"]
    );
    let fetched = registry.fetch_manifest("secure/app", "v1").await.unwrap();
    assert_eq!(fetched.media_type, media_type::OCI_MANIFEST);

    // The bare host defaults to HTTPS; without the CA the handshake fails with a clear error.
    let untrusted = generic(&server.host(), None, None, &ConnectOptions::default()).unwrap();
    let err = untrusted.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string().contains("TLS") && err.to_string().contains("not trusted"),
        "{err}"
    );

    let bad_bundle = ConnectOptions {
        ca_bundle: Some("/nonexistent/ca.pem".into()),
        ..ConnectOptions::default()
    };
    let err = generic(&server.host(), None, None, &bad_bundle).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn plain_http_only_when_asked() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::None).await;
    server.push_small_image("plain", "v1", "amd64", b"p").await;
    let https_default = generic(&server.host(), None, None, &ConnectOptions::default()).unwrap();
    let err = https_default.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let insecure = ConnectOptions {
        insecure_http: true,
        ..ConnectOptions::default()
    };
    let http = generic(&server.host(), None, None, &insecure).unwrap();
    assert_eq!(http.list_all_repositories().await.unwrap(), vec!["plain"]);
}

// Stub servers below replay what the distribution spec and the token spec describe
// (https://distribution.github.io/distribution/spec/api/ and .../spec/auth/token) for the
// behaviours the loopback registry cannot produce.

#[derive(Default)]
struct Seen {
    token_requests: AtomicUsize,
    authorizations: Mutex<Vec<Option<String>>>,
}

fn auth_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

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

#[tokio::test]
async fn redirects_to_another_host_drop_authorization() {
    let storage_seen = Arc::new(Seen::default());
    let storage = StubServer::spawn(
        Router::new()
            .route(
                "/bucket/blob",
                get(
                    |State(seen): State<Arc<Seen>>, headers: HeaderMap| async move {
                        seen.authorizations.lock().unwrap().push(auth_of(&headers));
                        "layer content"
                    },
                ),
            )
            .with_state(storage_seen.clone()),
    )
    .await;
    let target = format!(
        "{}/bucket/blob?X-Amz-Signature=secret-sig",
        storage.base_url()
    );
    let registry_seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(
            "/v2/app/blobs/{digest}",
            get(
                |State((seen, target)): State<(Arc<Seen>, String)>, headers: HeaderMap| async move {
                    let authz = auth_of(&headers);
                    seen.authorizations.lock().unwrap().push(authz.clone());
                    if authz.is_none() {
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
        .with_state((registry_seen.clone(), target));
    let stub = StubServer::spawn(app).await;
    let registry = generic(
        &stub.base_url(),
        Some("u".into()),
        Some(Secret::new("p")),
        &ConnectOptions::default(),
    )
    .unwrap();
    let (bytes, err) = collect_blob(
        registry.as_ref(),
        "app",
        &Digest::sha256_of(b"layer content"),
        None,
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(bytes, b"layer content");
    let at_registry = registry_seen.authorizations.lock().unwrap().clone();
    assert_eq!(at_registry.len(), 2);
    assert!(at_registry[1]
        .as_deref()
        .is_some_and(|a| a.starts_with("Basic ")));
    assert_eq!(
        *storage_seen.authorizations.lock().unwrap(),
        vec![None],
        "no Authorization at the storage host"
    );
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
