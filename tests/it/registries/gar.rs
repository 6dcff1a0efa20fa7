//! `google-artifact-cr` listing through the Artifact Registry REST API, against a loopback server
//! that replays Google's documented shapes:
//! - the token endpoint follows "Using OAuth 2.0 for Server to Server Applications"
//!   (developers.google.com/identity/protocols/oauth2/service-account): a form POST of
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an RS256 `assertion`, answered
//!   `{"access_token","expires_in","token_type"}`, or 400 `{"error":"invalid_grant",…}`;
//!   the stub really verifies the signature with the public half of a key generated here;
//! - the service-account key file follows "Create and delete service account keys"
//!   (cloud.google.com/iam/docs/keys-create-delete, JSON key format);
//! - `repositories` and `dockerImages` follow the Artifact Registry REST reference v1
//!   (cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories
//!   and …/repositories.dockerImages/list: `pageSize`, `pageToken`, `nextPageToken`);
//! - errors follow Google's API error model (cloud.google.com/apis/design/errors:
//!   `{"error":{"code","message","status"}}`);
//! - the registry side (`/v2/token`, `/v2/_catalog`) follows the distribution token spec.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::vendors::{check, distribution_stub, names, Case};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use cra_core::{ErrorKind, PageRequest, Registry, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::logs::CapturedLogs;
use cra_tests::registry::StubServer;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

const EMAIL: &str = "scanner@proj.iam.gserviceaccount.com";
const KEY_ID: &str = "0123456789abcdef0123456789abcdef01234567";
const ACCESS_TOKEN: &str = "ya29.test-access-token";
const REGISTRY_TOKEN: &str = "registry-token";
const LOCATION: &str = "europe-west1";

/// An RSA key generated for the test, as PKCS#8 PEM, and its public half for the stub.
struct TestKey {
    private_pem: String,
    public: DecodingKey,
}

fn generate_key() -> TestKey {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let der: Pkcs8V1Der = pair.as_der().unwrap();
    let private_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
    let public = DecodingKey::from_rsa_der(pair.public_key().as_ref());
    TestKey {
        private_pem,
        public,
    }
}

/// A service-account JSON key file whose `token_uri` is the stub's.
fn key_file(private_pem: &str, token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": KEY_ID,
        "private_key": private_pem,
        "client_email": EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/scanner%40proj.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

#[derive(Clone)]
struct Stub {
    base: Arc<OnceLock<String>>,
    public: Arc<DecodingKey>,
    /// The key JSON the registry's token realm accepts as the `_json_key` password.
    good_key: Arc<OnceLock<String>>,
    token_requests: Arc<AtomicUsize>,
    catalog_requests: Arc<AtomicUsize>,
    page_sizes: Arc<Mutex<Vec<String>>>,
}

impl Stub {
    fn token_uri(&self) -> String {
        format!("{}/oauth2/token", self.base.get().unwrap())
    }
}

fn google_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": status.as_u16(), "message": message, "status": code}})),
    )
        .into_response()
}

