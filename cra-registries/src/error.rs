//! The crate's error, converted into [`cra_core::RegistryError`] at the [`Registry`] boundary.
//!
//! Each variant says what failed (`what` is the request, `GET <url>` without its query string)
//! and keeps the cause as its source.
//!
//! [`Registry`]: cra_core::Registry

use std::time::Duration;

use cra_core::{Digest, ErrorKind, RegistryError};

use crate::distribution::ratelimit::Quota;

/// Something a registry operation could not do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry or its token service rejected the credentials.
    #[error("{what}: {detail}")]
    Unauthorized {
        /// The request.
        what: String,
        /// What the registry said, or our explanation.
        detail: String,
    },
    /// The credentials lack a permission.
    #[error("{what}: {detail}")]
    Forbidden {
        /// The request.
        what: String,
        /// What the registry said.
        detail: String,
    },
    /// The repository, tag, manifest or blob does not exist.
    #[error("{what}: {detail}")]
    NotFound {
        /// The request.
        what: String,
        /// What the registry said.
        detail: String,
    },
    /// The registry answered 429 (or 503) more often than we retry.
    #[error("{what}: the registry asked to slow down{}", quota_note(.quota.as_ref()))]
    RateLimited {
        /// The request.
        what: String,
        /// The delay from `Retry-After`, or else the quota window when the quota is used up.
        retry_after: Option<Duration>,
        /// The pull quota the registry announced (`ratelimit-*` headers), when it did.
        quota: Option<Quota>,
    },
    /// The registry answered with a server error.
    #[error("{what}: the registry answered HTTP {status}")]
    Unavailable {
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The delay from `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// The connection failed (refused, reset, timed out).
    #[error("{what}: could not reach the registry")]
    Connect {
        /// The request.
        what: String,
        /// The transport error.
        #[source]
        source: TransportError,
    },
    /// The server's TLS certificate is not trusted.
    #[error("{what}: TLS handshake failed; the server certificate is not trusted (pass the CA with a CA bundle)")]
    Tls {
        /// The request.
        what: String,
        /// The transport error.
        #[source]
        source: TransportError,
    },
    /// The server answered the TLS handshake in plain HTTP.
    #[error("{what}: the registry answered plain HTTP to a TLS handshake; to reach it over plain HTTP pass --insecure-http (or write the registry as http://host)")]
    PlainHttp {
        /// The request.
        what: String,
        /// The transport error.
        #[source]
        source: TransportError,
    },
    /// The registry answered something that breaks the protocol.
    #[error("{what}: {reason}")]
    Protocol {
        /// The request or the document.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Content did not hash to its digest.
    #[error("{what}: expected digest {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The manifest or blob.
        what: String,
        /// The digest asked for or announced.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// Content is larger than the limit.
    #[error("{what}: larger than the limit of {limit} bytes")]
    TooLarge {
        /// The manifest or blob.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// The caller's input is invalid (base URL, repository name, CA bundle, settings).
    #[error("{0}")]
    InvalidInput(String),
    /// The registry cannot do this.
    #[error("{0}")]
    Unsupported(String),
    /// A cloud SDK call failed.
    #[error("{what}: {detail}")]
    Cloud {
        /// The call.
        what: String,
        /// What the service said.
        detail: String,
        /// How to classify it.
        kind: ErrorKind,
    },
}

/// Result alias of this crate.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The message for registries that have no repository listing.
pub(crate) const CANNOT_LIST: &str =
    "this registry cannot list repositories; name images explicitly";

impl Error {
    /// The kind a caller matches on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unauthorized { .. } => ErrorKind::Unauthorized,
            Error::Forbidden { .. } => ErrorKind::Forbidden,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Unavailable { .. }
            | Error::Connect { .. }
            | Error::Tls { .. }
            | Error::PlainHttp { .. } => ErrorKind::Unavailable,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::DigestMismatch { .. } => ErrorKind::DigestMismatch,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Cloud { kind, .. } => *kind,
        }
    }

    /// Whether the registry asked us to slow down (429) or was unavailable for a while (503):
    /// worth another attempt after a wait.
    pub(crate) fn is_throttled(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Unavailable { status: 503, .. }
        )
    }

    /// The delay the registry asked for, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    pub(crate) fn protocol(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Protocol {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

fn quota_note(quota: Option<&Quota>) -> String {
    quota.map(|q| format!(" ({q})")).unwrap_or_default()
}

/// A failure below HTTP (connection, TLS, a body cut short), keeping its cause chain without
/// exposing the HTTP library's types.
#[derive(Debug)]
pub struct TransportError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl TransportError {
    pub(crate) fn new(cause: impl std::error::Error + Send + Sync + 'static) -> TransportError {
        TransportError(Box::new(cause))
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<Error> for RegistryError {
    /// The kind, the full message and the delay, with the error itself as the source, so that
    /// callers can downcast to [`Error`] for its fields (digests, the pull quota) and follow the
    /// chain to the transport cause.
    fn from(e: Error) -> RegistryError {
        RegistryError::new(e.kind(), e.to_string())
            .with_retry_after(e.retry_after())
            .with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_kind_message_and_delay() {
        let e = Error::RateLimited {
            what: "GET http://r/v2/_catalog".into(),
            retry_after: Some(Duration::from_secs(9)),
            quota: None,
        };
        let r: RegistryError = e.into();
        assert_eq!(r.kind(), ErrorKind::RateLimited);
        assert_eq!(r.retry_after(), Some(Duration::from_secs(9)));
        assert_eq!(
            r.to_string(),
            "rate limited: GET http://r/v2/_catalog: the registry asked to slow down (retry after 9s)"
        );
        let e = Error::RateLimited {
            what: "GET http://r/v2/library/alpine/manifests/3".into(),
            retry_after: Some(Duration::from_secs(21600)),
            quota: Some(Quota {
                limit: 100,
                remaining: Some(0),
                window: Some(Duration::from_secs(21600)),
                source: None,
            }),
        };
        let r: RegistryError = e.into();
        assert_eq!(
            r.message(),
            "GET http://r/v2/library/alpine/manifests/3: the registry asked to slow down (0 of 100 pulls left per 21600s)"
        );
        let r: RegistryError = Error::Unsupported(CANNOT_LIST.into()).into();
        assert_eq!(r.kind(), ErrorKind::Unsupported);
        assert_eq!(r.message(), CANNOT_LIST);
    }

    #[test]
    fn converted_errors_keep_their_fields_as_the_source() {
        let expected = Digest::sha256_of(b"expected");
        let actual = Digest::sha256_of(b"actual");
        let r: RegistryError = Error::DigestMismatch {
            what: "GET http://r/v2/a/blobs/x".into(),
            expected: expected.clone(),
            actual: actual.clone(),
        }
        .into();
        assert_eq!(r.kind(), ErrorKind::DigestMismatch);
        let source = std::error::Error::source(&r)
            .and_then(|s| s.downcast_ref::<Error>())
            .expect("the crate error is the source");
        match source {
            Error::DigestMismatch {
                expected: e,
                actual: a,
                ..
            } => assert_eq!((e, a), (&expected, &actual)),
            other => panic!("unexpected {other:?}"),
        }
        let quota = Quota {
            limit: 100,
            remaining: Some(0),
            window: Some(Duration::from_secs(21600)),
            source: None,
        };
        let r: RegistryError = Error::RateLimited {
            what: "GET http://r/v2/a/manifests/1".into(),
            retry_after: None,
            quota: Some(quota.clone()),
        }
        .into();
        let kept = std::error::Error::source(&r).and_then(|s| s.downcast_ref::<Error>());
        assert!(
            matches!(kept, Some(Error::RateLimited { quota: Some(q), .. }) if *q == quota),
            "{kept:?}"
        );
    }

    #[test]
    fn transport_errors_keep_the_cause_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] std::io::Error);
        let r: RegistryError = Error::Connect {
            what: "GET http://r/v2/".into(),
            source: TransportError::new(Outer(io)),
        }
        .into();
        let chain: Vec<String> =
            std::iter::successors(Some(&r as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            chain,
            [
                "registry unavailable: GET http://r/v2/: could not reach the registry",
                "GET http://r/v2/: could not reach the registry",
                "error sending request",
                "connection refused"
            ]
        );
    }
}
