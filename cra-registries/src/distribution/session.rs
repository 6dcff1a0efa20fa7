//! The token session: which credentials a request carries, how a 401 challenge is answered, and
//! the Bearer tokens fetched from the registry's token service, cached per scope set.
//!
//! The challenge and token parsing it relies on is pure and lives in [`super::auth`]; requests
//! go out through [`super::transport`], never through the retrying [`super::client::Client::send`].

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use cra_core::Secret;
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::auth::{self, AuthState, Challenge, Scheme, Token};
use super::ratelimit::Quota;
use super::request::{redact, Auth, Request};
use super::retry;
use super::transport::Transport;
use crate::error::{Error, Result};

/// The largest JSON document (listing page, token response) we read.
pub(crate) const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// How a client gets a Bearer token when the token spec's `GET <realm>` with Basic credentials
/// is not the registry's way (ACR's Azure AD refresh-token exchange).
///
/// The session still reads the challenge, checks the realm's scheme and caches what this returns
/// per scope set; a source only talks to the token service, through [`TokenClient`].
#[async_trait]
pub(crate) trait TokenSource: Send + Sync + std::fmt::Debug {
    /// A token for `scopes` from `realm` (the challenge's realm, its scheme already checked),
    /// where `service` is the challenge's `service`.
    async fn token(
        &self,
        tokens: &TokenClient<'_>,
        realm: &Url,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Token>;
}

/// The credentials of a client and what it learned about the registry's authentication.
pub(crate) struct Session {
    username: Option<String>,
    password: Option<Secret>,
    state: AuthState,
    /// Whether credentials may go to a plain-HTTP realm (the registry itself is plain HTTP).
    allow_http: bool,
    token_source: Option<Arc<dyn TokenSource>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with these credentials (empty ones count as absent).
    pub(crate) fn new(
        username: Option<String>,
        password: Option<Secret>,
        allow_http: bool,
    ) -> Session {
        Session {
            username: username.filter(|u| !u.is_empty()),
            password: password.filter(|p| !p.is_empty()),
            state: AuthState::default(),
            allow_http,
            token_source: None,
        }
    }

    /// Gets Bearer tokens from `source` instead of `GET <realm>` with Basic credentials.
    pub(crate) fn set_token_source(&mut self, source: Arc<dyn TokenSource>) {
        self.token_source = Some(source);
    }

    /// Whether credentials were given.
    pub(crate) fn has_credentials(&self) -> bool {
        self.username.is_some() || self.password.is_some()
    }

    fn basic_value(&self) -> Option<HeaderValue> {
        if !self.has_credentials() {
            return None;
        }
        let raw = format!(
            "{}:{}",
            self.username.as_deref().unwrap_or(""),
            self.password.as_ref().map(Secret::expose).unwrap_or("")
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
        sensitive(&format!("Basic {encoded}"))
    }

    /// The header of a request that does not go through the challenge flow.
    fn direct_authorization(&self, auth: &Auth) -> Option<(HeaderName, HeaderValue)> {
        let authz = http::header::AUTHORIZATION;
        match auth {
            Auth::None | Auth::Registry(_) => None,
            Auth::Basic => self.basic_value().map(|v| (authz, v)),
            Auth::Bearer(token) => {
                sensitive(&format!("Bearer {}", token.expose())).map(|v| (authz, v))
            }
            Auth::Header(name, secret) => sensitive(secret.expose()).map(|v| (name.clone(), v)),
        }
    }
}

/// A session with the transport and registry it belongs to: what authenticates requests and
/// talks to token services.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenClient<'a> {
    pub(crate) session: &'a Session,
    pub(crate) transport: &'a Transport,
    /// The distribution API root.
    pub(crate) root: &'a Url,
    /// `host[:port]` as written in references.
    pub(crate) host: &'a str,
}

impl TokenClient<'_> {
    /// The distribution API root (`scheme://host[:port]/[prefix/]`).
    pub(crate) fn root(&self) -> &Url {
        self.root
    }

    /// `host[:port]` as written in references.
    pub(crate) fn host(&self) -> &str {
        self.host
    }

    /// The `Authorization` (or custom) header for a request, fetching a token when the registry
    /// is known to want one.
    pub(crate) async fn authorization(
        &self,
        req: &Request,
    ) -> Result<Option<(HeaderName, HeaderValue)>> {
        let authz = http::header::AUTHORIZATION;
        let state = &self.session.state;
        Ok(match &req.auth {
            Auth::Registry(scopes) => {
                let key = auth::scope_key(scopes);
                if let Some(token) = state.token(&key) {
                    sensitive(&format!("Bearer {}", token.expose())).map(|v| (authz, v))
                } else if let Some(challenge) = state.bearer() {
                    let token = self.fetch_token(&challenge, scopes).await?;
                    let value = sensitive(&format!("Bearer {}", token.value.expose()));
                    state.store(key, token);
                    value.map(|v| (authz, v))
                } else if state.basic() {
                    self.session.basic_value().map(|v| (authz, v))
                } else {
                    None
                }
            }
            other => self.session.direct_authorization(other),
        })
    }

