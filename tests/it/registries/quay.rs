//! `quay-cr` against a loopback server replaying Quay's distribution API.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use cra_core::RegistryKind;
use serde_json::json;

use super::vendors::{check, distribution_stub, gate, names, query_param, Case, GOOD};

// Quay: endpoints/v2/v2auth.py (token at /v2/auth) and endpoints/v2/__init__.py (opaque
// `next_page` in the catalog's Link header).
#[tokio::test]
async fn quay_follows_opaque_next_page_links() {
    check(
        Case {
            kind: RegistryKind::Quay,
            base_path: "/acme",
            api_path: None,
            username: "acme+robot",
            expected: names("acme/"),
            missing: "acme/nope",
            metadata_for_missing: false,
            metadata: Some(("acme/alpha", "v2", '1')),
        },
        distribution_stub("", Some("/v2/auth"), names("acme/"), "next_page").route(
            "/api/v1/repository/{ns}/{repo}/tag/",
            get(|Path((ns, repo)): Path<(String, String)>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                // endpoints/api/tag.py: `onlyActiveTags`, `limit`, `page`, `has_additional`.
                if let Some(r) = gate(&headers, GOOD, None, json!({"error": "invalid_token"})) {
                    return r;
                }
                assert_eq!((ns.as_str(), repo.as_str()), ("acme", "alpha"));
                assert_eq!(query_param(&q, "onlyActiveTags").as_deref(), Some("true"));
                Json(json!({"tags": [{"name": "v2", "reversion": false, "start_ts": 1_760_000_100,
                    "manifest_digest": format!("sha256:{}", "1".repeat(64)), "is_manifest_list": false,
                    "last_modified": "Thu, 09 Oct 2025 08:55:00 -0000"}], "page": 1, "has_additional": false}))
                .into_response()
            }),
        ),
    )
    .await;
}
