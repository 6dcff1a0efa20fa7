//! How registries are reached: TLS with extra roots, plain HTTP on the loopback and when asked, and
//! redirects that leave the registry.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cra_core::manifest::media_type;
use cra_core::{Digest, ErrorKind, Manifest, Secret};
use cra_registries::{generic, ConnectOptions};
use cra_tests::registry::{registry_available, Auth, RegistryServer, StubServer};

use super::{auth_of, collect_blob, open, Seen};

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

/// The registry's port, for names that resolve to it.
fn port_of(server: &RegistryServer) -> u16 {
    let host = server.host();
    let (_, port) = host.rsplit_once(':').expect("the registry host has a port");
    port.parse().expect("a numeric port")
}

// docker's convention (docs.docker.com "Test an insecure registry"): registries on localhost and
// 127.0.0.0/8 are tried over HTTPS, then plain HTTP, without any setting.
#[tokio::test]
async fn loopback_registries_fall_back_to_plain_http() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    server.push_small_image("plain", "v1", "amd64", b"p").await;
    assert!(server.base_url().starts_with("http://"));
    let localhost = format!("localhost:{}", port_of(&server));
    for base in [server.host(), localhost] {
        let registry = generic(
            &base,
            Some("alice".into()),
            Some(Secret::new("s3cret")),
            &ConnectOptions::default(),
        )
        .unwrap();
        assert_eq!(
            registry.list_all_repositories().await.unwrap(),
            vec!["plain"],
            "{base}"
        );
        let fetched = registry.fetch_manifest("plain", "v1").await.unwrap();
        let layer = match Manifest::parse(&fetched.media_type, &fetched.bytes).unwrap() {
            Manifest::Image(image) => image.layers()[0].digest().to_string(),
            other => panic!("unexpected {other:?}"),
        };
        let (bytes, err) =
            collect_blob(registry.as_ref(), "plain", &layer.parse().unwrap(), None).await;
        assert!(err.is_none() && !bytes.is_empty(), "{base}: {err:?}");
        let wrong = generic(
            &base,
            Some("alice".into()),
            Some(Secret::new("nope")),
            &ConnectOptions::default(),
        )
        .unwrap();
        let err = wrong.list_all_repositories().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{base}: {err}");
    }
    // An explicit https:// base means HTTPS only.
    let https_only = generic(
        &format!("https://{}", server.host()),
        None,
        None,
        &ConnectOptions::default(),
    )
    .unwrap();
    let err = https_only.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

// Any other registry that answers a TLS hello in plain HTTP gets an error naming the flag, not the
// TLS library's "received corrupt message of type InvalidContentType".
#[tokio::test]
async fn other_registries_speaking_plain_http_name_the_flag() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::None).await;
    server.push_small_image("plain", "v1", "amd64", b"p").await;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port_of(&server)));
    let named = format!("registry.test:{}", port_of(&server));
    let resolve = vec![("registry.test".to_owned(), address)];
    let https_default = generic(
        &named,
        None,
        None,
        &ConnectOptions {
            resolve: resolve.clone(),
            ..ConnectOptions::default()
        },
    )
    .unwrap();
    let err = https_default.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("plain HTTP") && message.contains("--insecure-http"),
        "{message}"
    );
    assert!(!message.contains("InvalidContentType"), "{message}");
    let insecure = ConnectOptions {
        insecure_http: true,
        resolve,
        ..ConnectOptions::default()
    };
    let http = generic(&named, None, None, &insecure).unwrap();
    assert_eq!(http.list_all_repositories().await.unwrap(), vec!["plain"]);
}

/// Set in the child process of [`ssl_cert_file_and_dir_add_trusted_roots`]: the registry to list.
const CHILD_REGISTRY: &str = "CRA_TEST_SSL_CERT_CHILD_REGISTRY";

// syft and every OpenSSL or Go program trust the roots in SSL_CERT_FILE and SSL_CERT_DIR. The
// variables are read when a client is built, so the check runs in a child process of this test
// binary that starts with them set (setting them here would race with the other tests).
#[tokio::test]
async fn ssl_cert_file_and_dir_add_trusted_roots() {
    if !registry_available() {
        return;
    }
    if let Ok(host) = std::env::var(CHILD_REGISTRY) {
        let registry = generic(&host, None, None, &ConnectOptions::default()).unwrap();
        assert_eq!(
            registry.list_all_repositories().await.unwrap(),
            vec!["secure/app"]
        );
        return;
    }
    let server = RegistryServer::start(Auth::Tls).await;
    server
        .push_small_image("secure/app", "v1", "amd64", b"tls layer")
        .await;
    let ca = server.ca_bundle_path().expect("the TLS registry has a CA");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&ca, dir.path().join("registry-ca.pem")).unwrap();
    let this = std::env::current_exe().unwrap();
    let name = "registries::transport::ssl_cert_file_and_dir_add_trusted_roots";
    let run = |var: &str, value: &std::path::Path| {
        std::process::Command::new(&this)
            .args(["--exact", name, "--test-threads=1"])
            .env(CHILD_REGISTRY, server.host())
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env(var, value)
            .output()
            .unwrap()
    };
    for (var, value) in [
        ("SSL_CERT_FILE", ca.as_path()),
        ("SSL_CERT_DIR", dir.path()),
    ] {
        let out = run(var, value);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{var}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without them (and without a CA bundle) the certificate is not trusted.
    let err = generic(&server.host(), None, None, &ConnectOptions::default())
        .unwrap()
        .list_all_repositories()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not trusted"), "{err}");
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
