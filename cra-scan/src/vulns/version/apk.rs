//! Alpine package versions (`1.2.3a_rc1_p2-r4`), ordered as apk-tools orders them.
//!
//! A version is a token stream: numbers separated by `.`, one optional letter, suffixes
//! (`_alpha`, `_beta`, `_pre`, `_rc` sort before the release; `_cvs`, `_svn`, `_git`, `_hg`,
//! `_p` after), each with an optional number, and a package release `-rN`.
//! Where both versions agree on a prefix, the longer one is newer unless it goes on with a
//! pre-release suffix.

use std::cmp::Ordering;

use super::VersionError;

/// The kind of the next token; the order matters (see [`compare`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Tokens<'a> {
    rest: &'a [u8],
    kind: Kind,
}

impl Tokens<'_> {
    fn new(v: &str) -> Tokens<'_> {
        Tokens {
            rest: v.as_bytes(),
            kind: Kind::Digit,
        }
    }

    /// Classifies what follows the token just read, consuming its separator.
    fn advance_kind(&mut self) {
        let prev = self.kind;
        let mut next = Kind::Invalid;
        match self.rest.first().copied() {
            None | Some(0) => next = Kind::End,
            Some(c)
                if matches!(prev, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() =>
            {
                next = Kind::Letter
            }
            Some(c) if prev == Kind::Letter && c.is_ascii_digit() => next = Kind::Digit,
            Some(c) if prev == Kind::Suffix && c.is_ascii_digit() => next = Kind::SuffixNo,
            Some(c) => {
                match c {
                    b'.' => next = Kind::DigitOrZero,
                    b'_' => next = Kind::Suffix,
                    b'-' if self.rest.get(1) == Some(&b'r') => {
                        next = Kind::RevisionNo;
                        self.rest = &self.rest[1..];
                    }
                    _ => {}
                }
                self.rest = &self.rest[1..];
            }
        }
        let allowed_backwards = matches!(
            (next, prev),
            (Kind::DigitOrZero, Kind::Digit)
                | (Kind::Suffix, Kind::SuffixNo)
                | (Kind::Digit, Kind::Letter)
        );
        if next < prev && !allowed_backwards {
            next = Kind::Invalid;
        }
        self.kind = next;
    }

    /// Reads the value of the current token and moves to the next one.
    fn next_value(&mut self) -> i64 {
        if self.rest.is_empty() {
            self.kind = Kind::End;
            return 0;
        }
        let mut used = 0;
        let mut forced = None;
        let value: i64 = match self.kind {
            Kind::DigitOrZero if self.rest[0] == b'0' => {
                // Leading zeros: a `.0x` component sorts below any `.x` without them.
                while used < self.rest.len() && self.rest[used] == b'0' {
                    used += 1;
                }
                // The digits after the zeros, if any, are a token of their own; anything else
                // follows as usual (so `1.0_alpha` is a pre-release of `1.0`).
                if self.rest.get(used).is_some_and(u8::is_ascii_digit) {
                    forced = Some(Kind::Digit);
                }
                -(used as i64)
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                let mut v: i64 = 0;
                while used < self.rest.len() && self.rest[used].is_ascii_digit() {
                    v = v
                        .saturating_mul(10)
                        .saturating_add(i64::from(self.rest[used] - b'0'));
                    used += 1;
                }
                v
            }
            Kind::Letter => {
                used = 1;
                i64::from(self.rest[0])
            }
            Kind::Suffix => {
                if let Some(i) = PRE.iter().position(|s| self.rest.starts_with(s.as_bytes())) {
                    used = PRE[i].len();
                    i as i64 - PRE.len() as i64
                } else if let Some(i) = POST
                    .iter()
                    .position(|s| self.rest.starts_with(s.as_bytes()))
                {
                    used = POST[i].len();
                    i as i64
                } else {
                    self.kind = Kind::Invalid;
                    return -1;
                }
            }
            Kind::Invalid | Kind::End => {
                self.kind = Kind::Invalid;
                return -1;
            }
        };
        self.rest = &self.rest[used..];
        if self.rest.is_empty() {
            self.kind = Kind::End;
        } else if let Some(kind) = forced {
            self.kind = kind;
        } else {
            self.advance_kind();
        }
        value
    }
}

/// Whether a string is a well-formed apk version.
pub fn is_valid(v: &str) -> bool {
    let mut t = Tokens::new(v);
    while !matches!(t.kind, Kind::End | Kind::Invalid) {
        t.next_value();
    }
    t.kind == Kind::End && !v.is_empty()
}

/// Compares two apk versions; a malformed one is an error.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    for v in [a, b] {
        if !is_valid(v) {
            return Err(VersionError::new("apk", v, "not an apk version"));
        }
    }
    let (mut x, mut y) = (Tokens::new(a), Tokens::new(b));
    let (mut xv, mut yv) = (0, 0);
    while x.kind == y.kind && !matches!(x.kind, Kind::End | Kind::Invalid) && xv == yv {
        xv = x.next_value();
        yv = y.next_value();
    }
    match xv.cmp(&yv) {
        Ordering::Equal => {}
        other => return Ok(other),
    }
    if x.kind == y.kind {
        return Ok(Ordering::Equal);
    }
    // Equal so far: the one that goes on is newer, unless what follows is a pre-release.
    if x.kind == Kind::Suffix && x.next_value() < 0 {
        return Ok(Ordering::Less);
    }
    if y.kind == Kind::Suffix && y.next_value() < 0 {
        return Ok(Ordering::Greater);
    }
    Ok(y.kind.cmp(&x.kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Pairs from apk-tools' test data (`test/version.data`) and Alpine's package naming rules.
    const CORPUS: &[(&str, char, &str)] = &[
        ("2.34", '>', "0.1.0_alpha"),
        ("1.0", '<', "1.0.1"),
        ("1.0", '=', "1.0"),
        ("1.0_alpha", '<', "1.0"),
        ("1.0_alpha", '<', "1.0_beta"),
        ("1.0_beta", '<', "1.0_pre"),
        ("1.0_pre", '<', "1.0_rc"),
        ("1.0_rc1", '<', "1.0"),
        ("1.0_rc1", '<', "1.0_rc2"),
        ("1.0", '<', "1.0_p1"),
        ("1.0_p1", '<', "1.0_p2"),
        ("1.0_cvs", '<', "1.0_p"),
        ("1.0-r1", '<', "1.0-r2"),
        ("1.0-r1", '>', "1.0"),
        ("1.0a", '>', "1.0"),
        ("1.0a", '<', "1.0b"),
        ("1.0b", '<', "1.0.1"),
        ("1.01", '<', "1.1"),
        ("1.001", '<', "1.01"),
        ("1.2.3-r10", '>', "1.2.3-r9"),
        ("3.0.12-r0", '<', "3.0.13-r0"),
        ("3.1.4-r5", '<', "3.1.4-r6"),
        ("1.36.1-r15", '<', "1.36.1-r19"),
        ("0.1.0_alpha_pre2", '<', "0.1.0_alpha"),
        ("1.0_rc1-r1", '<', "1.0-r0"),
    ];

    #[test]
    fn corpus_from_apk_tools() {
        check_corpus(CORPUS, compare);
    }

    #[test]
    fn malformed_versions_are_errors() {
        for bad in ["", "1.0-x1", "1.0_bogus", "abc"] {
            assert!(compare(bad, "1.0").is_err(), "{bad}");
        }
    }
}
