//! Path patterns in the path-to-regexp 1.x dialect that accept.json files are written in.
//!
//! A pattern compiles once into a case-insensitive regular expression anchored at both ends,
//! with an optional single trailing slash, exactly as the stock broker compiles it:
//! - `*` matches anything, `/` included, and may be empty (`/list/*` matches `/list/` but not `/list`);
//! - `:name` matches one segment, `:name*` zero or more, `:name+` one or more, `:name?` zero or one;
//! - `(…)` is a raw regular expression group;
//! - `\x` is a literal `x`.

use regex::Regex;

use crate::error::FilterError;

/// A compiled path pattern.
#[derive(Debug, Clone)]
pub struct PathPattern {
    source: String,
    regex: Regex,
}

impl PathPattern {
    /// Compiles a pattern; a leading `/` is added when missing, as the stock broker does.
    pub fn new(pattern: &str) -> Result<Self, FilterError> {
        let source = if pattern.starts_with('/') {
            pattern.to_owned()
        } else {
            format!("/{pattern}")
        };
        let body = to_regex(&source);
        let regex =
            Regex::new(&format!("(?i)^{body}$")).map_err(|source_err| FilterError::Pattern {
                pattern: source.clone(),
                source: Box::new(source_err),
            })?;
        Ok(Self { source, regex })
    }

    /// The pattern as written (with its leading slash).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether a raw (still percent-encoded) path, without query, matches.
    pub fn matches(&self, path: &str) -> bool {
        self.regex.is_match(path)
    }
}

/// One piece of a parsed pattern.
#[derive(Debug, PartialEq)]
enum Token {
    Literal(String),
    Param {
        prefix: Option<char>,
        pattern: String,
        optional: bool,
        repeat: bool,
        partial: bool,
    },
}

/// The shape of the token that starts at some position, before the prefix is known.
struct RawToken {
    pattern: Option<String>,
    modifier: Option<char>,
    asterisk: bool,
    end: usize,
}

fn to_regex(pattern: &str) -> String {
    let tokens = parse(pattern);
    let mut route = String::new();
    for token in &tokens {
        match token {
            Token::Literal(text) => route.push_str(&regex::escape(text)),
            Token::Param {
                prefix,
                pattern,
                optional,
                repeat,
                partial,
            } => {
                let prefix = prefix
                    .map(|c| regex::escape(&c.to_string()))
                    .unwrap_or_default();
                let mut capture = format!("(?:{pattern})");
                if *repeat {
                    capture = format!("{capture}(?:{prefix}{capture})*");
                }
                let capture = match (*optional, *partial) {
                    (true, false) => format!("(?:{prefix}({capture}))?"),
                    (true, true) => format!("{prefix}({capture})?"),
                    (false, _) => format!("{prefix}({capture})"),
                };
                route.push_str(&capture);
            }
        }
    }
    // Non-strict mode: a trailing delimiter in the pattern is made optional, and so is one
    // trailing slash on the request.
    if let Some(stripped) = route.strip_suffix('/') {
        route = stripped.to_owned();
    }
    route.push_str("/?");
    route
}

fn parse(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            literal.push(chars[i + 1]);
            i += 2;
            continue;
        }
        let prefix = (c == '/' || c == '.').then_some(c);
        let start = if prefix.is_some() { i + 1 } else { i };
        // With a prefix character that does not open a token, the character is literal.
        let raw = raw_token(&chars, start);
        let Some(raw) = raw else {
            literal.push(c);
            i += 1;
            continue;
        };
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut literal)));
        }
        let next = chars.get(raw.end).copied();
        let delimiter = prefix.unwrap_or('/');
        let pattern = match raw.pattern {
            Some(group) => escape_group(&group),
            None if raw.asterisk => ".*".to_owned(),
            None => format!("[^{}]+?", regex::escape(&delimiter.to_string())),
        };
        tokens.push(Token::Param {
            prefix,
            pattern,
            optional: matches!(raw.modifier, Some('?') | Some('*')),
            repeat: matches!(raw.modifier, Some('+') | Some('*')),
            partial: prefix.is_some() && next.is_some() && next != prefix,
        });
        i = raw.end;
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    tokens
}

/// Reads `:name[(group)][modifier]`, `(group)[modifier]` or `*` at `start`.
fn raw_token(chars: &[char], start: usize) -> Option<RawToken> {
    let c = *chars.get(start)?;
    let (pattern, after) = match c {
        '*' => {
            return Some(RawToken {
                pattern: None,
                modifier: None,
                asterisk: true,
                end: start + 1,
            })
        }
        ':' => {
            let mut j = start + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j == start + 1 {
                return None;
            }
            match group(chars, j) {
                Some((group, end)) => (Some(group), end),
                None => (None, j),
            }
        }
        '(' => {
            let (group, end) = group(chars, start)?;
            (Some(group), end)
        }
        _ => return None,
    };
    let modifier = chars
        .get(after)
        .copied()
        .filter(|m| matches!(m, '+' | '*' | '?'));
    Some(RawToken {
        pattern,
        modifier,
        asterisk: false,
        end: after + usize::from(modifier.is_some()),
    })
}

