//! Whether a version is affected, by OSV's evaluation rules.
//!
//! A version listed in `versions` is affected. Otherwise each non-`GIT` range is evaluated on
//! its own, in the ordering the range names (`SEMVER`) or the ecosystem's (`ECOSYSTEM`): with the
//! events sorted by version (`introduced: "0"` first), an `introduced` at or below the version
//! turns "affected" on, a `fixed` at or below it turns it off, and a `last_affected` below it
//! turns it off; a `limit` at or below the version excludes it from the range.

use std::cmp::Ordering;

use super::osv::{Affected, Event, Range, RangeType};
use super::version::{Scheme, VersionError};

/// Whether `version` is affected by one package entry of an advisory.
///
/// `scheme` is the ecosystem's ordering. A version or bound the ordering cannot read is an error,
/// so the caller can report the package as unmatched rather than clean.
pub fn is_affected(
    affected: &Affected,
    scheme: Scheme,
    version: &str,
) -> Result<bool, VersionError> {
    for listed in &affected.versions {
        if listed == version || scheme.compare(listed, version).ok() == Some(Ordering::Equal) {
            return Ok(true);
        }
    }
    let mut first_error = None;
    for range in &affected.ranges {
        let ordering = match range.kind {
            RangeType::Git => continue,
            RangeType::Semver => Scheme::Semver,
            RangeType::Ecosystem => scheme,
        };
        match in_range(range, ordering, version) {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(false),
    }
}

fn is_zero(v: &str) -> bool {
    v == "0"
}

/// Evaluates one range.
pub fn in_range(range: &Range, scheme: Scheme, version: &str) -> Result<bool, VersionError> {
    let mut events: Vec<&Event> = range.events.iter().collect();
    // Check every bound parses before sorting, so the sort's comparator cannot fail.
    for e in &events {
        if !is_zero(e.version()) {
            scheme.compare(e.version(), e.version())?;
        }
    }
    scheme.compare(version, version)?;
    events.sort_by(|a, b| match (is_zero(a.version()), is_zero(b.version())) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => scheme
            .compare(a.version(), b.version())
            .unwrap_or(Ordering::Equal),
    });
    let cmp = |bound: &str| -> Result<Ordering, VersionError> { scheme.compare(version, bound) };
    let mut affected = false;
    for event in events {
        match event {
            Event::Introduced(v) => {
                if is_zero(v) || cmp(v)? != Ordering::Less {
                    affected = true;
                }
            }
            Event::Fixed(v) => {
                if cmp(v)? != Ordering::Less {
                    affected = false;
                }
            }
            Event::LastAffected(v) => {
                if cmp(v)? == Ordering::Greater {
                    affected = false;
                }
            }
            Event::Limit(v) => {
                if v != "*" && cmp(v)? != Ordering::Less {
                    return Ok(false);
                }
            }
        }
    }
    Ok(affected)
}

