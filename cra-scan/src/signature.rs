//! The signature status of a scanned image, as the outputs report it.
//!
//! The decision itself is made outside the scan (`cra_registries::signatures` against a
//! containers policy); the report only carries its outcome to the output formats.

use cra_core::policy::{AcceptedSignature, Verdict};
use serde::Serialize;

/// What signature verification concluded about the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureStatus {
    /// `accepted` or `rejected`.
    pub status: &'static str,
    /// Whether the policy was enforced (`--policy`) or only reported (`--verify`).
    pub enforced: bool,
    /// The policy scope that applied.
    pub scope: String,
    /// The verified signatures, for an accepted image.
    pub signatures: Vec<AcceptedSignature>,
    /// Why the image was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SignatureStatus {
    /// The status of a verdict.
    pub fn of(verdict: &Verdict, enforced: bool) -> Self {
        let reason = match verdict {
            Verdict::Rejected { reason, .. } => Some(reason.to_string()),
            Verdict::Accepted { .. } => None,
        };
        Self {
            status: verdict.status(),
            enforced,
            scope: verdict.scope().to_string(),
            signatures: verdict.signatures().to_vec(),
            reason,
        }
    }

    /// One line for humans: `accepted (signed by gpg key … as …)`, `rejected: reason`.
    pub fn summary(&self) -> String {
        match &self.reason {
            Some(reason) => format!("rejected by the {}: {reason}", self.scope),
            None if self.signatures.is_empty() => {
                format!("accepted by the {} (no signature required)", self.scope)
            }
            None => {
                let signers: Vec<String> = self
                    .signatures
                    .iter()
                    .map(|s| format!("{} key {} as {}", s.kind.as_str(), s.signer, s.identity))
                    .collect();
                format!(
                    "accepted by the {}, signed by {}",
                    self.scope,
                    signers.join(", ")
                )
            }
        }
    }
}
