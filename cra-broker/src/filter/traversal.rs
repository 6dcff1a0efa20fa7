//! The traversal guard that runs before any rule is tried.
//!
//! The stock broker only checks that `path.normalize(url) == url` on the raw URL, so `..` written
//! as `%2e%2e`, a slash written as `%2F`, or a double encoding walks straight past `*` rules.
//! Here a URL is refused when any decoding of its path, up to [`MAX_DECODE_ROUNDS`] times, holds
//! a `.` or `..` segment (also as `..;param`), an empty segment, a backslash or a control byte,
//! and when its raw query holds what the stock check refuses (`//`, `/./`, `/../`).

use percent_encoding::percent_decode;

/// How many nested percent-encodings are looked through; a path still encoded deeper is refused.
pub const MAX_DECODE_ROUNDS: usize = 3;

/// Why a URL was refused before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsafe {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `.` or `..` segment, literal or encoded.
    DotSegment,
    /// An empty segment (`//`), literal or encoded.
    EmptySegment,
    /// A backslash, literal or encoded.
    Backslash,
    /// A control byte (NUL, newline…), literal or encoded.
    ControlByte,
    /// More nested encodings than [`MAX_DECODE_ROUNDS`].
    TooDeeplyEncoded,
    /// The query string holds a sequence the stock normalisation check refuses.
    QueryTraversal,
}

/// The parts of a request URL the filter looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitUrl<'a> {
    /// The raw path, still percent-encoded.
    pub path: &'a str,
    /// The raw query, without `?` (empty when absent).
    pub query: &'a str,
}

/// Splits a request URL (`/path?query#fragment`) and checks it; the fragment is dropped.
pub fn check(url: &str) -> Result<SplitUrl<'_>, Unsafe> {
    let without_fragment = url.split('#').next().unwrap_or_default();
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    if !path.starts_with('/') {
        return Err(Unsafe::NotAbsolute);
    }
    check_segments(path.as_bytes())?;
    let mut current = path.as_bytes().to_vec();
    for _ in 0..MAX_DECODE_ROUNDS {
        let decoded: Vec<u8> = percent_decode(&current).collect();
        if decoded == current {
            check_query(query)?;
            return Ok(SplitUrl { path, query });
        }
        check_segments(&decoded)?;
        current = decoded;
    }
    Err(Unsafe::TooDeeplyEncoded)
}

fn check_segments(path: &[u8]) -> Result<(), Unsafe> {
    if path.contains(&b'\\') {
        return Err(Unsafe::Backslash);
    }
    if path.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return Err(Unsafe::ControlByte);
    }
    let inner = path.strip_prefix(b"/").unwrap_or(path);
    let segments: Vec<&[u8]> = inner.split(|b| *b == b'/').collect();
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        // One trailing slash is allowed (`/list/`), as the stock matcher allows it.
        if segment.is_empty() && index != last {
            return Err(Unsafe::EmptySegment);
        }
        let name = segment.split(|b| *b == b';').next().unwrap_or_default();
        if name == b"." || name == b".." {
            return Err(Unsafe::DotSegment);
        }
    }
    Ok(())
}

fn check_query(query: &str) -> Result<(), Unsafe> {
    let refused = query.contains("//")
        || query.contains("/./")
        || query.contains("/../")
        || query.ends_with("/.")
        || query.ends_with("/..");
    if refused {
        Err(Unsafe::QueryTraversal)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_pass_and_split() {
        let split = check("/list/foo%2Fbar?page=2&x=a%20b#frag").unwrap();
        assert_eq!(split.path, "/list/foo%2Fbar");
        assert_eq!(split.query, "page=2&x=a%20b");
        assert_eq!(check("/list/").unwrap().path, "/list/");
        assert_eq!(check("/").unwrap().path, "/");
        assert_eq!(check("/a?b?c").unwrap().query, "b?c");
    }

    #[test]
    fn literal_and_encoded_traversal_is_refused() {
        let cases = [
            ("/list/../admin", Unsafe::DotSegment),
            ("/list/a/./b", Unsafe::DotSegment),
            ("/list/..", Unsafe::DotSegment),
            ("/list/%2e%2e/admin", Unsafe::DotSegment),
            ("/list/%2E%2E/admin", Unsafe::DotSegment),
            ("/list/.%2e/admin", Unsafe::DotSegment),
            ("/list/a%2F..%2F..%2Fadmin", Unsafe::DotSegment),
            ("/list/a%2f..%2fadmin", Unsafe::DotSegment),
            ("/list/%252e%252e/admin", Unsafe::DotSegment),
            ("/list/%25252e%25252e/admin", Unsafe::DotSegment),
            ("/list/..;x/admin", Unsafe::DotSegment),
            ("/list/%2e%2e;jsessionid=1/admin", Unsafe::DotSegment),
            ("//admin", Unsafe::EmptySegment),
            ("/list//a", Unsafe::EmptySegment),
            ("/list/a%2F%2Fb", Unsafe::EmptySegment),
            ("/list\\..\\admin", Unsafe::Backslash),
            ("/list/a%5C..%5Cadmin", Unsafe::Backslash),
            ("/list/a%255C..", Unsafe::Backslash),
            ("/list/a%00b", Unsafe::ControlByte),
            ("/list/a%0d%0ab", Unsafe::ControlByte),
            ("list", Unsafe::NotAbsolute),
            ("/list/%2525252e", Unsafe::TooDeeplyEncoded),
            ("/list?x=/../admin", Unsafe::QueryTraversal),
            ("/list?u=http://x", Unsafe::QueryTraversal),
        ];
        for (url, expected) in cases {
            assert_eq!(check(url), Err(expected), "{url}");
        }
    }

    #[test]
    fn dots_inside_names_are_fine() {
        for url in [
            "/list/a..b",
            "/list/.hidden",
            "/list/v1.2.3",
            "/list/a%2Fb.c",
            "/list/%2e%2ex",
        ] {
            assert!(check(url).is_ok(), "{url}");
        }
    }
}
