//! `cra list` in-process against the loopback registry.

use clap::Parser;
use cra_cli::Cli;
use cra_tests::registry::{registry_available, Auth, RegistryServer};

/// `cra_cli::run` returns `anyhow::Result`; the tests only need the message chain.
async fn list(args: &[&str]) -> Result<(), String> {
    let mut argv = vec!["cra", "list"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    cra_cli::run(cli).await.map_err(|e| format!("{e:#}"))
}

#[tokio::test]
async fn cra_list_repositories_and_tags() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    server
        .push_small_image("team/app", "v1", "amd64", b"cli layer")
        .await;
    let base = server.base_url();
    list(&[
        "--type",
        "nexus-cr",
        "--base",
        &base,
        "--username",
        "alice",
        "--password",
        "s3cret",
    ])
    .await
    .unwrap();
    list(&[
        "--type",
        "nexus-cr",
        "--base",
        &base,
        "--username",
        "alice",
        "--password",
        "s3cret",
        "--format",
        "json",
        "--with-metadata",
        "team/app",
    ])
    .await
    .unwrap();

    let err = list(&[
        "--type",
        "nexus-cr",
        "--base",
        &base,
        "--username",
        "alice",
        "--password",
        "nope",
    ])
    .await
    .unwrap_err();
    assert!(
        err.contains("cannot list repositories") && err.contains("unauthorized"),
        "{err}"
    );
    assert!(!err.contains("nope"), "{err}");

    let err = list(&["--type", "nexus-cr", "--base", &base, "team/missing"])
        .await
        .unwrap_err();
    assert!(err.contains("unauthorized"), "{err}");

    let err = list(&["--type", "no-such-type", "--base", &base])
        .await
        .unwrap_err();
    assert!(err.contains("unknown registry type"), "{err}");
    let err = list(&["--type", "ecr", "--base", &base]).await.unwrap_err();
    assert!(err.contains("--role-arn"), "{err}");
}
