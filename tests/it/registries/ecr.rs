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

/// What the replayed AWS endpoint answers: STS `AssumeRole` (query protocol, XML) and the ECR
/// JSON 1.1 operations, as the STS and ECR API references document them.
/// The external id decides the outcome: `good` gets credentials `ASIAGOOD`, `throttled` gets
/// `ASIATHROTTLED` (whose ECR calls answer `ThrottlingException`), anything else `AccessDenied`.
async fn aws_replay(headers: axum::http::HeaderMap, body: String) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    let xml = |status: StatusCode, body: String| {
        (status, [("content-type", "text/xml")], body).into_response()
    };
    let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) else {
        let form: Vec<(String, String)> = body
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Action"), Some("AssumeRole"));
        let key = match get("ExternalId") {
            Some("good") => "ASIAGOOD",
            Some("throttled") => "ASIATHROTTLED",
            _ => {
                return xml(
                    StatusCode::FORBIDDEN,
                    "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error><RequestId>1</RequestId></ErrorResponse>".into(),
                )
            }
        };
        return xml(
            StatusCode::OK,
            format!(
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
                 <Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>\
                 <SessionToken>t</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>\
                 <AssumedRoleUser><AssumedRoleId>AROA1:cra-agent</AssumedRoleId>\
                 <Arn>arn:aws:sts::123456789012:assumed-role/cra/cra-agent</Arn></AssumedRoleUser>\
                 </AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>"
            ),
        );
    };
    let json = |status: StatusCode, v: serde_json::Value| {
        (
            status,
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response()
    };
    let authz = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if authz.contains("Credential=ASIATHROTTLED/") {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
        );
    }
    assert!(
        authz.contains("Credential=ASIAGOOD/"),
        "ECR is called with the assumed role: {authz}"
    );
    let req: serde_json::Value = serde_json::from_str(&body).unwrap();
    match target.rsplit('.').next().unwrap_or_default() {
        "GetAuthorizationToken" => json(
            StatusCode::OK,
            json!({"authorizationData": [{"authorizationToken": "QVdTOnB3", "expiresAt": 4_000_000_000u64,
                "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}),
        ),
        "DescribeRepositories" => {
            let pages = [
                ("", vec!["a/one", "a/two"], Some("t2")),
                ("t2", vec!["b/one", "b/two"], Some("t3")),
                ("t3", vec!["c/one"], None),
            ];
            let token = req["nextToken"].as_str().unwrap_or_default();
            let (_, names, next) = pages.iter().find(|(t, _, _)| *t == token).unwrap();
            let repositories: Vec<serde_json::Value> = names
                .iter()
                .map(|n| json!({"repositoryName": n, "registryId": "123456789012"}))
                .collect();
            let mut body = json!({"repositories": repositories});
            if let Some(next) = next {
                body["nextToken"] = json!(next);
            }
            json(StatusCode::OK, body)
        }
        _ => json(
            StatusCode::BAD_REQUEST,
            json!({"__type": "RepositoryNotFoundException", "message": "The repository with name 'nope' does not exist in the registry with id '123456789012'"}),
        ),
    }
}

// STS AssumeRole (API reference, query protocol) and ECR DescribeRepositories with nextToken
// (API reference), which moto does not paginate.
#[tokio::test]
async fn ecr_pages_repositories_and_reports_denied_roles_and_throttling() {
    aws_test_environment();
    let stub = cra_tests::registry::StubServer::spawn(
        axum::Router::new().route("/", axum::routing::post(aws_replay)),
    )
    .await;
    let opts = ConnectOptions {
        aws_endpoint_url: Some(stub.base_url()),
        ..ConnectOptions::default()
    };
    let creds = |external_id: &str| RegistryCredentials::Ecr {
        role_arn: "arn:aws:iam::123456789012:role/cra".into(),
        region: "us-east-1".into(),
        external_id: Some(Secret::new(external_id)),
        registry_base: Some("http://127.0.0.1:9".into()),
    };

    let registry = connect(&creds("good"), &opts).await.unwrap();
    registry.validate_credentials().await.unwrap();
    let mut page = PageRequest::first(Some(2));
    let mut pages = Vec::new();
    loop {
        let got = registry.list_repositories(&page).await.unwrap();
        pages.push(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 10);
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(
        pages.concat(),
        ["a/one", "a/two", "b/one", "b/two", "c/one"]
    );
    let err = registry.list_all_tags("nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    let denied = connect(&creds("wrong"), &opts).await.unwrap();
    let err = denied.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(!format!("{err:?}").contains("wrong\""), "{err:?}");

    let throttled = connect(&creds("throttled"), &opts).await.unwrap();
    let err = throttled.list_all_repositories().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
}
