//! The health grade of an image, after Red Hat's Container Health Index.
//!
//! The grade follows the oldest unapplied advisory rated Critical or Important (High, for CVSS
//! data); Medium and Low never affect it. Age counts from the advisory's publication.
//!
//! | grade | Critical         | Important (High)  |
//! |-------|------------------|-------------------|
//! | A     | none             | none              |
//! | B     | ≤ 7 days         | ≤ 30 days         |
//! | C     | ≤ 30 days        | ≤ 90 days         |
//! | D     | ≤ 90 days        | ≤ 12 months       |
//! | E     | ≤ 12 months      | —                 |
//! | F     | older            | older             |
//!
//! The worst grade over all findings is the image's. An advisory without a publication date
//! counts as old (F for Critical or High): a grade must never look better than the data allows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::severity::Severity;

/// A grade, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// No unapplied Critical or High advisory.
    A,
    /// Only fresh ones.
    B,
    /// Up to a month (Critical) or a quarter (High).
    C,
    /// Up to a quarter (Critical) or a year (High).
    D,
    /// Critical up to a year.
    E,
    /// Older.
    F,
}

impl Grade {
    /// The grade one advisory alone sets, given its age in days (`None`: unknown).
    pub fn of(severity: Severity, age_days: Option<i64>) -> Grade {
        let limits: &[(i64, Grade)] = match severity {
            Severity::Critical => &[
                (7, Grade::B),
                (30, Grade::C),
                (90, Grade::D),
                (365, Grade::E),
            ],
            Severity::High => &[(30, Grade::B), (90, Grade::C), (365, Grade::D)],
            _ => return Grade::A,
        };
        let Some(age) = age_days else {
            return Grade::F;
        };
        limits
            .iter()
            .find(|(days, _)| age <= *days)
            .map_or(Grade::F, |(_, g)| *g)
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grade::A => "A",
            Grade::B => "B",
            Grade::C => "C",
            Grade::D => "D",
            Grade::E => "E",
            Grade::F => "F",
        })
    }
}

impl FromStr for Grade {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "A" | "a" => Grade::A,
            "B" | "b" => Grade::B,
            "C" | "c" => Grade::C,
            "D" | "d" => Grade::D,
            "E" | "e" => Grade::E,
            "F" | "f" => Grade::F,
            _ => return Err(format!("unknown grade {s:?}")),
        })
    }
}

/// Days between an RFC 3339 timestamp and `now` (negative if in the future), when it parses.
pub fn age_days(published: &str, now: time::OffsetDateTime) -> Option<i64> {
    let at = time::OffsetDateTime::parse(published, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((now - at).whole_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_thresholds() {
        let cases = [
            (0, Grade::B),
            (7, Grade::B),
            (8, Grade::C),
            (30, Grade::C),
            (31, Grade::D),
            (90, Grade::D),
            (91, Grade::E),
            (365, Grade::E),
            (366, Grade::F),
        ];
        for (age, want) in cases {
            assert_eq!(Grade::of(Severity::Critical, Some(age)), want, "{age} days");
        }
    }

    #[test]
    fn important_thresholds() {
        let cases = [
            (0, Grade::B),
            (30, Grade::B),
            (31, Grade::C),
            (90, Grade::C),
            (91, Grade::D),
            (365, Grade::D),
            (366, Grade::F),
        ];
        for (age, want) in cases {
            assert_eq!(Grade::of(Severity::High, Some(age)), want, "{age} days");
        }
    }

    #[test]
    fn medium_and_low_never_count_and_unknown_age_is_old() {
        assert_eq!(Grade::of(Severity::Medium, Some(5000)), Grade::A);
        assert_eq!(Grade::of(Severity::Low, None), Grade::A);
        assert_eq!(Grade::of(Severity::Unknown, None), Grade::A);
        assert_eq!(Grade::of(Severity::High, None), Grade::F);
    }

    #[test]
    fn ages_from_rfc3339() {
        let now = time::OffsetDateTime::parse(
            "2024-03-01T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(age_days("2024-02-01T00:00:00Z", now), Some(29));
        assert_eq!(age_days("2024-02-29T12:00:00.5Z", now), Some(0));
        assert_eq!(age_days("yesterday", now), None);
    }
}
