//! `cra scan-registry --vulns`: one database opened for the run, each image matched against it,
//! and what the summary keeps of the findings.

use std::collections::BTreeMap;
use std::sync::Mutex;

use anyhow::Context;
use cra_scan::vulns::db::Database;
use cra_scan::vulns::grade::Grade;
use cra_scan::vulns::policy::{FailOn, GateFailed};
use cra_scan::vulns::severity::Severity;
use cra_scan::vulns::{match_inventory, VulnReport};
use cra_scan::ScanReport;
use serde::{Deserialize, Serialize};

use crate::commands::db::DbDir;

/// The database of a run, shared by the images scanned at once.
pub struct Matcher {
    /// A SQLite connection serves one thread at a time; matching takes milliseconds.
    db: Mutex<Database>,
    stamp: String,
}

impl Matcher {
    /// Opens the database once; a missing one is the error `cra scan --vulns` gives.
    pub fn open(dir: &DbDir) -> anyhow::Result<Matcher> {
        let dir = dir.resolve()?;
        let db = Database::open(&dir)?;
        let stamp = db.status()?.updated_at.unwrap_or_default();
        Ok(Matcher {
            db: Mutex::new(db),
            stamp,
        })
    }

    /// When the database was last updated: an image matched against older data is redone.
    pub fn stamp(&self) -> &str {
        &self.stamp
    }

    /// Matches the packages of `report`.
    pub fn match_report(&self, report: &ScanReport) -> anyhow::Result<VulnReport> {
        let db = self
            .db
            .lock()
            .map_err(|_| anyhow::anyhow!("the vulnerability database is unusable after a panic"))?;
        match_inventory(&db, &report.inventory, time::OffsetDateTime::now_utc())
            .context("cannot match the packages against the vulnerability database")
    }
}

/// What matching found in one image, as the summary and the state keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnSummary {
    /// Findings by severity.
    pub findings: BTreeMap<Severity, usize>,
    /// The health grade.
    pub grade: Grade,
    /// The finding that sets the grade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade_set_by: Option<String>,
    /// Packages whose ecosystem has no data (never counted as clean).
    pub unmatched: usize,
    /// When the database used was updated.
    pub database: String,
    /// Why the image fails this run's `--fail-on`, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
}

impl VulnSummary {
    /// The summary of `report`, matched against the database updated at `database`.
    pub fn of(report: &VulnReport, database: &str) -> Self {
        let mut findings = BTreeMap::new();
        for f in &report.findings {
            *findings.entry(f.rating.severity).or_insert(0) += 1;
        }
        Self {
            findings,
            grade: report.grade,
            grade_set_by: report.grade_set_by.clone(),
            unmatched: report.unmatched.len(),
            database: database.to_owned(),
            gate: None,
        }
    }

    /// The verdict of `gate` on these counts, as [`FailOn::check`] gives it on the findings.
    pub fn check(&self, gate: FailOn) -> Result<(), GateFailed> {
        gate.check_counts(
            self.findings.iter().map(|(s, n)| (*s, *n)),
            self.grade,
            self.grade_set_by.as_deref(),
        )
    }

    /// `2C 1H 0M 0L`, and `?` for findings without a rating.
    pub fn counts(&self) -> String {
        let n = |s| self.findings.get(&s).copied().unwrap_or(0);
        let mut text = format!(
            "{}C {}H {}M {}L",
            n(Severity::Critical),
            n(Severity::High),
            n(Severity::Medium),
            n(Severity::Low)
        );
        if n(Severity::Unknown) > 0 {
            text.push_str(&format!(" {}?", n(Severity::Unknown)));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(findings: &[(Severity, usize)], grade: Grade) -> VulnSummary {
        VulnSummary {
            findings: findings.iter().copied().collect(),
            grade,
            grade_set_by: Some("CVE-1".into()),
            unmatched: 0,
            database: String::new(),
            gate: None,
        }
    }

    #[test]
    fn the_gate_reads_the_counts_as_it_reads_the_findings() {
        let s = summary(&[(Severity::High, 2), (Severity::Unknown, 4)], Grade::C);
        assert!(s.check(FailOn::Severity(Severity::Critical)).is_ok());
        assert_eq!(
            s.check(FailOn::Severity(Severity::Medium)),
            Err(GateFailed::Severity {
                min: Severity::Medium,
                count: 2
            })
        );
        assert!(s.check(FailOn::Grade(Grade::D)).is_ok());
        assert!(s.check(FailOn::Grade(Grade::C)).is_err());
        assert_eq!(s.counts(), "0C 2H 0M 0L 4?");
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(r#""findings":{"unknown":4,"high":2}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<VulnSummary>(&json).unwrap(), s);
    }
}
