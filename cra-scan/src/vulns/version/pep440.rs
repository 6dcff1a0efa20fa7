//! Python versions (PEP 440: epochs, pre-, post- and dev-releases, local labels), parsed and
//! ordered by the maintained `pep440_rs` crate.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::Version;

use super::VersionError;

fn parse(v: &str) -> Result<Version, VersionError> {
    Version::from_str(v.trim()).map_err(|e| VersionError::new("pep440", v, e.to_string()))
}

/// Compares two PEP 440 versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Orderings from PEP 440 ("Summary of permitted suffixes and relative ordering", and the
    /// normalisation rules) and the `packaging` test suite.
    const CORPUS: &[(&str, char, &str)] = &[
        ("1.0.dev456", '<', "1.0a1"),
        ("1.0a1", '<', "1.0a2.dev456"),
        ("1.0a2.dev456", '<', "1.0a12.dev456"),
        ("1.0a12.dev456", '<', "1.0a12"),
        ("1.0a12", '<', "1.0b1.dev456"),
        ("1.0b1.dev456", '<', "1.0b2"),
        ("1.0b2", '<', "1.0b2.post345.dev456"),
        ("1.0b2.post345.dev456", '<', "1.0b2.post345"),
        ("1.0b2.post345", '<', "1.0rc1.dev456"),
        ("1.0rc1.dev456", '<', "1.0rc1"),
        ("1.0rc1", '<', "1.0"),
        ("1.0", '<', "1.0+abc.5"),
        ("1.0+abc.5", '<', "1.0+abc.7"),
        ("1.0+abc.7", '<', "1.0+5"),
        ("1.0+5", '<', "1.0.post456.dev34"),
        ("1.0.post456.dev34", '<', "1.0.post456"),
        ("1.0.post456", '<', "1.1.dev1"),
        ("1.0", '=', "1.0.0"),
        ("1.0", '=', "v1.0"),
        ("1.0c1", '=', "1.0rc1"),
        ("1.0-1", '=', "1.0.post1"),
        ("1!0.1", '>', "2.0"),
        ("2.31.0", '<', "2.32.0"),
        ("1.26.17", '<', "1.26.18"),
    ];

    #[test]
    fn corpus_from_pep_440() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn invalid_versions_are_errors() {
        assert!(compare("not a version", "1.0").is_err());
        assert!(compare("1.0", "").is_err());
    }
}
