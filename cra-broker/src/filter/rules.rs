//! The serde mirror of accept.json: a `public` and a `private` list of rules.
//!
//! Field names are the stock ones, written out, because the files are shared with snyk-broker.

use serde::Deserialize;

/// A whole accept.json file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AcceptFile {
    /// Rules for requests that leave the private side (agent callbacks on the client).
    #[serde(default)]
    pub public: Vec<Rule>,
    /// Rules for requests that enter the private side (server requests on the client).
    #[serde(default)]
    pub private: Vec<Rule>,
}

/// One accept rule.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Rule {
    /// HTTP method, or `any`; case-insensitive; `GET` when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// A path-to-regexp 1.x pattern.
    #[serde(default)]
    pub path: Option<String>,
    /// Base URL the request goes to, with `${VAR}` placeholders.
    #[serde(default)]
    pub origin: Option<String>,
    /// Extra conditions on body, query and headers.
    #[serde(default)]
    pub valid: Vec<Valid>,
    /// An `Authorization` header to add.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// The free-text comment of the rule.
    #[serde(default, rename = "//")]
    pub comment: Option<String>,
}

/// One `valid` condition; which fields are present decides its kind.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Valid {
    /// Dotted JSON path into the body (`*` matches any key).
    #[serde(default)]
    pub path: Option<String>,
    /// The value the body must hold at `path`.
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    /// A regular expression the body value at `path` must match.
    #[serde(default)]
    pub regex: Option<String>,
    /// A query parameter name.
    #[serde(default, rename = "queryParam")]
    pub query_param: Option<String>,
    /// A header name.
    #[serde(default)]
    pub header: Option<String>,
    /// Globs (query) or exact values (header).
    #[serde(default)]
    pub values: Vec<String>,
    /// The free-text comment of the condition.
    #[serde(default, rename = "//")]
    pub comment: Option<String>,
}

/// An `auth` block.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Auth {
    /// `token`, `bearer`, `basic` or `raw`.
    pub scheme: String,
    /// The token (with `${VAR}` placeholders).
    #[serde(default)]
    pub token: Option<String>,
    /// The basic-auth user name.
    #[serde(default)]
    pub username: Option<String>,
    /// The basic-auth password.
    #[serde(default)]
    pub password: Option<String>,
}
