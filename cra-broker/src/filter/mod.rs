//! The accept filter: which requests may cross the broker, and where they go.
//!
//! An accept.json file is parsed into [`rules`], compiled once by [`Filter::from_json`] (a bad
//! pattern is a load error), and then [`Filter::check`] decides purely, deny by default.
//! Before any rule is tried, the URL passes the [`traversal`] guard, which is stricter than the
//! stock one: encoded and double-encoded traversal, `//` and backslashes are refused.
//!
//! ```
//! use cra_broker::filter::{Direction, Filter, RequestParts, Vars};
//!
//! let mut vars = Vars::new();
//! vars.insert("CR_AGENT_URL", "http://127.0.0.1:17500");
//! let filter = Filter::container_registry_agent(&vars).unwrap();
//! let headers = http::HeaderMap::new();
//! let list = RequestParts { method: "GET", url: "/list/library%2Fdebian", headers: &headers, body: None };
//! let allowed = filter.check(Direction::Private, &list).allowed().unwrap();
//! assert_eq!(allowed.url, "http://127.0.0.1:17500/list/library%2Fdebian");
//! let sneaky = RequestParts { url: "/list/a%2F..%2F..%2Fadmin", ..list };
//! assert!(filter.check(Direction::Private, &sneaky).allowed().is_none());
//! ```

pub mod path;
pub mod rules;
pub mod traversal;
pub mod validators;
pub mod vars;

use base64::Engine;

pub use path::PathPattern;
pub use rules::AcceptFile;
pub use traversal::Unsafe;
pub use vars::Vars;

use crate::error::FilterError;
use validators::{Inputs, Validators};

/// The container-registry-agent rule set, the same as the stock `container-registry-agent.json`.
pub const CONTAINER_REGISTRY_AGENT: &str = include_str!("container-registry-agent.json");

/// Which rule list applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Requests leaving the private side: agent callbacks (client), `/broker/<token>/*` (server).
    Public,
    /// Requests entering the private side: tunnel requests (client), tunnel callbacks (server).
    Private,
}

/// The parts of a request the filter looks at.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw URL: path and query, still percent-encoded.
    pub url: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// Request body, when there is one.
    pub body: Option<&'a [u8]>,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A rule matched.
    Allow(Allowed),
    /// No rule matched, or the URL failed the traversal guard.
    Deny(Denial),
}

impl Verdict {
    /// The allowed request, if any.
    pub fn allowed(self) -> Option<Allowed> {
        match self {
            Self::Allow(allowed) => Some(allowed),
            Self::Deny(_) => None,
        }
    }
}

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The URL failed the traversal guard.
    Unsafe(Unsafe),
    /// No rule matched.
    NoRule,
}

/// Where an allowed request goes.
#[derive(Clone, PartialEq, Eq)]
pub struct Allowed {
    /// Index of the matching rule in its list.
    pub rule: usize,
    /// `origin + url`, or the bare URL when the rule has no origin.
    pub url: String,
    /// The `Authorization` value the rule's `auth` block (or origin userinfo) asks for.
    pub authorization: Option<String>,
}

impl std::fmt::Debug for Allowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allowed")
            .field("rule", &self.rule)
            .field("url", &self.url)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "****"),
            )
            .finish()
    }
}

/// A compiled accept file.
#[derive(Debug, Clone)]
pub struct Filter {
    public: Vec<Compiled>,
    private: Vec<Compiled>,
    source: serde_json::Value,
}

#[derive(Debug, Clone)]
struct Compiled {
    method: Option<String>,
    path: PathPattern,
    origin: Option<Origin>,
    authorization: Option<String>,
    validators: Validators,
}

/// An interpolated origin, split from its userinfo.
#[derive(Clone)]
struct Origin {
    base: String,
    userinfo_auth: Option<String>,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Origin")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Filter {
    /// Parses and compiles an accept.json document, interpolating `${VAR}` in origins and auth.
    pub fn from_json(json: &str, vars: &Vars) -> Result<Self, FilterError> {
        let source: serde_json::Value = serde_json::from_str(json).map_err(FilterError::Json)?;
        let file: AcceptFile = serde_json::from_value(source.clone()).map_err(FilterError::Json)?;
        Ok(Self {
            public: compile_list(&file.public, vars)?,
            private: compile_list(&file.private, vars)?,
            source,
        })
    }

    /// The built-in container-registry-agent rule set.
    pub fn container_registry_agent(vars: &Vars) -> Result<Self, FilterError> {
        Self::from_json(CONTAINER_REGISTRY_AGENT, vars)
    }

