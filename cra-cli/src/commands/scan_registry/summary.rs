//! One summary row per image, the state file that makes a run resumable, and the table.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use cra_core::text::escape_untrusted;
use cra_core::Digest;
use cra_scan::ScanReport;
use serde::{Deserialize, Serialize};

use super::signature::SignatureSummary;
use super::vulns::VulnSummary;

/// The state file's name in the output directory.
pub const STATE_FILE: &str = ".cra-scan-registry-state.json";
/// The summary's name in the output directory.
pub const SUMMARY_FILE: &str = "summary.json";

/// What became of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Scanned in this run.
    Scanned,
    /// Its manifest digest is the one a previous run scanned; its reports were kept.
    Unchanged,
    /// It could not be scanned.
    Failed,
    /// The signature policy rejects it (`--policy`): it was not scanned.
    Refused,
}

/// One image of the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// `repository:tag`.
    pub image: String,
    /// The manifest digest, when the manifest was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// The OS (`debian 12`), when one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Packages found.
    pub packages: usize,
    /// Packages by ecosystem.
    #[serde(default)]
    pub by_ecosystem: BTreeMap<String, usize>,
    /// What became of it.
    pub status: Status,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The report files, relative to the output directory.
    #[serde(default)]
    pub reports: Vec<String>,
    /// What vulnerability matching found (`--vulns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulns: Option<VulnSummary>,
    /// What signature verification concluded (`--verify`, `--policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureSummary>,
}

impl Row {
    /// The row of a scanned image.
    pub fn scanned(
        image: String,
        report: &ScanReport,
        reports: Vec<String>,
        vulns: Option<VulnSummary>,
    ) -> Self {
        let mut by_ecosystem = BTreeMap::new();
        for p in &report.inventory.packages {
            *by_ecosystem.entry(p.ecosystem.to_string()).or_insert(0) += 1;
        }
        let os = report.inventory.os.as_ref().map(|os| match &os.version_id {
            Some(v) => format!("{} {v}", os.id),
            None => os.id.clone(),
        });
        Self {
            image,
            digest: Some(report.image.manifest_digest.clone()),
            os,
            packages: report.inventory.packages.len(),
            by_ecosystem,
            status: Status::Scanned,
            error: None,
            reports,
            vulns,
            signature: None,
        }
    }

    /// The row of an image that failed.
    pub fn failed(image: String, digest: Option<Digest>, error: String) -> Self {
        Self {
            image,
            digest,
            os: None,
            packages: 0,
            by_ecosystem: BTreeMap::new(),
            status: Status::Failed,
            error: Some(error),
            reports: Vec::new(),
            vulns: None,
            signature: None,
        }
    }

    /// The row of an image the signature policy refuses.
    pub fn refused(image: String, digest: Digest, signature: SignatureSummary) -> Self {
        Self {
            status: Status::Refused,
            error: None,
            digest: Some(digest),
            signature: Some(signature),
            ..Self::failed(image, None, String::new())
        }
    }
}

/// The images a run has finished, by `repository:tag`; kept in the output directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The rows of the images scanned, by image.
    pub done: BTreeMap<String, Row>,
}

impl State {
    /// Reads the state of `dir`; a missing or unreadable one is an empty state (everything is
    /// scanned again).
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the state file is unreadable; every image is scanned");
                State::default()
            }),
            Err(_) => State::default(),
        }
    }

    /// The row of a previous run's scan of `image`, when its reports are all still there and
    /// were matched against the database updated at `database` (`None`: without `--vulns`).
    pub fn known(&self, dir: &Path, image: &str, database: Option<&str>) -> Option<&Row> {
        self.done.get(image).filter(|row| {
            matches!(row.status, Status::Scanned | Status::Unchanged)
                && !row.reports.is_empty()
                && row.reports.iter().all(|r| dir.join(r).is_file())
                && row.vulns.as_ref().map(|v| v.database.as_str()) == database
        })
    }

    /// Drops `image` and deletes the reports a previous run wrote for it; whether it was known.
    pub fn forget(&mut self, dir: &Path, image: &str) -> bool {
        let Some(row) = self.done.remove(image) else {
            return false;
        };
        for report in &row.reports {
            if let Err(e) = std::fs::remove_file(dir.join(report)) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, report = %escape_untrusted(report), "cannot delete an old report");
                }
            }
        }
        true
    }

    /// Writes the state to `dir`, atomically.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        write_atomically(dir, STATE_FILE, &serde_json::to_vec_pretty(self)?)
    }
}

