//! Writing a [`VulnReport`]: a table, JSON, CycloneDX with its `vulnerabilities` array, or
//! SARIF 2.1.0 for code-scanning UIs.

use std::io::Write;

use serde::Serialize;

use super::db::SourceStatus;
use super::grade::Grade;
use super::matcher::{Finding, Unmatched, VulnReport};
use crate::error::ScanError;
use crate::pipeline::ScanReport;
use crate::sbom::Format;

mod cyclonedx;
pub mod sarif;
mod table;

/// The JSON document of `cra scan --vulns --format json`.
#[derive(Debug, Serialize)]
struct Document<'a> {
    /// The image's names and digests.
    image: ImageRef<'a>,
    grade: Grade,
    grade_set_by: Option<&'a str>,
    findings: &'a [Finding],
    unmatched: &'a [Unmatched],
    data: &'a [SourceStatus],
}

#[derive(Debug, Serialize)]
struct ImageRef<'a> {
    names: &'a [String],
    manifest_digest: String,
    config_digest: String,
}

/// Writes the scan with its vulnerabilities in `format` (SPDX has no place for them: the
/// packages are written as usual and the findings are left out).
pub fn render(
    report: &ScanReport,
    vulns: &VulnReport,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), ScanError> {
    match format {
        Format::Table => table::render(report, vulns, out).map_err(ScanError::Output),
        Format::Json => {
            let doc = Document {
                image: ImageRef {
                    names: &report.image.names,
                    manifest_digest: report.image.manifest_digest.to_string(),
                    config_digest: report.image.config_digest.to_string(),
                },
                grade: vulns.grade,
                grade_set_by: vulns.grade_set_by.as_deref(),
                findings: &vulns.findings,
                unmatched: &vulns.unmatched,
                data: &vulns.data,
            };
            serde_json::to_writer_pretty(&mut *out, &doc)
                .map_err(|e| ScanError::Output(e.into()))?;
            writeln!(out).map_err(ScanError::Output)
        }
        Format::CycloneDx => cyclonedx::render(report, vulns, out),
        Format::Sarif => sarif::render(report, Some(vulns), out),
        Format::Spdx => crate::sbom::render(report, format, out),
    }
}
