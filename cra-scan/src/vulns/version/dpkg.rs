//! Debian package versions (`[epoch:]upstream[-revision]`), ordered as `dpkg --compare-versions`.
//!
//! Each part is compared by alternating runs of non-digits and digits; in the non-digit runs a
//! letter sorts before any other character, and `~` sorts before everything, even the end.

use std::cmp::Ordering;

use super::VersionError;

/// A parsed dpkg version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version<'a> {
    epoch: u64,
    upstream: &'a str,
    revision: &'a str,
}

fn parse(v: &str) -> Result<Version<'_>, VersionError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(VersionError::new("dpkg", v, "empty version"));
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            let epoch = e
                .parse::<u64>()
                .map_err(|_| VersionError::new("dpkg", v, "epoch is not a number"))?;
            (epoch, rest)
        }
        None => (0, v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(VersionError::new("dpkg", v, "empty upstream version"));
    }
    Ok(Version {
        epoch,
        upstream,
        revision,
    })
}

/// The weight of one character in a non-digit run (`None` = end of the string).
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// Compares two upstream or revision strings (dpkg's `verrevcmp`).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Compares two dpkg versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (a, b) = (parse(a)?, parse(b)?);
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision)))
}

/// The source version of a binary built by a binNMU: `1.2-3+b1` → `1.2-3`.
pub fn strip_binnmu(version: &str) -> &str {
    match version.rfind("+b") {
        Some(at)
            if at + 2 < version.len() && version[at + 2..].bytes().all(|c| c.is_ascii_digit()) =>
        {
            &version[..at]
        }
        _ => version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Pairs from dpkg's own test suite (`lib/dpkg/t/t-version.c`) and the Debian Policy manual
    /// (5.6.12), written as `a op b`.
    const CORPUS: &[(&str, char, &str)] = &[
        ("0", '=', "0"),
        ("0", '=', "00"),
        ("1", '>', "0"),
        ("0:0", '=', "0:0-0"),
        ("1:1", '>', "0:1"),
        ("2:1", '>', "1:9"),
        ("0:1.1", '>', "0:1.0"),
        ("0:1.10", '>', "0:1.9"),
        ("0:1-1", '<', "0:1-2"),
        ("1.0", '=', "1.0-0"),
        ("1.0~rc1", '<', "1.0"),
        ("1.0~rc1", '>', "1.0~~"),
        ("1.0~~", '<', "1.0~~a"),
        ("1.0~~a", '<', "1.0~"),
        ("1.0~", '<', "1.0"),
        ("1.0", '<', "1.0a"),
        ("1.0a", '<', "1.0+"),
        ("1.0+", '<', "1.0."),
        ("1.0a", '<', "1.0b"),
        ("1.0-1", '<', "1.0-1+b1"),
        ("1.0-1+b1", '<', "1.0-1.1"),
        ("2.30-1", '>', "2.3-1"),
        ("1:0.9", '>', "2.0"),
        ("7.88.1-10+deb12u5", '<', "7.88.1-10+deb12u8"),
        ("7.88.1-10+deb12u8", '<', "7.88.1-10+deb12u10"),
        ("2.36-9+deb12u4", '>', "2.36-9"),
        ("3.0.11-1~deb12u2", '<', "3.0.11-1"),
        ("1:2.38.1-5", '>', "2.39.1-1"),
    ];

    #[test]
    fn corpus_from_dpkg_and_policy() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn bad_epochs_are_errors() {
        assert!(compare("a:1", "1").is_err());
        assert!(compare("", "1").is_err());
        assert!(compare("1:", "1").is_err());
    }

    #[test]
    fn binnmu_suffix_is_stripped() {
        assert_eq!(strip_binnmu("1.2-3+b1"), "1.2-3");
        assert_eq!(strip_binnmu("1.2-3+b12"), "1.2-3");
        assert_eq!(strip_binnmu("1.2-3+deb12u1"), "1.2-3+deb12u1");
        assert_eq!(strip_binnmu("1.2-3+b"), "1.2-3+b");
    }
}
