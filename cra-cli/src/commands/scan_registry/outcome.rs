//! How a run that went through every image still fails, and which exit status says so.
//!
//! A run-level failure (the registry cannot be listed, the output directory or the database
//! cannot be used) ends the run at once with its own status.
//! Otherwise every selected image is tried, and at the end one status is chosen, highest
//! priority first: 8 when the signature policy refused an image, 7 when an image fails
//! `--fail-on`, 1 when an image could not be scanned.
//! The verdicts on images come before the failure to scan others, because a refused or failing
//! image is a finding about the registry, and the summary lists every image either way.

use std::fmt;

use cra_scan::vulns::policy::FailOn;

/// Counts of the images that make the run fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RunFailed {
    /// Images in the summary.
    pub total: usize,
    /// Images the signature policy refused.
    pub refused: usize,
    /// Images that fail the gate, and the gate.
    pub gate: Option<(FailOn, usize)>,
    /// Images that could not be scanned.
    pub failed: usize,
}

/// The reason that sets the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An image was refused by the signature policy (exit status 8).
    Refused,
    /// An image fails `--fail-on` (exit status 7).
    Gate,
    /// An image could not be scanned (exit status 1).
    Failed,
}

impl RunFailed {
    /// `Some` when any image makes the run fail.
    pub fn of(self) -> Option<RunFailed> {
        let gated = self.gate.is_some_and(|(_, n)| n > 0);
        (self.refused > 0 || gated || self.failed > 0).then_some(self)
    }

    /// The reason with the highest priority.
    pub fn cause(&self) -> Cause {
        if self.refused > 0 {
            Cause::Refused
        } else if self.gate.is_some_and(|(_, n)| n > 0) {
            Cause::Gate
        } else {
            Cause::Failed
        }
    }
}

impl fmt::Display for RunFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total;
        let mut parts = Vec::new();
        if self.refused > 0 {
            parts.push(format!(
                "the signature policy refuses {} of {total} images",
                self.refused
            ));
        }
        if let Some((gate, n)) = self.gate.filter(|(_, n)| *n > 0) {
            parts.push(format!("{n} of {total} images fail --fail-on {gate}"));
        }
        if self.failed > 0 {
            parts.push(format!(
                "{} of {total} images could not be scanned",
                self.failed
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cra_scan::vulns::severity::Severity;

    #[test]
    fn refusals_outrank_the_gate_which_outranks_failures() {
        let gate = Some((FailOn::Severity(Severity::High), 1));
        let run = |refused, gate, failed| {
            RunFailed {
                total: 5,
                refused,
                gate,
                failed,
            }
            .of()
        };
        assert_eq!(run(0, None, 0), None);
        assert_eq!(run(0, Some((FailOn::Severity(Severity::High), 0)), 0), None);
        assert_eq!(run(0, None, 2).unwrap().cause(), Cause::Failed);
        assert_eq!(run(0, gate, 2).unwrap().cause(), Cause::Gate);
        let all = run(1, gate, 2).unwrap();
        assert_eq!(all.cause(), Cause::Refused);
        assert_eq!(
            all.to_string(),
            "the signature policy refuses 1 of 5 images; 1 of 5 images fail --fail-on severity high; 2 of 5 images could not be scanned"
        );
    }
}
