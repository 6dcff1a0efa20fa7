//! The error type every [`Registry`](crate::Registry) method returns.
//!
//! It has the shape of `std::io::Error`: a [`ErrorKind`] that callers match on (the agent maps it to
//! an HTTP status without downcasting), a short context message, and an optional boxed cause.

use std::fmt;
use std::time::Duration;

/// What went wrong, coarse enough to map onto an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The repository, tag, manifest or blob does not exist.
    NotFound,
    /// The credentials were rejected or are missing.
    Unauthorized,
    /// The credentials are valid but lack a permission.
    Forbidden,
    /// The registry asked us to slow down.
    RateLimited,
    /// The registry could not be reached or answered with a server error.
    Unavailable,
    /// The registry answered something that breaks the protocol.
    Protocol,
    /// The caller's input (reference, credentials, settings) is invalid.
    InvalidInput,
    /// A blob or manifest did not hash to its digest.
    DigestMismatch,
    /// A blob, manifest or image is larger than the configured limit.
    TooLarge,
    /// The registry cannot do this (for example it has no repository listing).
    Unsupported,
}

impl ErrorKind {
    /// A short lowercase description of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Unavailable => "registry unavailable",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::DigestMismatch => "digest mismatch",
            ErrorKind::TooLarge => "size limit exceeded",
            ErrorKind::Unsupported => "not supported",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a registry operation.
#[derive(Debug)]
pub struct RegistryError {
    kind: ErrorKind,
    message: String,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
}

impl RegistryError {
    /// A new error of `kind` with a context message (what was being done).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Attaches the delay the registry asked for (from `Retry-After`).
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The context message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How long the registry asked us to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {}s)", after.as_secs())?;
        }
        Ok(())
    }
}

impl std::error::Error for RegistryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Result alias for registry operations.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_kind_message_and_retry() {
        let e = RegistryError::new(ErrorKind::RateLimited, "GET /v2/_catalog")
            .with_retry_after(Some(Duration::from_secs(7)));
        assert_eq!(
            e.to_string(),
            "rate limited: GET /v2/_catalog (retry after 7s)"
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }

    #[test]
    fn source_is_kept() {
        let io = std::io::Error::other("connection reset");
        let e = RegistryError::new(ErrorKind::Unavailable, "GET /v2/").with_source(io);
        let src = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("connection reset"));
    }
}
