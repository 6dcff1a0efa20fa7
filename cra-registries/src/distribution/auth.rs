//! `WWW-Authenticate` challenges, token responses and the per-scope token cache.
//!
//! Parsing is pure; [`super::session`] asks the realm for tokens and keeps them in the
//! [`AuthState`] cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cra_core::Secret;
use serde::Deserialize;

/// The scheme of a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Basic` (any case: Nexus sends `BASIC`).
    Basic,
    /// `Bearer`: get a token from the realm.
    Bearer,
    /// Anything else.
    Other(String),
}

/// One parsed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme.
    pub(crate) scheme: Scheme,
    /// The parameters, keys lowercased (`realm`, `service`, `scope`, `error`).
    pub(crate) params: HashMap<String, String>,
}

impl Challenge {
    /// A parameter's value.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses every challenge of a `WWW-Authenticate` value, with quoted strings (which may hold
/// commas and escaped quotes) read properly.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        let token_end = rest.find([' ', ',', '=']).unwrap_or(rest.len());
        let token = &rest[..token_end];
        let after = rest[token_end..].trim_start();
        if let Some(value_part) = after.strip_prefix('=') {
            // A parameter of the current challenge.
            let (value, remaining) = read_value(value_part.trim_start());
            if let Some(current) = out.last_mut() {
                current.params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remaining.trim_start().trim_start_matches(',').trim_start();
        } else if token.is_empty() {
            rest = after.trim_start_matches(',').trim_start();
        } else {
            let scheme = match token.to_ascii_lowercase().as_str() {
                "basic" => Scheme::Basic,
                "bearer" => Scheme::Bearer,
                other => Scheme::Other(other.to_owned()),
            };
            out.push(Challenge {
                scheme,
                params: HashMap::new(),
            });
            rest = after.trim_start_matches(',').trim_start();
        }
    }
    out
}

fn read_value(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &body[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = s.find([',', ' ']).unwrap_or(s.len());
        (s[..end].to_owned(), &s[end..])
    }
}

/// A token endpoint's answer; `token` or `access_token`, lifetime from `expires_in`.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// An OAuth2 error response (RFC 6749 section 5.2).
#[derive(Debug, Deserialize)]
struct OauthError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The longest OAuth2 error description we quote.
const MAX_OAUTH_DESCRIPTION: usize = 200;

/// `code (description)` from an OAuth2 error body, if it is one.
pub(crate) fn parse_oauth_error(body: &[u8]) -> Option<String> {
    let parsed: OauthError = serde_json::from_slice(body).ok()?;
    let code = parsed.error;
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if code.is_empty() || code.len() > 64 || !code.chars().all(plain) {
        return None;
    }
    Some(match parsed.error_description.filter(|d| !d.is_empty()) {
        Some(d) => format!(
            "{code} ({})",
            d.chars().take(MAX_OAUTH_DESCRIPTION).collect::<String>()
        ),
        None => code,
    })
}

/// A bearer token and how long it lives.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The token.
    pub(crate) value: Secret,
    /// How long it is valid from now.
    pub(crate) lifetime: Duration,
}

/// The lifetime the token spec prescribes when `expires_in` is absent.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// Parses a token response body.
pub(crate) fn parse_token(body: &[u8]) -> Option<Token> {
    let parsed: TokenResponse = serde_json::from_slice(body).ok()?;
    let value = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))?;
    let lifetime = parsed
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME);
    Some(Token {
        value: Secret::new(value),
        lifetime,
    })
}

/// The key of a set of scopes in the cache: sorted, space-joined.
pub(crate) fn scope_key(scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(" ")
}

/// Tokens are dropped this long before they expire, so a request never carries a stale one.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// What the client learned about the registry's authentication, and the tokens it holds.
#[derive(Debug, Default)]
pub(crate) struct AuthState {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    basic: bool,
    bearer: Option<Challenge>,
    tokens: HashMap<String, (Secret, Instant)>,
}

impl AuthState {
    /// A cached, unexpired token for `key`.
    pub(crate) fn token(&self, key: &str) -> Option<Secret> {
        let inner = self.inner.lock().ok()?;
        inner
            .tokens
            .get(key)
            .filter(|(_, expires)| Instant::now() < *expires)
            .map(|(t, _)| t.clone())
    }

