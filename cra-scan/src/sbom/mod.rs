//! Output formats of a [`ScanReport`].
//!
//! - [`Format::Json`]: the snyk-docker-plugin scan result ([`snyk_scan_results`]).
//! - [`Format::Table`]: a plain-text table for terminals.
//! - [`Format::CycloneDx`], [`Format::Spdx`]: standard SBOMs.
//!
//! Each format lives in its own file with `pub(crate) fn render(report, out)`; [`render`] only
//! dispatches.

pub(crate) mod cyclonedx;
mod license;
mod shared;
pub mod snyk;
mod spdx;
mod table;

use std::fmt;
use std::io::Write;
use std::str::FromStr;

pub use snyk::{snyk_scan_results, ScanResults};

use crate::error::ScanError;
use crate::pipeline::ScanReport;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The snyk-docker-plugin scan result list.
    Json,
    /// A human-readable table.
    #[default]
    Table,
    /// CycloneDX 1.6 JSON.
    CycloneDx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// SARIF 2.1.0: the vulnerability findings for code-scanning UIs (none without `--vulns`).
    Sarif,
}

impl Format {
    /// The format's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Table => "table",
            Format::CycloneDx => "cyclonedx",
            Format::Spdx => "spdx",
            Format::Sarif => "sarif",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a known format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}; expected table, json, cyclonedx, spdx or sarif")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" | "snyk" => Ok(Format::Json),
            "table" => Ok(Format::Table),
            "cyclonedx" | "cdx" => Ok(Format::CycloneDx),
            "spdx" => Ok(Format::Spdx),
            "sarif" => Ok(Format::Sarif),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// Writes `report` in `format`.
pub fn render(report: &ScanReport, format: Format, out: &mut dyn Write) -> Result<(), ScanError> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &snyk_scan_results(report))
                .map_err(|e| ScanError::Output(e.into()))?;
            writeln!(out).map_err(ScanError::Output)
        }
        Format::Table => table::render(report, out),
        Format::CycloneDx => cyclonedx::render(report, out),
        Format::Spdx => spdx::render(report, out),
        Format::Sarif => crate::vulns::output::sarif::render(report, None, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        for f in [
            Format::Json,
            Format::Table,
            Format::CycloneDx,
            Format::Spdx,
            Format::Sarif,
        ] {
            assert_eq!(f.as_str().parse::<Format>().unwrap(), f);
        }
        assert!("xml".parse::<Format>().is_err());
    }
}
