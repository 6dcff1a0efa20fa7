//! The OSV record format (schema 1.x), the parts matching needs, as typed serde structs.
//!
//! Unknown fields are ignored, so newer schema versions still load; `ecosystem_specific` and
//! `database_specific` are read only where the severity needs them.

use serde::{Deserialize, Serialize};

/// One advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The advisory's id (`DSA-5678-1`, `GHSA-…`, `CVE-…`).
    pub id: String,
    /// When the record last changed (RFC 3339).
    #[serde(default)]
    pub modified: String,
    /// When the advisory was published (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Present when the advisory was withdrawn; such records are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// Other ids of the same flaw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The upstream flaws a distribution's advisory covers (schema 1.7: a `DSA` or
    /// `DEBIAN-CVE-…` record names its CVEs here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// Related but different flaws (some sources, such as Debian's, link their CVE here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<String>,
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Record-level severities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    /// The affected packages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    /// The source's own fields; some sources put a severity rating here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<DatabaseSpecific>,
}

/// A severity entry: a CVSS vector or a source's rating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4` or `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector, or the rating for non-CVSS types.
    pub score: String,
}

/// The `database_specific` fields cra reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSpecific {
    /// A rating (GitHub advisories: `LOW`, `MODERATE`, `HIGH`, `CRITICAL`); a value of another
    /// shape is ignored.
    #[serde(
        default,
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub severity: Option<String>,
}

/// Reads a string, or nothing when the source put something else there.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Lenient::deserialize(d)? {
        Lenient::Text(s) => Some(s),
        Lenient::Other(_) => None,
    })
}

/// One affected package and its versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// The package.
    pub package: AffectedPackage,
    /// Per-package severities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    /// Version ranges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Explicitly affected versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    /// The source's own fields (Ubuntu and Alpine put ratings here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<DatabaseSpecific>,
    /// The source's own fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<DatabaseSpecific>,
}

/// A package named by an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    /// The OSV ecosystem (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    /// The package name, as the ecosystem spells it.
    pub name: String,
    /// The package URL, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// The kind of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeType {
    /// Semantic Versioning 2.0 ordering.
    Semver,
    /// The ecosystem's own ordering.
    Ecosystem,
    /// Commits in a repository; never matched against installed packages.
    Git,
}

/// A version range: a list of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The ordering the events use.
    #[serde(rename = "type")]
    pub kind: RangeType,
    /// The events, in any order.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event; exactly one field is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The first affected version (`"0"`: from the beginning).
    Introduced(String),
    /// The first fixed version.
    Fixed(String),
    /// The last affected version.
    LastAffected(String),
    /// An upper limit on the range (used with `GIT` ranges).
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

impl Record {
    /// Every id of the flaw: the record's own first, then its aliases.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// The ids that name the same single flaw: [`Record::ids`], plus the `upstream` ids when they
    /// name one CVE (a `DEBIAN-CVE-2023-4911` record, or a `DSA` fixing only that CVE). A record
    /// whose upstream lists several CVEs is an aggregate and folds nothing.
    pub fn same_flaw_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.ids().collect();
        let cves: Vec<&str> = self
            .upstream
            .iter()
            .map(String::as_str)
            .filter(|u| u.starts_with("CVE-"))
            .collect();
        if cves.len() == 1 {
            let cve = cves[0];
            for u in &self.upstream {
                if u == cve || u.ends_with(&format!("-{cve}")) {
                    ids.push(u);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_record_with_every_event_kind() {
        let json = r#"{
          "schema_version": "1.6.0",
          "id": "GHSA-xxxx", "modified": "2024-01-01T00:00:00Z", "published": "2023-12-01T00:00:00Z",
          "aliases": ["CVE-2023-1"],
          "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
          "affected": [{
            "package": {"ecosystem": "PyPI", "name": "requests", "purl": "pkg:pypi/requests"},
            "ranges": [{"type": "ECOSYSTEM", "events": [
              {"introduced": "0"}, {"fixed": "2.31.0"}, {"last_affected": "1.0"}, {"limit": "3"}
            ]}, {"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "abc"}]}],
            "versions": ["2.30.0"],
            "database_specific": {"source": "x", "severity": {"nested": 1}}
          }],
          "database_specific": {"severity": "HIGH", "cwe_ids": []}
        }"#;
        let r: Record = serde_json::from_str(json).unwrap();
        assert_eq!(r.ids().collect::<Vec<_>>(), ["GHSA-xxxx", "CVE-2023-1"]);
        let ranges = &r.affected[0].ranges;
        assert_eq!(ranges[0].kind, RangeType::Ecosystem);
        assert_eq!(
            ranges[0].events,
            [
                Event::Introduced("0".into()),
                Event::Fixed("2.31.0".into()),
                Event::LastAffected("1.0".into()),
                Event::Limit("3".into())
            ]
        );
        assert_eq!(ranges[1].kind, RangeType::Git);
        assert_eq!(
            r.database_specific.unwrap().severity.as_deref(),
            Some("HIGH")
        );
    }

    #[test]
    fn an_event_with_two_fields_is_refused() {
        let json = r#"{"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1"}]}"#;
        assert!(serde_json::from_str::<Range>(json).is_err());
    }
}
