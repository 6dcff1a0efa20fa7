//! Which repositories and tags are scanned: globs, and the newest N tags of each repository.

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
/// Tags without a push time count as older than those with one, and among themselves keep the
/// registry's order, the later listed taken as the newer.
pub fn tags(listed: Vec<TagInfo>, tags: &Patterns, newest: Option<usize>) -> Vec<String> {
    let mut kept: Vec<(usize, TagInfo)> = listed
        .into_iter()
        .enumerate()
        .filter(|(_, t)| tags.matches(&t.tag))
        .collect();
    if let Some(n) = newest {
        // RFC 3339 times in UTC compare as text; the newest first.
        kept.sort_by(|(ia, a), (ib, b)| {
            b.last_pushed
                .is_some()
                .cmp(&a.last_pushed.is_some())
                .then_with(|| b.last_pushed.cmp(&a.last_pushed))
                .then_with(|| ib.cmp(ia))
        });
        kept.truncate(n);
    }
    kept.into_iter().map(|(_, t)| t.tag).collect()
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
        let bare = vec![tag("a", None), tag("b", None), tag("c", None)];
        assert_eq!(tags(bare, &all, Some(2)), ["c", "b"]);
    }
}
