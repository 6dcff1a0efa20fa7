//! `acr`: Azure Container Registry.
//!
//! The token service (`/oauth2/token`) answers the standard Bearer challenge and returns
//! `access_token`; admin users, repository-scoped tokens and service principals all log in with
//! Basic credentials there.
//!
//! An Azure AD access token as the password (a JWT, with an empty username or the null GUID
//! `00000000-0000-0000-0000-000000000000`) is first exchanged for an ACR refresh token at
//! `POST /oauth2/exchange` (form `grant_type=access_token`, `service`, `tenant` from the token's
//! `tid` claim, `access_token`), and access tokens then come from `POST /oauth2/token` with
//! `grant_type=refresh_token`, cached per scope like any other token.
//! An ACR refresh token pasted as the password with the null GUID (what `az acr login` hands
//! to `docker login`) is recognised by its claims (`iss` "Azure Container Registry",
//! `grant_type` "refresh_token") and keeps going through Basic, which the token service accepts.
//! See <https://azure.github.io/acr/AAD-OAuth.html>.
//! Listing uses `GET /acr/v1/_catalog?n=` (scope `registry:catalog:*`), and tag metadata
//! `GET /acr/v1/<name>/_tags?n=` (scope `repository:<name>:metadata_read`), both paginated by
//! `Link` like the distribution API.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use tracing::debug;
use url::Url;

use super::vendor::{api_url, confined, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::auth::{self, Token};
use crate::distribution::request::{validate_repository, Auth, Request, CATALOG_SCOPE};
use crate::distribution::session::{TokenClient, TokenSource};
use crate::distribution::{pagination, Client};
use crate::error::{Error, Result};

/// The username that marks the password as an ACR refresh token (or, here, an AAD token).
pub(crate) const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// ACR's listing and metadata.
#[derive(Debug)]
pub(crate) struct Acr {
    root: Url,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tag {
    name: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    last_update_time: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
}

impl Acr {
    fn url(&self, path: &str, page: &PageRequest) -> Result<Url> {
        match &page.cursor {
            Some(cursor) => confined(&self.root, cursor),
            None => api_url(
                &self.root,
                &format!("{path}?n={}", page.size.unwrap_or(100).clamp(1, 1000)),
            ),
        }
    }

    fn next(&self, headers: &http::HeaderMap) -> Result<Option<String>> {
        headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link)
            .map(|n| confined(&self.root, n).map(|u| pagination::cursor_of(&u)))
            .transpose()
    }
}

#[async_trait]
impl Vendor for Acr {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Acr
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let url = self.url("acr/v1/_catalog", page)?;
        let req = Request::get(url, Auth::Registry(vec![CATALOG_SCOPE.to_owned()]));
        let (body, headers, _): (Catalog, _, _) = client.get_json(&req).await?;
        Ok(Page {
            items: body.repositories.unwrap_or_default(),
            next: self.next(&headers)?,
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let url = self.url(&format!("acr/v1/{repository}/_tags"), page)?;
        let scope = format!("repository:{repository}:metadata_read");
        let (body, headers, _): (Tags, _, _) = client
            .get_json(&Request::get(url, Auth::Registry(vec![scope])))
            .await?;
        let items = body
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| TagInfo {
                tag: t.name,
                digest: t.digest.and_then(|d| d.parse().ok()),
                last_pushed: t.last_update_time.or(t.created_time),
            })
            .collect();
        Ok(Page {
            items,
            next: self.next(&headers)?,
        })
    }
}

/// How the credentials log in.
#[derive(Debug, PartialEq, Eq)]
enum Login {
    /// Basic at `/oauth2/token`: admin user, repository-scoped token, service principal, or an
    /// ACR refresh token with the null GUID.
    Basic,
    /// An Azure AD access token to exchange, with the tenant from its `tid` claim.
    AzureAd { tenant: Option<String> },
}

/// Tells an Azure AD access token from every other kind of credentials.
fn login(username: &str, password: &str) -> Login {
    if !(username.is_empty() || username == NULL_GUID) {
        return Login::Basic;
    }
    let Some(claims) = jwt_claims(password) else {
        return Login::Basic;
    };
    let claim = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    if claim("iss") == Some("Azure Container Registry")
        || claim("grant_type") == Some("refresh_token")
    {
        return Login::Basic;
    }
    Login::AzureAd {
        tenant: claim("tid").filter(|t| !t.is_empty()).map(str::to_owned),
    }
}

/// The claims of a JWT: three base64url segments, whose first two are JSON objects.
/// The signature is not checked; the registry does that.
fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let segments: Vec<&str> = token.split('.').map(|s| s.trim_end_matches('=')).collect();
    let [header, payload, signature] = segments.as_slice() else {
        return None;
    };
    let base64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !base64url(signature) {
        return None;
    }
    let object = |s: &str| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    object(header)?;
    object(payload)
}