/// Reads `(…)` at `start` (no nesting, `\x` escapes); returns its content and the index after it.
fn group(chars: &[char], start: usize) -> Option<(String, usize)> {
    if chars.get(start) != Some(&'(') {
        return None;
    }
    let mut content = String::new();
    let mut j = start + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if j + 1 < chars.len() => {
                content.push('\\');
                content.push(chars[j + 1]);
                j += 2;
            }
            ')' if !content.is_empty() => return Some((content, j + 1)),
            '(' | ')' | '\\' => return None,
            other => {
                content.push(other);
                j += 1;
            }
        }
    }
    None
}

/// Escapes the characters path-to-regexp escapes inside a raw group.
fn escape_group(group: &str) -> String {
    let mut out = String::with_capacity(group.len());
    for c in group.chars() {
        if matches!(c, '=' | '!' | ':' | '$' | '/' | '(' | ')') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, cases: &[(&str, bool)]) {
        let compiled = PathPattern::new(pattern).unwrap();
        for (path, expected) in cases {
            assert_eq!(
                compiled.matches(path),
                *expected,
                "pattern {pattern} against {path} (regex {:?})",
                compiled.regex.as_str()
            );
        }
    }

    #[test]
    fn literal_paths_are_case_insensitive_with_an_optional_trailing_slash() {
        check(
            "/healthcheck",
            &[
                ("/healthcheck", true),
                ("/healthcheck/", true),
                ("/HEALTHCHECK", true),
                ("/healthcheck//", false),
                ("/healthcheckx", false),
                ("/healthcheck/x", false),
                ("/x/healthcheck", false),
                ("healthcheck", false),
            ],
        );
    }

    #[test]
    fn trailing_asterisk_requires_the_slash_and_spans_segments() {
        check(
            "/list/*",
            &[
                ("/list/", true),
                ("/list/a", true),
                ("/list/a/b/c", true),
                ("/LIST/A", true),
                ("/list", false),
                ("/listing/a", false),
                ("/list-paginated/a", false),
            ],
        );
    }

    #[test]
    fn named_parameters_match_one_segment() {
        check(
            "/repos/:owner/:repo/teams",
            &[
                ("/repos/a/b/teams", true),
                ("/repos/a/b/teams/", true),
                ("/repos/a/teams", false),
                ("/repos/a/b/c/teams", false),
                ("/repos//b/teams", false),
            ],
        );
    }

    #[test]
    fn repeated_parameters_and_inner_asterisks() {
        check(
            "/:name/:repo/:path*/package.json",
            &[
                ("/o/r/package.json", true),
                ("/o/r/a/b/package.json", true),
                ("/o/r/a/b/package.jsonx", false),
                ("/o/package.json", false),
            ],
        );
        check(
            "/:name/:repo/:path*%2F*req*.txt",
            &[
                ("/o/r/a%2Frequirements.txt", true),
                ("/o/r/%2Fdev-req.txt", true),
                ("/o/r/a%2Fsetup.py", false),
            ],
        );
        check("/:a+", &[("/x", true), ("/x/y", true), ("/", false)]);
        check(
            "/x/:a?",
            &[
                ("/x", true),
                ("/x/", true),
                ("/x/y", true),
                ("/x/y/z", false),
            ],
        );
    }

    #[test]
    fn raw_groups_escapes_and_dot_prefixes() {
        check("/v(\\d+)/x", &[("/v12/x", true), ("/vx/x", false)]);
        check("/a\\*b", &[("/a*b", true), ("/aXb", false)]);
        check(
            "/file.:ext",
            &[
                ("/file.json", true),
                ("/file.", false),
                ("/filexjson", false),
            ],
        );
        check("/a.b", &[("/a.b", true), ("/aXb", false)]);
    }

    #[test]
    fn missing_leading_slash_is_added() {
        check("list", &[("/list", true), ("list", false)]);
        assert_eq!(PathPattern::new("list").unwrap().as_str(), "/list");
    }

    #[test]
    fn bare_root_and_catch_all() {
        check("/", &[("/", true), ("/x", false)]);
        check("/*", &[("/", true), ("/anything/at/all", true)]);
    }

    #[test]
    fn a_bad_raw_group_is_a_load_error() {
        assert!(PathPattern::new("/x/(a[)").is_err());
    }
}
