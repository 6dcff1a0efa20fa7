//! The one place that sends registry traffic: authentication, retries, redirects and limits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use cra_core::{BlobStream, Digest, FetchedManifest, Page, PageRequest, Secret};
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tracing::{debug, warn};
use url::Url;

use super::auth::{self, AuthState, Challenge, Scheme, TokenSource};
use super::blob::Verified;
use super::manifest::{self, MAX_MANIFEST_BYTES};
use super::oci_error;
use super::pagination;
use super::ratelimit::Quota;
use super::request::{self, redact, Auth, Request};
use super::retry::{parse_retry_after, parse_unix_retry_after, RetryPolicy};
use crate::config::{ConnectOptions, RegistryBase};
use crate::error::{Error, Result};

/// The largest JSON document (listing page, token response) we read.
pub const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;
/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;
/// Bytes of an error body we read to describe the error.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// A distribution client for one registry: its API root, credentials and learned auth state.
pub struct Client {
    http: reqwest::Client,
    root: Url,
    host: String,
    username: Option<String>,
    password: Option<Secret>,
    state: AuthState,
    retry: RetryPolicy,
    allow_http: bool,
    token_source: Option<Arc<dyn TokenSource>>,
    quota: Mutex<QuotaSeen>,
}

/// The last pull quota a response announced, and the remainder we last warned about.
#[derive(Debug, Default)]
struct QuotaSeen {
    last: Option<Quota>,
    warned_at: Option<u64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("root", &self.root.as_str())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "****"))
            .finish_non_exhaustive()
    }
}

