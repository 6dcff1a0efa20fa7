//! `artifactory-cr`: its repository-path access method, and tag metadata from the Storage API.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cra_core::{PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::json;

use super::vendors::{
    after, basic_user, check, distribution_stub, gate, metadata_pages, names, query_param, Case,
    Ctx, GOOD,
};

#[tokio::test]
async fn artifactory_repository_path_method() {
    check(
        Case {
            kind: RegistryKind::Artifactory,
            base_path: "/artifactory/api/docker/docker-local",
            api_path: None,
            username: "deployer",
            expected: names("app/"),
            missing: "app/nope",
            metadata_for_missing: false,
            metadata: None,
        },
        distribution_stub(
            "/artifactory/api/docker/docker-local",
            Some("/artifactory/api/docker/docker-local/v2/token"),
            names("app/"),
            "last",
        ),
    )
    .await;
}

/// The tags of `app/alpha` in `docker-local`, seven so that pages of three make three.
fn artifactory_tags() -> Vec<String> {
    (1..=7).map(|i| format!("v{i}")).collect()
}

// Artifactory: jfrog.com/help "List Docker Tags" (`tags/list` with `n`/`last` and `Link`) and
// the Storage API "File Info" (`GET /artifactory/api/storage/<repo>/<path>`: `created`,
// `lastModified`, `lastUpdated`, `checksums.sha256`); multi-arch tags store `list.manifest.json`.
// The user `reader` may pull but not read the Storage API (403), and gets bare tags.
#[tokio::test]
async fn artifactory_tag_metadata_from_the_storage_api() {
    const PREFIX: &str = "/artifactory/api/docker/docker-local";
    let router: Router<Ctx> = Router::new()
        .route(
            &format!("{PREFIX}/v2/"),
            get(|headers: HeaderMap| async move {
                gate(&headers, GOOD, Some(r#"Basic realm="Artifactory Realm""#), json!({"errors": [{"code": "UNAUTHORIZED", "message": "Authentication is required"}]}))
                    .unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(
            &format!("{PREFIX}/v2/app/alpha/tags/list"),
            get(|headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, GOOD, Some(r#"Basic realm="Artifactory Realm""#), json!({"errors": [{"code": "UNAUTHORIZED", "message": "Authentication is required"}]})) {
                    return r;
                }
                let n: usize = query_param(&q, "n").and_then(|n| n.parse().ok()).unwrap_or(100);
                let (got, next) = after(&artifactory_tags(), query_param(&q, "last"), n);
                let mut resp = Json(json!({"name": "app/alpha", "tags": got})).into_response();
                if let Some(last) = next {
                    let link = format!("<{PREFIX}/v2/app/alpha/tags/list?n={n}&last={last}>; rel=\"next\"");
                    resp.headers_mut().insert("link", link.parse().unwrap());
                }
                resp
            }),
        )
        .route(
            "/artifactory/api/storage/docker-local/app/alpha/{tag}/{file}",
            get(|Path((tag, file)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"errors": [{"status": 401, "message": "Bad credentials"}]})) {
                    return r;
                }
                if basic_user(&headers).as_deref() == Some("reader") {
                    return (StatusCode::FORBIDDEN, Json(json!({"errors": [{"status": 403, "message": "Forbidden"}]}))).into_response();
                }
                let n: u32 = tag[1..].parse().unwrap();
                // v7 is multi-arch: only list.manifest.json exists.
                let want = if n == 7 { "list.manifest.json" } else { "manifest.json" };
                if file != want {
                    return (StatusCode::NOT_FOUND, Json(json!({"errors": [{"status": 404, "message": "Unable to find item"}]}))).into_response();
                }
                let uri = format!("http://artifactory.example/artifactory/api/storage/docker-local/app/alpha/{tag}/{file}");
                Json(json!({"repo": "docker-local", "path": format!("/app/alpha/{tag}/{file}"),
                    "created": "2025-10-01T08:00:00.000Z", "createdBy": "deployer",
                    "lastModified": format!("2025-10-0{n}T08:55:00.000Z"), "modifiedBy": "deployer",
                    "lastUpdated": format!("2025-10-0{n}T08:55:00.000Z"),
                    "downloadUri": uri.replace("api/storage/", ""), "mimeType": "application/json", "size": "1234",
                    "checksums": {"sha1": "a".repeat(40), "md5": "b".repeat(32), "sha256": n.to_string().repeat(64)},
                    "originalChecksums": {"sha256": n.to_string().repeat(64)}, "uri": uri}))
                .into_response()
            }),
        );
    let stub = StubServer::spawn(router.with_state(Ctx::default())).await;
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/artifactory/api/storage", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |username: &str| RegistryCredentials::Basic {
        kind: RegistryKind::Artifactory,
        registry_base: format!("{}{PREFIX}", stub.base_url()),
        username: username.to_owned(),
        password: Secret::new(GOOD),
    };

    let registry = connect(&creds("deployer"), &opts).await.unwrap();
    let pages = metadata_pages(registry.as_ref(), "app/alpha", Some(3)).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let tags = pages.concat();
    assert_eq!(
        tags.iter().map(|t| t.tag.clone()).collect::<Vec<_>>(),
        artifactory_tags()
    );
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            t.digest.as_ref().map(|d| d.hex().to_owned()),
            Some(n.to_string().repeat(64)),
            "{}",
            t.tag
        );
        assert_eq!(
            t.last_pushed.as_deref(),
            Some(format!("2025-10-0{n}T08:55:00.000Z").as_str())
        );
    }

    let reader = connect(&creds("reader"), &opts).await.unwrap();
    let bare = reader
        .list_tags_with_metadata("app/alpha", &PageRequest::first(Some(3)))
        .await
        .unwrap();
    assert_eq!(
        bare.items
            .iter()
            .map(|t| t.tag.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2", "v3"]
    );
    assert!(bare
        .items
        .iter()
        .all(|t| t.digest.is_none() && t.last_pushed.is_none()));
    assert!(bare.next.is_some());
}

