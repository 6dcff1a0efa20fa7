//! What signature verification concluded, for the outputs and the exit status.

use std::fmt;

use serde::Serialize;

use super::file::Scope;
use crate::digest::Digest;

/// The kind of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureKind {
    /// OpenPGP simple signing from a lookaside store.
    Gpg,
    /// A sigstore signature stored as a registry attachment.
    Sigstore,
}

impl SignatureKind {
    /// `gpg` or `sigstore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gpg => "gpg",
            Self::Sigstore => "sigstore",
        }
    }
}

/// A signature that satisfied a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedSignature {
    /// Its kind.
    pub kind: SignatureKind,
    /// Who signed: the OpenPGP key fingerprint (upper-case hex), or the sigstore public key's
    /// SHA-256 fingerprint (`sha256:<hex>` of its DER form).
    pub signer: String,
    /// The identity the signature claims, fully expanded.
    pub identity: String,
}

/// Why one signature did not satisfy a requirement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureRefusal {
    /// The signature is not a well-formed signed message.
    #[error("signature is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The signing key is not among the trusted keys.
    #[error("signed by an untrusted key {key_id}")]
    UnknownKey {
        /// The issuer key id or fingerprint the signature names.
        key_id: String,
    },
    /// The trusted key's signature does not verify over the content.
    #[error("signature by {key_id} does not verify")]
    BadSignature {
        /// The key it claims.
        key_id: String,
    },
    /// The signature names no key and does not verify under the trusted one (sigstore).
    #[error("signature does not verify under the trusted key {key_id}")]
    NotVerified {
        /// The trusted key's fingerprint.
        key_id: String,
    },
    /// The trusted key had expired when the signature was made, or has expired since.
    #[error("signing key {key_id} has expired")]
    ExpiredKey {
        /// The key.
        key_id: String,
    },
    /// The trusted key is revoked.
    #[error("signing key {key_id} is revoked")]
    RevokedKey {
        /// The key.
        key_id: String,
    },
    /// The signed payload is not a valid document of its format.
    #[error("signed payload is invalid: {reason}")]
    Payload {
        /// What is wrong.
        reason: &'static str,
    },
    /// The signature is for another manifest.
    #[error("signature is for manifest {signed}, not this image's")]
    DigestMismatch {
        /// The digest that was signed.
        signed: Digest,
    },
    /// The signed identity does not satisfy the `signedIdentity` rule.
    #[error("signed identity {signed} does not match the policy's signedIdentity")]
    IdentityMismatch {
        /// The identity that was signed.
        signed: String,
    },
    /// The signature is larger than cra reads.
    #[error("signature is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// Why an image was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The applicable requirements include `reject`.
    #[error("the policy rejects every image in this scope")]
    Reject,
    /// A signature was required and none was found.
    #[error("a {requirement} signature is required, but the image has none")]
    Unsigned {
        /// The requirement type (`signedBy`, `sigstoreSigned`).
        requirement: &'static str,
    },
    /// Signatures exist but none satisfied the requirement.
    #[error("no signature satisfies {requirement}: {}", join(refusals))]
    NoneAccepted {
        /// The requirement type.
        requirement: &'static str,
        /// Why each signature was refused, in the order they were read.
        refusals: Vec<SignatureRefusal>,
    },
    /// The signatures could not be read (an unreachable lookaside, a failing registry).
    #[error("signatures could not be read: {detail}")]
    Unavailable {
        /// What failed, as the error chain printed it.
        detail: String,
    },
    /// The trusted keys named by the policy could not be read.
    #[error("the policy's keys could not be used: {detail}")]
    Keys {
        /// What failed.
        detail: String,
    },
}

fn join(refusals: &[SignatureRefusal]) -> String {
    refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The decision on one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every requirement of the scope is satisfied.
    Accepted {
        /// The policy scope that applied.
        scope: Scope,
        /// The signatures that satisfied signature requirements (empty when none were asked).
        signatures: Vec<AcceptedSignature>,
    },
    /// A requirement is not satisfied.
    Rejected {
        /// The policy scope that applied.
        scope: Scope,
        /// Why.
        reason: Rejection,
    },
}

impl Verdict {
    /// Whether the image is accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }

    /// `accepted` or `rejected`.
    pub fn status(&self) -> &'static str {
        if self.is_accepted() {
            "accepted"
        } else {
            "rejected"
        }
    }

    /// The verified signatures (empty for a rejected image).
    pub fn signatures(&self) -> &[AcceptedSignature] {
        match self {
            Self::Accepted { signatures, .. } => signatures,
            Self::Rejected { .. } => &[],
        }
    }

    /// The scope that applied.
    pub fn scope(&self) -> &Scope {
        match self {
            Self::Accepted { scope, .. } | Self::Rejected { scope, .. } => scope,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted { scope, signatures } if signatures.is_empty() => {
                write!(f, "accepted by the {scope} without signatures")
            }
            Self::Accepted { scope, signatures } => {
                write!(f, "accepted by the {scope}: signed by ")?;
                for (i, s) in signatures.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} key {} as {}", s.kind.as_str(), s.signer, s.identity)?;
                }
                Ok(())
            }
            Self::Rejected { scope, reason } => write!(f, "rejected by the {scope}: {reason}"),
        }
    }
}
