//! Report file names from registry-supplied repository and tag names.
//!
//! The names come from the registry and are untrusted: only ASCII letters, digits, `.`, `-` and
//! `_` are kept (anything else, `/` included, becomes `_`), the length is capped, and a hash of
//! the exact `repository:tag` keeps two images that sanitise alike apart. The result never
//! contains a path separator, so it cannot leave the output directory.

/// The most characters kept of the sanitised name.
const MAX_KEPT: usize = 100;

/// The file stem for the image `repository:tag`: `<sanitised>-<8 hex digits>`.
pub fn stem(repository: &str, tag: &str) -> String {
    let exact = format!("{repository}:{tag}");
    let mut kept: String = exact
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_KEPT)
        .collect();
    // A leading dot would hide the file; `..` alone is no name.
    if kept.starts_with('.') {
        kept.replace_range(..1, "_");
    }
    let hash = cra_core::Digest::sha256_of(exact.as_bytes());
    format!("{kept}-{}", hash.hex().get(..8).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_single_safe_components_and_distinct() {
        let cases = [
            ("team/app", "1.0"),
            ("team_app", "1.0"),
            ("../../etc", "passwd"),
            ("..", ".."),
            ("a\\b", "c\u{0}d"),
            ("x", "\u{1b}[31mred"),
            (&"long/".repeat(100), "t"),
        ];
        let mut seen = std::collections::HashSet::new();
        for (repo, tag) in cases {
            let s = stem(repo, tag);
            assert!(seen.insert(s.clone()), "collision on {s}");
            assert!(s.len() <= MAX_KEPT + 9, "{s}");
            assert!(!s.starts_with('.'), "{s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
                "{s}"
            );
            let path = std::path::Path::new("out").join(&s);
            assert_eq!(path.parent(), Some(std::path::Path::new("out")), "{s}");
        }
        assert!(stem("team/app", "1.0").starts_with("team_app_1.0-"));
    }
}
