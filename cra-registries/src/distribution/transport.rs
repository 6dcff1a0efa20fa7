//! The HTTP transport: the one place that names `reqwest`.
//!
//! It builds the HTTP client (TLS roots, redirect policy, timeouts, user agent), sends one
//! [`Request`] with the header it is given, and classifies what goes wrong below HTTP:
//! an untrusted certificate, a registry that answers plain HTTP to a TLS handshake, or a
//! connection that fails.
//! A registry on the loopback named without a scheme is tried over HTTPS first and then over
//! plain HTTP, as docker does; once plain HTTP answered, the transport keeps using it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tracing::{debug, info, warn};
use url::Url;

use super::oci_error;
use super::ratelimit::Quota;
use super::request::{redact, Request};
use super::roots;
use crate::config::{ConnectOptions, RegistryBase};
use crate::error::{Error, Result, TransportError};

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;
/// Bytes of an error body we read to describe the error.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Sends requests to one registry (and to the token services and storage it sends us to).
pub(crate) struct Transport {
    http: reqwest::Client,
    /// The HTTPS origin that may fall back to plain HTTP (a loopback registry without a scheme).
    fallback: Option<Url>,
    /// Whether that origin answered over plain HTTP.
    fell_back: AtomicBool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("fallback", &self.fallback.as_ref().map(Url::as_str))
            .field("fell_back", &self.fell_back.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The server's certificate is not trusted.
    Untrusted,
    /// The server answered the TLS handshake with something that is not TLS (plain HTTP).
    NotTls,
    /// Nothing listens, or the connection broke.
    Connect,
}

impl Transport {
    /// A transport for `base`: HTTPS only unless the base is plain HTTP or may fall back to it.
    pub(crate) fn new(base: &RegistryBase, opts: &ConnectOptions) -> Result<Transport> {
        let fallback = base.falls_back_to_http().then(|| base.origin.clone());
        let allow_http = base.is_http() || fallback.is_some();
        Ok(Transport {
            http: http_client(opts, allow_http)?,
            fallback,
            fell_back: AtomicBool::new(false),
        })
    }

    /// Whether requests may go over plain HTTP (the base says so, or it is a loopback registry).
    pub(crate) fn allows_http(&self, base: &RegistryBase) -> bool {
        base.is_http() || self.fallback.is_some()
    }

    /// Sends `req` with the `authorization` header, if any.
    pub(crate) async fn execute(
        &self,
        req: &Request,
        authorization: Option<&(HeaderName, HeaderValue)>,
        what: &str,
    ) -> Result<Response> {
        let on_fallback_origin = self
            .fallback
            .as_ref()
            .is_some_and(|origin| origin.origin() == req.url.origin());
        if !on_fallback_origin {
            return self.once(req.url.clone(), req, authorization, what).await;
        }
        let plain = plain_http(&req.url);
        if self.fell_back.load(Ordering::Relaxed) {
            return self.once(plain, req, authorization, what).await;
        }
        match self
            .http
            .execute(self.build(req.url.clone(), req, authorization)?)
            .await
        {
            Ok(inner) => Ok(Response { inner }),
            Err(e) if matches!(classify(&e), Failure::NotTls | Failure::Connect) => {
                debug!(request = %what, error = %e.without_url(), "no TLS on the loopback registry; trying plain HTTP");
                let response = self.once(plain, req, authorization, what).await?;
                if !self.fell_back.swap(true, Ordering::Relaxed) {
                    info!(registry = %req.url.origin().ascii_serialization(), "the loopback registry speaks plain HTTP; using it");
                }
                Ok(response)
            }
            Err(e) => Err(transport_error(what, e)),
        }
    }

    async fn once(
        &self,
        url: Url,
        req: &Request,
        authorization: Option<&(HeaderName, HeaderValue)>,
        what: &str,
    ) -> Result<Response> {
        debug!(request = %what, "sending");
        let built = self.build(url, req, authorization)?;
        match self.http.execute(built).await {
            Ok(inner) => Ok(Response { inner }),
            Err(e) => Err(transport_error(what, e)),
        }
    }

