//! Composer (Packagist) versions, normalised as Composer's version parser does and ordered as PHP's
//! `version_compare`.
//!
//! Normalising drops a leading `v`, pads the numeric part to four numbers and reads `-` and `_`
//! as separators. Comparing splits at separators and digit/letter transitions; a number is newer
//! than any of `dev < alpha = a < beta = b < RC = rc`, and older than `pl = p` (a patch level);
//! unknown words sort before `dev`.

use std::cmp::Ordering;

use super::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Num(String),
    Word(String),
}

/// The rank of a special word, with a number ranking 5.
fn rank(p: &Part) -> u8 {
    match p {
        Part::Num(_) => 5,
        Part::Word(w) => match w.as_str() {
            "dev" => 1,
            "alpha" | "a" => 2,
            "beta" | "b" => 3,
            "rc" => 4,
            "pl" | "p" | "patch" => 6,
            _ => 0,
        },
    }
}

fn parts(v: &str) -> Result<Vec<Part>, VersionError> {
    let t = v.trim();
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t).to_ascii_lowercase();
    // Composer ignores build metadata.
    let t = t.split('+').next().unwrap_or_default();
    if t.is_empty() || !t.as_bytes()[0].is_ascii_digit() {
        return Err(VersionError::new("composer", v, "not a version number"));
    }
    let mut out = Vec::new();
    let bytes = t.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Part::Num(t[start..i].trim_start_matches('0').to_owned()));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Part::Word(t[start..i].to_owned()));
        } else if matches!(bytes[i], b'.' | b'-' | b'_') {
            i += 1;
        } else {
            return Err(VersionError::new("composer", v, "unexpected character"));
        }
    }
    // Pad the leading run of numbers to four, as Composer's normalised form has.
    let numbers = out.iter().take_while(|p| matches!(p, Part::Num(_))).count();
    for _ in numbers..4 {
        out.insert(numbers.min(out.len()), Part::Num(String::new()));
    }
    Ok(out)
}

/// Compares two Composer versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (x, y) = (parts(a)?, parts(b)?);
    for i in 0..x.len().max(y.len()) {
        let c = match (x.get(i), y.get(i)) {
            (Some(Part::Num(l)), Some(Part::Num(r))) => {
                l.len().cmp(&r.len()).then_with(|| l.cmp(r))
            }
            (Some(l), Some(r)) => rank(l).cmp(&rank(r)),
            // The longer one goes on: newer if with a number, else as its word against a number.
            (Some(Part::Num(_)), None) => Ordering::Greater,
            (Some(l), None) => rank(l).cmp(&5),
            (None, Some(Part::Num(_))) => Ordering::Less,
            (None, Some(r)) => 5.cmp(&rank(r)),
            (None, None) => Ordering::Equal,
        };
        if c != Ordering::Equal {
            return Ok(c);
        }
    }
    Ok(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Orderings from PHP's `version_compare` documentation and Composer's `VersionParserTest`
    /// and `ComparatorTest`.
    const CORPUS: &[(&str, char, &str)] = &[
        ("1.0.0", '=', "1.0"),
        ("1.0.0", '=', "v1.0.0"),
        ("1.0.0", '=', "1.0.0.0"),
        ("1.25.0", '>', "1.24.0"),
        ("1.0.0-dev", '<', "1.0.0-alpha"),
        ("1.0.0-alpha", '<', "1.0.0-beta"),
        ("1.0.0-beta", '<', "1.0.0-RC"),
        ("1.0.0-RC1", '<', "1.0.0"),
        ("1.0.0-rc1", '<', "1.0.0-rc2"),
        ("1.0.0", '<', "1.0.0-pl1"),
        ("1.0.0-beta2", '=', "1.0.0beta2"),
        ("1.0.0-a1", '=', "1.0.0-alpha1"),
        ("2.0.0-beta.1", '<', "2.0.0"),
        ("5.4.1", '<', "5.4.10"),
        ("1.0.0+build", '=', "1.0.0"),
    ];

    #[test]
    fn corpus_from_php_and_composer() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn malformed_versions_are_errors() {
        for bad in ["", "dev-master", "1.0/2"] {
            assert!(compare(bad, "1.0").is_err(), "{bad:?}");
        }
    }
}
