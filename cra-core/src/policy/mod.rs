//! Image trust policy: containers-policy.json and containers-registries.d, as containers/image
//! (podman, skopeo, CRI-O) reads them, and the checks on signed payloads.
//!
//! Everything here is pure: the IO side (reading files and keys, fetching signatures, OpenPGP
//! and sigstore cryptography) lives in `cra-registries`' `signatures` module and hands verified
//! payloads back to [`payload::check`].
//!
//! - [`Policy`]: the parsed policy; [`Policy::requirements_for`] picks the most specific scope.
//! - [`SignedIdentity`]: the `signedIdentity` rules over [`DockerIdentity`].
//! - [`RegistriesD`]: the merged `registries.d` sections; lookaside URLs and
//!   `use-sigstore-attachments`.
//! - [`Verdict`]: the decision, with the signers or the reason.
//!
//! Only the `docker` transport is used; other transports are parsed and validated, then ignored.

pub mod file;
pub mod identity;
pub mod payload;
pub mod registries_d;
pub mod scope;
pub mod verdict;

#[doc(inline)]
pub use file::{KeySource, Policy, Requirement, Scope};
#[doc(inline)]
pub use identity::{DockerIdentity, SignedIdentity};
#[doc(inline)]
pub use registries_d::{RegistriesD, RegistriesFile};
#[doc(inline)]
pub use verdict::{AcceptedSignature, Rejection, SignatureKind, SignatureRefusal, Verdict};

use crate::reference::ReferenceError;

/// Why a policy or a `registries.d` configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy is not valid JSON of the policy's shape (unknown, missing or duplicate fields).
    #[error("invalid policy")]
    Json(#[source] serde_json::Error),
    /// A scope has an empty requirement list.
    #[error("the requirements of scope {0:?} are empty")]
    EmptyRequirements(String),
    /// A transport containers/image does not know.
    #[error("unknown transport {0:?} in the policy")]
    UnknownTransport(String),
    /// A docker scope that is not a reference, namespace, host or `*.domain`.
    #[error("invalid docker scope {0:?}")]
    Scope(String),
    /// A `signedBy` key type other than `GPGKeys`.
    #[error("unsupported signedBy keyType {0:?}")]
    KeyType(String),
    /// Not exactly one key source.
    #[error("{0} needs exactly one non-empty key source (keyPath, keyPaths or keyData; for sigstoreSigned also keyDatas)")]
    KeySources(&'static str),
    /// `keyData` is not base64.
    #[error("keyData is not base64")]
    KeyData(#[source] base64::DecodeError),
    /// An identity in a `signedIdentity` rule does not parse.
    #[error("invalid reference {value:?} in a signedIdentity rule")]
    Reference {
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: ReferenceError,
    },
    /// An identity in a `signedIdentity` rule is of the wrong form.
    #[error("invalid signedIdentity value {value:?}: {reason}")]
    Identity {
        /// The value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// Two `registries.d` files configure the same scope.
    #[error("registries.d scope {scope:?} is configured again in {file}")]
    DuplicateSection {
        /// The scope, or `default-docker`.
        scope: String,
        /// The file that repeats it.
        file: String,
    },
}