    /// Stores a token for `key`.
    pub(crate) fn store(&self, key: String, token: Token) {
        if let Ok(mut inner) = self.inner.lock() {
            let lifetime = token
                .lifetime
                .saturating_sub(EXPIRY_MARGIN)
                .max(Duration::from_secs(1));
            inner
                .tokens
                .insert(key, (token.value, Instant::now() + lifetime));
        }
    }

    /// Forgets the token for `key` (after the registry refused it).
    pub(crate) fn forget(&self, key: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.tokens.remove(key);
        }
    }

    /// Remembers that the registry takes Basic credentials, so later requests send them up front.
    pub(crate) fn set_basic(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.basic = true;
        }
    }

    /// Whether the registry takes Basic credentials.
    pub(crate) fn basic(&self) -> bool {
        self.inner.lock().map(|i| i.basic).unwrap_or(false)
    }

    /// Remembers the registry's Bearer challenge, so later scopes get tokens without a 401.
    pub(crate) fn set_bearer(&self, challenge: Challenge) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.bearer = Some(challenge);
        }
    }

    /// The registry's Bearer challenge, once seen.
    pub(crate) fn bearer(&self) -> Option<Challenge> {
        self.inner.lock().ok().and_then(|i| i.bearer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_oauth_errors() {
        assert_eq!(
            parse_oauth_error(
                br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            )
            .as_deref(),
            Some("invalid_grant (Invalid JWT Signature.)")
        );
        assert_eq!(
            parse_oauth_error(br#"{"error":"invalid_client"}"#).as_deref(),
            Some("invalid_client")
        );
        for other in [
            &br#"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}"#[..],
            b"not json",
            br#"{"error":"<script>"}"#,
        ] {
            assert_eq!(parse_oauth_error(other), None);
        }
    }

    #[test]
    fn parses_bearer_with_commas_in_scope() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Bearer);
        assert_eq!(c[0].param("realm"), Some("https://auth.example/token"));
        assert_eq!(c[0].param("service"), Some("reg.example"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:a/b:pull,push repository:c:pull")
        );
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
    }

    #[test]
    fn parses_basic_any_case_and_several_challenges() {
        let c = parse_challenges(r#"BASIC realm="Sonatype Nexus Repository Manager""#);
        assert_eq!(c[0].scheme, Scheme::Basic);
        assert_eq!(
            c[0].param("realm"),
            Some("Sonatype Nexus Repository Manager")
        );
        let c = parse_challenges(r#"Negotiate, Basic realm="a \"q\" b", Bearer realm=x,service=y"#);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].scheme, Scheme::Other("negotiate".into()));
        assert_eq!(c[1].param("realm"), Some(r#"a "q" b"#));
        assert_eq!(c[2].param("realm"), Some("x"));
        assert_eq!(c[2].param("service"), Some("y"));
        assert!(parse_challenges("").is_empty());
        assert!(parse_challenges(r#"Bearer realm="unterminated"#)[0]
            .param("realm")
            .is_some());
    }

    #[test]
    fn token_fields_and_defaults() {
        let t = parse_token(br#"{"token":"a","access_token":"b","expires_in":300}"#).unwrap();
        assert_eq!(t.value.expose(), "a");
        assert_eq!(t.lifetime, Duration::from_secs(300));
        let t = parse_token(br#"{"access_token":"b"}"#).unwrap();
        assert_eq!(t.value.expose(), "b");
        assert_eq!(t.lifetime, DEFAULT_LIFETIME);
        assert!(parse_token(br#"{"token":""}"#).is_none());
        assert!(parse_token(b"not json").is_none());
    }

    #[test]
    fn cache_by_sorted_scopes_and_expiry() {
        let state = AuthState::default();
        let key = scope_key(&["b".into(), "a".into(), "a".into()]);
        assert_eq!(key, "a b");
        state.store(
            key.clone(),
            Token {
                value: Secret::new("t"),
                lifetime: Duration::from_secs(300),
            },
        );
        assert_eq!(state.token("a b").unwrap().expose(), "t");
        state.forget("a b");
        assert!(state.token("a b").is_none());
        state.store(
            key,
            Token {
                value: Secret::new("t"),
                lifetime: Duration::from_secs(0),
            },
        );
        std::thread::sleep(Duration::from_millis(1100));
        assert!(
            state.token("a b").is_none(),
            "expired tokens are not served"
        );
    }
}
