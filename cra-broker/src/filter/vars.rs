//! `${VAR}` interpolation from the client's settings, and the header and body substitutions
//! (`x-broker-var-sub`, `BROKER_VAR_SUB`) the server may ask for.
//!
//! Rule templates (`origin`, `auth`) may read every variable given here.
//! Substitutions asked for by the far side read a variable according to its [`Exposure`]:
//! the server chooses which headers and body fields are filled, so it must not be able to pull
//! `BROKER_TOKEN`, or a credential into a place that travels back to it.
//! A secret may fill only the `Authorization` header of a request to the agent; a request that
//! asks for one anywhere else is refused as a whole ([`Vars::check_secret_requests`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

/// Variables that are never substitutable, whatever the caller marks.
const NEVER_SUBSTITUTED: &[&str] = &["BROKER_TOKEN"];

/// The name of the body field listing the paths to substitute.
pub const BODY_VAR_SUB: &str = "BROKER_VAR_SUB";

/// The name of the header listing the headers to substitute.
pub const HEADER_VAR_SUB: &str = "x-broker-var-sub";

/// What substitutions asked for by the far side may do with a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Rule templates only: a substitution reads it as empty.
    RulesOnly,
    /// Substitutable wherever the far side asks (the client's own URL, the registry type).
    Plain,
    /// A credential: substitutable into the `Authorization` header only; asking for it in the
    /// URL, the query, another header or the body refuses the request.
    Secret,
}

/// Where a request asked for a secret variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The path of the URL (raw or percent-decoded).
    Path,
    /// The query of the URL (raw or percent-decoded).
    Query,
    /// A header other than `Authorization`.
    Header(String),
    /// The body (its text, or a string of its JSON).
    Body,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path => f.write_str("URL path"),
            Self::Query => f.write_str("query"),
            Self::Header(name) => write!(f, "header {name}"),
            Self::Body => f.write_str("body"),
        }
    }
}

/// A request that asks for a secret variable outside the `Authorization` header; it names the
/// variable and the place, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request asks for the secret variable {variable} in its {place}; secrets may fill only the Authorization header")]
pub struct SecretRequest {
    /// The variable asked for.
    pub variable: String,
    /// Where.
    pub place: Place,
}