    /// Reacts to a 401; returns whether the request is worth sending again.
    pub(crate) async fn answer(&self, headers: &HeaderMap, scopes: &[String]) -> Result<bool> {
        let challenges: Vec<Challenge> = headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(auth::parse_challenges)
            .collect();
        let state = &self.session.state;
        let key = auth::scope_key(scopes);
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == Scheme::Bearer) {
            state.forget(&key);
            let mut wanted: Vec<String> = scopes.to_vec();
            if let Some(extra) = bearer.param("scope") {
                wanted.extend(extra.split_whitespace().map(str::to_owned));
            }
            let token = self.fetch_token(bearer, &wanted).await?;
            state.store(key, token);
            state.set_bearer(bearer.clone());
            return Ok(true);
        }
        if challenges.iter().any(|c| c.scheme == Scheme::Basic)
            && self.session.has_credentials()
            && !state.basic()
        {
            state.set_basic();
            return Ok(true);
        }
        Ok(false)
    }

    async fn fetch_token(&self, challenge: &Challenge, scopes: &[String]) -> Result<Token> {
        let realm = challenge
            .param("realm")
            .ok_or_else(|| Error::protocol("WWW-Authenticate", "Bearer challenge without realm"))?;
        let mut url = Url::parse(realm)
            .or_else(|_| self.root.join(realm))
            .map_err(|e| {
                Error::protocol("WWW-Authenticate", format!("invalid realm {realm:?}: {e}"))
            })?;
        if url.scheme() != "https" && !(url.scheme() == "http" && self.session.allow_http) {
            return Err(Error::protocol(
                "WWW-Authenticate",
                format!(
                    "refusing to send credentials to the {} realm {}",
                    url.scheme(),
                    redact(&url)
                ),
            ));
        }
        if let Some(source) = &self.session.token_source {
            return source
                .token(self, &url, challenge.param("service"), scopes)
                .await;
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = challenge.param("service") {
                q.append_pair("service", service);
            }
            let mut sorted: Vec<&String> = scopes.iter().collect();
            sorted.sort();
            sorted.dedup();
            for scope in sorted {
                q.append_pair("scope", scope);
            }
        }
        // Basic goes to the realm alone, and a 401 there means the credentials are wrong.
        let req = Request::get(url, Auth::Basic);
        let rejected = if self.session.has_credentials() {
            "the token service rejected the credentials"
        } else {
            "the registry requires credentials"
        };
        let body = self.token_request(&req, rejected).await?;
        auth::parse_token(&body).ok_or_else(|| {
            Error::protocol(
                req.what(),
                "token response has neither token nor access_token",
            )
        })
    }

    /// Sends a request to a token service once, straight out (no challenge flow, no retry),
    /// with the request's own [`Auth`] (`Registry` sends none).
    /// A 401 or 403 becomes [`Error::Unauthorized`] with `rejected` as its detail; the body of a
    /// success is returned, at most [`MAX_JSON_BYTES`].
    pub(crate) async fn token_request(&self, req: &Request, rejected: &str) -> Result<Bytes> {
        self.token_exchange(req, rejected, false).await
    }

    /// [`TokenClient::token_request`] for an OAuth2 token endpoint (RFC 6749 section 5.2), which
    /// refuses a grant with 400 and an `error` code: 400, 401 and 403 become
    /// [`Error::Unauthorized`], with the endpoint's error code and description after `rejected`.
    pub(crate) async fn oauth_token_request(&self, req: &Request, rejected: &str) -> Result<Bytes> {
        self.token_exchange(req, rejected, true).await
    }

    async fn token_exchange(&self, req: &Request, rejected: &str, oauth: bool) -> Result<Bytes> {
        let what = req.what();
        let authz = self.session.direct_authorization(&req.auth);
        let resp = self.transport.execute(req, authz.as_ref(), &what).await?;
        match resp.status().as_u16() {
            200..=299 => resp.bytes_limited(MAX_JSON_BYTES, &what).await,
            400 | 401 | 403 if oauth => {
                let body = resp.error_body(&what).await;
                let detail = match auth::parse_oauth_error(&body) {
                    Some(said) => format!("{rejected}: {said}"),
                    None => rejected.to_owned(),
                };
                Err(Error::Unauthorized { what, detail })
            }
            401 | 403 => Err(Error::Unauthorized {
                what,
                detail: rejected.to_owned(),
            }),
            429 => Err(Error::RateLimited {
                retry_after: retry::retry_after(resp.headers()),
                quota: Quota::from_headers(resp.headers()),
                what,
            }),
            _ => Err(resp.into_error(what, self.session.has_credentials()).await),
        }
    }
}

/// A header value marked sensitive (kept out of debug output), if the text is a valid value.
fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}