    /// The accept file as loaded, for the `filters` field of `identify`.
    pub fn source(&self) -> &serde_json::Value {
        &self.source
    }

    /// The variables the rules' origins and auth blocks read.
    pub fn referenced_vars(json: &str) -> Result<Vec<String>, FilterError> {
        let file: AcceptFile = serde_json::from_str(json).map_err(FilterError::Json)?;
        let mut names: Vec<String> = file
            .public
            .iter()
            .chain(&file.private)
            .flat_map(|rule| {
                let auth = rule.auth.iter().flat_map(|a| {
                    [&a.token, &a.username, &a.password]
                        .into_iter()
                        .flatten()
                        .cloned()
                });
                rule.origin.iter().cloned().chain(auth).collect::<Vec<_>>()
            })
            .flat_map(|template| vars::referenced(&template))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Decides one request; rules are tried in order and the first match wins.
    pub fn check(&self, direction: Direction, request: &RequestParts<'_>) -> Verdict {
        let split = match traversal::check(request.url) {
            Ok(split) => split,
            Err(why) => return Verdict::Deny(Denial::Unsafe(why)),
        };
        let rules = match direction {
            Direction::Public => &self.public,
            Direction::Private => &self.private,
        };
        let inputs = Inputs {
            query: split.query,
            headers: request.headers,
            body: request.body,
        };
        for (index, rule) in rules.iter().enumerate() {
            let method_ok = rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(request.method));
            if method_ok && rule.path.matches(split.path) && rule.validators.check(inputs) {
                return Verdict::Allow(rule.allowed(index, request.url));
            }
        }
        Verdict::Deny(Denial::NoRule)
    }
}

impl Compiled {
    fn allowed(&self, index: usize, url: &str) -> Allowed {
        let target = match &self.origin {
            Some(origin) => format!("{}{url}", origin.base),
            None => url.to_owned(),
        };
        let authorization = self
            .authorization
            .clone()
            .or_else(|| self.origin.as_ref().and_then(|o| o.userinfo_auth.clone()));
        Allowed {
            rule: index,
            url: target,
            authorization,
        }
    }
}

fn compile_list(rules: &[rules::Rule], vars: &Vars) -> Result<Vec<Compiled>, FilterError> {
    rules.iter().map(|rule| compile_rule(rule, vars)).collect()
}

fn compile_rule(rule: &rules::Rule, vars: &Vars) -> Result<Compiled, FilterError> {
    let method = rule.method.as_deref().unwrap_or("get");
    let method = (!method.eq_ignore_ascii_case("any")).then(|| method.to_ascii_uppercase());
    Ok(Compiled {
        method,
        path: PathPattern::new(rule.path.as_deref().unwrap_or(""))?,
        origin: rule.origin.as_deref().map(|o| origin(&vars.interpolate(o))),
        authorization: rule.auth.as_ref().map(|auth| authorization(auth, vars)),
        validators: Validators::compile(&rule.valid)?,
    })
}

/// Adds `https://` when the scheme is missing, drops a trailing slash, and turns userinfo into
/// an `Authorization` value (`user:pass@` → Basic, `token@` → `token <token>`).
fn origin(raw: &str) -> Origin {
    let with_scheme = if raw.contains("://") || raw.is_empty() {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let (scheme, rest) = with_scheme.split_once("://").unwrap_or(("", &with_scheme));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (base, userinfo_auth) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let auth = match userinfo.split_once(':') {
                Some(_) => format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(userinfo)
                ),
                None => format!("token {userinfo}"),
            };
            (format!("{scheme}://{host}{path}"), Some(auth))
        }
        None => (with_scheme.clone(), None),
    };
    Origin {
        base: base.trim_end_matches('/').to_owned(),
        userinfo_auth,
    }
}

fn authorization(auth: &rules::Auth, vars: &Vars) -> String {
    let fill = |v: &Option<String>| {
        v.as_deref()
            .map(|t| vars.interpolate(t))
            .unwrap_or_default()
    };
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    match auth.scheme.to_ascii_lowercase().as_str() {
        "token" => format!("Token {}", fill(&auth.token)),
        "bearer" => format!("Bearer {}", fill(&auth.token)),
        "basic" if auth.token.is_some() => format!("Basic {}", b64(fill(&auth.token))),
        "basic" => format!(
            "Basic {}",
            b64(format!("{}:{}", fill(&auth.username), fill(&auth.password)))
        ),
        _ => fill(&auth.token),
    }
}

#[cfg(test)]
mod tests;