#[derive(Deserialize)]
struct Exchanged {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// Azure AD access token → ACR refresh token → ACR access tokens.
#[derive(Debug)]
struct AzureAdExchange {
    access_token: Secret,
    tenant: Option<String>,
    /// The ACR refresh token, once exchanged.
    refresh: tokio::sync::Mutex<Option<Secret>>,
}

impl AzureAdExchange {
    /// `POST /oauth2/exchange` at the registry: the AAD token for an ACR refresh token.
    async fn exchange(&self, client: &TokenClient<'_>, service: &str) -> Result<Secret> {
        let url = api_url(client.root(), "oauth2/exchange")?;
        let mut fields = vec![("grant_type", "access_token"), ("service", service)];
        if let Some(tenant) = &self.tenant {
            fields.push(("tenant", tenant));
        }
        fields.push(("access_token", self.access_token.expose()));
        let req = Request {
            method: http::Method::POST,
            ..Request::get(url, Auth::None)
        }
        .form(&fields);
        debug!(request = %req.what(), "exchanging the azure ad token for a refresh token");
        let body = client
            .token_request(
                &req,
                "azure ad token rejected by the registry's token exchange",
            )
            .await?;
        let parsed: Exchanged = serde_json::from_slice(&body)
            .map_err(|e| Error::protocol(req.what(), format!("unexpected JSON: {e}")))?;
        parsed
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| Error::protocol(req.what(), "exchange response has no refresh_token"))
    }

    /// `POST <realm>` with `grant_type=refresh_token`: an access token for `scopes`.
    async fn access(
        &self,
        client: &TokenClient<'_>,
        realm: &Url,
        service: &str,
        scopes: &[String],
        refresh: &Secret,
    ) -> Result<Token> {
        let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut fields = vec![("grant_type", "refresh_token"), ("service", service)];
        fields.extend(sorted.into_iter().map(|s| ("scope", s)));
        fields.push(("refresh_token", refresh.expose()));
        let req = Request {
            method: http::Method::POST,
            ..Request::get(realm.clone(), Auth::None)
        }
        .form(&fields);
        let body = client
            .token_request(
                &req,
                "the registry's token service rejected the refresh token from the azure ad exchange",
            )
            .await?;
        auth::parse_token(&body)
            .ok_or_else(|| Error::protocol(req.what(), "token response has no access_token"))
    }
}

#[async_trait]
impl TokenSource for AzureAdExchange {
    async fn token(
        &self,
        client: &TokenClient<'_>,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token> {
        let service = service.unwrap_or(client.host());
        let mut refresh = self.refresh.lock().await;
        // A cached refresh token the token service refuses (it expired) is exchanged anew, once.
        let cached = refresh.clone();
        if let Some(token) = &cached {
            match self.access(client, realm, service, scopes, token).await {
                Err(Error::Unauthorized { .. }) => *refresh = None,
                other => return other,
            }
        }
        let fresh = self.exchange(client, service).await?;
        *refresh = Some(fresh.clone());
        self.access(client, realm, service, scopes, &fresh).await
    }
}

