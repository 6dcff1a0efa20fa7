//! Each adapter against a local server that replays its vendor's documented JSON and auth
//! challenges: success over three or more pages, wrong credentials, a missing repository, and
//! rate limiting with `Retry-After`.
//! The password `good-secret` is accepted, `throttled` gets 429 with `Retry-After: 7`, anything
//! else 401.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use cra_core::{
    ErrorKind, PageRequest, Registry, RegistryCredentials, RegistryKind, Secret, TagInfo,
};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::{json, Value};

const GOOD: &str = "good-secret";
const THROTTLED: &str = "throttled";

/// The repositories every vendor stub lists (five, so pages of two make three pages).
fn names(prefix: &str) -> Vec<String> {
    ["alpha", "beta", "delta", "gamma", "omega"]
        .iter()
        .map(|n| format!("{prefix}{n}"))
        .collect()
}

#[derive(Clone, Default)]
struct Ctx {
    base: Arc<OnceLock<String>>,
}

impl Ctx {
    fn base(&self) -> String {
        self.base.get().cloned().unwrap_or_default()
    }
}

fn query_param(q: &Option<String>, name: &str) -> Option<String> {
    // The stubs only see plain values (numbers, names, tokens), so no percent-decoding.
    q.as_deref()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.replace("%2F", "/"))
}

/// The secret a request carries: a Basic password, a Bearer token or a `PRIVATE-TOKEN`.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("private-token").and_then(|v| v.to_str().ok()) {
        return Some(t.to_owned());
    }
    let value = headers.get("authorization")?.to_str().ok()?;
    if let Some(b64) = value.strip_prefix("Basic ") {
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        return raw.split_once(':').map(|(_, p)| p.to_owned());
    }
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// `None` when the request carries `want`; else the vendor-style refusal.
fn gate(headers: &HeaderMap, want: &str, challenge: Option<&str>, body: Value) -> Option<Response> {
    match presented(headers).as_deref() {
        Some(s) if s == want => None,
        Some(THROTTLED) => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "7")],
                Json(json!({"message": "slow down"})),
            )
                .into_response(),
        ),
        _ => {
            let mut resp = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
            if let Some(c) = challenge {
                resp.headers_mut()
                    .insert("www-authenticate", c.parse().unwrap());
            }
            Some(resp)
        }
    }
}

/// Items of page `page` (1-based) of `size`, and whether more follow.
fn slice(items: &[String], page: usize, size: usize) -> (Vec<String>, bool) {
    let start = (page - 1) * size;
    let got: Vec<String> = items.iter().skip(start).take(size).cloned().collect();
    (got, start + size < items.len())
}

/// The distribution-style page after `last`, with `n`.
fn after(items: &[String], last: Option<String>, n: usize) -> (Vec<String>, Option<String>) {
    let start = last.map_or(0, |l| {
        items
            .iter()
            .position(|i| *i == l)
            .map_or(items.len(), |p| p + 1)
    });
    let got: Vec<String> = items.iter().skip(start).take(n).cloned().collect();
    let more = start + n < items.len();
    let last = got.last().cloned();
    (got, if more { last } else { None })
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]})),
    )
        .into_response()
}

/// A distribution `_catalog` behind `gate`, paginated with `Link` (`link_param` is `last`, or
/// Quay's opaque `next_page`).
fn catalog_page(items: &[String], q: &Option<String>, path: &str, link_param: &str) -> Response {
    let n: usize = query_param(q, "n")
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    // Quay's `next_page` is opaque; here it is `p` and the index of the last item served.
    let last = query_param(q, "last").or_else(|| {
        let index: usize = query_param(q, "next_page")?
            .strip_prefix('p')?
            .parse()
            .ok()?;
        items.get(index).cloned()
    });
    let (got, next) = after(items, last, n);
    let mut resp = Json(json!({"repositories": got})).into_response();
    if let Some(next) = next {
        let value = if link_param == "next_page" {
            format!("p{}", items.iter().position(|i| *i == next).unwrap_or(0))
        } else {
            next
        };
        let link = format!("<{path}?n={n}&{link_param}={value}>; rel=\"next\"");
        resp.headers_mut().insert("link", link.parse().unwrap());
    }
    resp
}

/// A token realm: Basic `good-secret` gets `token_field`, `throttled` gets 429, others 401.
async fn token(headers: HeaderMap, token_field: &str) -> Response {
    match gate(
        &headers,
        GOOD,
        None,
        json!({"details": "incorrect username or password"}),
    ) {
        Some(refusal) => refusal,
        None => Json(json!({ token_field: "registry-token", "expires_in": 300 })).into_response(),
    }
}

struct Case {
    kind: RegistryKind,
    /// Appended to the stub URL to make `registryBase`.
    base_path: &'static str,
    /// Appended to the stub URL to make `api_base_override`, if the adapter has a REST API.
    api_path: Option<&'static str>,
    username: &'static str,
    expected: Vec<String>,
    missing: &'static str,
    /// Whether a missing repository is reported by the tag metadata call (else by `list_tags`).
    metadata_for_missing: bool,
    /// A repository whose first tag with metadata is this tag with a digest of this hex digit.
    metadata: Option<(&'static str, &'static str, char)>,
}

