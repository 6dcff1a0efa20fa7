//! Semantic Versioning 2.0 (OSV `SEMVER` ranges, npm, crates.io), ordered by the `semver` crate
//! with build metadata ignored, as the specification requires.
//!
//! OSV data sometimes writes a bound without all three numbers (`1.2`) or with a leading `v`;
//! those are completed with zeros before parsing.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::VersionError;

/// Parses a version, tolerating a leading `v`/`=` and missing minor or patch numbers.
pub fn parse(v: &str) -> Result<semver::Version, VersionError> {
    let t = v.trim().trim_start_matches(['v', 'V', '=']);
    let core_end = t.find(['-', '+']).unwrap_or(t.len());
    let dots = t[..core_end].matches('.').count();
    let full: Cow<'_, str> = match dots {
        0 => format!("{}.0.0{}", &t[..core_end], &t[core_end..]).into(),
        1 => format!("{}.0{}", &t[..core_end], &t[core_end..]).into(),
        _ => t.into(),
    };
    let mut parsed =
        semver::Version::parse(&full).map_err(|e| VersionError::new("semver", v, e.to_string()))?;
    parsed.build = semver::BuildMetadata::EMPTY;
    Ok(parsed)
}

/// Compares two semantic versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// The precedence examples of semver.org (section 11) and npm's node-semver tests.
    const CORPUS: &[(&str, char, &str)] = &[
        ("1.0.0", '<', "2.0.0"),
        ("2.0.0", '<', "2.1.0"),
        ("2.1.0", '<', "2.1.1"),
        ("1.0.0-alpha", '<', "1.0.0"),
        ("1.0.0-alpha", '<', "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", '<', "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", '<', "1.0.0-beta"),
        ("1.0.0-beta", '<', "1.0.0-beta.2"),
        ("1.0.0-beta.2", '<', "1.0.0-beta.11"),
        ("1.0.0-beta.11", '<', "1.0.0-rc.1"),
        ("1.0.0-rc.1", '<', "1.0.0"),
        ("1.0.0+build.1", '=', "1.0.0+build.2"),
        ("v1.2.3", '=', "1.2.3"),
        ("1.2", '=', "1.2.0"),
        ("1", '<', "1.0.1"),
        ("0.0.0-0", '<', "0.0.0"),
        ("4.17.20", '<', "4.17.21"),
        ("10.0.0", '>', "9.99.99"),
    ];

    #[test]
    fn corpus_from_semver_org() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn invalid_versions_are_errors() {
        for bad in ["", "x.y.z", "1.2.3.4", "1.2.3-", "01.2.3"] {
            assert!(compare(bad, "1.0.0").is_err(), "{bad}");
        }
    }
}