/// Builds the adapter; the base is `<name>.azurecr.io`.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let mut client = Client::with_login(base, username, password, opts)?;
    if let Login::AzureAd { tenant } = login(username, password.expose()) {
        client = client.with_token_source(Arc::new(AzureAdExchange {
            access_token: password.clone(),
            tenant,
            refresh: tokio::sync::Mutex::new(None),
        }));
    }
    let root = client.root().clone();
    Ok(Arc::new(Adapter::new(client, Acr { root })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(r#"{"alg":"RS256","typ":"JWT"}"#),
            b64(claims)
        )
    }

    #[test]
    fn azure_ad_tokens_are_told_apart_with_their_tenant() {
        let aad = jwt(
            r#"{"aud":"https://management.azure.com","iss":"https://sts.windows.net/409520d4-8100-4d1d-ad47-72432ddcc120/","tid":"409520d4-8100-4d1d-ad47-72432ddcc120"}"#,
        );
        let with_tenant = Login::AzureAd {
            tenant: Some("409520d4-8100-4d1d-ad47-72432ddcc120".into()),
        };
        assert_eq!(login("", &aad), with_tenant);
        assert_eq!(login(NULL_GUID, &aad), with_tenant);
        assert_eq!(
            login("", &jwt(r#"{"aud":"https://management.azure.com"}"#)),
            Login::AzureAd { tenant: None }
        );
        assert_eq!(
            login("", &jwt(r#"{"tid":""}"#)),
            Login::AzureAd { tenant: None }
        );
        // Padded segments are tolerated.
        let padded = format!("{}==.{}=.c2ln", b64("{}"), b64(r#"{"tid":"t"}"#));
        assert_eq!(
            login("", &padded),
            Login::AzureAd {
                tenant: Some("t".into())
            }
        );
    }

    #[test]
    fn everything_else_logs_in_with_basic() {
        let aad = jwt(r#"{"tid":"409520d4-8100-4d1d-ad47-72432ddcc120"}"#);
        // A named user (admin user, token, service principal) with a JWT-looking password.
        assert_eq!(login("myregistry", &aad), Login::Basic);
        // ACR refresh tokens (claims as in the Azure docs) with the null GUID.
        let acr_refresh = jwt(
            r#"{"iss":"Azure Container Registry","aud":"contosoregistry.azurecr.io","grant_type":"refresh_token","tenant":"409520d4-8100-4d1d-ad47-72432ddcc120"}"#,
        );
        assert_eq!(login(NULL_GUID, &acr_refresh), Login::Basic);
        assert_eq!(
            login(NULL_GUID, &jwt(r#"{"grant_type":"refresh_token"}"#)),
            Login::Basic
        );
        assert_eq!(
            login(NULL_GUID, &jwt(r#"{"iss":"Azure Container Registry"}"#)),
            Login::Basic
        );
        // Not JWTs.
        for password in [
            "plain-password",
            "a.b",
            "a.b.c.d",
            &format!("{}.{}.", b64("{}"), b64("{}")),
            &format!("{}.{}.sig", b64("{}"), b64("[1]")),
            &format!("{}.{}.sig", b64("not json"), b64("{}")),
            &format!("{}.{}.si+g", b64("{}"), b64("{}")),
            &format!("{}.{}!.sig", b64("{}"), b64("{}")),
            "",
        ] {
            assert_eq!(login("", password), Login::Basic, "{password:?}");
            assert!(jwt_claims(password).is_none(), "{password:?}");
        }
    }

    #[test]
    fn the_exchange_never_shows_the_token() {
        let source = AzureAdExchange {
            access_token: Secret::new(jwt(r#"{"tid":"t"}"#)),
            tenant: Some("t".into()),
            refresh: tokio::sync::Mutex::new(Some(Secret::new("refresh-secret"))),
        };
        let shown = format!("{source:?}");
        assert!(!shown.contains("refresh-secret"), "{shown}");
        assert!(!shown.contains(&b64(r#"{"tid":"t"}"#)), "{shown}");
    }
}
