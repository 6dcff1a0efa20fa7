//! Which repositories and tags are scanned: globs, and the newest N tags of each repository.

use std::cmp::Ordering;

use cra_core::TagInfo;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// A set of globs; empty matches everything.
///
/// `*` and `?` stay within one `/`-separated segment, `**` crosses segments.
#[derive(Debug, Clone)]
pub struct Patterns {
    set: Option<GlobSet>,
}

impl Patterns {
    /// Compiles `globs`.
    pub fn new(globs: &[String]) -> Result<Self, globset::Error> {
        if globs.is_empty() {
            return Ok(Self { set: None });
        }
        let mut builder = GlobSetBuilder::new();
        for g in globs {
            builder.add(GlobBuilder::new(g).literal_separator(true).build()?);
        }
        Ok(Self {
            set: Some(builder.build()?),
        })
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.set.as_ref().is_none_or(|s| s.is_match(name))
    }
}

/// The tags of one repository to scan: those matching `tags`, and of them the `newest` most
/// recently pushed where the registry reports push times.
///
/// Tags without a push time count as older than those with one, and among themselves the
/// highest in version order (digit runs compared as numbers: `1.10` above `1.9`) is the newest.
pub fn tags(listed: Vec<TagInfo>, tags: &Patterns, newest: Option<usize>) -> Vec<String> {
    let mut kept: Vec<TagInfo> = listed
        .into_iter()
        .filter(|t| tags.matches(&t.tag))
        .collect();
    if let Some(n) = newest {
        // RFC 3339 times in UTC compare as text; the newest first.
        kept.sort_by(|a, b| {
            b.last_pushed
                .is_some()
                .cmp(&a.last_pushed.is_some())
                .then_with(|| b.last_pushed.cmp(&a.last_pushed))
                .then_with(|| version_order(&b.tag, &a.tag))
        });
        kept.truncate(n);
    }
    kept.into_iter().map(|t| t.tag).collect()
}

/// Compares tags chunk by chunk, runs of digits as numbers and the rest as text.
fn version_order(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (chunks(a), chunks(b));
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let by_number = match (x.parse::<u128>(), y.parse::<u128>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => Ordering::Equal,
                };
                let order = by_number.then_with(|| x.cmp(y));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// `1.10-rc2` → `1`, `.`, `10`, `-rc`, `2`.
fn chunks(s: &str) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let digit = first.is_ascii_digit();
        let end = rest
            .find(|c: char| c.is_ascii_digit() != digit)
            .unwrap_or(rest.len());
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, pushed: Option<&str>) -> TagInfo {
        TagInfo {
            last_pushed: pushed.map(str::to_owned),
            ..TagInfo::bare(name)
        }
    }

    #[test]
    fn globs_stay_within_segments_unless_doubled() {
        let p = Patterns::new(&["team/*".into(), "**/base".into()]).unwrap();
        for (name, want) in [
            ("team/app", true),
            ("team/app/sub", false),
            ("x/y/base", true),
            ("base", true),
            ("other/app", false),
        ] {
            assert_eq!(p.matches(name), want, "{name}");
        }
        assert!(Patterns::new(&[]).unwrap().matches("anything/at/all"));
        assert!(Patterns::new(&["[".into()]).is_err());
    }

    #[test]
    fn newest_tags_by_push_time_then_listing_order() {
        let listed = vec![
            tag("1.0", Some("2024-01-01T00:00:00Z")),
            tag("latest", Some("2024-03-01T00:00:00Z")),
            tag("1.1", Some("2024-02-01T00:00:00Z")),
            tag("dev", None),
            tag("old", None),
        ];
        let all = Patterns::new(&[]).unwrap();
        assert_eq!(tags(listed.clone(), &all, Some(2)), ["latest", "1.1"]);
        assert_eq!(
            tags(listed.clone(), &all, Some(10)),
            ["latest", "1.1", "1.0", "old", "dev"]
        );
        assert_eq!(tags(listed.clone(), &all, None).len(), 5);
        let versions = Patterns::new(&["1.*".into()]).unwrap();
        assert_eq!(tags(listed, &versions, Some(1)), ["1.1"]);
        let bare = ["1.9", "1.10", "2.0-rc1", "1.10.1", "2.0"].map(|t| tag(t, None));
        assert_eq!(
            tags(bare.to_vec(), &all, Some(4)),
            ["2.0-rc1", "2.0", "1.10.1", "1.10"]
        );
    }
}