/// The first fixed version above `version` named by the entry's ranges, for reports.
pub fn fixed_in(affected: &Affected, scheme: Scheme, version: &str) -> Option<String> {
    let mut best: Option<&str> = None;
    for range in &affected.ranges {
        let ordering = match range.kind {
            RangeType::Git => continue,
            RangeType::Semver => Scheme::Semver,
            RangeType::Ecosystem => scheme,
        };
        for event in &range.events {
            if let Event::Fixed(f) = event {
                if ordering.compare(f, version).ok() != Some(Ordering::Greater) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some(b) => ordering.compare(f, b).ok() == Some(Ordering::Less),
                };
                if better {
                    best = Some(f);
                }
            }
        }
    }
    best.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::osv::AffectedPackage;

    fn entry(ranges: Vec<Range>, versions: &[&str]) -> Affected {
        Affected {
            package: AffectedPackage {
                ecosystem: "PyPI".into(),
                name: "x".into(),
                purl: None,
            },
            severity: Vec::new(),
            ranges,
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
            ecosystem_specific: None,
            database_specific: None,
        }
    }

    fn range(kind: RangeType, events: &[(&str, &str)]) -> Range {
        Range {
            kind,
            events: events
                .iter()
                .map(|(k, v)| match *k {
                    "introduced" => Event::Introduced((*v).into()),
                    "fixed" => Event::Fixed((*v).into()),
                    "last_affected" => Event::LastAffected((*v).into()),
                    _ => Event::Limit((*v).into()),
                })
                .collect(),
        }
    }

    fn check(a: &Affected, cases: &[(&str, bool)]) {
        for (v, want) in cases {
            assert_eq!(is_affected(a, Scheme::Pep440, v), Ok(*want), "{v}");
        }
    }

    #[test]
    fn introduced_and_fixed() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[("introduced", "0"), ("fixed", "2.31.0")],
            )],
            &[],
        );
        check(
            &a,
            &[
                ("0.1", true),
                ("2.30.9", true),
                ("2.31.0", false),
                ("2.32", false),
            ],
        );
    }

    #[test]
    fn several_introduced_fixed_pairs_in_any_order() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[
                    ("fixed", "2.5"),
                    ("introduced", "2.0"),
                    ("fixed", "1.5"),
                    ("introduced", "1.0"),
                ],
            )],
            &[],
        );
        check(
            &a,
            &[
                ("0.9", false),
                ("1.0", true),
                ("1.4", true),
                ("1.5", false),
                ("1.9", false),
                ("2.0", true),
                ("2.5", false),
            ],
        );
    }

    #[test]
    fn last_affected_is_inclusive() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[("introduced", "1.0"), ("last_affected", "1.4")],
            )],
            &[],
        );
        check(
            &a,
            &[
                ("0.9", false),
                ("1.0", true),
                ("1.4", true),
                ("1.4.1", false),
            ],
        );
    }

    #[test]
    fn limit_caps_the_range() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[("introduced", "0"), ("limit", "3.0")],
            )],
            &[],
        );
        check(&a, &[("2.9", true), ("3.0", false), ("4", false)]);
    }

    #[test]
    fn an_open_introduced_affects_every_later_version() {
        let a = entry(
            vec![range(RangeType::Ecosystem, &[("introduced", "1.2")])],
            &[],
        );
        check(&a, &[("1.1", false), ("1.2", true), ("99", true)]);
    }

    #[test]
    fn listed_versions_are_affected_regardless_of_ranges() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[("introduced", "0"), ("fixed", "1.0")],
            )],
            &["1.5", "2.0.0"],
        );
        check(
            &a,
            &[("1.5", true), ("2.0", true), ("1.6", false), ("0.5", true)],
        );
    }

    #[test]
    fn semver_ranges_use_semver_ordering_and_git_ranges_are_skipped() {
        let a = entry(
            vec![
                range(RangeType::Git, &[("introduced", "0")]),
                range(
                    RangeType::Semver,
                    &[("introduced", "1.0.0-rc.1"), ("fixed", "1.0.0")],
                ),
            ],
            &[],
        );
        // Under PEP 440 "1.0.0-rc.2" would read differently; SEMVER orders it as a pre-release.
        assert_eq!(is_affected(&a, Scheme::Pep440, "1.0.0-rc.2"), Ok(true));
        assert_eq!(is_affected(&a, Scheme::Pep440, "1.0.0"), Ok(false));
        assert_eq!(is_affected(&a, Scheme::Pep440, "0.9.0"), Ok(false));
    }

    #[test]
    fn an_unreadable_version_is_an_error_not_a_clean_result() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[("introduced", "0"), ("fixed", "1.0")],
            )],
            &[],
        );
        assert!(is_affected(&a, Scheme::Pep440, "not a version").is_err());
    }

    #[test]
    fn fixed_in_is_the_nearest_fix_above() {
        let a = entry(
            vec![range(
                RangeType::Ecosystem,
                &[
                    ("introduced", "0"),
                    ("fixed", "1.5"),
                    ("introduced", "2.0"),
                    ("fixed", "2.5"),
                ],
            )],
            &[],
        );
        assert_eq!(fixed_in(&a, Scheme::Pep440, "2.1").as_deref(), Some("2.5"));
        assert_eq!(fixed_in(&a, Scheme::Pep440, "1.0").as_deref(), Some("1.5"));
        assert_eq!(fixed_in(&a, Scheme::Pep440, "3.0"), None);
    }
}
