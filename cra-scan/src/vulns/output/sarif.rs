//! SARIF 2.1.0 for code-scanning UIs: one rule per flaw, one result per affected package,
//! located at the file the package was found in.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::error::ScanError;
use crate::pipeline::ScanReport;
use crate::vulns::matcher::{Finding, VulnReport};
use crate::vulns::severity::Severity;

/// The SARIF schema the document follows.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Debug, Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Debug, Serialize)]
struct Run<'a> {
    tool: Tool<'a>,
    results: Vec<SarifResult>,
}

#[derive(Debug, Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule<'a> {
    id: &'a str,
    short_description: Text,
    properties: RuleProperties,
}

#[derive(Debug, Serialize)]
struct RuleProperties {
    #[serde(rename = "security-severity", skip_serializing_if = "Option::is_none")]
    security_severity: Option<String>,
    tags: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Text {
    text: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
}

#[derive(Debug, Serialize)]
struct ArtifactLocation {
    uri: String,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// A score code-scanning UIs sort by: the CVSS score, else the middle of the severity's band.
fn security_severity(f: &Finding) -> Option<String> {
    let score = f.rating.score.or(match f.rating.severity {
        Severity::Critical => Some(9.5),
        Severity::High => Some(8.0),
        Severity::Medium => Some(5.5),
        Severity::Low => Some(2.0),
        Severity::Unknown => None,
    })?;
    Some(format!("{score:.1}"))
}

/// Writes the SARIF log; without a vulnerability report, a run with no results.
pub fn render(
    report: &ScanReport,
    vulns: Option<&VulnReport>,
    out: &mut dyn Write,
) -> Result<(), ScanError> {
    let findings = vulns.map_or(&[][..], |v| &v.findings[..]);
    let mut rules: BTreeMap<&str, Rule<'_>> = BTreeMap::new();
    let mut results = Vec::with_capacity(findings.len());
    for f in findings {
        rules.entry(&f.id).or_insert_with(|| Rule {
            id: &f.id,
            short_description: Text {
                text: f
                    .summary
                    .clone()
                    .unwrap_or_else(|| format!("{} in {}", f.id, f.advisory_package)),
            },
            properties: RuleProperties {
                security_severity: security_severity(f),
                tags: vec![
                    "security".into(),
                    "vulnerability".into(),
                    f.rating.severity.to_string(),
                ],
            },
        });
        let path = report
            .inventory
            .packages
            .get(f.package)
            .map_or("", |p| p.location.path.as_str());
        let fix = f.fixed_in.as_deref().map_or_else(
            || "no fixed version is published".to_owned(),
            |v| format!("fixed in {v}"),
        );
        results.push(SarifResult {
            rule_id: f.id.clone(),
            level: level(f.rating.severity),
            message: Text {
                text: format!(
                    "{} {} is affected by {} ({}); {fix}.",
                    f.name, f.installed, f.id, f.rating.severity
                ),
            },
            locations: vec![Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: path.trim_start_matches('/').to_owned(),
                    },
                },
            }],
        });
    }
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "cra",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://osv.dev",
                    rules: rules.into_values().collect(),
                },
            },
            results,
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &log).map_err(|e| ScanError::Output(e.into()))?;
    writeln!(out).map_err(ScanError::Output)
}