/// Writes `name` in `dir` through a temporary file renamed into place, so that an interrupted
/// run leaves the old file or the new one, never a part.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_data()?;
    temp.persist(dir.join(name)).map_err(|e| e.error)?;
    Ok(())
}

/// The table of `rows`, registry text escaped.
pub fn table(rows: &[Row], out: &mut dyn Write) -> io::Result<()> {
    let vulns = rows.iter().any(|r| r.vulns.is_some());
    let signatures = rows.iter().any(|r| r.signature.is_some());
    write!(out, "IMAGE\tSTATUS\tOS\tPACKAGES")?;
    if vulns {
        write!(out, "\tVULNS\tUNMATCHED\tGRADE")?;
    }
    if signatures {
        write!(out, "\tSIGNATURE")?;
    }
    writeln!(out, "\tDIGEST")?;
    for r in rows {
        let status = match r.status {
            Status::Scanned => "scanned",
            Status::Unchanged => "unchanged",
            Status::Failed => "failed",
            Status::Refused => "refused",
        };
        let digest = r
            .digest
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_else(|| "-".into());
        write!(
            out,
            "{}\t{status}\t{}\t{}",
            escape_untrusted(&r.image),
            escape_untrusted(r.os.as_deref().unwrap_or("-")),
            r.packages,
        )?;
        match (&r.vulns, vulns) {
            (Some(v), _) => {
                let set_by = v
                    .grade_set_by
                    .as_deref()
                    .map(|id| format!(" ({})", escape_untrusted(id)))
                    .unwrap_or_default();
                write!(
                    out,
                    "\t{}\t{}\t{}{set_by}",
                    v.counts(),
                    v.unmatched,
                    v.grade
                )?;
            }
            (None, true) => write!(out, "\t-\t-\t-")?,
            (None, false) => {}
        }
        match (&r.signature, signatures) {
            (Some(s), _) => write!(out, "\t{}", s.cell())?,
            (None, true) => write!(out, "\t-")?,
            (None, false) => {}
        }
        writeln!(out, "\t{digest}")?;
        if let Some(e) = &r.error {
            writeln!(out, "  error: {}", escape_untrusted(e))?;
        }
        if let Some(reason) = r.signature.as_ref().and_then(|s| s.reason.as_ref()) {
            writeln!(out, "  signature: {}", escape_untrusted(reason))?;
        }
        if let Some(gate) = r.vulns.as_ref().and_then(|v| v.gate.as_ref()) {
            writeln!(out, "  {}", escape_untrusted(gate))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_forgets_images_whose_reports_are_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::default();
        let row = Row {
            image: "team/app:1".into(),
            digest: Some(Digest::sha256_of(b"m")),
            os: Some("debian 12".into()),
            packages: 3,
            by_ecosystem: BTreeMap::from([("deb".to_owned(), 3)]),
            status: Status::Scanned,
            error: None,
            reports: vec!["team_app_1-0.json".into()],
            vulns: None,
            signature: None,
        };
        state.done.insert(row.image.clone(), row.clone());
        let failed = Row::failed("x:1".into(), None, "no".into());
        state.done.insert(failed.image.clone(), failed);
        state.save(dir.path()).unwrap();
        let back = State::load(dir.path());
        assert_eq!(back.done.get("team/app:1"), Some(&row));
        assert!(
            back.known(dir.path(), "team/app:1", None).is_none(),
            "report missing"
        );
        std::fs::write(dir.path().join("team_app_1-0.json"), "{}").unwrap();
        assert_eq!(back.known(dir.path(), "team/app:1", None), Some(&row));
        assert!(
            back.known(dir.path(), "team/app:1", Some("2024-01-01"))
                .is_none(),
            "scanned without --vulns, asked with"
        );
        assert!(
            back.known(dir.path(), "x:1", None).is_none(),
            "failures are retried"
        );
        std::fs::write(dir.path().join(STATE_FILE), "{truncated").unwrap();
        assert!(State::load(dir.path()).done.is_empty());
    }

    #[test]
    fn the_table_escapes_registry_text() {
        let mut row = Row::failed("evil\u{1b}[2J:1".into(), None, "bad\ntag".into());
        row.os = Some("x\u{7}".into());
        let mut out = Vec::new();
        table(&[row], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
    }
}
