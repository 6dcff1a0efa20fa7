//! `acr` against a loopback server replaying ACR's catalog and its Azure AD token exchange.
//! The shared stub harness is in `vendors.rs`.

// Helpers outside #[test] functions panic on purpose: a failed setup is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use cra_core::{ErrorKind, PageRequest, RegistryCredentials, RegistryKind, Secret};
use cra_registries::{connect, ConnectOptions};
use cra_tests::registry::StubServer;
use serde_json::json;

use super::vendors::{catalog_page, check, gate, jwt, names, not_found, token, Case, Ctx};

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
