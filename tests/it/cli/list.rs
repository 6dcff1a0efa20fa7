//! `cra list` output: names from the registry are untrusted.

use axum::routing::get;
use axum::{Json, Router};
use cra_tests::registry::StubServer;

use super::{cra, run};

#[tokio::test]
async fn list_escapes_names_from_the_registry() {
    let router = Router::new()
        .route("/v2/", get(|| async { Json(serde_json::json!({})) }))
        .route(
            "/v2/_catalog",
            get(|| async {
                Json(serde_json::json!({"repositories": ["team/app", "x\u{1b}[2J\nforged"]}))
            }),
        );
    let stub = StubServer::spawn(router).await;
    let dir = tempfile::tempdir().unwrap();
    let base = stub.base_url();
    let args = ["list", "--type", "nexus-cr", "--base", base.as_str()];
    // The stub serves on this runtime, so the process is waited for on another thread.
    let command = cra(dir.path(), &args);
    let got = tokio::task::spawn_blocking(move || run(command, None))
        .await
        .unwrap();
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(got.stdout, "team/app\nx\\x1b[2J\\nforged\n");
}
