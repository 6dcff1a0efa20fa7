//! `digitalocean-cr` against a loopback server replaying DigitalOcean's registry API.
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

// DigitalOcean: digitalocean/godo registry.go (repositoriesV2, links.pages.next with page_token).
#[tokio::test]
async fn digitalocean_follows_page_tokens() {
    let router = Router::new()
        .route("/api/v2/registry", get(|headers: HeaderMap| async move {
            gate(&headers, GOOD, None, json!({"id": "unauthorized", "message": "Unable to authenticate you"}))
                .unwrap_or_else(|| Json(json!({"registry": {"name": "acme"}})).into_response())
        }))
        .route(
            "/api/v2/registry/{reg}/repositoriesV2",
            get(|State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"id": "unauthorized", "message": "Unable to authenticate you"})) {
                    return r;
                }
                let page: usize = query_param(&q, "page_token").map(|t| t.trim_start_matches("tok").parse().unwrap()).unwrap_or(1);
                let size: usize = query_param(&q, "per_page").and_then(|p| p.parse().ok()).unwrap_or(20);
                let (got, more) = slice(&names("team/"), page, size);
                let repos: Vec<Value> = got.iter().map(|n| json!({"registry_name": "acme", "name": n, "tag_count": 1})).collect();
                let next = more.then(|| format!("{}/api/v2/registry/acme/repositoriesV2?page_token=tok{}&per_page={size}", ctx.base(), page + 1));
                Json(json!({"repositories": repos, "links": {"pages": {"next": next}}, "meta": {"total": 5}})).into_response()
            }),
        )
        .route(
            "/api/v2/registry/{reg}/repositories/{repo}/tags",
            get(|Path((_, repo)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"id": "unauthorized", "message": "Unable to authenticate you"})) {
                    return r;
                }
                assert_eq!(repo, "team/alpha", "the nested name arrives %2F-encoded");
                Json(json!({"tags": [{"registry_name": "acme", "repository": "team/alpha", "tag": "2.0",
                    "manifest_digest": format!("sha256:{}", "f".repeat(64)), "updated_at": "2026-11-01T10:00:00Z"}],
                    "links": {}, "meta": {"total": 1}}))
                .into_response()
            }),
        )
        .route("/v2/{*rest}", get(|| async { not_found() }));
    check(
        Case {
            kind: RegistryKind::DigitalOcean,
            base_path: "/acme",
            api_path: Some("/api"),
            username: GOOD,
            expected: names("team/"),
            missing: "team/nope",
            metadata_for_missing: false,
            metadata: Some(("team/alpha", "2.0", 'f')),
        },
        router,
    )
    .await;
}
