//! Go module versions (`v1.2.3`, pseudo-versions, `+incompatible`), ordered as semantic versions.
//!
//! Go's module versions are semver with a `v` prefix; a pseudo-version
//! (`v0.0.0-20191109021931-daa7c04131f5`) is a pre-release and so orders by its timestamp, and
//! `+incompatible` is build metadata. The standard library's versions in OSV come as `1.21.3`.

use std::cmp::Ordering;

use super::VersionError;

/// Compares two Go module versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

fn parse(v: &str) -> Result<semver::Version, VersionError> {
    // Go toolchain versions (`go1.21.3`, `1.21rc2`) come without a dash before a pre-release.
    let t = v.trim().trim_start_matches("go");
    let t = match t.find(|c: char| c.is_ascii_alphabetic() && c != 'v') {
        Some(at) if !t[..at].contains('-') && !t[..at].contains('+') => {
            format!("{}-{}", &t[..at], &t[at..])
        }
        _ => t.to_owned(),
    };
    super::semver::parse(&t).map_err(|e| VersionError::new("go", v, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Orderings from the Go module reference ("Versions", "Pseudo-versions") and
    /// `golang.org/x/mod/semver` tests.
    const CORPUS: &[(&str, char, &str)] = &[
        ("v1.2.3", '<', "v1.2.4"),
        ("v1.2.3-pre", '<', "v1.2.3"),
        (
            "v0.0.0-20191109021931-daa7c04131f5",
            '<',
            "v0.0.0-20200101000000-aaaaaaaaaaaa",
        ),
        ("v0.0.0-20191109021931-daa7c04131f5", '<', "v0.0.1"),
        ("v1.2.4-0.20191109021931-daa7c04131f5", '>', "v1.2.3"),
        ("v1.2.4-0.20191109021931-daa7c04131f5", '<', "v1.2.4"),
        ("v2.0.0+incompatible", '=', "v2.0.0"),
        ("v1.0.0", '=', "1.0.0"),
        ("1.21.3", '<', "1.21.4"),
        ("1.21rc2", '<', "1.21.0"),
        ("go1.20.10", '<', "1.21.0"),
        ("v1.10.0", '>', "v1.9.9"),
    ];

    #[test]
    fn corpus_from_go_module_reference() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn invalid_versions_are_errors() {
        assert!(compare("vX", "v1.0.0").is_err());
    }
}