/// Forwards `/artifactory/api/docker/docker-local/v2/*` to the real registry's `/v2/*`, as
/// Artifactory's repository-path access method exposes a Docker repository, rewriting `Link`.
async fn artifactory_proxy(
    State(upstream): State<String>,
    method: axum::http::Method,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut url = format!("{upstream}/v2/{rest}");
    if let Some(q) = q {
        url = format!("{url}?{q}");
    }
    let mut req = reqwest::Client::new().request(method, url);
    for name in ["authorization", "accept"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    let resp = req.send().await.unwrap();
    let mut out = Response::builder().status(resp.status().as_u16());
    for name in [
        "content-type",
        "docker-content-digest",
        "www-authenticate",
        "content-length",
    ] {
        if let Some(v) = resp.headers().get(name) {
            out = out.header(name, v.as_bytes());
        }
    }
    if let Some(link) = resp.headers().get("link").and_then(|v| v.to_str().ok()) {
        out = out.header(
            "link",
            link.replace("</v2/", "</artifactory/api/docker/docker-local/v2/"),
        );
    }
    out.body(axum::body::Body::from(resp.bytes().await.unwrap()))
        .unwrap()
}

// Artifactory's repository-path method in front of the real registry: catalog pages, manifests
// and blobs all under the path prefix, with the registry's own Basic challenge.
#[tokio::test]
async fn artifactory_repository_path_over_the_real_registry() {
    use cra_tests::registry::{registry_available, Auth, RegistryServer};
    use futures_util::StreamExt;

    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("deployer", GOOD)).await;
    let image = server
        .push_small_image("app/web", "1.0", "amd64", b"artifactory layer")
        .await;
    for name in ["app/api", "app/db", "app/ui"] {
        server
            .push_small_image(name, "1.0", "amd64", name.as_bytes())
            .await;
    }
    let router = Router::new()
        .route(
            "/artifactory/api/docker/docker-local/v2/{*rest}",
            get(artifactory_proxy).head(artifactory_proxy),
        )
        .with_state(server.base_url());
    let stub = StubServer::spawn(router).await;
    let creds = RegistryCredentials::Basic {
        kind: RegistryKind::Artifactory,
        registry_base: format!("{}/artifactory/api/docker/docker-local", stub.base_url()),
        username: "deployer".into(),
        password: Secret::new(GOOD),
    };
    let registry = connect(&creds, &ConnectOptions::default()).await.unwrap();
    let mut page = PageRequest::first(Some(1));
    let mut all = Vec::new();
    for _ in 0..10 {
        let got = registry.list_repositories(&page).await.unwrap();
        all.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(all, ["app/api", "app/db", "app/ui", "app/web"]);
    let manifest = registry.fetch_manifest("app/web", "1.0").await.unwrap();
    assert_eq!(manifest.digest, image.digest);
    let mut blob = registry
        .fetch_blob("app/web", &image.layer_digests[0], None)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = blob.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, b"artifactory layer");
}
