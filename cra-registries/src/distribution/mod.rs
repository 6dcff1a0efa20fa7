//! The OCI distribution client every adapter shares (internal to the crate).
//!
//! Implemented endpoints: `GET /v2/` (auth discovery and credential check), `/v2/_catalog` and
//! `/v2/<name>/tags/list` with `n` and `Link` pagination (relative links resolved, other origins
//! refused), `GET /v2/<name>/manifests/<ref>` with the OCI and Docker `Accept` list and
//! digest verification, and `GET /v2/<name>/blobs/<digest>` streamed through a sha256 and size
//! check.
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge: Basic credentials, or a
//! Bearer token from the realm for the request's scopes, cached per scope set until shortly
//! before it expires; a 401 drops the cached token and retries once.
//! An adapter whose token service wants another grant (ACR's Azure AD exchange) plugs in a
//! [`session::TokenSource`]; its tokens are cached the same way.
//! 429 and 503 are retried with bounded backoff honouring `Retry-After`.
//! Pull quotas announced in `ratelimit-*` headers (Docker Hub) are logged as a warning when
//! low, and reported with a 429; a 429 without `Retry-After` on a used-up quota reports the window
//! as the delay.
//! Redirects (blob storage) are followed without `Authorization` when they leave the host, and
//! logged without their query string.
//! A loopback registry named without a scheme is tried over HTTPS, then plain HTTP.
//!
//! The layers, each using only those below it:
//! - [`client`] sends with retries and challenge answers; [`endpoints`] are its distribution calls;
//! - [`session`] holds credentials and tokens and talks to token services;
//! - [`transport`] is the only module that names the HTTP library, and [`roots`] finds the extra
//!   TLS roots it trusts.
//!
//! [`request`], [`auth`] parsing, [`pagination`], [`ratelimit`], [`retry`], [`manifest`] and
//! [`oci_error`] are pure.

pub(crate) mod auth;
pub(crate) mod blob;
pub(crate) mod client;
pub(crate) mod endpoints;
pub(crate) mod manifest;
pub(crate) mod oci_error;
pub(crate) mod pagination;
pub(crate) mod ratelimit;
pub(crate) mod request;
pub(crate) mod retry;
pub(crate) mod roots;
pub(crate) mod session;
pub(crate) mod transport;

pub(crate) use client::Client;
