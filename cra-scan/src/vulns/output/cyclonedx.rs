//! CycloneDX 1.6 with the findings in the standard `vulnerabilities` array; each `affects[].ref`
//! is the `bom-ref` the BOM gives the package.

use std::io::Write;

use serde::Serialize;

use crate::error::ScanError;
use crate::pipeline::ScanReport;
use crate::sbom::cyclonedx::{bom_now, bom_refs, Bom};
use crate::vulns::matcher::{Finding, VulnReport};
use crate::vulns::severity::Severity;

#[derive(Debug, Serialize)]
struct Vulnerability<'a> {
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    id: &'a str,
    source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference<'a>>,
    ratings: Vec<Rating<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<&'a str>,
    affects: Vec<Affects<'a>>,
}

#[derive(Debug, Serialize)]
struct Source {
    name: &'static str,
}

#[derive(Debug, Serialize)]
struct Reference<'a> {
    id: &'a str,
    source: Source,
}

#[derive(Debug, Serialize)]
struct Rating<'a> {
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<&'a str>,
}

#[derive(Debug, Serialize)]
struct Affects<'a> {
    #[serde(rename = "ref")]
    target: String,
    versions: Vec<AffectedVersion<'a>>,
}

#[derive(Debug, Serialize)]
struct AffectedVersion<'a> {
    version: &'a str,
    status: &'static str,
}

/// The database an id comes from, by its prefix.
fn source_of(id: &str) -> Source {
    let name = match id.split('-').next().unwrap_or_default() {
        "CVE" => "NVD",
        "GHSA" => "GitHub",
        "DSA" | "DLA" | "DEBIAN" => "Debian",
        "USN" | "UBUNTU" => "Ubuntu",
        "ALPINE" => "Alpine",
        "PYSEC" => "PyPA",
        "GO" => "Go",
        "RUSTSEC" => "RustSec",
        _ => "OSV",
    };
    Source { name }
}

fn method(vector: Option<&str>) -> &'static str {
    match vector {
        Some(v) if v.starts_with("CVSS:3.1") => "CVSSv31",
        Some(v) if v.starts_with("CVSS:3.0") => "CVSSv3",
        Some(v) if v.starts_with("CVSS:4") => "CVSSv4",
        Some(_) => "CVSSv2",
        None => "other",
    }
}

fn vulnerability<'a>(n: usize, f: &'a Finding, bom_ref: &str) -> Vulnerability<'a> {
    let severity = match f.rating.severity {
        Severity::Unknown => "unknown",
        s => s.as_str(),
    };
    Vulnerability {
        bom_ref: format!("vulnerability-{n}"),
        id: &f.id,
        source: source_of(&f.id),
        references: f
            .aliases
            .iter()
            .map(|a| Reference {
                id: a,
                source: source_of(a),
            })
            .collect(),
        ratings: vec![Rating {
            severity,
            score: f.rating.score,
            method: method(f.rating.vector.as_deref()),
            vector: f.rating.vector.as_deref(),
        }],
        description: f.summary.as_deref(),
        recommendation: f
            .fixed_in
            .as_ref()
            .map(|v| format!("Upgrade {} to {v} or later.", f.advisory_package)),
        published: f.published.as_deref(),
        affects: vec![Affects {
            target: bom_ref.to_owned(),
            versions: vec![AffectedVersion {
                version: &f.installed,
                status: "affected",
            }],
        }],
    }
}

/// The BOM with its `vulnerabilities` array.
#[derive(Debug, Serialize)]
struct VulnerableBom<'a> {
    #[serde(flatten)]
    bom: Bom,
    vulnerabilities: Vec<Vulnerability<'a>>,
}

pub(super) fn render(
    report: &ScanReport,
    vulns: &VulnReport,
    out: &mut dyn Write,
) -> Result<(), ScanError> {
    let refs = bom_refs(&report.inventory.packages);
    let doc = VulnerableBom {
        bom: bom_now(report),
        vulnerabilities: vulns
            .findings
            .iter()
            .enumerate()
            .filter_map(|(n, f)| refs.get(f.package).map(|r| vulnerability(n, f, r)))
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(|e| ScanError::Output(e.into()))?;
    writeln!(out).map_err(ScanError::Output)
}