/// Named values for interpolation; their `Debug` shows names only.
#[derive(Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, (String, Exposure)>,
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Vars {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a variable that rule templates may read but substitutions may not.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.insert_as(name, value, Exposure::RulesOnly);
    }

    /// Adds a variable that substitutions asked for by the far side may read anywhere.
    pub fn insert_substitutable(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.insert_as(name, value, Exposure::Plain);
    }

    /// Adds a credential: substitutable into the `Authorization` header only.
    pub fn insert_secret(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.insert_as(name, value, Exposure::Secret);
    }

    /// Adds a variable with the given exposure (`BROKER_TOKEN` is always [`Exposure::RulesOnly`]).
    pub fn insert_as(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        exposure: Exposure,
    ) {
        let name = name.into();
        let exposure = if NEVER_SUBSTITUTED.contains(&name.as_str()) {
            Exposure::RulesOnly
        } else {
            exposure
        };
        self.values.insert(name, (value.into(), exposure));
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(value, _)| value.as_str())
    }

    /// How far a variable may be substituted; `None` for an unknown one.
    pub fn exposure(&self, name: &str) -> Option<Exposure> {
        self.values.get(name).map(|(_, exposure)| *exposure)
    }

    /// The names of the variables substitutions may read somewhere (plain and secret).
    pub fn substitutable(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(_, (_, exposure))| *exposure != Exposure::RulesOnly)
            .map(|(name, _)| name.as_str())
    }

    /// Fills a rule template; unknown variables become empty, as in the stock broker.
    pub fn interpolate(&self, template: &str) -> String {
        replace(template, |name| self.get(name))
    }

    /// Fills a value on behalf of the far side outside the `Authorization` header: only plain
    /// variables are read, any other `${NAME}` becomes empty.
    pub fn substitute(&self, template: &str) -> String {
        self.substitute_up_to(template, Exposure::Plain)
    }

    /// Fills an `Authorization` value on behalf of the far side: plain and secret variables.
    pub fn substitute_authorization(&self, template: &str) -> String {
        self.substitute_up_to(template, Exposure::Secret)
    }

    fn substitute_up_to(&self, template: &str, most: Exposure) -> String {
        replace(template, |name| match self.values.get(name) {
            Some((value, Exposure::Plain)) => Some(value.as_str()),
            Some((value, Exposure::Secret)) if most == Exposure::Secret => Some(value.as_str()),
            _ => None,
        })
    }

    /// The first secret variable `text` asks for, if any.
    fn secret_in(&self, text: &str) -> Option<String> {
        requested(text)
            .into_iter()
            .find(|name| self.exposure(name) == Some(Exposure::Secret))
    }

    /// Refuses a request that asks for a secret anywhere but its `Authorization` header: in the
    /// path or query (raw or percent-decoded), another header, or the body (its text, or any
    /// string or key of its JSON, where `\u0024{…}` escapes are decoded).
    pub fn check_secret_requests(
        &self,
        url: &str,
        headers: &http::HeaderMap,
        body: Option<&[u8]>,
    ) -> Result<(), SecretRequest> {
        let refuse = |variable, place| Err(SecretRequest { variable, place });
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        for (part, place) in [(path, Place::Path), (query, Place::Query)] {
            let decoded = percent_encoding::percent_decode_str(part).decode_utf8_lossy();
            if let Some(variable) = self.secret_in(part).or_else(|| self.secret_in(&decoded)) {
                return refuse(variable, place);
            }
        }
        for (name, value) in headers {
            if name == http::header::AUTHORIZATION {
                continue;
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            if let Some(variable) = self.secret_in(&value) {
                return refuse(variable, Place::Header(name.as_str().to_owned()));
            }
        }
        if let Some(body) = body {
            let text = String::from_utf8_lossy(body);
            let found = self.secret_in(&text).or_else(|| {
                let json: serde_json::Value = serde_json::from_slice(body).ok()?;
                self.secret_in_json(&json)
            });
            if let Some(variable) = found {
                return refuse(variable, Place::Body);
            }
        }
        Ok(())
    }

    fn secret_in_json(&self, value: &serde_json::Value) -> Option<String> {
        match value {
            serde_json::Value::String(text) => self.secret_in(text),
            serde_json::Value::Array(items) => items.iter().find_map(|v| self.secret_in_json(v)),
            serde_json::Value::Object(map) => map
                .iter()
                .find_map(|(k, v)| self.secret_in(k).or_else(|| self.secret_in_json(v))),
            _ => None,
        }
    }

    /// Applies `x-broker-var-sub` to a header list: each header it names gets substituted
    /// (secrets only into `Authorization`); the list header itself is kept, as the stock
    /// client keeps it.
    pub fn substitute_headers(&self, headers: &mut http::HeaderMap) {
        let Some(list) = headers
            .get(HEADER_VAR_SUB)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return;
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Ok(name) = http::HeaderName::try_from(name.to_ascii_lowercase()) else {
                continue;
            };
            let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            let filled = if name == http::header::AUTHORIZATION {
                self.substitute_authorization(value)
            } else {
                self.substitute(value)
            };
            if let Ok(filled) = http::HeaderValue::try_from(filled) {
                headers.insert(name, filled);
            }
        }
    }

    /// Applies `BROKER_VAR_SUB` to a JSON body (plain variables only); returns the new body,
    /// or `None` when the body is not a JSON object with that field.
    pub fn substitute_body(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
        let object = json.as_object_mut()?;
        let paths = object.remove(BODY_VAR_SUB)?;
        for path in paths
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str())
        {
            if let Some(serde_json::Value::String(text)) = lookup_mut(&mut json, path) {
                *text = self.substitute(text);
            }
        }
        serde_json::to_vec(&json).ok()
    }
}

