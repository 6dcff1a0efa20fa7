//! `nexus-cr` against a loopback server replaying Nexus's connector and search API.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cra_core::{PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::{json, Value};

use super::vendors::{
    basic_user, check, distribution_stub, gate, metadata_pages, names, query_param, slice, Case,
    Ctx, GOOD,
};

/// The tags of `team/alpha`, seven so that the search API's pages of three make three.
fn nexus_tags() -> Vec<String> {
    (1..=7).map(|i| format!("v{i}")).collect()
}

/// Nexus's search API (help.sonatype.com, "Search API": `GET /service/rest/v1/search` with
/// `repository`, `format`, `name`, `continuationToken`; components with `version` and assets
/// with `checksum.sha256` and `lastModified`), three components a page.
/// The user `reader` lacks the search privilege and gets 403.
fn nexus_search() -> Router<Ctx> {
    Router::new().route(
        "/service/rest/v1/search",
        get(|headers: HeaderMap, RawQuery(q): RawQuery| async move {
            if let Some(r) = gate(&headers, GOOD, None, json!({"message": "Unauthorized"})) {
                return r;
            }
            if basic_user(&headers).as_deref() == Some("reader") {
                return (StatusCode::FORBIDDEN, Json(json!({"message": "Forbidden"})))
                    .into_response();
            }
            assert_eq!(query_param(&q, "format").as_deref(), Some("docker"));
            assert_eq!(query_param(&q, "repository").as_deref(), Some("docker-hosted"));
            let name = query_param(&q, "name").unwrap();
            let all = if name == "team/alpha" { nexus_tags() } else { Vec::new() };
            let page: usize = query_param(&q, "continuationToken")
                .and_then(|t| t.strip_prefix("tok").and_then(|p| p.parse().ok()))
                .unwrap_or(1);
            let (got, more) = slice(&all, page, 3);
            let items: Vec<Value> = got
                .iter()
                .map(|t| {
                    let n = &t[1..];
                    json!({"id": format!("ZG9ja2VyLWhvc3RlZ{n}"), "repository": "docker-hosted",
                        "format": "docker", "group": null, "name": name, "version": t,
                        "assets": [{"downloadUrl": format!("http://nexus.example/repository/docker-hosted/v2/{name}/manifests/{t}"),
                            "path": format!("v2/{name}/manifests/{t}"), "id": "YXNzZXQ", "repository": "docker-hosted",
                            "format": "docker", "contentType": "application/vnd.docker.distribution.manifest.v2+json",
                            "checksum": {"sha1": "a".repeat(40), "sha256": n.repeat(64)},
                            "lastModified": format!("2025-10-0{n}T08:55:00.000+00:00")}]})
                })
                .collect();
            let token = more.then(|| format!("tok{}", page + 1));
            Json(json!({"items": items, "continuationToken": token})).into_response()
        }),
    )
}

// Nexus: sonatype/nexus-public issue 921 (`BASIC realm="Sonatype Nexus Repository Manager"`
// with forceBasicAuth), the connector's `_catalog` and the search API for tag metadata.
#[tokio::test]
async fn nexus_answers_an_upper_case_basic_challenge() {
    check(
        Case {
            kind: RegistryKind::Nexus,
            base_path: "/repository/docker-hosted",
            api_path: Some("/service/rest/v1"),
            username: "admin",
            expected: names("team/"),
            missing: "team/nope",
            metadata_for_missing: false,
            metadata: Some(("team/alpha", "v1", '1')),
        },
        distribution_stub("/repository/docker-hosted", None, names("team/"), "last")
            .merge(nexus_search()),
    )
    .await;
}

// Nexus search API (continuationToken pages, `checksum.sha256`, `lastModified`); a user without
// the search privilege gets bare tags from the registry.
#[tokio::test]
async fn nexus_tag_metadata_pages_and_fallback() {
    let router = nexus_search()
        .route(
            "/repository/docker-hosted/v2/",
            get(|headers: HeaderMap| async move {
                gate(
                    &headers,
                    GOOD,
                    Some(r#"BASIC realm="Sonatype Nexus Repository Manager""#),
                    json!({}),
                )
                .unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(
            "/repository/docker-hosted/v2/team/alpha/tags/list",
            get(|headers: HeaderMap| async move {
                gate(
                    &headers,
                    GOOD,
                    Some(r#"BASIC realm="Sonatype Nexus Repository Manager""#),
                    json!({}),
                )
                .unwrap_or_else(|| {
                    Json(json!({"name": "team/alpha", "tags": ["v1", "v2"]})).into_response()
                })
            }),
        );
    let stub = StubServer::spawn(router.with_state(Ctx::default())).await;
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/service/rest/v1", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |username: &str| RegistryCredentials::Basic {
        kind: RegistryKind::Nexus,
        registry_base: format!("{}/repository/docker-hosted", stub.base_url()),
        username: username.to_owned(),
        password: Secret::new(GOOD),
    };

    let registry = connect(&creds("admin"), &opts).await.unwrap();
    let pages = metadata_pages(registry.as_ref(), "team/alpha", None).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let tags = pages.concat();
    assert_eq!(
        tags.iter().map(|t| t.tag.clone()).collect::<Vec<_>>(),
        nexus_tags()
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
            Some(format!("2025-10-0{n}T08:55:00.000+00:00").as_str())
        );
    }

    let reader = connect(&creds("reader"), &opts).await.unwrap();
    let bare = reader
        .list_tags_with_metadata("team/alpha", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        bare.items
            .iter()
            .map(|t| t.tag.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    assert!(bare
        .items
        .iter()
        .all(|t| t.digest.is_none() && t.last_pushed.is_none()));
}
