//! `gitlab-cr` against a loopback server replaying GitLab's container registry API.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cra_core::{PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::{json, Value};

use super::vendors::{
    check, gate, metadata_pages, names, not_found, query_param, slice, Case, Ctx, GOOD,
};

/// GitLab's `X-Next-Page` header: the next page number, or empty on the last page.
fn with_next_page(body: Value, page: usize, more: bool) -> Response {
    let mut resp = Json(body).into_response();
    let next = if more {
        (page + 1).to_string()
    } else {
        String::new()
    };
    resp.headers_mut()
        .insert("x-next-page", next.parse().unwrap());
    resp
}

/// The tags of `group/sub/alpha` (repository id 3 in project 9), seven so pages of three make three.
fn gitlab_tags() -> Vec<String> {
    (1..=7).map(|i| format!("v{i}")).collect()
}

/// GitLab's REST API (docs.gitlab.com/api/container_registry): group registry repositories,
/// the repository's tag list and each tag's detail, all paginated with `per_page`/`page` and
/// `X-Next-Page`; `PRIVATE-TOKEN` must be `good-secret`.
fn gitlab_api() -> Router<Ctx> {
    Router::new()
        .route(
            "/api/v4/personal_access_tokens/self",
            get(|headers: HeaderMap| async move {
                gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    .unwrap_or_else(|| Json(json!({"active": true})).into_response())
            }),
        )
        .route(
            "/api/v4/groups/{group}/registry/repositories",
            get(
                |Path(group): Path<String>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                    if let Some(r) =
                        gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    {
                        return r;
                    }
                    assert_eq!(group, "group/sub", "the full path arrives %2F-encoded");
                    let page: usize = query_param(&q, "page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(1);
                    let size: usize = query_param(&q, "per_page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(20);
                    let all = names("group/sub/");
                    let (got, more) = slice(&all, page, size);
                    let body: Vec<Value> = got
                        .iter()
                        .map(|p| {
                            let id = all.iter().position(|a| a == p).unwrap() + 3;
                            json!({"id": id, "name": p.rsplit('/').next(), "path": p,
                                "project_id": 9, "location": format!("registry.example/{p}")})
                        })
                        .collect();
                    with_next_page(Value::Array(body), page, more)
                },
            ),
        )
        .route(
            "/api/v4/projects/{project}/registry/repositories/{id}/tags",
            get(
                |Path((project, id)): Path<(String, String)>,
                 headers: HeaderMap,
                 RawQuery(q): RawQuery| async move {
                    if let Some(r) =
                        gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    {
                        return r;
                    }
                    assert_eq!((project.as_str(), id.as_str()), ("9", "3"));
                    let page: usize = query_param(&q, "page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(1);
                    let size: usize = query_param(&q, "per_page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(20);
                    let (got, more) = slice(&gitlab_tags(), page, size);
                    let body: Vec<Value> = got
                        .iter()
                        .map(|t| json!({"name": t, "path": format!("group/sub/alpha:{t}"),
                            "location": format!("registry.example/group/sub/alpha:{t}")}))
                        .collect();
                    with_next_page(Value::Array(body), page, more)
                },
            ),
        )
        .route(
            "/api/v4/projects/{project}/registry/repositories/{id}/tags/{tag}",
            get(
                |Path((project, id, tag)): Path<(String, String, String)>,
                 headers: HeaderMap| async move {
                    if let Some(r) =
                        gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    {
                        return r;
                    }
                    assert_eq!((project.as_str(), id.as_str()), ("9", "3"));
                    let Some(n) = tag.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) else {
                        return (StatusCode::NOT_FOUND, Json(json!({"message": "404 Tag Not Found"})))
                            .into_response();
                    };
                    Json(json!({"name": tag, "path": format!("group/sub/alpha:{tag}"),
                        "location": format!("registry.example/group/sub/alpha:{tag}"),
                        "revision": "f".repeat(64), "short_revision": "fffffffff",
                        "digest": format!("sha256:{}", n.to_string().repeat(64)),
                        "created_at": format!("2025-10-0{n}T08:55:00.000+00:00"), "total_size": 2_319_870}))
                    .into_response()
                },
            ),
        )
}

// GitLab: docs.gitlab.com/api/container_registry (group registry repositories, X-Next-Page;
// repository tags and tag details for metadata).
#[tokio::test]
async fn gitlab_lists_group_repositories() {
    check(
        Case {
            kind: RegistryKind::GitLab,
            base_path: "/group/sub",
            api_path: Some("/api/v4"),
            username: "bot",
            expected: names("group/sub/"),
            missing: "group/sub/nope",
            metadata_for_missing: false,
            metadata: Some(("group/sub/alpha", "v1", '1')),
        },
        gitlab_api().route("/v2/{*rest}", get(|| async { not_found() })),
    )
    .await;
}

// GitLab: docs.gitlab.com/api/container_registry (tag list paginated with X-Next-Page, tag
// detail with `digest` and `created_at`); deploy tokens cannot call the REST API.
#[tokio::test]
async fn gitlab_tag_metadata_pages_and_deploy_token_fallback() {
    let router = gitlab_api()
        .route("/v2/", get(|| async { Json(json!({})).into_response() }))
        .route(
            "/v2/group/sub/alpha/tags/list",
            get(|| async {
                Json(json!({"name": "group/sub/alpha", "tags": ["v1", "v2"]})).into_response()
            }),
        );
    let stub = StubServer::spawn(router.with_state(Ctx::default())).await;
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/api/v4", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |password: &str| RegistryCredentials::Basic {
        kind: RegistryKind::GitLab,
        registry_base: format!("{}/group/sub", stub.base_url()),
        username: "bot".to_owned(),
        password: Secret::new(password),
    };

    let registry = connect(&creds(GOOD), &opts).await.unwrap();
    let pages = metadata_pages(registry.as_ref(), "group/sub/alpha", Some(3)).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let tags = pages.concat();
    assert_eq!(
        tags.iter().map(|t| t.tag.clone()).collect::<Vec<_>>(),
        gitlab_tags()
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

    // A deploy token is refused by the REST API; the tags come bare from the registry.
    let deploy = connect(&creds("deploy-token"), &opts).await.unwrap();
    let bare = deploy
        .list_tags_with_metadata("group/sub/alpha", &PageRequest::default())
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
    assert_eq!(bare.next, None);
}
