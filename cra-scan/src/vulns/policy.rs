//! `--fail-on`: the CI gate on a severity or a grade.

use std::fmt;
use std::str::FromStr;

use super::grade::Grade;
use super::matcher::VulnReport;
use super::severity::Severity;

/// A threshold: fail on a finding at least this severe, or on a grade this bad or worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// `low`, `medium`, `high` or `critical`.
    Severity(Severity),
    /// `A` to `F`.
    Grade(Grade),
}

/// The text is neither a severity nor a grade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither a severity (low, medium, high, critical) nor a grade (A-F)")]
pub struct UnknownGate(pub String);

impl FromStr for FailOn {
    type Err = UnknownGate;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(g) = s.parse::<Grade>() {
            return Ok(FailOn::Grade(g));
        }
        match Severity::from_rating(s) {
            Some(sev) if sev != Severity::Unknown => Ok(FailOn::Severity(sev)),
            _ => Err(UnknownGate(s.to_owned())),
        }
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailOn::Severity(s) => write!(f, "severity {s}"),
            FailOn::Grade(g) => write!(f, "grade {g}"),
        }
    }
}

/// The image fails the gate: the scan worked, its verdict is "no".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GateFailed {
    /// Findings at or above the severity.
    #[error("the image fails --fail-on {min}: {count} finding(s) of severity {min} or higher")]
    Severity {
        /// The gate's severity.
        min: Severity,
        /// How many findings reach it.
        count: usize,
    },
    /// The grade is the gate's or worse.
    #[error("the image fails --fail-on {gate}: grade {grade} (set by {}) is {gate} or worse", set_by.as_deref().unwrap_or("nothing"))]
    Grade {
        /// The gate's grade.
        gate: Grade,
        /// The image's grade.
        grade: Grade,
        /// The finding that sets it.
        set_by: Option<String>,
    },
}

impl FailOn {
    /// Passes the report, or says why it fails the gate.
    pub fn check(&self, report: &VulnReport) -> Result<(), GateFailed> {
        self.check_counts(
            report.findings.iter().map(|f| (f.rating.severity, 1)),
            report.grade,
            report.grade_set_by.as_deref(),
        )
    }

    /// The same verdict from what a summary keeps: findings counted by severity, the grade and
    /// the finding that sets it.
    pub fn check_counts(
        &self,
        counts: impl IntoIterator<Item = (Severity, usize)>,
        grade: Grade,
        set_by: Option<&str>,
    ) -> Result<(), GateFailed> {
        match *self {
            FailOn::Severity(min) => {
                let count: usize = counts
                    .into_iter()
                    .filter(|(s, _)| *s >= min && *s != Severity::Unknown)
                    .map(|(_, n)| n)
                    .sum();
                if count > 0 {
                    return Err(GateFailed::Severity { min, count });
                }
            }
            FailOn::Grade(gate) => {
                if grade >= gate {
                    return Err(GateFailed::Grade {
                        gate,
                        grade,
                        set_by: set_by.map(str::to_owned),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(grade: Grade, severities: &[Severity]) -> VulnReport {
        let finding = |s: &Severity| super::super::matcher::Finding {
            id: "CVE-2024-0001".into(),
            aliases: Vec::new(),
            package: 0,
            name: "p".into(),
            installed: "1".into(),
            purl: String::new(),
            advisory_package: "p".into(),
            ecosystem: "PyPI".into(),
            fixed_in: None,
            rating: super::super::severity::Rated {
                severity: *s,
                score: None,
                vector: None,
            },
            published: None,
            summary: None,
        };
        VulnReport {
            findings: severities.iter().map(finding).collect(),
            unmatched: Vec::new(),
            grade,
            grade_set_by: (grade > Grade::A).then(|| "CVE-2024-0001".into()),
            data: Vec::new(),
        }
    }

    #[test]
    fn parses_severities_and_grades() {
        assert_eq!("high".parse(), Ok(FailOn::Severity(Severity::High)));
        assert_eq!("C".parse(), Ok(FailOn::Grade(Grade::C)));
        assert_eq!("f".parse(), Ok(FailOn::Grade(Grade::F)));
        assert!("severe".parse::<FailOn>().is_err());
        assert!("unknown".parse::<FailOn>().is_err());
    }

    #[test]
    fn severity_gate_counts_findings_at_or_above() {
        let r = report(
            Grade::B,
            &[Severity::Medium, Severity::High, Severity::Unknown],
        );
        assert_eq!(FailOn::Severity(Severity::Critical).check(&r), Ok(()));
        assert_eq!(
            FailOn::Severity(Severity::Medium).check(&r),
            Err(GateFailed::Severity {
                min: Severity::Medium,
                count: 2
            })
        );
    }

    #[test]
    fn grade_gate_fails_at_the_grade_and_worse() {
        let r = report(Grade::C, &[Severity::High]);
        assert_eq!(FailOn::Grade(Grade::D).check(&r), Ok(()));
        let err = FailOn::Grade(Grade::C).check(&r).unwrap_err();
        assert!(
            err.to_string().contains("grade C (set by CVE-2024-0001)"),
            "{err}"
        );
        assert!(FailOn::Grade(Grade::B).check(&r).is_err());
    }
}
