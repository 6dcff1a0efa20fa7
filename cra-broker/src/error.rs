//! Errors of the broker crate, one enum per concern.

use std::error::Error as StdError;

/// An accept file that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The file is not JSON of the accept.json shape.
    #[error("invalid accept file")]
    Json(#[source] serde_json::Error),
    /// A path pattern, regex or glob does not compile.
    #[error("invalid pattern {pattern:?} in accept file")]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// Why it does not compile.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The accept file cannot be read.
    #[error("cannot read accept file {path}")]
    Read {
        /// The file.
        path: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

/// A broker wire message that cannot be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// An engine.io packet with an unknown type or empty.
    #[error("invalid engine.io packet")]
    Packet,
    /// A Primus payload that is not EJSON of the expected shape.
    #[error("invalid primus payload")]
    Payload(#[source] serde_json::Error),
    /// A primus-emitter packet that is not an event or an ack.
    #[error("invalid emitter packet")]
    Emitter,
    /// A response-data stream with a bad header.
    #[error("invalid response-data header")]
    ResponseHeader,
    /// A message larger than the limit.
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// Limit.
        limit: usize,
    },
}

/// A client or server that cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or wrong.
    #[error("invalid setting {name}: {reason}")]
    Setting {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The accept file.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// Binding or serving a port.
    #[error("cannot serve on {addr}")]
    Serve {
        /// The address.
        addr: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// TLS material cannot be read or used.
    #[error("invalid TLS material in {path}")]
    Tls {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client")]
    Http(#[source] reqwest::Error),
}