/// The query parameters; the stub's page tokens and sizes need no percent-decoding.
fn query(q: &Option<String>) -> HashMap<String, String> {
    q.as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The token endpoint: verifies the assertion's signature and claims.
async fn token_endpoint(
    State(stub): State<Stub>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    stub.token_requests.fetch_add(1, Ordering::SeqCst);
    let refuse = |description: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": description})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse("Invalid grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return refuse("Missing assertion");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[stub.token_uri()]);
    validation.set_issuer(&[EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let decoded = match jsonwebtoken::decode::<Value>(assertion, &stub.public, &validation) {
        Ok(d) => d,
        Err(_) => return refuse("Invalid JWT Signature."),
    };
    assert_eq!(decoded.header.kid.as_deref(), Some(KEY_ID));
    let claims = decoded.claims;
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    let iat = claims["iat"].as_u64().unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert_eq!(exp - iat, 3600, "an assertion lives one hour");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(iat.abs_diff(now) < 60, "iat is now");
    Json(json!({"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}))
        .into_response()
}

/// Digests of the images in `repo`, in the API's order (one entry per digest).
fn images_of(repo: &str) -> Vec<(&'static str, char)> {
    match repo {
        // alpha and delta have two digests each; pages of two split delta across a boundary.
        "repo" => vec![
            ("alpha", 'a'),
            ("alpha", 'b'),
            ("beta", 'c'),
            ("team/delta", 'd'),
            ("team/delta", 'e'),
            ("gamma", 'f'),
            ("omega", '0'),
        ],
        "other" => vec![("tool", '1'), ("tool", '2'), ("util", '3')],
        _ => Vec::new(),
    }
}

/// The names `images_of(repo)` should list to.
fn listed(repo: &str) -> Vec<String> {
    let mut names: Vec<String> = images_of(repo)
        .into_iter()
        .map(|(n, _)| format!("proj/{repo}/{n}"))
        .collect();
    names.dedup();
    names
}

async fn docker_images(
    State(stub): State<Stub>,
    Path((project, location, repo)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if bearer(&headers) != Some(ACCESS_TOKEN) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    assert_eq!((project.as_str(), location.as_str()), ("proj", LOCATION));
    match repo.as_str() {
        "locked" => {
            return google_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "Artifact Registry API has not been used in project 42 before or it is disabled.",
            )
        }
        "busy" => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                Json(json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})),
            )
                .into_response()
        }
        "repo" | "other" => {}
        _ => {
            return google_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "Requested entity was not found.",
            )
        }
    }
    let q = query(&q);
    let size: usize = q["pageSize"].parse().unwrap();
    stub.page_sizes.lock().unwrap().push(q["pageSize"].clone());
    let start: usize = q
        .get("pageToken")
        .map(|t| t.strip_prefix("CgR0b2").unwrap().parse().unwrap())
        .unwrap_or(0);
    let all = images_of(&repo);
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(size)
        .map(|(image, hex)| {
            let digest = format!("sha256:{}", hex.to_string().repeat(64));
            json!({
                "name": format!("projects/proj/locations/{LOCATION}/repositories/{repo}/dockerImages/{}@{digest}", image.replace('/', "%2F")),
                "uri": format!("{LOCATION}-docker.pkg.dev/proj/{repo}/{image}@{digest}"),
                "tags": ["latest"],
                "imageSizeBytes": "2811478",
                "uploadTime": "2026-10-01T12:00:00.123456Z",
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "buildTime": "2026-10-01T11:59:00Z",
                "updateTime": "2026-10-01T12:00:00.123456Z"
            })
        })
        .collect();
    let mut body = json!({ "dockerImages": page });
    if start + size < all.len() {
        // Opaque to the client; the stub encodes the offset after a fixed prefix.
        body["nextPageToken"] = json!(format!("CgR0b2{}", start + size));
    }
    Json(body).into_response()
}

async fn repository(
    Path((_, _, repo)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if bearer(&headers) != Some(ACCESS_TOKEN) {
        return google_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "no");
    }
    match repo.as_str() {
        "repo" | "other" | "busy" => Json(json!({
            "name": format!("projects/proj/locations/{LOCATION}/repositories/{repo}"),
            "format": "DOCKER", "mode": "STANDARD_REPOSITORY",
            "createTime": "2026-01-01T00:00:00Z", "updateTime": "2026-10-01T12:00:00Z"
        }))
        .into_response(),
        "locked" => google_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", "denied"),
        _ => google_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
        ),
    }
}

/// The project's repositories, one per page whatever `pageSize` says, so three pages.
async fn repositories(headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if bearer(&headers) != Some(ACCESS_TOKEN) {
        return google_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "no");
    }
    let all = [("jars", "MAVEN"), ("other", "DOCKER"), ("repo", "DOCKER")];
    let index: usize = query(&q)
        .get("pageToken")
        .map(|t| t.parse().unwrap())
        .unwrap_or(0);
    let (id, format) = all[index];
    let mut body = json!({"repositories": [{
        "name": format!("projects/proj/locations/{LOCATION}/repositories/{id}"),
        "format": format, "mode": "STANDARD_REPOSITORY"
    }]});
    if index + 1 < all.len() {
        body["nextPageToken"] = json!((index + 1).to_string());
    }
    Json(body).into_response()
}

/// The registry's token realm: Basic `_json_key` with the good key JSON.
async fn registry_token(State(stub): State<Stub>, headers: HeaderMap) -> Response {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let good = format!("_json_key:{}", stub.good_key.get().unwrap());
    if presented.as_deref() != Some(good.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"errors": [{"code": "UNAUTHORIZED", "message": "not authorized"}]})),
        )
            .into_response();
    }
    Json(json!({"token": REGISTRY_TOKEN, "expires_in": 3600})).into_response()
}

