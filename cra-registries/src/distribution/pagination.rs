//! `Link` headers and page cursors (pure).
//!
//! A page's cursor is the next page's URL from the `Link` header, resolved against the request
//! URL and written relative to the registry origin (`/v2/_catalog?last=b&n=3`).
//! Quay puts an opaque token there instead of `last`, so the URL is kept, never rebuilt.

use url::Url;

use crate::error::{Error, Result};

/// The `rel="next"` target of a `Link` header value, if any.
pub(crate) fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let part = part.trim();
        let (target, params) = part.strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| {
                    v.trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
                .unwrap_or(false)
        });
        is_next.then_some(target.trim())
    })
}

/// Resolves `target` against `request` and checks it stays on the same scheme, host and port
/// (a `Link` to another host could aim our credentials at, say, a metadata endpoint).
pub(crate) fn resolve_same_origin(request: &Url, target: &str) -> Result<Url> {
    let url = request
        .join(target)
        .map_err(|e| Error::protocol("Link header", format!("cannot resolve {target:?}: {e}")))?;
    if url.origin() != request.origin() {
        return Err(Error::protocol(
            "Link header",
            format!(
                "next page {} is on another origin than {}",
                url.origin().ascii_serialization(),
                request.origin().ascii_serialization()
            ),
        ));
    }
    Ok(url)
}

/// The cursor for `url`: its path and query.
pub(crate) fn cursor_of(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The URL a cursor names, which must stay on `origin` and under `expected_path`.
pub(crate) fn url_of_cursor(origin: &Url, cursor: &str, expected_path: &str) -> Result<Url> {
    let invalid = || Error::InvalidInput(format!("invalid page cursor {cursor:?}"));
    if !cursor.starts_with('/') || cursor.starts_with("//") {
        return Err(invalid());
    }
    let url = resolve_same_origin(origin, cursor).map_err(|_| invalid())?;
    if url.path() != expected_path {
        return Err(invalid());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_links() {
        let cases = [
            (
                r#"</v2/_catalog?last=beta%2Fone&n=2>; rel="next""#,
                Some("/v2/_catalog?last=beta%2Fone&n=2"),
            ),
            (
                r#"<https://x/a?page=1>; rel="prev", <https://x/a?page=3>; rel="next""#,
                Some("https://x/a?page=3"),
            ),
            (
                r#"</v2/_catalog?next_page=gAAAA&n=100>;rel=next"#,
                Some("/v2/_catalog?next_page=gAAAA&n=100"),
            ),
            (r#"</a>; rel="first""#, None),
            ("garbage", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(next_link(header), want, "{header}");
        }
    }

    #[test]
    fn resolves_relative_and_refuses_other_origins() {
        let req = Url::parse("http://127.0.0.1:5000/v2/_catalog?n=3").unwrap();
        let url = resolve_same_origin(&req, "/v2/_catalog?last=c&n=3").unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:5000/v2/_catalog?last=c&n=3");
        for other in [
            "http://169.254.169.254/latest",
            "https://127.0.0.1:5000/v2/_catalog",
            "//evil/x",
            "http://127.0.0.1:5001/v2/",
        ] {
            assert!(resolve_same_origin(&req, other).is_err(), "{other}");
        }
    }

    #[test]
    fn cursors_round_trip_and_are_confined() {
        let origin = Url::parse("https://r:5000/").unwrap();
        let url = Url::parse("https://r:5000/v2/a/tags/list?last=x&n=2").unwrap();
        let cursor = cursor_of(&url);
        assert_eq!(cursor, "/v2/a/tags/list?last=x&n=2");
        assert_eq!(
            url_of_cursor(&origin, &cursor, "/v2/a/tags/list").unwrap(),
            url
        );
        for bad in [
            "http://evil/v2/a/tags/list",
            "//evil/v2/a/tags/list",
            "v2/a",
            "/v2/b/tags/list?n=1",
        ] {
            assert!(
                url_of_cursor(&origin, bad, "/v2/a/tags/list").is_err(),
                "{bad}"
            );
        }
    }
}
