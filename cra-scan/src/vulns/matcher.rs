//! Matching an inventory against the database: findings, unmatched packages and the grade.
//!
//! One finding per installed package and flaw: records that share an id (their own, an alias, or
//! a single upstream CVE) are merged, keeping every id, the highest severity, the earliest
//! publication and the fix that covers them all.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde::Serialize;

use super::db::{index_name, Database, DbError, SourceStatus};
use super::grade::{age_days, Grade};
use super::osv::Record;
use super::range;
use super::severity::{rate, Rated, Severity};
use super::target::{target, Unmatchable};
use crate::Inventory;

/// One flaw in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The flaw's id: its CVE when it has one, else the advisory's id.
    pub id: String,
    /// Every other id of the same flaw (GHSA, DSA, distribution ids), sorted.
    pub aliases: Vec<String>,
    /// The index of the package in the inventory.
    pub package: usize,
    /// The installed package's name.
    pub name: String,
    /// The installed package's version.
    pub installed: String,
    /// Its purl (the CycloneDX `bom-ref`).
    pub purl: String,
    /// The name the advisory uses (the source package for OS packages).
    pub advisory_package: String,
    /// The advisory's ecosystem (`Debian:12`).
    pub ecosystem: String,
    /// The first version that fixes every merged advisory, when one is published.
    pub fixed_in: Option<String>,
    /// The severity.
    pub rating: Rated,
    /// The earliest publication date among the merged advisories (RFC 3339).
    pub published: Option<String>,
    /// A one-line summary, when an advisory has one.
    pub summary: Option<String>,
}

/// A package that could not be checked: never reported as clean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmatched {
    /// The index of the package in the inventory.
    pub package: usize,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its purl.
    pub purl: String,
    /// Why.
    pub reason: Unmatchable,
}

/// What matching found for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnReport {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Packages that could not be checked.
    pub unmatched: Vec<Unmatched>,
    /// The image's health grade.
    pub grade: Grade,
    /// The finding that sets the grade (its id), when the grade is not A.
    pub grade_set_by: Option<String>,
    /// The data the match used, with its dates.
    pub data: Vec<SourceStatus>,
}

impl VulnReport {
    /// The highest severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.rating.severity).max()
    }
}

struct Hit {
    record: Rc<Record>,
    ecosystem: String,
    package: String,
    rating: Rated,
    fixed_in: Option<String>,
}

type Candidates = Rc<Vec<(String, Rc<Record>)>>;

