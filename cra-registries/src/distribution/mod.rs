//! The OCI distribution client every adapter shares.
//!
//! Implemented endpoints: `GET /v2/` (auth discovery and credential check), `/v2/_catalog` and
//! `/v2/<name>/tags/list` with `n` and `Link` pagination (relative links resolved, other origins
//! refused), `GET`/`HEAD /v2/<name>/manifests/<ref>` with the OCI and Docker `Accept` list and
//! digest verification, and `GET /v2/<name>/blobs/<digest>` streamed through a sha256 and size
//! check.
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge: Basic credentials, or a
//! Bearer token from the realm for the request's scopes, cached per scope set until shortly
//! before it expires; a 401 drops the cached token and retries once.
//! An adapter whose token service wants another grant (ACR's Azure AD exchange) plugs in an
//! [`auth::TokenSource`]; its tokens are cached the same way.
//! 429 and 503 are retried with bounded backoff honouring `Retry-After`.
//! Pull quotas announced in `ratelimit-*` headers (Docker Hub) are kept, logged as a warning when
//! low, and reported with a 429; a 429 without `Retry-After` on a used-up quota reports the window
//! as the delay.
//! Redirects (blob storage) are followed without `Authorization` when they leave the host, and
//! logged without their query string.
//!
//! [`request`], [`auth`] parsing, [`pagination`], [`ratelimit`], [`retry`], [`manifest`] and
//! [`oci_error`] are pure; [`client`] is the only module that sends.

pub mod auth;
pub mod blob;
pub mod client;
pub mod manifest;
pub mod oci_error;
pub mod pagination;
pub mod ratelimit;
pub mod request;
pub mod retry;

pub use client::Client;
