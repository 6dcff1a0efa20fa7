//! `${VAR}` interpolation from the client's settings, and the header and body substitutions
//! (`x-broker-var-sub`, `BROKER_VAR_SUB`) the server may ask for.
//!
//! Rule templates (`origin`, `auth`) may read every variable given here.
//! Substitutions asked for by the far side read only the variables marked substitutable:
//! the server chooses which headers and body fields are filled, so it must not be able to pull
//! `BROKER_TOKEN` or any other setting out through them.

use std::collections::BTreeMap;
use std::fmt;

/// Variables that are never substitutable, whatever the caller marks.
const NEVER_SUBSTITUTED: &[&str] = &["BROKER_TOKEN"];

/// The name of the body field listing the paths to substitute.
pub const BODY_VAR_SUB: &str = "BROKER_VAR_SUB";

/// The name of the header listing the headers to substitute.
pub const HEADER_VAR_SUB: &str = "x-broker-var-sub";

/// Named values for interpolation; their `Debug` shows names only.
#[derive(Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, (String, bool)>,
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
        self.values.insert(name.into(), (value.into(), false));
    }

    /// Adds a variable that substitutions asked for by the far side may also read.
    pub fn insert_substitutable(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let substitutable = !NEVER_SUBSTITUTED.contains(&name.as_str());
        self.values.insert(name, (value.into(), substitutable));
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(value, _)| value.as_str())
    }

    /// The names of the variables substitutions may read.
    pub fn substitutable(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(_, (_, sub))| *sub)
            .map(|(name, _)| name.as_str())
    }

    /// Fills a rule template; unknown variables become empty, as in the stock broker.
    pub fn interpolate(&self, template: &str) -> String {
        replace(template, |name| self.get(name))
    }

    /// Fills a value on behalf of the far side: only substitutable variables are read,
    /// any other `${NAME}` becomes empty.
    pub fn substitute(&self, template: &str) -> String {
        replace(template, |name| match self.values.get(name) {
            Some((value, true)) => Some(value.as_str()),
            _ => None,
        })
    }

    /// Applies `x-broker-var-sub` to a header list: each header it names gets substituted;
    /// the list header itself is kept, as the stock client keeps it.
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
            let filled = self.substitute(value);
            if let Ok(filled) = http::HeaderValue::try_from(filled) {
                headers.insert(name, filled);
            }
        }
    }

    /// Applies `BROKER_VAR_SUB` to a JSON body; returns the new body, or `None` when the body
    /// is not a JSON object with that field.
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
        vars.insert_substitutable("CR_CREDENTIALS", "c2VjcmV0");
        vars.insert_substitutable("CR_USERNAME", "labuser");
        vars.insert_substitutable("BROKER_TOKEN", "tok-123");
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
        assert_eq!(vars.substitute("${CR_CREDENTIALS}"), "c2VjcmV0");
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
        headers.insert(HEADER_VAR_SUB, "Authorization, x-leak".parse().unwrap());
        vars.substitute_headers(&mut headers);
        assert_eq!(headers["authorization"], "c2VjcmV0");
        assert_eq!(headers["x-other"], "${CR_CREDENTIALS}");
        assert_eq!(headers["x-leak"], "");
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
    fn debug_shows_names_not_values() {
        let shown = format!("{:?}", vars());
        assert!(shown.contains("CR_CREDENTIALS"));
        assert!(!shown.contains("c2VjcmV0") && !shown.contains("tok-123"));
    }
}
