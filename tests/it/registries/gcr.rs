//! `gcr` against a loopback server replaying GCR's catalog and `tags/list` extension.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use cra_core::{PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::json;

use super::vendors::{check, distribution_stub, gate, names, token, Case, Ctx, GOOD};

// GCR: go-containerregistry pkg/v1/google/list.go (catalog across projects; tags/list with the
// `manifest` extension, times in epoch milliseconds as strings).
#[tokio::test]
async fn gcr_filters_the_catalog_by_project_and_reads_the_tag_extension() {
    let mut mixed = names("proj/");
    mixed.insert(2, "other-project/app".to_owned());
    mixed.sort();
    let router = distribution_stub("", Some("/v2/token"), mixed, "last");
    check(
        Case {
            kind: RegistryKind::Gcr,
            base_path: "/proj",
            api_path: None,
            username: "_json_key",
            expected: names("proj/"),
            missing: "proj/nope",
            metadata_for_missing: true,
            metadata: None,
        },
        router,
    )
    .await;

    let router = Router::new()
        .route("/v2/token", get(|headers: HeaderMap| async move { token(headers, "token").await }))
        .route(
            "/v2/proj/app/tags/list",
            get(|State(ctx): State<Ctx>, headers: HeaderMap| async move {
                let challenge = format!(r#"Bearer realm="{}/v2/token",service="gcr.io""#, ctx.base());
                if let Some(r) = gate(&headers, "registry-token", Some(&challenge), json!({})) {
                    return r;
                }
                Json(json!({"name": "proj/app", "child": ["sub"], "tags": ["v1", "latest", "bare"],
                    "manifest": {format!("sha256:{}", "9".repeat(64)): {"imageSizeBytes": "28433711",
                        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "tag": ["v1", "latest"], "timeCreatedMs": "1760000000000", "timeUploadedMs": "1760000100000"}}}))
                .into_response()
            }),
        );
    let ctx = Ctx::default();
    let stub = StubServer::spawn(router.with_state(ctx.clone())).await;
    ctx.base.set(stub.base_url()).unwrap();
    let creds = RegistryCredentials::Basic {
        kind: RegistryKind::Gcr,
        registry_base: format!("{}/proj", stub.base_url()),
        username: "_json_key".into(),
        password: Secret::new(GOOD),
    };
    let registry = connect(&creds, &ConnectOptions::default()).await.unwrap();
    let tags = registry
        .list_tags_with_metadata("proj/app", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(tags.items.len(), 3);
    assert_eq!(tags.items[0].tag, "v1");
    assert_eq!(tags.items[0].digest.as_ref().unwrap().hex(), "9".repeat(64));
    assert_eq!(
        tags.items[0].last_pushed.as_deref(),
        Some("2025-10-09T08:55:00Z")
    );
    assert!(tags.items[2].digest.is_none());
}