fn registry_gate(stub: &Stub, headers: &HeaderMap) -> Option<Response> {
    if bearer(headers) == Some(REGISTRY_TOKEN) {
        return None;
    }
    let challenge = format!(
        r#"Bearer realm="{}/v2/token",service="{LOCATION}-docker.pkg.dev""#,
        stub.base.get().unwrap()
    );
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", challenge)],
            "",
        )
            .into_response(),
    )
}

fn router(stub: Stub) -> Router {
    let parent = "/ar/v1/projects/{project}/locations/{location}";
    Router::new()
        .route("/oauth2/token", post(token_endpoint))
        .route(&format!("{parent}/repositories"), get(repositories))
        .route(&format!("{parent}/repositories/{{repo}}"), get(repository))
        .route(
            &format!("{parent}/repositories/{{repo}}/dockerImages"),
            get(docker_images),
        )
        .route("/v2/token", get(registry_token))
        .route(
            "/v2/",
            get(|State(stub): State<Stub>, headers: HeaderMap| async move {
                registry_gate(&stub, &headers).unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(
            "/v2/_catalog",
            get(|State(stub): State<Stub>, headers: HeaderMap| async move {
                if let Some(r) = registry_gate(&stub, &headers) {
                    return r;
                }
                stub.catalog_requests.fetch_add(1, Ordering::SeqCst);
                Json(json!({"repositories": ["proj/locked/app", "proj/locked/web", "proj/repo/alpha"]}))
                    .into_response()
            }),
        )
        .with_state(stub)
}

/// A running stub, the good key JSON, and the options aiming the adapter at it.
struct Setup {
    stub: Stub,
    server: StubServer,
    key_json: String,
    opts: ConnectOptions,
}

async fn setup() -> Setup {
    let key = generate_key();
    let stub = Stub {
        base: Arc::default(),
        public: Arc::new(key.public),
        good_key: Arc::default(),
        token_requests: Arc::default(),
        catalog_requests: Arc::default(),
        page_sizes: Arc::default(),
    };
    let server = StubServer::spawn(router(stub.clone())).await;
    stub.base.set(server.base_url()).unwrap();
    let key_json = key_file(&key.private_pem, &stub.token_uri());
    stub.good_key.set(key_json.clone()).unwrap();
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/ar", server.base_url())),
        artifact_registry_location: Some(LOCATION.to_owned()),
        ..ConnectOptions::default()
    };
    Setup {
        stub,
        server,
        key_json,
        opts,
    }
}

impl Setup {
    async fn registry(&self, path: &str, username: &str, password: &str) -> Arc<dyn Registry> {
        let creds = RegistryCredentials::Basic {
            kind: RegistryKind::GoogleArtifact,
            registry_base: format!("{}{path}", self.server.base_url()),
            username: username.to_owned(),
            password: Secret::new(password),
        };
        connect(&creds, &self.opts).await.unwrap()
    }
}

async fn pages(registry: &dyn Registry, size: u32) -> Vec<Vec<String>> {
    let mut page = PageRequest::first(Some(size));
    let mut out = Vec::new();
    loop {
        let got = registry.list_repositories(&page).await.unwrap();
        out.push(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => return out,
        }
        assert!(out.len() < 20, "pagination must end");
    }
}

#[tokio::test]
async fn artifact_registry_lists_images_through_the_rest_api() {
    let s = setup().await;
    let registry = s.registry("/proj/repo", "_json_key", &s.key_json).await;
    registry.validate_credentials().await.unwrap();

    let got = pages(registry.as_ref(), 2).await;
    assert_eq!(
        got,
        vec![
            vec!["proj/repo/alpha".to_owned()],
            vec![
                "proj/repo/beta".to_owned(),
                "proj/repo/team/delta".to_owned()
            ],
            vec!["proj/repo/gamma".to_owned()],
            vec!["proj/repo/omega".to_owned()],
        ],
        "one name per image, also when its digests straddle pages"
    );
    assert!(s
        .stub
        .page_sizes
        .lock()
        .unwrap()
        .iter()
        .all(|size| size == "2"));
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        listed("repo")
    );
    assert_eq!(
        s.stub.token_requests.load(Ordering::SeqCst),
        1,
        "the access token is cached"
    );
    assert_eq!(s.stub.catalog_requests.load(Ordering::SeqCst), 0);
    let shown = format!("{registry:?}");
    let pem_body = s.key_json.split("\\n").nth(1).unwrap();
    assert!(pem_body.len() > 40, "{pem_body}");
    for secret in [pem_body, ACCESS_TOKEN, "PRIVATE KEY"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }

    // The same key as base64 (`_json_key_base64`) works too.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&s.key_json);
    let registry = s.registry("/proj/repo", "_json_key_base64", &b64).await;
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        listed("repo")
    );

    let err = registry
        .list_repositories(&PageRequest {
            size: None,
            cursor: Some("artifact-registry?repository=elsewhere".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn artifact_registry_walks_every_docker_repository_of_a_project() {
    let s = setup().await;
    let registry = s.registry("/proj", "_json_key", &s.key_json).await;
    registry.validate_credentials().await.unwrap();
    let got = pages(registry.as_ref(), 2).await;
    assert!(got.len() >= 3, "{got:?}");
    let mut want = listed("other");
    want.extend(listed("repo"));
    assert_eq!(got.concat(), want, "maven repositories are skipped");
}

#[tokio::test]
async fn artifact_registry_wrong_or_malformed_keys_are_credential_errors() {
    let s = setup().await;
    // A well-formed key for the same account, signed with another RSA key.
    let other = generate_key();
    let wrong = key_file(&other.private_pem, &s.stub.token_uri());
    let registry = s.registry("/proj/repo", "_json_key", &wrong).await;
    let err = registry
        .list_repositories(&PageRequest::first(Some(2)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
    let err = registry.validate_credentials().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    let requests = s.stub.token_requests.load(Ordering::SeqCst);
    assert!(requests >= 2, "each attempt asks the token endpoint");

    // Not a key at all: a typed error that does not quote the password, and no request.
    for (password, want) in [
        ("hunter2-not-json", "not valid JSON"),
        (r#"{"private_key": "hunter2-not-json"}"#, "client_email"),
    ] {
        let registry = s.registry("/proj/repo", "_json_key", password).await;
        let err = registry
            .list_repositories(&PageRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
        assert!(err.to_string().contains(want), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{registry:?}").contains("hunter2"));
    }
    assert_eq!(s.stub.token_requests.load(Ordering::SeqCst), requests);
}

#[tokio::test]
async fn artifact_registry_missing_repository_and_rate_limit() {
    let s = setup().await;
    let missing = s.registry("/proj/nope", "_json_key", &s.key_json).await;
    let err = missing
        .list_repositories(&PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains("Requested entity was not found"),
        "{err}"
    );
    let err = missing.validate_credentials().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    let busy = s.registry("/proj/busy", "_json_key", &s.key_json).await;
    let err = busy
        .list_repositories(&PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn artifact_registry_falls_back_to_the_catalog_when_the_api_refuses() {
    let logs = CapturedLogs::start(tracing::Level::DEBUG);

    let s = setup().await;
    let registry = s.registry("/proj/locked", "_json_key", &s.key_json).await;
    registry.validate_credentials().await.unwrap();
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        vec!["proj/locked/app", "proj/locked/web"]
    );
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        vec!["proj/locked/app", "proj/locked/web"]
    );
    assert_eq!(s.stub.catalog_requests.load(Ordering::SeqCst), 2);

    let text = logs.text();
    assert_eq!(
        text.matches("falling back to /v2/_catalog").count(),
        1,
        "warned once:\n{text}"
    );
    assert!(text.contains("PERMISSION_DENIED"), "{text}");
    for secret in [ACCESS_TOKEN, "BEGIN PRIVATE KEY", REGISTRY_TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}

// Artifact Registry: gcloud artifacts docker images list (names `<project>/<repository>/<image>`).
// A base outside `<location>-docker.pkg.dev` and a password that is no key list through `_catalog`;
// the REST listing has its own tests in `gar.rs`.
#[tokio::test]
async fn google_artifact_registry_keeps_the_repository_prefix() {
    let mut mixed = names("proj/repo/");
    mixed.push("proj/zzz-other-repo/app".to_owned());
    check(
        Case {
            kind: RegistryKind::GoogleArtifact,
            base_path: "/proj/repo",
            api_path: None,
            username: "_json_key",
            expected: names("proj/repo/"),
            missing: "proj/repo/nope",
            metadata_for_missing: false,
            metadata: None,
        },
        distribution_stub("", Some("/v2/token"), mixed, "last"),
    )
    .await;
}
