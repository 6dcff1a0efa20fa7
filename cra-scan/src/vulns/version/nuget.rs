//! NuGet versions (`Major.Minor.Patch[.Revision][-label][+metadata]`), ordered as NuGet's
//! `VersionComparer`: four numbers (missing ones are 0), then a release above any pre-release,
//! then pre-release labels dot by dot (numbers numerically and below words, words
//! case-insensitively); metadata is ignored.

use std::cmp::Ordering;

use super::VersionError;

struct Version<'a> {
    numbers: [u64; 4],
    labels: Vec<&'a str>,
}

fn parse(v: &str) -> Result<Version<'_>, VersionError> {
    let t = v.trim();
    let t = t.split('+').next().unwrap_or_default();
    let (core, pre) = match t.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (t, None),
    };
    let mut numbers = [0u64; 4];
    let fields: Vec<&str> = core.split('.').collect();
    if fields.is_empty() || fields.len() > 4 {
        return Err(VersionError::new(
            "nuget",
            v,
            "expected one to four numbers",
        ));
    }
    for (slot, f) in numbers.iter_mut().zip(&fields) {
        *slot = f
            .parse()
            .map_err(|_| VersionError::new("nuget", v, "version part is not a number"))?;
    }
    let labels = match pre {
        Some(p) => {
            let labels: Vec<&str> = p.split('.').collect();
            if labels.iter().any(|l| l.is_empty()) {
                return Err(VersionError::new("nuget", v, "empty pre-release label"));
            }
            labels
        }
        None => Vec::new(),
    };
    Ok(Version { numbers, labels })
}

fn cmp_label(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
    }
}

/// Compares two NuGet versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (x, y) = (parse(a)?, parse(b)?);
    let by_numbers = x.numbers.cmp(&y.numbers);
    if by_numbers != Ordering::Equal {
        return Ok(by_numbers);
    }
    Ok(match (x.labels.is_empty(), y.labels.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            for (l, r) in x.labels.iter().zip(&y.labels) {
                let c = cmp_label(l, r);
                if c != Ordering::Equal {
                    return Ok(c);
                }
            }
            x.labels.len().cmp(&y.labels.len())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Orderings from NuGet's package versioning documentation and `NuGet.Versioning` tests.
    const CORPUS: &[(&str, char, &str)] = &[
        ("1.0", '=', "1.0.0"),
        ("1.0.0", '=', "1.0.0.0"),
        ("1.0.0.1", '>', "1.0.0"),
        ("1.0.0-alpha", '<', "1.0.0"),
        ("1.0.0-alpha", '<', "1.0.0-beta"),
        ("1.0.0-ALPHA", '=', "1.0.0-alpha"),
        ("1.0.0-alpha.1", '<', "1.0.0-alpha.2"),
        ("1.0.0-alpha.2", '<', "1.0.0-alpha.10"),
        ("1.0.0-alpha", '<', "1.0.0-alpha.1"),
        ("1.0.0-1", '<', "1.0.0-alpha"),
        ("1.0.0+meta", '=', "1.0.0"),
        ("13.0.1", '>', "12.0.3"),
        ("4.7.2", '<', "4.7.10"),
    ];

    #[test]
    fn corpus_from_nuget() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn malformed_versions_are_errors() {
        for bad in ["", "1.a", "1.2.3.4.5", "1.0-"] {
            assert!(compare(bad, "1.0").is_err(), "{bad:?}");
        }
    }
}
