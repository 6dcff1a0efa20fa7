//! `cra scan-registry --verify` and `--policy FILE`: what the summary keeps of each image's
//! signature verification (the reports carry it as `cra scan` puts it).

use cra_core::policy::{Rejection, Verdict};
use cra_core::text::escape_untrusted;
use serde::{Deserialize, Serialize};

/// The outcome of verification, as the summary names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureState {
    /// Accepted on the strength of verified signatures.
    Verified,
    /// Accepted by a scope that asks for no signature.
    Accepted,
    /// A signature is required and the image has none.
    Unsigned,
    /// Rejected for another reason (an untrusted key, a wrong identity, `reject`, …).
    Rejected,
}

/// One image's signature status in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureSummary {
    /// The outcome.
    pub status: SignatureState,
    /// Whether a rejection refuses the image (`--policy` without `--verify`).
    pub enforced: bool,
    /// The verified signers, `gpg key <fingerprint> as <identity>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<String>,
    /// Why the image was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SignatureSummary {
    /// The summary of a verdict.
    pub fn of(verdict: &Verdict, enforced: bool) -> Self {
        let (status, reason) = match verdict {
            Verdict::Accepted { signatures, .. } if signatures.is_empty() => {
                (SignatureState::Accepted, None)
            }
            Verdict::Accepted { .. } => (SignatureState::Verified, None),
            Verdict::Rejected {
                reason: reason @ Rejection::Unsigned { .. },
                ..
            } => (SignatureState::Unsigned, Some(reason.to_string())),
            Verdict::Rejected { reason, .. } => {
                (SignatureState::Rejected, Some(reason.to_string()))
            }
        };
        let signers = verdict
            .signatures()
            .iter()
            .map(|s| format!("{} key {} as {}", s.kind.as_str(), s.signer, s.identity))
            .collect();
        Self {
            status,
            enforced,
            signers,
            reason,
        }
    }

    /// Whether the image is refused: rejected under an enforced policy.
    pub fn refuses(&self) -> bool {
        self.enforced
            && matches!(
                self.status,
                SignatureState::Unsigned | SignatureState::Rejected
            )
    }

    /// The table cell: `verified`, `unsigned`, … with the first signer; registry text escaped.
    pub fn cell(&self) -> String {
        let word = match self.status {
            SignatureState::Verified => "verified",
            SignatureState::Accepted => "accepted",
            SignatureState::Unsigned => "unsigned",
            SignatureState::Rejected => "rejected",
        };
        match self.signers.first() {
            Some(signer) => format!("{word} ({})", escape_untrusted(signer)),
            None => word.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cra_core::policy::{AcceptedSignature, Scope, SignatureKind};

    #[test]
    fn verdicts_become_the_four_states() {
        let scope = Scope::Default;
        let signed = Verdict::Accepted {
            scope: scope.clone(),
            signatures: vec![AcceptedSignature {
                kind: SignatureKind::Gpg,
                signer: "ABCD".into(),
                identity: "r.example/team/app:1".into(),
            }],
        };
        let s = SignatureSummary::of(&signed, true);
        assert_eq!(s.status, SignatureState::Verified);
        assert_eq!(s.cell(), "verified (gpg key ABCD as r.example/team/app:1)");
        assert!(!s.refuses());
        let open = Verdict::Accepted {
            scope: scope.clone(),
            signatures: Vec::new(),
        };
        assert_eq!(
            SignatureSummary::of(&open, true).status,
            SignatureState::Accepted
        );
        let unsigned = Verdict::Rejected {
            scope: scope.clone(),
            reason: Rejection::Unsigned {
                requirement: "signedBy",
            },
        };
        let s = SignatureSummary::of(&unsigned, true);
        assert_eq!(s.status, SignatureState::Unsigned);
        assert!(s.refuses());
        assert!(!SignatureSummary::of(&unsigned, false).refuses());
        let rejected = Verdict::Rejected {
            scope,
            reason: Rejection::Reject,
        };
        let s = SignatureSummary::of(&rejected, true);
        assert_eq!(s.status, SignatureState::Rejected);
        assert_eq!(
            s.reason.as_deref(),
            Some("the policy rejects every image in this scope")
        );
    }
}
