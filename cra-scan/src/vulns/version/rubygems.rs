//! RubyGems versions, ordered as `Gem::Version#<=>`.
//!
//! A `-` means a pre-release (`1.0-rc1` is `1.0.pre.rc1`); segments are runs of digits or of
//! letters; a letter segment makes the version a pre-release and sorts before any number; trailing
//! zeros of the numeric part and of the pre-release part do not count.

use std::cmp::Ordering;

use super::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Num(String),
    Str(String),
}

fn is_valid(v: &str) -> bool {
    // `\A[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?\z`, or empty.
    if v.is_empty() {
        return true;
    }
    let (release, pre) = match v.split_once('-') {
        Some((r, p)) => (r, Some(p)),
        None => (v, None),
    };
    let mut parts = release.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()));
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
    });
    first_ok && rest_ok && pre_ok
}

fn segments(v: &str) -> Vec<Segment> {
    let v = v.replace('-', ".pre.");
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        if bytes[i].is_ascii_digit() {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Segment::Num(v[start..i].trim_start_matches('0').to_owned()));
        } else if bytes[i].is_ascii_alphabetic() {
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Segment::Str(v[start..i].to_owned()));
        } else {
            i += 1;
        }
    }
    out
}

/// The segments with trailing zeros dropped from the numeric part and from the rest.
fn canonical(v: &str) -> Vec<Segment> {
    let segs = segments(v);
    let split = segs
        .iter()
        .position(|s| matches!(s, Segment::Str(_)))
        .unwrap_or(segs.len());
    let zero = |s: &Segment| matches!(s, Segment::Num(n) if n.is_empty());
    let mut out = Vec::with_capacity(segs.len());
    for part in [&segs[..split], &segs[split..]] {
        let keep = part.len() - part.iter().rev().take_while(|s| zero(s)).count();
        out.extend_from_slice(&part[..keep]);
    }
    out
}

/// Compares two gem versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (a, b) = (a.trim(), b.trim());
    for v in [a, b] {
        if !is_valid(v) {
            return Err(VersionError::new(
                "rubygems",
                v,
                "malformed version number string",
            ));
        }
    }
    let (x, y) = (canonical(a), canonical(b));
    let zero = Segment::Num(String::new());
    for i in 0..x.len().max(y.len()) {
        let (l, r) = (x.get(i).unwrap_or(&zero), y.get(i).unwrap_or(&zero));
        let c = match (l, r) {
            (Segment::Num(l), Segment::Num(r)) => l.len().cmp(&r.len()).then_with(|| l.cmp(r)),
            (Segment::Str(_), Segment::Num(_)) => Ordering::Less,
            (Segment::Num(_), Segment::Str(_)) => Ordering::Greater,
            (Segment::Str(l), Segment::Str(r)) => l.cmp(r),
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

    /// Orderings from RubyGems' `test_gem_version.rb` and the `Gem::Version` documentation.
    const CORPUS: &[(&str, char, &str)] = &[
        ("1.0", '=', "1.0.0"),
        ("1.0", '=', "1"),
        ("1.8.2", '>', "0.0.0"),
        ("1.8.2", '>', "1.8"),
        ("1.8.2", '<', "1.8.10"),
        ("1.8.2.a", '<', "1.8.2"),
        ("1.8.2.a", '>', "1.8.1"),
        ("1.0.a", '<', "1.0.b"),
        ("1.0.a10", '>', "1.0.a9"),
        ("1.0.b1", '<', "1.0.1"),
        ("1.0.0.a", '<', "1.0.0"),
        ("5.a", '<', "5.0.0.rc2"),
        ("5.x", '>', "5.0.0.rc2"),
        ("1.0-rc1", '=', "1.0.pre.rc1"),
        ("1.0.0-1", '<', "1.0.0"),
        ("0.beta.1", '<', "0.0.beta.2"),
        ("1.9.3", '<', "1.10"),
        ("7.0.8.1", '>', "7.0.8"),
        ("1.13.10", '>', "1.13.9"),
    ];

    #[test]
    fn corpus_from_rubygems() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn malformed_versions_are_errors() {
        for bad in ["junk", "1.0\n2.0", "1..2", "1.0-", "a.1"] {
            assert!(compare(bad, "1.0").is_err(), "{bad:?}");
        }
    }
}