async fn check(case: Case, router: Router<Ctx>) {
    let ctx = Ctx::default();
    let stub = StubServer::spawn(router.with_state(ctx.clone())).await;
    ctx.base.set(stub.base_url()).unwrap();
    let opts = ConnectOptions {
        api_base_override: case.api_path.map(|p| format!("{}{p}", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |password: &str| RegistryCredentials::Basic {
        kind: case.kind,
        registry_base: format!("{}{}", stub.base_url(), case.base_path),
        username: case.username.to_owned(),
        password: Secret::new(password),
    };
    let what = case.kind.as_str();

    let registry = connect(&creds(GOOD), &opts).await.unwrap();
    assert_eq!(registry.kind(), case.kind);
    registry
        .validate_credentials()
        .await
        .unwrap_or_else(|e| panic!("{what}: validate: {e}"));
    let mut page = PageRequest::first(Some(2));
    let mut pages = Vec::new();
    loop {
        let got = registry
            .list_repositories(&page)
            .await
            .unwrap_or_else(|e| panic!("{what}: page {}: {e}", pages.len() + 1));
        pages.push(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 10, "{what}: pagination must end");
    }
    assert!(pages.len() >= 3, "{what}: {pages:?}");
    assert_eq!(pages.concat(), case.expected, "{what}");

    let err = if case.metadata_for_missing {
        registry
            .list_tags_with_metadata(case.missing, &PageRequest::default())
            .await
            .unwrap_err()
    } else {
        registry
            .list_tags(case.missing, &PageRequest::default())
            .await
            .unwrap_err()
    };
    assert_eq!(err.kind(), ErrorKind::NotFound, "{what}: {err}");

    if let Some((repository, tag, hex)) = case.metadata {
        let tags = registry
            .list_tags_with_metadata(repository, &PageRequest::default())
            .await
            .unwrap_or_else(|e| panic!("{what}: metadata: {e}"));
        let first = &tags.items[0];
        assert_eq!(first.tag, tag, "{what}");
        assert_eq!(
            first.digest.as_ref().map(|d| d.hex().to_owned()),
            Some(hex.to_string().repeat(64)),
            "{what}"
        );
        assert!(first.last_pushed.is_some(), "{what}");
    }

    let wrong = connect(&creds("wrong-secret"), &opts).await.unwrap();
    let err = wrong
        .list_repositories(&PageRequest::first(Some(2)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{what}: {err}");
    assert!(!err.to_string().contains("wrong-secret"), "{what}: {err}");
    assert!(wrong.validate_credentials().await.is_err(), "{what}");

    let throttled = connect(&creds(THROTTLED), &opts).await.unwrap();
    let err = throttled
        .list_repositories(&PageRequest::first(Some(2)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{what}: {err}");
    assert_eq!(
        err.retry_after(),
        Some(Duration::from_secs(7)),
        "{what}: {err}"
    );
}

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

/// ACR's data plane behind Bearer `registry-token` from `/oauth2/token`: `/v2/`,
/// `/acr/v1/_catalog` (five names under `team/`) and `/acr/v1/team/alpha/_tags`.
fn acr_api() -> Router<Ctx> {
    Router::new()
        .route(
            "/v2/",
            get(|State(ctx): State<Ctx>, headers: HeaderMap| async move {
                let challenge = format!(r#"Bearer realm="{}/oauth2/token",service="stub.azurecr.io""#, ctx.base());
                gate(&headers, "registry-token", Some(&challenge), json!({})).unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(
            "/acr/v1/_catalog",
            get(|State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                let challenge = format!(r#"Bearer realm="{}/oauth2/token",service="stub.azurecr.io""#, ctx.base());
                if let Some(r) = gate(&headers, "registry-token", Some(&challenge), json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})) {
                    return r;
                }
                catalog_page(&names("team/"), &q, "/acr/v1/_catalog", "last")
            }),
        )
        .route(
            "/acr/v1/{*rest}",
            get(|State(ctx): State<Ctx>, headers: HeaderMap, Path(rest): Path<String>| async move {
                let challenge = format!(r#"Bearer realm="{}/oauth2/token",service="stub.azurecr.io""#, ctx.base());
                if let Some(r) = gate(&headers, "registry-token", Some(&challenge), json!({})) {
                    return r;
                }
                if rest != "team/alpha/_tags" {
                    return not_found();
                }
                Json(json!({"registry": "stub.azurecr.io", "imageName": "team/alpha", "tags": [
                    {"name": "1.4.0", "digest": format!("sha256:{}", "c".repeat(64)), "createdTime": "2026-10-02T08:11:09.1Z", "lastUpdateTime": "2026-10-02T08:11:09.1Z"}
                ]})).into_response()
            }),
        )
}

// Azure: REST containerregistry data plane (GET /acr/v1/_catalog, /acr/v1/{name}/_tags) and the
// /oauth2/token flow answering `access_token`.
#[tokio::test]
async fn acr_lists_with_its_catalog_and_oauth2_tokens() {
    let router = acr_api().route(
        "/oauth2/token",
        get(|headers: HeaderMap| async move { token(headers, "access_token").await }),
    );
    check(
        Case {
            kind: RegistryKind::Acr,
            base_path: "",
            api_path: None,
            username: "stubreg",
            expected: names("team/"),
            missing: "team/nope",
            metadata_for_missing: true,
            metadata: Some(("team/alpha", "1.4.0", 'c')),
        },
        router,
    )
    .await;
}

/// The username that marks an ACR refresh token.
const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";
const TENANT: &str = "409520d4-8100-4d1d-ad47-72432ddcc120";

/// An unsigned JWT with these claims (the stub trusts whatever it issued or was told to).
fn jwt(claims: Value) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(claims)
    )
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn acr_unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"errors": [{"code": "UNAUTHORIZED", "message": message}]})),
    )
        .into_response()
}

/// The forms the stub's token service received: (endpoint, fields).
type Forms = Arc<Mutex<Vec<(&'static str, Vec<(String, String)>)>>>;

// Azure AD: https://azure.github.io/acr/AAD-OAuth.html ("Calling POST /oauth2/exchange to get an
// ACR refresh token", "Calling POST /oauth2/token to get an ACR access token", and the null GUID
// with an ACR refresh token for `docker login`): form bodies and `refresh_token` /
// `access_token` answers as documented there.
#[tokio::test]
async fn acr_exchanges_an_azure_ad_token_for_refresh_and_access_tokens() {
    let aad = jwt(json!({
        "aud": "https://management.azure.com/",
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "tid": TENANT,
    }));
    let revoked_aad =
        jwt(json!({"aud": "https://management.azure.com/", "tid": TENANT, "oid": "revoked"}));
    let acr_refresh = jwt(json!({
        "iss": "Azure Container Registry",
        "aud": "stub.azurecr.io",
        "grant_type": "refresh_token",
        "tenant": TENANT,
    }));
    let forms: Forms = Arc::default();
    let basic_logins = Arc::new(Mutex::new(Vec::<String>::new()));

    let exchange = {
        let (forms, aad, refresh) = (forms.clone(), aad.clone(), acr_refresh.clone());
        move |Form(fields): Form<Vec<(String, String)>>| {
            let ok = field(&fields, "grant_type") == Some("access_token")
                && field(&fields, "service") == Some("stub.azurecr.io")
                && field(&fields, "access_token") == Some(aad.as_str());
            forms.lock().unwrap().push(("exchange", fields));
            let resp = if ok {
                Json(json!({"refresh_token": refresh})).into_response()
            } else {
                acr_unauthorized("the AAD access token is not valid for this registry")
            };
            async move { resp }
        }
    };
    let refresh_grant = {
        let (forms, refresh) = (forms.clone(), acr_refresh.clone());
        move |Form(fields): Form<Vec<(String, String)>>| {
            let ok = field(&fields, "grant_type") == Some("refresh_token")
                && field(&fields, "service") == Some("stub.azurecr.io")
                && field(&fields, "refresh_token") == Some(refresh.as_str());
            forms.lock().unwrap().push(("token", fields));
            let resp = if ok {
                Json(json!({"access_token": "registry-token"})).into_response()
            } else {
                acr_unauthorized("invalid refresh token")
            };
            async move { resp }
        }
    };
    // Basic at /oauth2/token: the null GUID with the ACR refresh token, as `docker login` sends it.
    let basic_grant = {
        let (logins, refresh) = (basic_logins.clone(), acr_refresh.clone());
        move |headers: HeaderMap| {
            let raw = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let ok = raw == format!("{NULL_GUID}:{refresh}");
            logins.lock().unwrap().push(raw);
            let resp = if ok {
                Json(json!({"access_token": "registry-token", "expires_in": 300})).into_response()
            } else {
                acr_unauthorized("incorrect username or password")
            };
            async move { resp }
        }
    };
    let router = acr_api()
        .route("/oauth2/exchange", post(exchange))
        .route("/oauth2/token", get(basic_grant).post(refresh_grant));
    let ctx = Ctx::default();
    let stub = StubServer::spawn(router.with_state(ctx.clone())).await;
    ctx.base.set(stub.base_url()).unwrap();
    let creds = |username: &str, password: &str| RegistryCredentials::Basic {
        kind: RegistryKind::Acr,
        registry_base: stub.base_url(),
        username: username.to_owned(),
        password: Secret::new(password),
    };
    let opts = ConnectOptions::default();

    // The AAD token is exchanged once; each scope set then gets its access token once.
    let registry = connect(&creds("", &aad), &opts).await.unwrap();
    registry.validate_credentials().await.unwrap();
    assert_eq!(
        registry.list_all_repositories().await.unwrap(),
        names("team/")
    );
    let mut page = PageRequest::first(Some(2));
    let mut pages = 0;
    loop {
        let got = registry.list_repositories(&page).await.unwrap();
        pages += 1;
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "pagination must end");
    }
    assert_eq!(pages, 3);
    let tags = registry
        .list_tags_with_metadata("team/alpha", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(tags.items[0].tag, "1.4.0");

    let seen = forms.lock().unwrap().clone();
    let exchanges: Vec<_> = seen.iter().filter(|(e, _)| *e == "exchange").collect();
    assert_eq!(exchanges.len(), 1, "{seen:?}");
    assert_eq!(
        exchanges[0].1,
        vec![
            ("grant_type".to_owned(), "access_token".to_owned()),
            ("service".to_owned(), "stub.azurecr.io".to_owned()),
            ("tenant".to_owned(), TENANT.to_owned()),
            ("access_token".to_owned(), aad.clone()),
        ]
    );
    let scopes: Vec<Vec<&str>> = seen
        .iter()
        .filter(|(e, _)| *e == "token")
        .map(|(_, f)| {
            assert_eq!(field(f, "grant_type"), Some("refresh_token"));
            assert_eq!(field(f, "service"), Some("stub.azurecr.io"));
            assert_eq!(field(f, "refresh_token"), Some(acr_refresh.as_str()));
            f.iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.as_str())
                .collect()
        })
        .collect();
    assert_eq!(
        scopes,
        vec![
            vec![],
            vec!["registry:catalog:*"],
            vec!["repository:team/alpha:metadata_read"],
        ],
        "one access token per scope set, cached across pages"
    );
    assert!(
        basic_logins.lock().unwrap().is_empty(),
        "the AAD token never goes out as Basic"
    );

    // A token the exchange refuses is Unauthorized, and the message does not carry it.
    let revoked = connect(&creds(NULL_GUID, &revoked_aad), &opts)
        .await
        .unwrap();
    let err = revoked
        .list_repositories(&PageRequest::first(Some(2)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert!(
        err.to_string()
            .contains("azure ad token rejected by the registry's token exchange"),
        "{err}"
    );
    assert!(!err.to_string().contains(&revoked_aad), "{err}");
    assert!(revoked.validate_credentials().await.is_err());

    // An ACR refresh token with the null GUID keeps logging in with Basic, without an exchange.
    let exchanges_before = forms.lock().unwrap().len();
    let docker_style = connect(&creds(NULL_GUID, &acr_refresh), &opts)
        .await
        .unwrap();
    assert_eq!(
        docker_style.list_all_repositories().await.unwrap(),
        names("team/")
    );
    assert_eq!(forms.lock().unwrap().len(), exchanges_before);
    assert_eq!(
        basic_logins.lock().unwrap().clone(),
        vec![format!("{NULL_GUID}:{acr_refresh}")]
    );
}

/// A registry whose `/v2/` endpoints take a Bearer token from `realm_path` (or Basic with an
/// upper-case `BASIC` challenge when `realm_path` is `None`), serving `items` from `_catalog`
/// (under `prefix`) with `link_param` pagination, and 404 for any tag list.
fn distribution_stub(
    prefix: &'static str,
    realm_path: Option<&'static str>,
    items: Vec<String>,
    link_param: &'static str,
) -> Router<Ctx> {
    let items = Arc::new(items);
    let mut router = Router::new()
        .route(
            &format!("{prefix}/v2/_catalog"),
            get(move |State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| {
                let items = items.clone();
                async move {
                    let (challenge, want) = match realm_path {
                        Some(realm) => (format!(r#"Bearer realm="{}{realm}",service="stub",scope="registry:catalog:*""#, ctx.base()), "registry-token"),
                        None => (r#"BASIC realm="Sonatype Nexus Repository Manager""#.to_owned(), GOOD),
                    };
                    if let Some(r) = gate(&headers, want, Some(&challenge), json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})) {
                        return r;
                    }
                    catalog_page(&items, &q, &format!("{prefix}/v2/_catalog"), link_param)
                }
            }),
        )
        .route(
            &format!("{prefix}/v2/"),
            get(move |State(ctx): State<Ctx>, headers: HeaderMap| async move {
                let (challenge, want) = match realm_path {
                    Some(realm) => (format!(r#"Bearer realm="{}{realm}",service="stub""#, ctx.base()), "registry-token"),
                    None => (r#"BASIC realm="Sonatype Nexus Repository Manager""#.to_owned(), GOOD),
                };
                gate(&headers, want, Some(&challenge), json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}))
                    .unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(&format!("{prefix}/v2/{{*rest}}"), get(|| async { not_found() }));
    if let Some(realm) = realm_path {
        router = router.route(
            realm,
            get(|headers: HeaderMap| async move { token(headers, "token").await }),
        );
    }
    router
}

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

/// The tags of `team/alpha`, seven so that the search API's pages of three make three.
fn nexus_tags() -> Vec<String> {
    (1..=7).map(|i| format!("v{i}")).collect()
}

/// The Basic user name a request carries.
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ")?)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    raw.split_once(':').map(|(u, _)| u.to_owned())
}

/// Nexus's search API (help.sonatype.com, "Search API": `GET /service/rest/v1/search` with
/// `repository`, `format`, `name`, `continuationToken`; components with `version` and assets
/// with `checksum.sha256` and `lastModified`), three components a page.
/// The user `reader` lacks the search privilege and gets 403.
fn nexus_search() -> Router<Ctx> {
    Router::new().route(
        "/service/rest/v1/search",
        get(|headers: HeaderMap, RawQuery(q): RawQuery| async move {
            if let Some(r) = gate(&headers, GOOD, None, json!({"message": "Unauthorized"})) {
                return r;
            }
            if basic_user(&headers).as_deref() == Some("reader") {
                return (StatusCode::FORBIDDEN, Json(json!({"message": "Forbidden"})))
                    .into_response();
            }
            assert_eq!(query_param(&q, "format").as_deref(), Some("docker"));
            assert_eq!(query_param(&q, "repository").as_deref(), Some("docker-hosted"));
            let name = query_param(&q, "name").unwrap();
            let all = if name == "team/alpha" { nexus_tags() } else { Vec::new() };
            let page: usize = query_param(&q, "continuationToken")
                .and_then(|t| t.strip_prefix("tok").and_then(|p| p.parse().ok()))
                .unwrap_or(1);
            let (got, more) = slice(&all, page, 3);
            let items: Vec<Value> = got
                .iter()
                .map(|t| {
                    let n = &t[1..];
                    json!({"id": format!("ZG9ja2VyLWhvc3RlZ{n}"), "repository": "docker-hosted",
                        "format": "docker", "group": null, "name": name, "version": t,
                        "assets": [{"downloadUrl": format!("http://nexus.example/repository/docker-hosted/v2/{name}/manifests/{t}"),
                            "path": format!("v2/{name}/manifests/{t}"), "id": "YXNzZXQ", "repository": "docker-hosted",
                            "format": "docker", "contentType": "application/vnd.docker.distribution.manifest.v2+json",
                            "checksum": {"sha1": "a".repeat(40), "sha256": n.repeat(64)},
                            "lastModified": format!("2025-10-0{n}T08:55:00.000+00:00")}]})
                })
                .collect();
            let token = more.then(|| format!("tok{}", page + 1));
            Json(json!({"items": items, "continuationToken": token})).into_response()
        }),
    )
}

// Nexus: sonatype/nexus-public issue 921 (`BASIC realm="Sonatype Nexus Repository Manager"`
// with forceBasicAuth), the connector's `_catalog` and the search API for tag metadata.
#[tokio::test]
async fn nexus_answers_an_upper_case_basic_challenge() {
    check(
        Case {
            kind: RegistryKind::Nexus,
            base_path: "/repository/docker-hosted",
            api_path: Some("/service/rest/v1"),
            username: "admin",
            expected: names("team/"),
            missing: "team/nope",
            metadata_for_missing: false,
            metadata: Some(("team/alpha", "v1", '1')),
        },
        distribution_stub("/repository/docker-hosted", None, names("team/"), "last")
            .merge(nexus_search()),
    )
    .await;
}

// Nexus search API (continuationToken pages, `checksum.sha256`, `lastModified`); a user without
// the search privilege gets bare tags from the registry.
#[tokio::test]
async fn nexus_tag_metadata_pages_and_fallback() {
    let router = nexus_search()
        .route(
            "/repository/docker-hosted/v2/",
            get(|headers: HeaderMap| async move {
                gate(
                    &headers,
                    GOOD,
                    Some(r#"BASIC realm="Sonatype Nexus Repository Manager""#),
                    json!({}),
                )
                .unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(
            "/repository/docker-hosted/v2/team/alpha/tags/list",
            get(|headers: HeaderMap| async move {
                gate(
                    &headers,
                    GOOD,
                    Some(r#"BASIC realm="Sonatype Nexus Repository Manager""#),
                    json!({}),
                )
                .unwrap_or_else(|| {
                    Json(json!({"name": "team/alpha", "tags": ["v1", "v2"]})).into_response()
                })
            }),
        );
    let stub = StubServer::spawn(router.with_state(Ctx::default())).await;
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/service/rest/v1", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |username: &str| RegistryCredentials::Basic {
        kind: RegistryKind::Nexus,
        registry_base: format!("{}/repository/docker-hosted", stub.base_url()),
        username: username.to_owned(),
        password: Secret::new(GOOD),
    };

    let registry = connect(&creds("admin"), &opts).await.unwrap();
    let pages = metadata_pages(registry.as_ref(), "team/alpha", None).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let tags = pages.concat();
    assert_eq!(
        tags.iter().map(|t| t.tag.clone()).collect::<Vec<_>>(),
        nexus_tags()
    );
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            t.digest.as_ref().map(|d| d.hex().to_owned()),
            Some(n.to_string().repeat(64)),
            "{}",
            t.tag
        );
        assert_eq!(
            t.last_pushed.as_deref(),
            Some(format!("2025-10-0{n}T08:55:00.000+00:00").as_str())
        );
    }

    let reader = connect(&creds("reader"), &opts).await.unwrap();
    let bare = reader
        .list_tags_with_metadata("team/alpha", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        bare.items
            .iter()
            .map(|t| t.tag.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    assert!(bare
        .items
        .iter()
        .all(|t| t.digest.is_none() && t.last_pushed.is_none()));
}

#[tokio::test]
async fn artifactory_repository_path_method() {
    check(
        Case {
            kind: RegistryKind::Artifactory,
            base_path: "/artifactory/api/docker/docker-local",
            api_path: None,
            username: "deployer",
            expected: names("app/"),
            missing: "app/nope",
            metadata_for_missing: false,
            metadata: None,
        },
        distribution_stub(
            "/artifactory/api/docker/docker-local",
            Some("/artifactory/api/docker/docker-local/v2/token"),
            names("app/"),
            "last",
        ),
    )
    .await;
}

/// The tags of `app/alpha` in `docker-local`, seven so that pages of three make three.
fn artifactory_tags() -> Vec<String> {
    (1..=7).map(|i| format!("v{i}")).collect()
}

// Artifactory: jfrog.com/help "List Docker Tags" (`tags/list` with `n`/`last` and `Link`) and
// the Storage API "File Info" (`GET /artifactory/api/storage/<repo>/<path>`: `created`,
// `lastModified`, `lastUpdated`, `checksums.sha256`); multi-arch tags store `list.manifest.json`.
// The user `reader` may pull but not read the Storage API (403), and gets bare tags.
#[tokio::test]
async fn artifactory_tag_metadata_from_the_storage_api() {
    const PREFIX: &str = "/artifactory/api/docker/docker-local";
    let router: Router<Ctx> = Router::new()
        .route(
            &format!("{PREFIX}/v2/"),
            get(|headers: HeaderMap| async move {
                gate(&headers, GOOD, Some(r#"Basic realm="Artifactory Realm""#), json!({"errors": [{"code": "UNAUTHORIZED", "message": "Authentication is required"}]}))
                    .unwrap_or_else(|| Json(json!({})).into_response())
            }),
        )
        .route(
            &format!("{PREFIX}/v2/app/alpha/tags/list"),
            get(|headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, GOOD, Some(r#"Basic realm="Artifactory Realm""#), json!({"errors": [{"code": "UNAUTHORIZED", "message": "Authentication is required"}]})) {
                    return r;
                }
                let n: usize = query_param(&q, "n").and_then(|n| n.parse().ok()).unwrap_or(100);
                let (got, next) = after(&artifactory_tags(), query_param(&q, "last"), n);
                let mut resp = Json(json!({"name": "app/alpha", "tags": got})).into_response();
                if let Some(last) = next {
                    let link = format!("<{PREFIX}/v2/app/alpha/tags/list?n={n}&last={last}>; rel=\"next\"");
                    resp.headers_mut().insert("link", link.parse().unwrap());
                }
                resp
            }),
        )
        .route(
            "/artifactory/api/storage/docker-local/app/alpha/{tag}/{file}",
            get(|Path((tag, file)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, GOOD, None, json!({"errors": [{"status": 401, "message": "Bad credentials"}]})) {
                    return r;
                }
                if basic_user(&headers).as_deref() == Some("reader") {
                    return (StatusCode::FORBIDDEN, Json(json!({"errors": [{"status": 403, "message": "Forbidden"}]}))).into_response();
                }
                let n: u32 = tag[1..].parse().unwrap();
                // v7 is multi-arch: only list.manifest.json exists.
                let want = if n == 7 { "list.manifest.json" } else { "manifest.json" };
                if file != want {
                    return (StatusCode::NOT_FOUND, Json(json!({"errors": [{"status": 404, "message": "Unable to find item"}]}))).into_response();
                }
                let uri = format!("http://artifactory.example/artifactory/api/storage/docker-local/app/alpha/{tag}/{file}");
                Json(json!({"repo": "docker-local", "path": format!("/app/alpha/{tag}/{file}"),
                    "created": "2025-10-01T08:00:00.000Z", "createdBy": "deployer",
                    "lastModified": format!("2025-10-0{n}T08:55:00.000Z"), "modifiedBy": "deployer",
                    "lastUpdated": format!("2025-10-0{n}T08:55:00.000Z"),
                    "downloadUri": uri.replace("api/storage/", ""), "mimeType": "application/json", "size": "1234",
                    "checksums": {"sha1": "a".repeat(40), "md5": "b".repeat(32), "sha256": n.to_string().repeat(64)},
                    "originalChecksums": {"sha256": n.to_string().repeat(64)}, "uri": uri}))
                .into_response()
            }),
        );
    let stub = StubServer::spawn(router.with_state(Ctx::default())).await;
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/artifactory/api/storage", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |username: &str| RegistryCredentials::Basic {
        kind: RegistryKind::Artifactory,
        registry_base: format!("{}{PREFIX}", stub.base_url()),
        username: username.to_owned(),
        password: Secret::new(GOOD),
    };

    let registry = connect(&creds("deployer"), &opts).await.unwrap();
    let pages = metadata_pages(registry.as_ref(), "app/alpha", Some(3)).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let tags = pages.concat();
    assert_eq!(
        tags.iter().map(|t| t.tag.clone()).collect::<Vec<_>>(),
        artifactory_tags()
    );
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            t.digest.as_ref().map(|d| d.hex().to_owned()),
            Some(n.to_string().repeat(64)),
            "{}",
            t.tag
        );
        assert_eq!(
            t.last_pushed.as_deref(),
            Some(format!("2025-10-0{n}T08:55:00.000Z").as_str())
        );
    }

    let reader = connect(&creds("reader"), &opts).await.unwrap();
    let bare = reader
        .list_tags_with_metadata("app/alpha", &PageRequest::first(Some(3)))
        .await
        .unwrap();
    assert_eq!(
        bare.items
            .iter()
            .map(|t| t.tag.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2", "v3"]
    );
    assert!(bare
        .items
        .iter()
        .all(|t| t.digest.is_none() && t.last_pushed.is_none()));
    assert!(bare.next.is_some());
}

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

// Docker Hub: docs/docker content/reference/api/hub/latest.yaml (POST /v2/auth/token with
// identifier/secret; GET /v2/namespaces/{namespace}/repositories with `next`).
#[tokio::test]
async fn docker_hub_logs_in_and_lists_a_namespace() {
    let router = Router::new()
        .route(
            "/hub/v2/auth/token",
            post(|Json(body): Json<Value>| async move {
                match body["secret"].as_str() {
                    Some(GOOD) if body["identifier"] == "acme-bot" => Json(json!({"access_token": "hub-jwt"})).into_response(),
                    Some(THROTTLED) => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], "").into_response(),
                    _ => (StatusCode::UNAUTHORIZED, Json(json!({"errinfo": {}, "message": "incorrect username or password"}))).into_response(),
                }
            }),
        )
        .route(
            "/hub/v2/namespaces/{ns}/repositories",
            get(|Path(ns): Path<String>, State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                if let Some(r) = gate(&headers, "hub-jwt", None, json!({"message": "unauthorized"})) {
                    return r;
                }
                assert_eq!(ns, "acme");
                let page: usize = query_param(&q, "page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let size: usize = query_param(&q, "page_size").and_then(|p| p.parse().ok()).unwrap_or(10);
                let (got, more) = slice(&names(""), page, size);
                let results: Vec<Value> = got.iter().map(|n| json!({"name": n, "namespace": "acme", "is_private": true})).collect();
                let next = more.then(|| format!("{}/hub/v2/namespaces/acme/repositories?page={}&page_size={size}", ctx.base(), page + 1));
                Json(json!({"count": 5, "next": next, "previous": null, "results": results})).into_response()
            }),
        )
        .route(
            "/hub/v2/namespaces/{ns}/repositories/{repo}/tags",
            get(|Path((_, repo)): Path<(String, String)>, headers: HeaderMap| async move {
                if let Some(r) = gate(&headers, "hub-jwt", None, json!({})) {
                    return r;
                }
                if repo != "alpha" {
                    return (StatusCode::NOT_FOUND, Json(json!({"message": "object not found"}))).into_response();
                }
                Json(json!({"count": 1, "next": null, "results": [{"name": "1.0", "digest": format!("sha256:{}", "d".repeat(64)), "tag_last_pushed": "2026-10-01T12:00:00.000000Z"}]})).into_response()
            }),
        );
    check(
        Case {
            kind: RegistryKind::DockerHub,
            base_path: "/acme",
            api_path: Some("/hub"),
            username: "acme-bot",
            expected: names("acme/"),
            missing: "acme/nope",
            metadata_for_missing: true,
            metadata: Some(("acme/alpha", "1.0", 'd')),
        },
        router,
    )
    .await;
}

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

/// GitLab's `X-Next-Page` header: the next page number, or empty on the last page.
fn with_next_page(body: Value, page: usize, more: bool) -> Response {
    let mut resp = Json(body).into_response();
    let next = if more {
        (page + 1).to_string()
    } else {
        String::new()
    };
    resp.headers_mut()
        .insert("x-next-page", next.parse().unwrap());
    resp
}

/// The tags of `group/sub/alpha` (repository id 3 in project 9), seven so pages of three make three.
fn gitlab_tags() -> Vec<String> {
    (1..=7).map(|i| format!("v{i}")).collect()
}

/// GitLab's REST API (docs.gitlab.com/api/container_registry): group registry repositories,
/// the repository's tag list and each tag's detail, all paginated with `per_page`/`page` and
/// `X-Next-Page`; `PRIVATE-TOKEN` must be `good-secret`.
fn gitlab_api() -> Router<Ctx> {
    Router::new()
        .route(
            "/api/v4/personal_access_tokens/self",
            get(|headers: HeaderMap| async move {
                gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    .unwrap_or_else(|| Json(json!({"active": true})).into_response())
            }),
        )
        .route(
            "/api/v4/groups/{group}/registry/repositories",
            get(
                |Path(group): Path<String>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                    if let Some(r) =
                        gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    {
                        return r;
                    }
                    assert_eq!(group, "group/sub", "the full path arrives %2F-encoded");
                    let page: usize = query_param(&q, "page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(1);
                    let size: usize = query_param(&q, "per_page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(20);
                    let all = names("group/sub/");
                    let (got, more) = slice(&all, page, size);
                    let body: Vec<Value> = got
                        .iter()
                        .map(|p| {
                            let id = all.iter().position(|a| a == p).unwrap() + 3;
                            json!({"id": id, "name": p.rsplit('/').next(), "path": p,
                                "project_id": 9, "location": format!("registry.example/{p}")})
                        })
                        .collect();
                    with_next_page(Value::Array(body), page, more)
                },
            ),
        )
        .route(
            "/api/v4/projects/{project}/registry/repositories/{id}/tags",
            get(
                |Path((project, id)): Path<(String, String)>,
                 headers: HeaderMap,
                 RawQuery(q): RawQuery| async move {
                    if let Some(r) =
                        gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    {
                        return r;
                    }
                    assert_eq!((project.as_str(), id.as_str()), ("9", "3"));
                    let page: usize = query_param(&q, "page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(1);
                    let size: usize = query_param(&q, "per_page")
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(20);
                    let (got, more) = slice(&gitlab_tags(), page, size);
                    let body: Vec<Value> = got
                        .iter()
                        .map(|t| json!({"name": t, "path": format!("group/sub/alpha:{t}"),
                            "location": format!("registry.example/group/sub/alpha:{t}")}))
                        .collect();
                    with_next_page(Value::Array(body), page, more)
                },
            ),
        )
        .route(
            "/api/v4/projects/{project}/registry/repositories/{id}/tags/{tag}",
            get(
                |Path((project, id, tag)): Path<(String, String, String)>,
                 headers: HeaderMap| async move {
                    if let Some(r) =
                        gate(&headers, GOOD, None, json!({"message": "401 Unauthorized"}))
                    {
                        return r;
                    }
                    assert_eq!((project.as_str(), id.as_str()), ("9", "3"));
                    let Some(n) = tag.strip_prefix('v').and_then(|n| n.parse::<u32>().ok()) else {
                        return (StatusCode::NOT_FOUND, Json(json!({"message": "404 Tag Not Found"})))
                            .into_response();
                    };
                    Json(json!({"name": tag, "path": format!("group/sub/alpha:{tag}"),
                        "location": format!("registry.example/group/sub/alpha:{tag}"),
                        "revision": "f".repeat(64), "short_revision": "fffffffff",
                        "digest": format!("sha256:{}", n.to_string().repeat(64)),
                        "created_at": format!("2025-10-0{n}T08:55:00.000+00:00"), "total_size": 2_319_870}))
                    .into_response()
                },
            ),
        )
}

// GitLab: docs.gitlab.com/api/container_registry (group registry repositories, X-Next-Page;
// repository tags and tag details for metadata).
#[tokio::test]
async fn gitlab_lists_group_repositories() {
    check(
        Case {
            kind: RegistryKind::GitLab,
            base_path: "/group/sub",
            api_path: Some("/api/v4"),
            username: "bot",
            expected: names("group/sub/"),
            missing: "group/sub/nope",
            metadata_for_missing: false,
            metadata: Some(("group/sub/alpha", "v1", '1')),
        },
        gitlab_api().route("/v2/{*rest}", get(|| async { not_found() })),
    )
    .await;
}

// GitLab: docs.gitlab.com/api/container_registry (tag list paginated with X-Next-Page, tag
// detail with `digest` and `created_at`); deploy tokens cannot call the REST API.
#[tokio::test]
async fn gitlab_tag_metadata_pages_and_deploy_token_fallback() {
    let router = gitlab_api()
        .route("/v2/", get(|| async { Json(json!({})).into_response() }))
        .route(
            "/v2/group/sub/alpha/tags/list",
            get(|| async {
                Json(json!({"name": "group/sub/alpha", "tags": ["v1", "v2"]})).into_response()
            }),
        );
    let stub = StubServer::spawn(router.with_state(Ctx::default())).await;
    let opts = ConnectOptions {
        api_base_override: Some(format!("{}/api/v4", stub.base_url())),
        ..ConnectOptions::default()
    };
    let creds = |password: &str| RegistryCredentials::Basic {
        kind: RegistryKind::GitLab,
        registry_base: format!("{}/group/sub", stub.base_url()),
        username: "bot".to_owned(),
        password: Secret::new(password),
    };

    let registry = connect(&creds(GOOD), &opts).await.unwrap();
    let pages = metadata_pages(registry.as_ref(), "group/sub/alpha", Some(3)).await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    let tags = pages.concat();
    assert_eq!(
        tags.iter().map(|t| t.tag.clone()).collect::<Vec<_>>(),
        gitlab_tags()
    );
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        assert_eq!(
            t.digest.as_ref().map(|d| d.hex().to_owned()),
            Some(n.to_string().repeat(64)),
            "{}",
            t.tag
        );
        assert_eq!(
            t.last_pushed.as_deref(),
            Some(format!("2025-10-0{n}T08:55:00.000+00:00").as_str())
        );
    }

    // A deploy token is refused by the REST API; the tags come bare from the registry.
    let deploy = connect(&creds("deploy-token"), &opts).await.unwrap();
    let bare = deploy
        .list_tags_with_metadata("group/sub/alpha", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(
        bare.items
            .iter()
            .map(|t| t.tag.as_str())
            .collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    assert!(bare
        .items
        .iter()
        .all(|t| t.digest.is_none() && t.last_pushed.is_none()));
    assert_eq!(bare.next, None);
}

#[tokio::test]
async fn registries_without_a_namespace_cannot_list() {
    for (kind, base) in [
        (RegistryKind::GitHub, "http://127.0.0.1:9"),
        (RegistryKind::GitLab, "http://127.0.0.1:9"),
        (RegistryKind::DockerHub, "http://127.0.0.1:9"),
    ] {
        let creds = RegistryCredentials::Basic {
            kind,
            registry_base: base.into(),
            username: String::new(),
            password: Secret::new("x"),
        };
        let registry = connect(&creds, &ConnectOptions::default()).await.unwrap();
        let err = registry
            .list_repositories(&PageRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{kind}: {err}");
        assert_eq!(
            err.message(),
            "this registry cannot list repositories; name images explicitly"
        );
    }
}

/// Forwards `/artifactory/api/docker/docker-local/v2/*` to the real registry's `/v2/*`, as
/// Artifactory's repository-path access method exposes a Docker repository, rewriting `Link`.
async fn artifactory_proxy(
    State(upstream): State<String>,
    method: axum::http::Method,
    Path(rest): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut url = format!("{upstream}/v2/{rest}");
    if let Some(q) = q {
        url = format!("{url}?{q}");
    }
    let mut req = reqwest::Client::new().request(method, url);
    for name in ["authorization", "accept"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v.as_bytes());
        }
    }
    let resp = req.send().await.unwrap();
    let mut out = Response::builder().status(resp.status().as_u16());
    for name in [
        "content-type",
        "docker-content-digest",
        "www-authenticate",
        "content-length",
    ] {
        if let Some(v) = resp.headers().get(name) {
            out = out.header(name, v.as_bytes());
        }
    }
    if let Some(link) = resp.headers().get("link").and_then(|v| v.to_str().ok()) {
        out = out.header(
            "link",
            link.replace("</v2/", "</artifactory/api/docker/docker-local/v2/"),
        );
    }
    out.body(axum::body::Body::from(resp.bytes().await.unwrap()))
        .unwrap()
}

// Artifactory's repository-path method in front of the real registry: catalog pages, manifests
// and blobs all under the path prefix, with the registry's own Basic challenge.
#[tokio::test]
async fn artifactory_repository_path_over_the_real_registry() {
    use cra_tests::registry::{registry_available, Auth, RegistryServer};
    use futures_util::StreamExt;

    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("deployer", GOOD)).await;
    let image = server
        .push_small_image("app/web", "1.0", "amd64", b"artifactory layer")
        .await;
    for name in ["app/api", "app/db", "app/ui"] {
        server
            .push_small_image(name, "1.0", "amd64", name.as_bytes())
            .await;
    }
    let router = Router::new()
        .route(
            "/artifactory/api/docker/docker-local/v2/{*rest}",
            get(artifactory_proxy).head(artifactory_proxy),
        )
        .with_state(server.base_url());
    let stub = StubServer::spawn(router).await;
    let creds = RegistryCredentials::Basic {
        kind: RegistryKind::Artifactory,
        registry_base: format!("{}/artifactory/api/docker/docker-local", stub.base_url()),
        username: "deployer".into(),
        password: Secret::new(GOOD),
    };
    let registry = connect(&creds, &ConnectOptions::default()).await.unwrap();
    let mut page = PageRequest::first(Some(1));
    let mut all = Vec::new();
    for _ in 0..10 {
        let got = registry.list_repositories(&page).await.unwrap();
        all.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(all, ["app/api", "app/db", "app/ui", "app/web"]);
    let manifest = registry.fetch_manifest("app/web", "1.0").await.unwrap();
    assert_eq!(manifest.digest, image.digest);
    let mut blob = registry
        .fetch_blob("app/web", &image.layer_digests[0], None)
        .await
        .unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = blob.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, b"artifactory layer");
}

/// Every page of a repository's tags with metadata, `size` at a time.
async fn metadata_pages(
    registry: &dyn Registry,
    repository: &str,
    size: Option<u32>,
) -> Vec<Vec<TagInfo>> {
    let mut page = PageRequest::first(size);
    let mut pages = Vec::new();
    loop {
        let got = registry
            .list_tags_with_metadata(repository, &page)
            .await
            .unwrap();
        pages.push(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 10, "pagination must end");
    }
    pages
}