/// Builds the HTTP client: TLS roots plus the CA bundle, redirects that never downgrade to
/// plain HTTP unless allowed and that drop `Authorization` on another host (reqwest strips
/// sensitive headers whenever host or port change), timeouts, and the user agent.
pub fn http_client(opts: &ConnectOptions, allow_http: bool) -> Result<reqwest::Client> {
    let agent = opts
        .user_agent
        .clone()
        .unwrap_or_else(|| format!("cra/{}", env!("CARGO_PKG_VERSION")));
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        let from_https = attempt
            .previous()
            .last()
            .is_some_and(|u| u.scheme() == "https");
        if from_https && attempt.url().scheme() != "https" && !allow_http {
            return attempt.error("refusing a redirect from https to plain http");
        }
        debug!(to = %redact(attempt.url()), "following redirect");
        attempt.follow()
    });
    let mut builder = reqwest::Client::builder()
        .user_agent(agent)
        .redirect(policy)
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(120))
        .https_only(!allow_http);
    if let Some(path) = &opts.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            Error::InvalidInput(format!("cannot read CA bundle {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::InvalidInput(format!("CA bundle {} is not PEM: {e}", path.display()))
        })?;
        if certs.is_empty() {
            return Err(Error::InvalidInput(format!(
                "CA bundle {} holds no certificate",
                path.display()
            )));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// A client for the registry at `base`, whose distribution API lives under `prefix`
    /// A client for the registry at `base` itself (no path prefix), logging in as `username`.
    pub fn with_login(
        base: &RegistryBase,
        username: &str,
        password: &Secret,
        opts: &ConnectOptions,
    ) -> Result<Client> {
        Client::new(
            base,
            "",
            Some(username.to_owned()),
            Some(password.clone()),
            opts,
        )
    }

    /// (empty for `/v2/` at the root).
    pub fn new(
        base: &RegistryBase,
        prefix: &str,
        username: Option<String>,
        password: Option<Secret>,
        opts: &ConnectOptions,
    ) -> Result<Client> {
        let allow_http = base.is_http();
        Ok(Client {
            http: http_client(opts, allow_http)?,
            root: base.api_root(prefix),
            host: base.host.clone(),
            username: username.filter(|u| !u.is_empty()),
            password: password.filter(|p| !p.is_empty()),
            state: AuthState::default(),
            retry: RetryPolicy::default(),
            allow_http,
            token_source: None,
            quota: Mutex::new(QuotaSeen::default()),
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Client {
        self.retry = retry;
        self
    }

    /// Gets Bearer tokens from `source` instead of `GET <realm>` with Basic credentials.
    pub fn with_token_source(mut self, source: Arc<dyn TokenSource>) -> Client {
        self.token_source = Some(source);
        self
    }

    /// The distribution API root (`scheme://host[:port]/[prefix/]`).
    pub fn root(&self) -> &Url {
        &self.root
    }

    /// `host[:port]` as written in references.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The pull quota the registry last announced in `ratelimit-*` headers (Docker Hub).
    pub fn quota(&self) -> Option<Quota> {
        self.quota.lock().ok().and_then(|seen| seen.last.clone())
    }

    /// Keeps the quota a response announces, and warns when it runs low: once, then again each
    /// time the remainder has halved, and when it is used up.
    fn observe_quota(&self, headers: &HeaderMap, what: &str) -> Option<Quota> {
        let quota = Quota::from_headers(headers)?;
        if let Ok(mut seen) = self.quota.lock() {
            let left = quota.remaining;
            if !quota.is_low() {
                seen.warned_at = None;
            } else if match (left, seen.warned_at) {
                (Some(0), Some(0)) | (None, _) => false,
                (Some(0), _) | (Some(_), None) => true,
                (Some(l), Some(w)) => l <= w / 2,
            } {
                warn!(request = %what, quota = %quota, "the registry's pull quota is running low");
                seen.warned_at = left;
            }
            seen.last = Some(quota.clone());
        }
        Some(quota)
    }

    /// Whether credentials were given.
    pub fn has_credentials(&self) -> bool {
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

    /// Sends `req`, answering auth challenges once, retrying 429/503 within the policy, and
    /// turning any other non-success status into a typed error.
    pub async fn send(&self, req: &Request) -> Result<reqwest::Response> {
        let what = req.what();
        let mut answered = false;
        let mut retry = 0;
        loop {
            let authz = self.authorization(req).await?;
            let resp = self.execute(req, authz, &what).await?;
            let quota = self.observe_quota(resp.headers(), &what);
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            if status == StatusCode::UNAUTHORIZED && !answered {
                if let Auth::Registry(scopes) = &req.auth {
                    answered = true;
                    if self.answer(resp.headers(), scopes).await? {
                        continue;
                    }
                }
            }
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                // Without `Retry-After`, a used-up quota refills within its window: waiting less
                // is pointless, so the window is the delay (and too long to sit out here).
                let after = retry_after(resp.headers())
                    .or_else(|| quota.as_ref().and_then(Quota::exhausted_wait));
                if let Some(wait) = self.retry.delay(retry, after) {
                    debug!(request = %what, status = status.as_u16(), wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                    continue;
                }
                if status == StatusCode::TOO_MANY_REQUESTS {
                    return Err(Error::RateLimited {
                        what,
                        retry_after: after,
                        quota,
                    });
                }
            }
            return Err(self.status_error(resp, what).await);
        }
    }

    /// The `Authorization` (or custom) header for a request, fetching a token when the registry
    /// is known to want one.
    async fn authorization(&self, req: &Request) -> Result<Option<(HeaderName, HeaderValue)>> {
        let authz = http::header::AUTHORIZATION;
        Ok(match &req.auth {
            Auth::Registry(scopes) => {
                let key = auth::scope_key(scopes);
                if let Some(token) = self.state.token(&key) {
                    sensitive(&format!("Bearer {}", token.expose())).map(|v| (authz, v))
                } else if let Some(challenge) = self.state.bearer() {
                    let token = self.fetch_token(&challenge, scopes).await?;
                    let value = sensitive(&format!("Bearer {}", token.value.expose()));
                    self.state.store(key, token);
                    value.map(|v| (authz, v))
                } else if self.state.basic() {
                    self.basic_value().map(|v| (authz, v))
                } else {
                    None
                }
            }
            other => self.direct_authorization(other),
        })
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

    /// Reacts to a 401; returns whether the request is worth sending again.
    async fn answer(&self, headers: &HeaderMap, scopes: &[String]) -> Result<bool> {
        let challenges: Vec<Challenge> = headers
            .get_all(http::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(auth::parse_challenges)
            .collect();
        let key = auth::scope_key(scopes);
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == Scheme::Bearer) {
            self.state.forget(&key);
            let mut wanted: Vec<String> = scopes.to_vec();
            if let Some(extra) = bearer.param("scope") {
                wanted.extend(extra.split_whitespace().map(str::to_owned));
            }
            let token = self.fetch_token(bearer, &wanted).await?;
            self.state.store(key, token);
            self.state.set_bearer(bearer.clone());
            return Ok(true);
        }
        if challenges.iter().any(|c| c.scheme == Scheme::Basic)
            && self.has_credentials()
            && !self.state.basic()
        {
            self.state.set_basic();
            return Ok(true);
        }
        Ok(false)
    }

    async fn fetch_token(&self, challenge: &Challenge, scopes: &[String]) -> Result<auth::Token> {
        let realm = challenge
            .param("realm")
            .ok_or_else(|| Error::protocol("WWW-Authenticate", "Bearer challenge without realm"))?;
        let mut url = Url::parse(realm)
            .or_else(|_| self.root.join(realm))
            .map_err(|e| {
                Error::protocol("WWW-Authenticate", format!("invalid realm {realm:?}: {e}"))
            })?;
        if url.scheme() != "https" && !(url.scheme() == "http" && self.allow_http) {
            return Err(Error::protocol(
                "WWW-Authenticate",
                format!(
                    "refusing to send credentials to the {} realm {}",
                    url.scheme(),
                    redact(&url)
                ),
            ));
        }
        if let Some(source) = &self.token_source {
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
        let rejected = if self.has_credentials() {
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

    /// Sends a request to a token service once, straight out (not through [`Client::send`]:
    /// no challenge flow, no retry), with the request's own [`Auth`] (`Registry` sends none).
    /// A 401 or 403 becomes [`Error::Unauthorized`] with `rejected` as its detail; the body of a
    /// success is returned, at most [`MAX_JSON_BYTES`].
    pub async fn token_request(&self, req: &Request, rejected: &str) -> Result<Bytes> {
        self.token_exchange(req, rejected, false).await
    }

    /// [`Client::token_request`] for an OAuth2 token endpoint (RFC 6749 section 5.2), which
    /// refuses a grant with 400 and an `error` code: 400, 401 and 403 become
    /// [`Error::Unauthorized`], with the endpoint's error code and description after `rejected`.
    pub async fn oauth_token_request(&self, req: &Request, rejected: &str) -> Result<Bytes> {
        self.token_exchange(req, rejected, true).await
    }

    async fn token_exchange(&self, req: &Request, rejected: &str, oauth: bool) -> Result<Bytes> {
        let what = req.what();
        let authz = self.direct_authorization(&req.auth);
        let resp = self.execute(req, authz, &what).await?;
        match resp.status().as_u16() {
            200..=299 => read_limited(resp, MAX_JSON_BYTES, &what).await,
            400 | 401 | 403 if oauth => {
                let body = read_limited(resp, MAX_ERROR_BODY, &what)
                    .await
                    .unwrap_or_default();
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
                retry_after: retry_after(resp.headers()),
                quota: Quota::from_headers(resp.headers()),
                what,
            }),
            _ => Err(self.status_error(resp, what).await),
        }
    }

    async fn execute(
        &self,
        req: &Request,
        authz: Option<(HeaderName, HeaderValue)>,
        what: &str,
    ) -> Result<reqwest::Response> {
        let mut builder = self.http.request(req.method.clone(), req.url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some((name, value)) = authz {
            builder = builder.header(name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        debug!(request = %what, "sending");
        builder.send().await.map_err(|e| transport_error(what, e))
    }

    async fn status_error(&self, resp: reqwest::Response, what: String) -> Error {
        let status = resp.status();
        let quota = Quota::from_headers(resp.headers());
        let reason = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase();
        let body = read_limited(resp, MAX_ERROR_BODY, &what)
            .await
            .unwrap_or_default();
        let detail = oci_error::describe(&body, &reason);
        match status.as_u16() {
            401 => Error::Unauthorized {
                what,
                detail: if self.has_credentials() {
                    format!("the registry rejected the credentials or denies access: {detail}")
                } else {
                    format!("the registry requires credentials: {detail}")
                },
            },
            403 => Error::Forbidden { what, detail },
            404 => Error::NotFound { what, detail },
            429 => Error::RateLimited {
                what,
                retry_after: quota.as_ref().and_then(Quota::exhausted_wait),
                quota,
            },
            s if s >= 500 => Error::Unavailable { what, status: s },
            s => Error::protocol(what, format!("unexpected HTTP {s}: {detail}")),
        }
    }

    /// Sends `req` and parses the JSON body; also returns the headers and the final URL.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        req: &Request,
    ) -> Result<(T, HeaderMap, Url)> {
        let what = req.what();
        let resp = self.send(req).await?;
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let body = read_limited(resp, MAX_JSON_BYTES, &what).await?;
        let parsed = serde_json::from_slice(&body)
            .map_err(|e| Error::protocol(what, format!("unexpected JSON: {e}")))?;
        Ok((parsed, headers, url))
    }

    fn next_cursor(
        &self,
        headers: &HeaderMap,
        url: &Url,
        current: Option<&str>,
    ) -> Result<Option<String>> {
        let Some(target) = headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link)
        else {
            return Ok(None);
        };
        let next = pagination::resolve_same_origin(url, target)?;
        let cursor = pagination::cursor_of(&next);
        if Some(cursor.as_str()) == current {
            return Err(Error::protocol(
                redact(url),
                "the next page is the same page",
            ));
        }
        Ok(Some(cursor))
    }

    fn cursor_url(&self, cursor: Option<&str>, path: &str) -> Result<Option<Url>> {
        let expected = format!("{}{path}", self.root.path());
        cursor
            .map(|c| pagination::url_of_cursor(&self.root, c, &expected))
            .transpose()
    }

    /// One page of `/v2/_catalog`.
    pub async fn catalog(&self, page: &PageRequest) -> Result<Page<String>> {
        let next = self.cursor_url(page.cursor.as_deref(), "v2/_catalog")?;
        let req = request::catalog(&self.root, page.size, next)?;
        let (body, headers, url): (Catalog, _, _) = self.get_json(&req).await?;
        Ok(Page {
            items: body.repositories.unwrap_or_default(),
            next: self.next_cursor(&headers, &url, page.cursor.as_deref())?,
        })
    }

    /// One page of `/v2/<repository>/tags/list`.
    pub async fn tags(&self, repository: &str, page: &PageRequest) -> Result<Page<String>> {
        request::validate_repository(repository)?;
        let next = self.cursor_url(
            page.cursor.as_deref(),
            &format!("v2/{repository}/tags/list"),
        )?;
        let req = request::tags(&self.root, repository, page.size, next)?;
        let (body, headers, url): (TagList, _, _) = self.get_json(&req).await?;
        Ok(Page {
            items: body.tags.unwrap_or_default(),
            next: self.next_cursor(&headers, &url, page.cursor.as_deref())?,
        })
    }

    /// `GET /v2/` with the registry's auth flow: proves the credentials where the registry
    /// demands them.
    pub async fn ping(&self) -> Result<()> {
        self.send(&request::ping(&self.root)?).await.map(drop)
    }

    /// Fetches a manifest or index, verified against the digest when `reference` is one and
    /// against `Docker-Content-Digest` when the registry sends it.
    pub async fn manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest> {
        let req = request::manifest(&self.root, repository, reference, false)?;
        let what = req.what();
        let requested = reference.parse::<Digest>().ok();
        let resp = self.send(&req).await?;
        let content_type = header_str(resp.headers(), http::header::CONTENT_TYPE.as_str());
        let announced = header_str(resp.headers(), "docker-content-digest");
        let bytes = read_limited(resp, MAX_MANIFEST_BYTES, &what).await?;
        manifest::verify(
            &what,
            requested.as_ref(),
            announced.as_deref(),
            content_type.as_deref(),
            bytes,
        )
    }

    /// The digest of a manifest from a `HEAD` (which Docker Hub does not count as a pull).
    pub async fn manifest_digest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<Digest>> {
        let req = request::manifest(&self.root, repository, reference, true)?;
        let resp = self.send(&req).await?;
        Ok(header_str(resp.headers(), "docker-content-digest").and_then(|d| d.parse().ok()))
    }

    /// Streams a blob, verified against `digest` and capped at `max_size`.
    pub async fn blob(
        &self,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> Result<BlobStream> {
        let req = request::blob(&self.root, repository, digest)?;
        let what = req.what();
        let resp = self.send(&req).await?;
        if let (Some(limit), Some(len)) = (max_size, resp.content_length()) {
            if len > limit {
                return Err(Error::TooLarge { what, limit });
            }
        }
        let err_what = what.clone();
        let stream = resp
            .bytes_stream()
            .map_err(move |e| transport_error(&err_what, e));
        Ok(Box::pin(Verified::new(
            Box::pin(stream),
            digest.clone(),
            max_size,
            what,
        )))
    }
}

fn sensitive(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `Retry-After`, or else the Docker Hub API's `X-Retry-After` (a Unix time).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let now = SystemTime::now();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text(http::header::RETRY_AFTER.as_str())
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| text("x-retry-after").and_then(|v| parse_unix_retry_after(v, now)))
}

/// Classifies a transport error: an untrusted certificate is a TLS error with a hint, the rest
/// are connection errors; the source chain is kept.
fn transport_error(what: &str, e: reqwest::Error) -> Error {
    let mut chain = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        chain.push_str(&s.to_string().to_ascii_lowercase());
        chain.push(' ');
        source = s.source();
    }
    let what = what.to_owned();
    if chain.contains("certificate") || chain.contains("tls handshake") {
        Error::Tls { what, source: e }
    } else {
        Error::Connect { what, source: e }
    }
}

/// Reads a body of at most `limit` bytes; larger ones fail with [`Error::TooLarge`].
pub async fn read_limited(resp: reqwest::Response, limit: u64, what: &str) -> Result<Bytes> {
    if resp.content_length().is_some_and(|len| len > limit) {
        return Err(Error::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    let mut out = BytesMut::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(what, e))?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: what.to_owned(),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
