//! RPM versions (`[epoch:]version[-release]`), ordered as rpm's `rpmvercmp` on each part.
//!
//! Alphanumeric segments are compared one by one (numbers numerically and above letters),
//! separators only split; `~` sorts before everything and `^` after the end of the string.

use std::cmp::Ordering;

use super::VersionError;

/// Compares two version or release strings (rpm's `rpmvercmp`).
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    while i < a.len() || j < b.len() {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        let (ca, cb) = (a.get(i).copied(), b.get(j).copied());
        if ca == Some(b'~') || cb == Some(b'~') {
            if ca != Some(b'~') {
                return Ordering::Greater;
            }
            if cb != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == Some(b'^') || cb == Some(b'^') {
            if ca.is_none() {
                return Ordering::Less;
            }
            if cb.is_none() {
                return Ordering::Greater;
            }
            if ca != Some(b'^') {
                return Ordering::Greater;
            }
            if cb != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let numeric = a[i].is_ascii_digit();
        let take = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len()
                && if numeric {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                }
            {
                k += 1;
            }
            (start, k)
        };
        let (sa, ea) = take(a, i);
        let (sb, eb) = take(b, j);
        if sb == eb {
            // Segments of different kinds: a number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut x, mut y) = (&a[sa..ea], &b[sb..eb]);
        if numeric {
            while x.first() == Some(&b'0') {
                x = &x[1..];
            }
            while y.first() == Some(&b'0') {
                y = &y[1..];
            }
            match x.len().cmp(&y.len()) {
                Ordering::Equal => {}
                other => return other,
            }
        }
        match x.cmp(y) {
            Ordering::Equal => {}
            other => return other,
        }
        i = ea;
        j = eb;
    }
    match (i < a.len(), j < b.len()) {
        (false, false) => Ordering::Equal,
        (true, _) => Ordering::Greater,
        (false, true) => Ordering::Less,
    }
}

fn split(v: &str) -> Result<(u64, &str, Option<&str>), VersionError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(VersionError::new("rpm", v, "empty version"));
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => (
            e.parse::<u64>()
                .map_err(|_| VersionError::new("rpm", v, "epoch is not a number"))?,
            rest,
        ),
        None => (0, v),
    };
    Ok(match rest.rsplit_once('-') {
        Some((version, release)) => (epoch, version, Some(release)),
        None => (epoch, rest, None),
    })
}

/// Compares two `[epoch:]version[-release]` strings; a missing epoch is 0, and a missing release
/// on either side is not compared (a bound without a release covers every release).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (ea, va, ra) = split(a)?;
    let (eb, vb, rb) = split(b)?;
    Ok(ea
        .cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(ra), Some(rb)) => rpmvercmp(ra, rb),
            _ => Ordering::Equal,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Pairs from rpm's test suite (`tests/rpmvercmp.at`), applied to `rpmvercmp`.
    const RPMVERCMP: &[(&str, char, &str)] = &[
        ("1.0", '=', "1.0"),
        ("1.0", '<', "2.0"),
        ("2.0", '>', "1.0"),
        ("2.0.1", '=', "2.0.1"),
        ("2.0", '<', "2.0.1"),
        ("2.0.1a", '=', "2.0.1a"),
        ("2.0.1a", '>', "2.0.1"),
        ("5.5p1", '=', "5.5p1"),
        ("5.5p1", '<', "5.5p2"),
        ("5.5p10", '>', "5.5p1"),
        ("10xyz", '<', "10.1xyz"),
        ("xyz10", '<', "xyz10.1"),
        ("xyz.4", '<', "8"),
        ("8", '>', "xyz.4"),
        ("5.5p1", '<', "5.6p1"),
        ("6.5p1", '>', "5.6p1"),
        ("6.0.rc1", '>', "6.0"),
        ("10b2", '>', "10a1"),
        ("10a2", '<', "10b2"),
        ("1.0aa", '<', "1.0aab"),
        ("10.0001", '=', "10.1"),
        ("10.0001", '<', "10.0039"),
        ("4.999.9", '<', "5.0"),
        ("20101121", '>', "20101120"),
        ("1.0.", '=', "1.0"),
        ("1_0", '=', "1.0"),
        ("1.0~rc1", '<', "1.0"),
        ("1.0~rc1", '<', "1.0~rc2"),
        ("1.0~rc1~git123", '<', "1.0~rc1"),
        ("1.0^", '>', "1.0"),
        ("1.0^git1", '<', "1.0.1"),
        ("1.0^git1", '<', "1.01"),
        ("1.0^20160101", '=', "1.0^20160101"),
        ("1.0^20160101", '<', "1.0^20160102"),
        ("1.0^git1~pre", '<', "1.0^git1"),
        ("1.0~rc1^git1", '>', "1.0~rc1"),
        ("1.0~rc1^git1", '<', "1.0"),
    ];

    #[test]
    fn corpus_from_rpm_test_suite() {
        check_corpus(RPMVERCMP, |a, b| Ok(rpmvercmp(a, b)));
    }

    #[test]
    fn epoch_and_release() {
        let evr: &[(&str, char, &str)] = &[
            ("1:1.0-1", '>', "2.0-1"),
            ("0:1.0-1", '=', "1.0-1"),
            ("1.0-1.el9", '<', "1.0-2.el9"),
            ("1.0-1.el9_2", '>', "1.0-1.el9"),
            ("1.0", '=', "1.0-5.el9"),
            ("3.0.7-24.el9", '<', "3.0.7-27.el9"),
        ];
        check_corpus(evr, compare);
        assert!(compare("x:1.0", "1.0").is_err());
    }
}
