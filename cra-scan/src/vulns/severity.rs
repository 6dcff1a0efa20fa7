//! Severity of an advisory: from CVSS vectors where given (scored by the `cvss` crate), else from
//! the source's own rating.
//!
//! CVSS base scores map to the specification's qualitative ratings: Critical ≥ 9.0, High ≥ 7.0,
//! Medium ≥ 4.0, Low above 0. Ratings map by name: GitHub's `MODERATE`, Red Hat's `Important`,
//! Ubuntu's `negligible` and Debian's `unimportant` land on the nearest level.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::osv::{Affected, Record, Severity as OsvSeverity};

/// A qualitative severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing was rated.
    Unknown,
    /// Low.
    Low,
    /// Medium (moderate).
    Medium,
    /// High (important).
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// The level of a CVSS base score.
    pub fn from_score(score: f64) -> Severity {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Unknown
        }
    }

    /// The level of a source's rating word, when it names one.
    pub fn from_rating(rating: &str) -> Option<Severity> {
        Some(match rating.trim().to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" | "unimportant" => Severity::Low,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::from_rating(s).ok_or_else(|| format!("unknown severity {s:?}"))
    }
}

/// The CVSS base score of a vector (v2, v3.x or v4.0), when it parses.
pub fn cvss_score(kind: &str, vector: &str) -> Option<f64> {
    match kind {
        "CVSS_V3" => cvss::v3::Vector::from_str(vector)
            .ok()
            .map(|b| b.score().value()),
        "CVSS_V4" => cvss::v4::Vector::from_str(vector)
            .ok()
            .map(|v| v.score().value()),
        "CVSS_V2" => cvss::v2::Vector::from_str(vector)
            .ok()
            .map(|b| b.score().value()),
        _ => None,
    }
}

/// What rated an advisory, for reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rated {
    /// The level.
    pub severity: Severity,
    /// The highest CVSS base score, when a vector was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The vector that gave the score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
}

/// Rates an advisory for one of its affected entries: the highest CVSS score of the entry's and
/// the record's vectors, else the highest rating word the record or entry carries.
pub fn rate(record: &Record, affected: Option<&Affected>) -> Rated {
    let entries: Vec<&OsvSeverity> = record
        .severity
        .iter()
        .chain(affected.into_iter().flat_map(|a| a.severity.iter()))
        .collect();
    let mut best: Option<(f64, &str)> = None;
    for s in &entries {
        if let Some(score) = cvss_score(&s.kind, &s.score) {
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, &s.score));
            }
        }
    }
    if let Some((score, vector)) = best {
        return Rated {
            severity: Severity::from_score(score),
            score: Some(score),
            vector: Some(vector.to_owned()),
        };
    }
    let words = entries
        .iter()
        .filter(|s| !s.kind.starts_with("CVSS"))
        .map(|s| s.score.as_str())
        .chain(
            record
                .database_specific
                .iter()
                .filter_map(|d| d.severity.as_deref()),
        )
        .chain(affected.into_iter().flat_map(|a| {
            a.ecosystem_specific
                .iter()
                .chain(a.database_specific.iter())
                .filter_map(|d| d.severity.as_deref())
        }));
    let severity = words
        .filter_map(Severity::from_rating)
        .max()
        .unwrap_or(Severity::Unknown);
    Rated {
        severity,
        score: None,
        vector: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::osv::DatabaseSpecific;

    fn record(severity: &[(&str, &str)], db: Option<&str>) -> Record {
        Record {
            id: "X".into(),
            modified: String::new(),
            published: None,
            withdrawn: None,
            aliases: Vec::new(),
            upstream: Vec::new(),
            related: Vec::new(),
            summary: None,
            severity: severity
                .iter()
                .map(|(k, s)| OsvSeverity {
                    kind: (*k).into(),
                    score: (*s).into(),
                })
                .collect(),
            affected: Vec::new(),
            database_specific: db.map(|s| DatabaseSpecific {
                severity: Some(s.into()),
            }),
        }
    }

    #[test]
    fn cvss_vectors_are_scored() {
        // The specification's worked example scores 9.8.
        let r = rate(
            &record(
                &[("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")],
                None,
            ),
            None,
        );
        assert_eq!(r.severity, Severity::Critical);
        assert_eq!(r.score, Some(9.8));
        let r = rate(
            &record(
                &[("CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N")],
                Some("CRITICAL"),
            ),
            None,
        );
        assert_eq!(r.severity, Severity::Low, "a vector wins over a rating");
        assert_eq!(r.score, Some(3.1));
    }

    #[test]
    fn the_highest_vector_wins() {
        let r = rate(
            &record(
                &[
                    ("CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N"),
                    ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"),
                ],
                None,
            ),
            None,
        );
        assert_eq!(r.severity, Severity::High);
        assert_eq!(r.score, Some(7.5));
    }

    #[test]
    fn ratings_are_used_without_a_vector() {
        assert_eq!(
            rate(&record(&[], Some("MODERATE")), None).severity,
            Severity::Medium
        );
        assert_eq!(
            rate(&record(&[("Ubuntu", "high")], None), None).severity,
            Severity::High
        );
        assert_eq!(
            rate(&record(&[("CVSS_V3", "garbage")], None), None).severity,
            Severity::Unknown
        );
    }

    #[test]
    fn score_boundaries() {
        assert_eq!(Severity::from_score(9.0), Severity::Critical);
        assert_eq!(Severity::from_score(8.9), Severity::High);
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(6.9), Severity::Medium);
        assert_eq!(Severity::from_score(4.0), Severity::Medium);
        assert_eq!(Severity::from_score(0.1), Severity::Low);
        assert_eq!(Severity::from_score(0.0), Severity::Unknown);
    }
}
