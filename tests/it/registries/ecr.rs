//! `ecr` against `moto_server` (STS and the ECR API) on loopback, with the registry hop going to
//! the real CNCF registry, whose htpasswd user is the one moto's `GetAuthorizationToken` hands
//! out (`AWS` / `123456789012-auth-token`).
//! The registry host comes from `registryBase`, since moto's `proxyEndpoint` is not reachable.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cra_core::{ErrorKind, PageRequest, RegistryCredentials, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::{free_port, registry_available, Auth, RegistryServer};
use serde_json::json;

/// A running `moto_server`; dropping it kills the process.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto on a free loopback port, or `None` (with a message) when it is not installed.
    async fn start() -> Option<Moto> {
        let port = free_port();
        let child = match Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!(
                        "skipping: moto_server is not installed (pip install 'moto[server]')"
                    );
                }
                return None;
            }
        };
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let http = reqwest::Client::new();
        while Instant::now() < deadline {
            if http
                .get(format!("{}/moto-api/", moto.url))
                .send()
                .await
                .is_ok()
            {
                return Some(moto);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not start within 30s");
    }

    /// Calls an ECR operation with the JSON 1.1 protocol (moto does not check signatures).
    async fn ecr(&self, operation: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = reqwest::Client::new()
            .post(&self.url)
            .header("x-amz-target", format!("AmazonEC2ContainerRegistry_V20150921.{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{operation}: {}", resp.status());
        resp.json().await.unwrap()
    }
}

fn aws_test_environment() {
    // Static dummy credentials for the default chain; never the instance-metadata address, and
    // never a profile of the machine running the tests.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/cra-test-aws-config");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/cra-test-aws-credentials",
    );
}

#[tokio::test]
async fn ecr_assumes_a_role_lists_and_pulls_through_the_registry() {
    if !registry_available() {
        return;
    }
    aws_test_environment();
    let Some(moto) = Moto::start().await else {
        return;
    };
    let registry_server =
        RegistryServer::start(Auth::htpasswd("AWS", "123456789012-auth-token")).await;
    let image = registry_server
        .push_small_image("team/api", "v1", "amd64", b"ecr layer")
        .await;
    for name in ["team/api", "team/web", "tools/ci"] {
        moto.ecr("CreateRepository", json!({"repositoryName": name}))
            .await;
    }
    let manifest = String::from_utf8(image.manifest.clone()).unwrap();
    moto.ecr(
        "PutImage",
        json!({"repositoryName": "team/api", "imageManifest": manifest, "imageTag": "v1"}),
    )
    .await;

    let opts = ConnectOptions {
        aws_endpoint_url: Some(moto.url.clone()),
        ..ConnectOptions::default()
    };
    let creds = RegistryCredentials::Ecr {
        role_arn: "arn:aws:iam::123456789012:role/cra-agent".into(),
        region: "us-east-1".into(),
        external_id: Some(Secret::new("external-42")),
        registry_base: Some(registry_server.base_url()),
    };
    let registry = connect(&creds, &opts).await.unwrap();
    assert_eq!(registry.host(), registry_server.host());
    assert!(!format!("{registry:?}").contains("external-42"));
    registry.validate_credentials().await.unwrap();

    let mut repositories = registry.list_all_repositories().await.unwrap();
    repositories.sort();
    assert_eq!(repositories, ["team/api", "team/web", "tools/ci"]);
    assert_eq!(registry.list_all_tags("team/api").await.unwrap(), ["v1"]);
    let tags = registry
        .list_tags_with_metadata("team/api", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(tags.items.len(), 1);
    assert_eq!(tags.items[0].tag, "v1");
    assert!(
        tags.items[0].digest.is_some(),
        "DescribeImages gives the digest"
    );
    assert!(tags.items[0].last_pushed.is_some(), "and the push time");

    let err = registry.list_all_tags("team/missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains("RepositoryNotFoundException"),
        "{err}"
    );

    // The registry hop: Basic AWS:<token> against the loopback registry.
    let fetched = registry.fetch_manifest("team/api", "v1").await.unwrap();
    assert_eq!(fetched.digest, image.digest);
}

#[tokio::test]
async fn ecr_without_credentials_is_unauthorized_not_a_hang() {
    let port = free_port();
    // Nothing listens on this port: STS fails fast and the error says so.
    let opts = ConnectOptions {
        aws_endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        ..ConnectOptions::default()
    };
    aws_test_environment();
    let creds = RegistryCredentials::Ecr {
        role_arn: "arn:aws:iam::123456789012:role/cra-agent".into(),
        region: "us-east-1".into(),
        external_id: None,
        registry_base: None,
    };
    let registry = connect(&creds, &opts).await.unwrap();
    assert_eq!(
        registry.host(),
        "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    );
    let started = Instant::now();
    let err = registry.list_all_repositories().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        matches!(err.kind(), ErrorKind::Unauthorized | ErrorKind::Unavailable),
        "{err}"
    );
}