    fn build(
        &self,
        url: Url,
        req: &Request,
        authorization: Option<&(HeaderName, HeaderValue)>,
    ) -> Result<reqwest::Request> {
        let mut builder = self.http.request(req.method.clone(), url);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some((name, value)) = authorization {
            builder = builder.header(name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        builder.build().map_err(|e| {
            Error::protocol(
                req.what(),
                format!("cannot build the request: {}", e.without_url()),
            )
        })
    }
}

/// `url` with the `http` scheme.
fn plain_http(url: &Url) -> Url {
    let mut plain = url.clone();
    // Setting `http` on an `https` URL always succeeds (both are special schemes).
    let _ = plain.set_scheme("http");
    plain
}

/// A response whose status line and headers have arrived; the body is read on demand.
#[derive(Debug)]
pub(crate) struct Response {
    inner: reqwest::Response,
}

impl Response {
    /// The status.
    pub(crate) fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    pub(crate) fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The URL that answered, after redirects.
    pub(crate) fn url(&self) -> &Url {
        self.inner.url()
    }

    /// The announced body length.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// Reads a body of at most `limit` bytes; larger ones fail with [`Error::TooLarge`].
    pub(crate) async fn bytes_limited(self, limit: u64, what: &str) -> Result<Bytes> {
        if self.content_length().is_some_and(|len| len > limit) {
            return Err(Error::TooLarge {
                what: what.to_owned(),
                limit,
            });
        }
        let mut out = BytesMut::new();
        let mut stream = self.inner.bytes_stream();
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

    /// The body as a stream of chunks; `what` names the request in errors.
    pub(crate) fn into_stream(self, what: String) -> impl Stream<Item = Result<Bytes>> + Send {
        self.inner
            .bytes_stream()
            .map_err(move |e| transport_error(&what, e))
    }

    /// The typed error for a non-success answer; `has_credentials` says whether a 401 rejected
    /// credentials or asked for them.
    pub(crate) async fn into_error(self, what: String, has_credentials: bool) -> Error {
        let status = self.status();
        let quota = Quota::from_headers(self.headers());
        let retry_after = super::retry::retry_after(self.headers());
        let reason = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase();
        let body = self
            .bytes_limited(MAX_ERROR_BODY, &what)
            .await
            .unwrap_or_default();
        let detail = oci_error::describe(&body, &reason);
        match status.as_u16() {
            401 => Error::Unauthorized {
                what,
                detail: if has_credentials {
                    format!("the registry rejected the credentials or denies access: {detail}")
                } else {
                    format!("the registry requires credentials: {detail}")
                },
            },
            403 => Error::Forbidden { what, detail },
            404 => Error::NotFound { what, detail },
            429 => Error::RateLimited {
                what,
                retry_after: retry_after.or_else(|| quota.as_ref().and_then(Quota::exhausted_wait)),
                quota,
            },
            s if s >= 500 => Error::Unavailable {
                what,
                status: s,
                retry_after,
            },
            s => Error::protocol(what, format!("unexpected HTTP {s}: {detail}")),
        }
    }

    /// Reads at most [`MAX_ERROR_BODY`] bytes of the body, for an error description.
    pub(crate) async fn error_body(self, what: &str) -> Bytes {
        self.bytes_limited(MAX_ERROR_BODY, what)
            .await
            .unwrap_or_default()
    }
}

/// Builds the HTTP client: the built-in TLS roots plus `SSL_CERT_FILE`/`SSL_CERT_DIR` and the CA
/// bundle, redirects that never downgrade to plain HTTP unless allowed and that drop
/// `Authorization` on another host (reqwest strips sensitive headers whenever host or port
/// change), timeouts, and the user agent.
fn http_client(opts: &ConnectOptions, allow_http: bool) -> Result<reqwest::Client> {
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
    for (name, addr) in &opts.resolve {
        builder = builder.resolve(name, *addr);
    }
    for bundle in roots::extra_roots(opts.ca_bundle.as_deref(), &roots::EnvRoots::from_env())? {
        match reqwest::Certificate::from_pem_bundle(&bundle.pem) {
            Ok(certs) if !certs.is_empty() => {
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
            }
            Ok(_) if bundle.required => {
                return Err(Error::InvalidInput(format!(
                    "{} holds no certificate",
                    bundle.origin
                )))
            }
            Err(e) if bundle.required => {
                return Err(Error::InvalidInput(format!(
                    "{} is not PEM: {e}",
                    bundle.origin
                )))
            }
            _ => warn!(file = %bundle.origin, "no usable certificate; ignoring it"),
        }
    }
    builder
        .build()
        .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))
}

/// What a transport error's cause chain says.
fn classify(e: &reqwest::Error) -> Failure {
    let mut chain = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        chain.push_str(&s.to_string().to_ascii_lowercase());
        chain.push(' ');
        source = s.source();
    }
    if chain.contains("invalidcontenttype") || chain.contains("corrupt message") {
        Failure::NotTls
    } else if chain.contains("certificate") || chain.contains("tls handshake") {
        Failure::Untrusted
    } else {
        Failure::Connect
    }
}

/// The typed error for a transport failure; the cause chain is kept, without the URL (which
/// `what` names, redacted).
fn transport_error(what: &str, e: reqwest::Error) -> Error {
    let failure = classify(&e);
    let what = what.to_owned();
    let source = TransportError::new(e.without_url());
    match failure {
        Failure::Untrusted => Error::Tls { what, source },
        Failure::NotTls => Error::PlainHttp { what, source },
        Failure::Connect => Error::Connect { what, source },
    }
}
