//! Maven versions, ordered as Maven's `ComparableVersion` (the POM reference's "Version Order
//! Specification").
//!
//! A version splits into items at `.`, `-` and digit/letter transitions; a `-` or a transition
//! opens a sub-list. Trailing "null" items (`0`, `""`, `final`, `ga`, `release`) are dropped from
//! each list. Known qualifiers order `alpha < beta < milestone < rc < snapshot < "" < sp`, unknown
//! ones after them lexically; numbers are newer than qualifiers and lists.

use std::cmp::Ordering;

use super::VersionError;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// A number, without leading zeros (digits only, so arbitrary length compares correctly).
    Int(String),
    /// A qualifier's comparable key.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: &str = "5";

fn qualifier_key(q: &str, followed_by_digit: bool) -> String {
    let q = match (q, followed_by_digit) {
        ("a", true) => "alpha",
        ("b", true) => "beta",
        ("m", true) => "milestone",
        ("ga" | "final" | "release", _) => "",
        ("cr", _) => "rc",
        (q, _) => q,
    };
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn int_item(digits: &str) -> Item {
    let trimmed = digits.trim_start_matches('0');
    Item::Int(trimmed.to_owned())
}

fn item(is_digit: bool, s: &str, followed_by_digit: bool) -> Item {
    if is_digit {
        int_item(s)
    } else {
        Item::Str(qualifier_key(s, followed_by_digit))
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(d) => d.is_empty(),
            Item::Str(k) => k == RELEASE,
            Item::List(l) => l.is_empty(),
        }
    }

    /// Compares against an absent item.
    fn cmp_null(&self) -> Ordering {
        match self {
            Item::Int(d) => {
                if d.is_empty() {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Str(k) => k.as_str().cmp(RELEASE),
            Item::List(l) => l.first().map_or(Ordering::Equal, Item::cmp_null),
        }
    }

    fn cmp_item(&self, other: &Item) -> Ordering {
        match (self, other) {
            (Item::Int(a), Item::Int(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), _) => Ordering::Greater,
            (Item::Str(_), Item::Int(_)) => Ordering::Less,
            (Item::Str(a), Item::Str(b)) => a.cmp(b),
            (Item::Str(_), Item::List(_)) => Ordering::Less,
            (Item::List(_), Item::Int(_)) => Ordering::Less,
            (Item::List(_), Item::Str(_)) => Ordering::Greater,
            (Item::List(a), Item::List(b)) => {
                for i in 0..a.len().max(b.len()) {
                    let c = match (a.get(i), b.get(i)) {
                        (Some(x), Some(y)) => x.cmp_item(y),
                        (Some(x), None) => x.cmp_null(),
                        (None, Some(y)) => y.cmp_null().reverse(),
                        (None, None) => Ordering::Equal,
                    };
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                Ordering::Equal
            }
        }
    }
}

fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Parses a version into its item tree.
fn parse(version: &str) -> Item {
    let v = version.trim().to_ascii_lowercase();
    let bytes = v.as_bytes();
    // A stack of open lists; each new sub-list is attached to its parent when it is closed.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0;
    let push = |stack: &mut Vec<Vec<Item>>, it: Item| {
        if let Some(top) = stack.last_mut() {
            top.push(it);
        }
    };
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'.' | b'-' => {
                if i == start {
                    push(&mut stack, Item::Int(String::new()));
                } else {
                    push(&mut stack, item(is_digit, &v[start..i], false));
                }
                start = i + 1;
                if c == b'-' {
                    stack.push(Vec::new());
                }
            }
            c if c.is_ascii_digit() => {
                if !is_digit && i > start {
                    push(&mut stack, item(false, &v[start..i], true));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = true;
            }
            _ => {
                if is_digit && i > start {
                    push(&mut stack, item(true, &v[start..i], false));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = false;
            }
        }
    }
    if bytes.len() > start {
        push(&mut stack, item(is_digit, &v[start..], false));
    }
    while stack.len() > 1 {
        if let Some(mut list) = stack.pop() {
            normalize(&mut list);
            push(&mut stack, Item::List(list));
        }
    }
    let mut root = stack.pop().unwrap_or_default();
    normalize(&mut root);
    Item::List(root)
}

/// Compares two Maven versions; every string is a Maven version, so this never fails.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    if a.trim().is_empty() || b.trim().is_empty() {
        return Err(VersionError::new(
            "maven",
            if a.trim().is_empty() { a } else { b },
            "empty version",
        ));
    }
    Ok(parse(a).cmp_item(&parse(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vulns::version::tests::check_corpus;

    /// Orderings from the POM reference's version order examples and Maven's
    /// `ComparableVersionTest`.
    const CORPUS: &[(&str, char, &str)] = &[
        ("1", '<', "1.1"),
        ("1-snapshot", '<', "1"),
        ("1", '<', "1-sp"),
        ("1-foo2", '<', "1-foo10"),
        ("1-foo", '<', "1-1"),
        ("1-1", '<', "1.1"),
        ("1.ga", '=', "1-ga"),
        ("1-ga", '=', "1-0"),
        ("1-0", '=', "1.0"),
        ("1", '=', "1.0"),
        ("1", '=', "1.0.0"),
        ("1-sp", '>', "1-ga"),
        ("1-sp.1", '>', "1-ga.1"),
        ("1-a1", '=', "1-alpha-1"),
        ("1.0-alpha1", '<', "1.0-beta1"),
        ("1.0-beta1", '<', "1.0-milestone1"),
        ("1.0-milestone1", '<', "1.0-rc1"),
        ("1.0-rc1", '=', "1.0-cr1"),
        ("1.0-rc1", '<', "1.0-snapshot"),
        ("1.0-snapshot", '<', "1.0"),
        ("1.0", '=', "1.0-final"),
        ("1.0", '<', "1.0-sp1"),
        ("1.0-sp1", '<', "1.0.1"),
        ("2.0.0.RELEASE", '=', "2.0.0"),
        ("2.14.1", '<', "2.15.0"),
        ("2.9.10.8", '>', "2.9.10"),
        ("1.0-alpha-1", '<', "1.0"),
        ("1.0-xyz", '>', "1.0-sp"),
        ("1.0-abc", '<', "1.0-xyz"),
        ("1.0.RC1", '<', "1.0"),
        ("5.3.18", '<', "5.3.20"),
    ];

    #[test]
    fn corpus_from_maven() {
        check_corpus(CORPUS, compare);
    }
}