/// Matches every package of `inventory` against `db`, grading at `now`.
pub fn match_inventory(
    db: &Database,
    inventory: &Inventory,
    now: time::OffsetDateTime,
) -> Result<VulnReport, DbError> {
    let status = db.status()?;
    let sources: HashSet<&str> = status
        .sources
        .iter()
        .map(|s| s.ecosystem.as_str())
        .collect();
    let mut cache: HashMap<(&'static str, String), Candidates> = HashMap::new();
    let mut findings = Vec::new();
    let mut unmatched = Vec::new();
    for (index, pkg) in inventory.packages.iter().enumerate() {
        let unmatched_because = |reason| Unmatched {
            package: index,
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            purl: pkg.purl.clone(),
            reason,
        };
        let t = match target(pkg, inventory.os.as_ref()) {
            Ok(t) => t,
            Err(reason) => {
                unmatched.push(unmatched_because(reason));
                continue;
            }
        };
        if !sources.contains(t.source) {
            unmatched.push(unmatched_because(Unmatchable::NoData {
                ecosystem: t.source.to_owned(),
            }));
            continue;
        }
        let key = (t.source, index_name(t.source, &t.name));
        let candidates = match cache.get(&key) {
            Some(c) => Rc::clone(c),
            None => {
                let found: Candidates = Rc::new(
                    db.advisories_for(t.source, &t.name)?
                        .into_iter()
                        .map(|(e, r)| (e, Rc::new(r)))
                        .collect(),
                );
                cache.insert(key.clone(), Rc::clone(&found));
                found
            }
        };
        let mut hits = Vec::new();
        let mut invalid = None;
        for (ecosystem, record) in candidates.iter() {
            if record.withdrawn.is_some() || !t.release.matches(ecosystem) {
                continue;
            }
            for affected in &record.affected {
                if affected.package.ecosystem != *ecosystem
                    || index_name(ecosystem, &affected.package.name) != key.1
                {
                    continue;
                }
                match range::is_affected(affected, t.scheme, &t.version) {
                    Ok(true) => hits.push(Hit {
                        record: Rc::clone(record),
                        ecosystem: ecosystem.clone(),
                        package: affected.package.name.clone(),
                        rating: rate(record, Some(affected)),
                        fixed_in: range::fixed_in(affected, t.scheme, &t.version),
                    }),
                    Ok(false) => {}
                    Err(e) => invalid = invalid.or(Some(e)),
                }
            }
        }
        if let Some(e) = invalid {
            unmatched.push(unmatched_because(Unmatchable::InvalidVersion {
                detail: e.to_string(),
            }));
        }
        for group in merge(hits) {
            findings.push(finding(index, pkg, &t.scheme, group));
        }
    }
    findings.sort_by(|a, b| {
        b.rating
            .severity
            .cmp(&a.rating.severity)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    let (grade, grade_set_by) = grade(&findings, now);
    Ok(VulnReport {
        findings,
        unmatched,
        grade,
        grade_set_by,
        data: status.sources,
    })
}

/// Groups hits that share an id.
fn merge(hits: Vec<Hit>) -> Vec<Vec<Hit>> {
    let mut groups: Vec<(HashSet<String>, Vec<Hit>)> = Vec::new();
    for hit in hits {
        let ids: HashSet<String> = hit
            .record
            .same_flaw_ids()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut merged_ids = ids;
        let mut merged_hits = vec![hit];
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.is_disjoint(&merged_ids) {
                i += 1;
            } else {
                let (ids, hits) = groups.swap_remove(i);
                merged_ids.extend(ids);
                merged_hits.extend(hits);
            }
        }
        groups.push((merged_ids, merged_hits));
    }
    groups.into_iter().map(|(_, hits)| hits).collect()
}

fn finding(
    index: usize,
    pkg: &cra_core::Package,
    scheme: &super::version::Scheme,
    group: Vec<Hit>,
) -> Finding {
    let mut ids: Vec<String> = group
        .iter()
        .flat_map(|h| h.record.same_flaw_ids().into_iter().map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    let primary = ids
        .iter()
        .find(|i| i.starts_with("CVE-"))
        .or_else(|| ids.first())
        .cloned()
        .unwrap_or_default();
    let aliases = ids.into_iter().filter(|i| *i != primary).collect();
    let rating = group
        .iter()
        .map(|h| h.rating.clone())
        .max_by(|a, b| {
            a.severity.cmp(&b.severity).then(
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
        })
        .unwrap_or(Rated {
            severity: Severity::Unknown,
            score: None,
            vector: None,
        });
    let published = group
        .iter()
        .filter_map(|h| h.record.published.clone())
        .min();
    // Every merged advisory must be fixed: the highest of their first fixes.
    let fixes: Vec<&str> = group.iter().filter_map(|h| h.fixed_in.as_deref()).collect();
    let fixed_in = if fixes.len() == group.len() {
        fixes
            .iter()
            .copied()
            .max_by(|a, b| scheme.compare(a, b).unwrap_or(std::cmp::Ordering::Equal))
            .map(str::to_owned)
    } else {
        None
    };
    let first = &group[0];
    Finding {
        id: primary,
        aliases,
        package: index,
        name: pkg.name.clone(),
        installed: pkg.version.clone(),
        purl: pkg.purl.clone(),
        advisory_package: first.package.clone(),
        ecosystem: first.ecosystem.clone(),
        fixed_in,
        rating,
        published,
        summary: group.iter().find_map(|h| h.record.summary.clone()),
    }
}

/// The image's grade and the finding that sets it: of those that give the worst grade, the
/// oldest (an unknown date counts as oldest).
pub fn grade(findings: &[Finding], now: time::OffsetDateTime) -> (Grade, Option<String>) {
    let mut worst: (Grade, i64, Option<String>) = (Grade::A, i64::MIN, None);
    for f in findings {
        let age = f.published.as_deref().and_then(|p| age_days(p, now));
        let g = Grade::of(f.rating.severity, age);
        let age_key = age.unwrap_or(i64::MAX);
        if g > Grade::A && (g, age_key) > (worst.0, worst.1) {
            worst = (g, age_key, Some(f.id.clone()));
        }
    }
    (worst.0, worst.2)
}
