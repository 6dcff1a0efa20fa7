//! `harbor-cr` against a loopback server replaying Harbor's REST API.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cra_core::{PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::{json, Value};

use super::vendors::{check, gate, names, query_param, slice, Case, Ctx, GOOD};

// Harbor: api/v2.0/swagger.yaml (listRepositories: page/page_size, Link; listArtifacts with tags).
#[tokio::test]
async fn harbor_lists_projects_over_the_rest_api() {
    let router = Router::new()
        .route(
            "/api/v2.0/projects/{project}/repositories",
            get(|Path(project): Path<String>, State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]})) {
                    return r;
                }
                if project != "proj" {
                    return (StatusCode::NOT_FOUND, Json(json!({"errors": [{"code": "NOT_FOUND", "message": "project not found"}]}))).into_response();
                }
                let page: usize = query_param(&q, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let size: usize = query_param(&q, "page_size").and_then(|p| p.parse().ok()).unwrap_or(10);
                let (got, more) = slice(&names("proj/"), page, size);
                let body: Vec<Value> = got.iter().map(|n| json!({"id": 1, "name": n, "artifact_count": 1, "project_id": 1})).collect();
                let mut resp = Json(body).into_response();
                resp.headers_mut().insert("x-total-count", "5".parse().unwrap());
                if more {
                    let link = format!("<{}/api/v2.0/projects/proj/repositories?page={}&page_size={size}>; rel=\"next\"", ctx.base(), page + 1);
                    resp.headers_mut().insert("link", link.parse().unwrap());
                }
                resp
            }),
        )
        .route(
            "/api/v2.0/projects/{project}/repositories/{repo}/artifacts",
            get(|Path((_, repo)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({})) {
                    return r;
                }
                // The name arrives decoded once: `team%2Fapi` for `team/api`.
                if repo != "team%2Fapi" {
                    return (StatusCode::NOT_FOUND, Json(json!({"errors": [{"code": "NOT_FOUND", "message": "repository not found"}]}))).into_response();
                }
                Json(json!([
                    {"digest": format!("sha256:{}", "a".repeat(64)), "push_time": "2026-10-01T10:00:00Z",
                     "tags": [{"name": "1.0", "push_time": "2026-10-01T10:00:00Z"}, {"name": "latest", "push_time": "2026-10-02T10:00:00Z"}]},
                    {"digest": format!("sha256:{}", "b".repeat(64)), "tags": null}
                ])).into_response()
            }),
        );
    check(
        Case {
            kind: RegistryKind::Harbor,
            base_path: "/proj",
            api_path: Some("/api/v2.0"),
            username: "robot$proj+ci",
            expected: names("proj/"),
            missing: "proj/nope",
            metadata_for_missing: true,
            metadata: None,
        },
        router.clone(),
    )
    .await;

    let ctx = Ctx::default();
    let stub = StubServer::spawn(router.with_state(ctx.clone())).await;
    ctx.base.set(stub.base_url()).unwrap();
    let creds = RegistryCredentials::Basic {
        kind: RegistryKind::Harbor,
        registry_base: format!("{}/proj", stub.base_url()),
        username: "robot$proj+ci".into(),
        password: Secret::new(GOOD),
    };
    let registry = connect(&creds, &ConnectOptions::default()).await.unwrap();
    let tags = registry
        .list_tags_with_metadata("proj/team/api", &PageRequest::default())
        .await
        .unwrap();
    let names: Vec<&str> = tags.items.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(
        names,
        ["1.0", "latest"],
        "untagged artifacts give no row; each tag one row"
    );
    assert_eq!(tags.items[1].digest.as_ref().unwrap().hex(), "a".repeat(64));
    assert_eq!(
        tags.items[1].last_pushed.as_deref(),
        Some("2026-10-02T10:00:00Z")
    );
}
