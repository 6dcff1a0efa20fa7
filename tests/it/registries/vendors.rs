//! The harness every vendor file shares: a local server that replays a vendor's documented JSON and
//! auth challenges, and `check`, which runs an adapter through success over three or more pages,
//! wrong credentials, a missing repository, and rate limiting with `Retry-After`.
//! The password `good-secret` is accepted, `throttled` gets 429 with `Retry-After: 7`, anything
//! else 401.
//! Checks that span vendors live here too.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use cra_core::{
    ErrorKind, PageRequest, Registry, RegistryCredentials, RegistryKind, Secret, TagInfo,
};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::{json, Value};

pub(super) const GOOD: &str = "good-secret";

pub(super) const THROTTLED: &str = "throttled";

/// The repositories every vendor stub lists (five, so pages of two make three pages).
pub(super) fn names(prefix: &str) -> Vec<String> {
    ["alpha", "beta", "delta", "gamma", "omega"]
        .iter()
        .map(|n| format!("{prefix}{n}"))
        .collect()
}

#[derive(Clone, Default)]
pub(super) struct Ctx {
    pub(super) base: Arc<OnceLock<String>>,
}

impl Ctx {
    pub(super) fn base(&self) -> String {
        self.base.get().cloned().unwrap_or_default()
    }
}

pub(super) fn query_param(q: &Option<String>, name: &str) -> Option<String> {
    // The stubs only see plain values (numbers, names, tokens), so no percent-decoding.
    q.as_deref()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.replace("%2F", "/"))
}

/// The secret a request carries: a Basic password, a Bearer token or a `PRIVATE-TOKEN`.
pub(super) fn presented(headers: &HeaderMap) -> Option<String> {
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
pub(super) fn gate(
    headers: &HeaderMap,
    want: &str,
    challenge: Option<&str>,
    body: Value,
) -> Option<Response> {
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
pub(super) fn slice(items: &[String], page: usize, size: usize) -> (Vec<String>, bool) {
    let start = (page - 1) * size;
    let got: Vec<String> = items.iter().skip(start).take(size).cloned().collect();
    (got, start + size < items.len())
}

/// The distribution-style page after `last`, with `n`.
pub(super) fn after(
    items: &[String],
    last: Option<String>,
    n: usize,
) -> (Vec<String>, Option<String>) {
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

pub(super) fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known to registry"}]})),
    )
        .into_response()
}

/// A distribution `_catalog` behind `gate`, paginated with `Link` (`link_param` is `last`, or
/// Quay's opaque `next_page`).
pub(super) fn catalog_page(
    items: &[String],
    q: &Option<String>,
    path: &str,
    link_param: &str,
) -> Response {
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
pub(super) async fn token(headers: HeaderMap, token_field: &str) -> Response {
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

pub(super) struct Case {
    pub(super) kind: RegistryKind,
    /// Appended to the stub URL to make `registryBase`.
    pub(super) base_path: &'static str,
    /// Appended to the stub URL to make `api_base_override`, if the adapter has a REST API.
    pub(super) api_path: Option<&'static str>,
    pub(super) username: &'static str,
    pub(super) expected: Vec<String>,
    pub(super) missing: &'static str,
    /// Whether a missing repository is reported by the tag metadata call (else by `list_tags`).
    pub(super) metadata_for_missing: bool,
    /// A repository whose first tag with metadata is this tag with a digest of this hex digit.
    pub(super) metadata: Option<(&'static str, &'static str, char)>,
}

pub(super) async fn check(case: Case, router: Router<Ctx>) {
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

/// An unsigned JWT with these claims (the stub trusts whatever it issued or was told to).
pub(super) fn jwt(claims: Value) -> String {
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(json!({"alg": "RS256", "typ": "JWT"})),
        b64(claims)
    )
}

/// A registry whose `/v2/` endpoints take a Bearer token from `realm_path` (or Basic with an
/// upper-case `BASIC` challenge when `realm_path` is `None`), serving `items` from `_catalog`
/// (under `prefix`) with `link_param` pagination, and 404 for any tag list.
pub(super) fn distribution_stub(
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

/// The Basic user name a request carries.
pub(super) fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.strip_prefix("Basic ")?)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    raw.split_once(':').map(|(u, _)| u.to_owned())
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

/// Every page of a repository's tags with metadata, `size` at a time.
pub(super) async fn metadata_pages(
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
