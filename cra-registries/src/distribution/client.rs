//! The distribution client: one registry's API root, its [`Session`] and [`Transport`], and
//! [`Client::send`], which answers auth challenges, retries throttled answers and turns every
//! other failure into a typed error.
//! The endpoints it serves are in [`super::endpoints`].

use std::sync::{Arc, Mutex};

use backon::Retryable as _;
use cra_core::Secret;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};
use url::Url;

use super::ratelimit::Quota;
use super::request::{Auth, Request};
use super::retry;
use super::session::{Session, TokenClient, TokenSource, MAX_JSON_BYTES};
use super::transport::{Response, Transport};
use crate::config::{ConnectOptions, RegistryBase};
use crate::error::{Error, Result};

/// A distribution client for one registry: its API root, credentials and learned auth state.
pub(crate) struct Client {
    transport: Transport,
    session: Session,
    root: Url,
    host: String,
    quota: Mutex<QuotaSeen>,
}

/// The pull-quota remainder we last warned about.
#[derive(Debug, Default)]
struct QuotaSeen {
    warned_at: Option<u64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("root", &self.root.as_str())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the registry at `base` itself (no path prefix), logging in as `username`.
    pub(crate) fn with_login(
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

    /// A client for the registry at `base`, whose distribution API lives under `prefix`
    /// (empty for `/v2/` at the root).
    pub(crate) fn new(
        base: &RegistryBase,
        prefix: &str,
        username: Option<String>,
        password: Option<Secret>,
        opts: &ConnectOptions,
    ) -> Result<Client> {
        let transport = Transport::new(base, opts)?;
        let allow_http = transport.allows_http(base);
        Ok(Client {
            transport,
            session: Session::new(username, password, allow_http),
            root: base.api_root(prefix),
            host: base.host.clone(),
            quota: Mutex::new(QuotaSeen::default()),
        })
    }

    /// Gets Bearer tokens from `source` instead of `GET <realm>` with Basic credentials.
    pub(crate) fn with_token_source(mut self, source: Arc<dyn TokenSource>) -> Client {
        self.session.set_token_source(source);
        self
    }

    /// The distribution API root (`scheme://host[:port]/[prefix/]`).
    pub(crate) fn root(&self) -> &Url {
        &self.root
    }

    /// `host[:port]` as written in references.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The session with what it needs to authenticate requests and talk to token services.
    pub(crate) fn tokens(&self) -> TokenClient<'_> {
        TokenClient {
            session: &self.session,
            transport: &self.transport,
            root: &self.root,
            host: &self.host,
        }
    }

    /// Keeps the quota a response announces, and warns when it runs low: once, then again each
    /// time the remainder has halved, and when it is used up.
    fn observe_quota(&self, headers: &HeaderMap, what: &str) {
        let Some(quota) = Quota::from_headers(headers) else {
            return;
        };
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
        }
    }

    /// Sends `req`, answering auth challenges once per attempt, retrying 429 and 503 with
    /// bounded backoff that honours `Retry-After`, and turning any other non-success status into
    /// a typed error.
    pub(crate) async fn send(&self, req: &Request) -> Result<Response> {
        (|| self.send_once(req))
            .retry(retry::backoff())
            .when(Error::is_throttled)
            .adjust(|e: &Error, next| retry::wait(next, e.retry_after()))
            .notify(|e: &Error, wait| {
                debug!(request = %req.what(), error = %e, wait_ms = wait.as_millis() as u64, "retrying");
            })
            .await
    }

    async fn send_once(&self, req: &Request) -> Result<Response> {
        let what = req.what();
        let tokens = self.tokens();
        let mut answered = false;
        loop {
            let authz = tokens.authorization(req).await?;
            let resp = self.transport.execute(req, authz.as_ref(), &what).await?;
            self.observe_quota(resp.headers(), &what);
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            if status == StatusCode::UNAUTHORIZED && !answered {
                if let Auth::Registry(scopes) = &req.auth {
                    answered = true;
                    if tokens.answer(resp.headers(), scopes).await? {
                        continue;
                    }
                }
            }
            return Err(resp.into_error(what, self.session.has_credentials()).await);
        }
    }

    /// Sends `req` and parses the JSON body; also returns the headers and the final URL.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        req: &Request,
    ) -> Result<(T, HeaderMap, Url)> {
        let what = req.what();
        let resp = self.send(req).await?;
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let body = resp.bytes_limited(MAX_JSON_BYTES, &what).await?;
        let parsed = serde_json::from_slice(&body)
            .map_err(|e| Error::protocol(what, format!("unexpected JSON: {e}")))?;
        Ok((parsed, headers, url))
    }

    /// [`TokenClient::oauth_token_request`] on this client's transport.
    pub(crate) async fn oauth_token_request(
        &self,
        req: &Request,
        rejected: &str,
    ) -> Result<bytes::Bytes> {
        self.tokens().oauth_token_request(req, rejected).await
    }
}