/// The `${NAME}` variables a substitution of `text` would read, by the same rules as [`replace`].
fn requested(text: &str) -> Vec<String> {
    let names = RefCell::new(Vec::new());
    replace(text, |name| {
        names.borrow_mut().push(name.to_owned());
        None
    });
    names.into_inner()
}

fn lookup_mut<'a>(
    value: &'a mut serde_json::Value,
    path: &str,
) -> Option<&'a mut serde_json::Value> {
    path.split('.')
        .try_fold(value, |current, key| match current {
            serde_json::Value::Object(map) => map.get_mut(key),
            serde_json::Value::Array(items) => {
                key.parse::<usize>().ok().and_then(|i| items.get_mut(i))
            }
            _ => None,
        })
}

/// Replaces every `${NAME}` (NAME = letters, digits, `_`) using `lookup`; unknown → empty.
fn replace<'a>(template: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}');
        let name = end.map(|e| &after[..e]);
        match name {
            Some(name)
                if !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                out.push_str(lookup(name).unwrap_or_default());
                rest = &after[name.len() + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `${NAME}` variables a template reads.
pub fn referenced(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                names.push(after[..end].to_owned());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut vars = Vars::new();
        vars.insert("CR_AGENT_URL", "http://agent:17500");
        vars.insert_secret("CR_CREDENTIALS", "c2VjcmV0");
        vars.insert_substitutable("CR_USERNAME", "labuser");
        vars.insert_secret("BROKER_TOKEN", "tok-123");
        vars
    }

    #[test]
    fn templates_fill_known_and_empty_unknown() {
        let vars = vars();
        assert_eq!(
            vars.interpolate("${CR_AGENT_URL}/x"),
            "http://agent:17500/x"
        );
        assert_eq!(vars.interpolate("a${NOPE}b"), "ab");
        assert_eq!(vars.interpolate("${}x${"), "${}x${");
        assert_eq!(vars.interpolate("$CR_AGENT_URL"), "$CR_AGENT_URL");
        assert_eq!(referenced("https://${A}@${B_2}/x"), vec!["A", "B_2"]);
    }

    #[test]
    fn substitution_reads_only_substitutable_and_never_the_token() {
        let vars = vars();
        assert_eq!(
            vars.substitute_authorization("${CR_CREDENTIALS}"),
            "c2VjcmV0"
        );
        assert_eq!(vars.substitute("${CR_CREDENTIALS}"), "");
        assert_eq!(vars.substitute_authorization("${BROKER_TOKEN}"), "");
        assert_eq!(vars.substitute("${CR_AGENT_URL}"), "");
        assert_eq!(vars.substitute("${BROKER_TOKEN}"), "");
        assert_eq!(vars.substitute("${HOME}"), "");
        assert_eq!(
            vars.substitutable().collect::<Vec<_>>(),
            vec!["CR_CREDENTIALS", "CR_USERNAME"]
        );
    }

    #[test]
    fn header_substitution_touches_only_listed_headers() {
        let vars = vars();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "${CR_CREDENTIALS}".parse().unwrap());
        headers.insert("x-other", "${CR_CREDENTIALS}".parse().unwrap());
        headers.insert("x-leak", "${BROKER_TOKEN}".parse().unwrap());
        headers.insert("x-secret", "${CR_CREDENTIALS}".parse().unwrap());
        headers.insert("x-user", "${CR_USERNAME}".parse().unwrap());
        headers.insert(
            HEADER_VAR_SUB,
            "Authorization, x-leak, x-secret, x-user".parse().unwrap(),
        );
        vars.substitute_headers(&mut headers);
        assert_eq!(headers["authorization"], "c2VjcmV0");
        assert_eq!(headers["x-other"], "${CR_CREDENTIALS}");
        assert_eq!(headers["x-leak"], "");
        assert_eq!(headers["x-secret"], "", "a secret fills Authorization only");
        assert_eq!(headers["x-user"], "labuser");
    }

    #[test]
    fn body_substitution_fills_listed_paths_and_drops_the_list() {
        let vars = vars();
        let body = br#"{"BROKER_VAR_SUB":["cred","a.b","missing"],"cred":"${CR_USERNAME}","a":{"b":"u=${CR_USERNAME} t=${BROKER_TOKEN}"},"c":"${CR_USERNAME}"}"#;
        let out: serde_json::Value =
            serde_json::from_slice(&vars.substitute_body(body).unwrap()).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"cred":"labuser","a":{"b":"u=labuser t="},"c":"${CR_USERNAME}"})
        );
        assert!(vars.substitute_body(b"{\"x\":1}").is_none());
        assert!(vars.substitute_body(b"not json").is_none());
    }

    #[test]
    fn secrets_asked_for_outside_authorization_are_refused() {
        let vars = vars();
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = http::HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let none = http::HeaderMap::new();
        let check = |url: &str, h: &http::HeaderMap, body: Option<&[u8]>| {
            vars.check_secret_requests(url, h, body)
                .map_err(|e| (e.variable, e.place))
        };
        let refused = |place| Err(("CR_CREDENTIALS".to_owned(), place));
        // Allowed: Authorization, plain and rules-only variables, unknown ones, no reference.
        let auth = headers(&[("authorization", "${CR_CREDENTIALS}")]);
        assert_eq!(check("/scan", &auth, Some(b"{}")), Ok(()));
        let plain = headers(&[("x-user", "${CR_USERNAME}"), ("x-t", "${BROKER_TOKEN}")]);
        assert_eq!(
            check(
                "/list/${CR_AGENT_URL}?q=${HOME}",
                &plain,
                Some(b"${CR_USERNAME}")
            ),
            Ok(())
        );
        assert_eq!(
            check("/list/$CR_CREDENTIALS", &none, Some(b"$CR_CREDENTIALS")),
            Ok(())
        );
        // Refused, raw and encoded, in every other place.
        assert_eq!(
            check("/list/${CR_CREDENTIALS}", &none, None),
            refused(Place::Path)
        );
        assert_eq!(
            check("/list/%24%7BCR_CREDENTIALS%7D", &none, None),
            refused(Place::Path)
        );
        assert_eq!(
            check("/list?x=a${CR_CREDENTIALS}", &none, None),
            refused(Place::Query)
        );
        assert_eq!(
            check("/list?x=%24{CR_CREDENTIALS}", &none, None),
            refused(Place::Query)
        );
        let other = headers(&[("x-note", "${CR_CREDENTIALS}")]);
        assert_eq!(
            check("/scan", &other, None),
            refused(Place::Header("x-note".into()))
        );
        for body in [
            &br#"{"BROKER_VAR_SUB":["n"],"n":"${CR_CREDENTIALS}"}"#[..],
            br#"{"n":"\u0024{CR_CREDENTIALS}"}"#,
            br#"{"${CR_CREDENTIALS}":1}"#,
            br#"{"a":[{"b":"x\u0024\u007bCR_CREDENTIALS\u007d"}]}"#,
            b"image=${CR_CREDENTIALS}",
        ] {
            assert_eq!(
                check("/scan", &none, Some(body)),
                refused(Place::Body),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // The error names the variable and the place, never the value.
        let err = vars
            .check_secret_requests("/x?${CR_CREDENTIALS}", &none, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CR_CREDENTIALS") && err.contains("query"),
            "{err}"
        );
        assert!(!err.contains("c2VjcmV0"), "{err}");
    }

    #[test]
    fn debug_shows_names_not_values() {
        let shown = format!("{:?}", vars());
        assert!(shown.contains("CR_CREDENTIALS"));
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("tok-123"));
    }
}
