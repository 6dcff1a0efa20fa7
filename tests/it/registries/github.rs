//! `github-cr` against a loopback server replaying GitHub's packages API.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cra_core::RegistryKind;
use serde_json::{json, Value};

use super::vendors::{check, gate, names, not_found, query_param, slice, Case, Ctx, GOOD};

// GitHub: docs.github.com/rest/packages/packages (GET /orgs/{org}/packages?package_type=container,
// Link pagination; versions with metadata.container.tags).
#[tokio::test]
async fn github_lists_packages_of_an_organisation() {
    let router = Router::new()
        .route("/api/user", get(|headers: HeaderMap| async move {
            gate(&headers, GOOD, None, json!({"message": "Bad credentials"})).unwrap_or_else(|| Json(json!({"login": "bot"})).into_response())
        }))
        .route(
            "/api/orgs/{org}/packages",
            get(|Path(org): Path<String>, State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})) {
                    return r;
                }
                assert_eq!(org, "acme");
                assert_eq!(query_param(&q, "package_type").as_deref(), Some("container"));
                let page: usize = query_param(&q, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let size: usize = query_param(&q, "per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
                let (got, more) = slice(&names(""), page, size);
                let body: Vec<Value> = got.iter().map(|n| json!({"id": 1, "name": n, "package_type": "container", "visibility": "private"})).collect();
                let mut resp = Json(body).into_response();
                if more {
                    let link = format!("<{}/api/orgs/acme/packages?package_type=container&per_page={size}&page={}>; rel=\"next\"", ctx.base(), page + 1);
                    resp.headers_mut().insert("link", link.parse().unwrap());
                }
                resp
            }),
        )
        .route(
            "/api/orgs/{org}/packages/container/{name}/versions",
            get(|Path((_, name)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"message": "Bad credentials"})) {
                    return r;
                }
                assert_eq!(name, "alpha");
                Json(json!([
                    {"id": 2, "name": format!("sha256:{}", "e".repeat(64)), "created_at": "2026-10-01T00:00:00Z",
                     "updated_at": "2026-10-02T00:00:00Z", "metadata": {"package_type": "container", "container": {"tags": ["1.0"]}}},
                    {"id": 1, "name": format!("sha256:{}", "0".repeat(64)), "metadata": {"package_type": "container", "container": {"tags": []}}}
                ]))
                .into_response()
            }),
        )
        .route("/v2/{*rest}", get(|| async { not_found() }));
    check(
        Case {
            kind: RegistryKind::GitHub,
            base_path: "/acme",
            api_path: Some("/api"),
            username: "bot",
            expected: names("acme/"),
            missing: "acme/nope",
            metadata_for_missing: false,
            metadata: Some(("acme/alpha", "1.0", 'e')),
        },
        router,
    )
    .await;
}
