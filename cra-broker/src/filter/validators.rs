//! The `valid` conditions of a rule, compiled: body equality, body regex, query globs, headers.
//!
//! Semantics follow the stock broker: when body or query conditions exist, at least one group
//! must pass (any body equality, else any body regex, else every query condition); header
//! conditions are then all required.
//! One deliberate difference: a body equality compares the value, where the stock client only
//! checks that the path exists for paths without `*`.

use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde_json::Value;

use crate::error::FilterError;
use crate::filter::rules::Valid;

/// The compiled conditions of one rule.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    body_equal: Vec<(String, Value)>,
    body_regex: Vec<(String, Regex)>,
    query: Vec<(String, Vec<GlobMatcher>)>,
    headers: Vec<(String, Vec<String>)>,
}

/// What the conditions look at.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The raw query string.
    pub query: &'a str,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
    /// The request body, when there is one.
    pub body: Option<&'a [u8]>,
}

impl Validators {
    /// Compiles the `valid` list of a rule.
    pub fn compile(valid: &[Valid]) -> Result<Self, FilterError> {
        let mut compiled = Self::default();
        for entry in valid {
            if let Some(path) = &entry.path {
                match &entry.regex {
                    Some(regex) => {
                        let re = Regex::new(regex).map_err(|source| FilterError::Pattern {
                            pattern: regex.clone(),
                            source: Box::new(source),
                        })?;
                        compiled.body_regex.push((path.clone(), re));
                    }
                    None => compiled
                        .body_equal
                        .push((path.clone(), entry.value.clone().unwrap_or(Value::Null))),
                }
            } else if let Some(param) = &entry.query_param {
                let globs = entry
                    .values
                    .iter()
                    .map(|value| glob(value))
                    .collect::<Result<_, _>>()?;
                compiled.query.push((param.clone(), globs));
            } else if let Some(header) = &entry.header {
                compiled
                    .headers
                    .push((header.to_ascii_lowercase(), entry.values.clone()));
            }
        }
        Ok(compiled)
    }

    /// Whether the request passes.
    pub fn check(&self, inputs: Inputs<'_>) -> bool {
        let has_groups =
            !self.body_equal.is_empty() || !self.body_regex.is_empty() || !self.query.is_empty();
        if has_groups && !self.any_group_passes(inputs) {
            return false;
        }
        self.headers.iter().all(|(name, values)| {
            inputs
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| !v.is_empty() && values.iter().any(|allowed| allowed == v))
        })
    }

    fn any_group_passes(&self, inputs: Inputs<'_>) -> bool {
        let body: Option<Value> = inputs.body.and_then(|b| serde_json::from_slice(b).ok());
        if let Some(body) = &body {
            let equal = self
                .body_equal
                .iter()
                .any(|(path, value)| values_at(body, path).contains(&value));
            if equal {
                return true;
            }
            let matched = self.body_regex.iter().any(|(path, re)| {
                values_at(body, path)
                    .iter()
                    .any(|found| re.is_match(&as_text(found)))
            });
            if matched {
                return true;
            }
        }
        !self.query.is_empty()
            && self.query.iter().all(|(param, globs)| {
                let value = query_value(inputs.query, param).unwrap_or_default();
                globs.iter().any(|g| g.is_match(&value))
            })
    }
}

/// minimatch-like glob: `*` stays within a segment, `**` spans segments, dot files match.
fn glob(pattern: &str) -> Result<GlobMatcher, FilterError> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|source| FilterError::Pattern {
            pattern: pattern.to_owned(),
            source: Box::new(source),
        })
}

/// Every value at a dotted path, `*` meaning any key or index.
fn values_at<'a>(value: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![value];
    for key in path.split('.') {
        let mut next = Vec::new();
        for v in current {
            match (v, key) {
                (Value::Object(map), "*") => next.extend(map.values()),
                (Value::Array(items), "*") => next.extend(items.iter()),
                (Value::Object(map), key) => next.extend(map.get(key)),
                (Value::Array(items), key) => {
                    next.extend(key.parse::<usize>().ok().and_then(|i| items.get(i)))
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first value of a query parameter, percent- and plus-decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(json: serde_json::Value) -> Validators {
        let entries: Vec<Valid> = serde_json::from_value(json).unwrap();
        Validators::compile(&entries).unwrap()
    }

    fn run(v: &Validators, query: &str, headers: &[(&str, &str)], body: Option<&str>) -> bool {
        let mut map = http::HeaderMap::new();
        for (k, val) in headers {
            map.insert(
                http::HeaderName::try_from(*k).unwrap(),
                val.parse().unwrap(),
            );
        }
        v.check(Inputs {
            query,
            headers: &map,
            body: body.map(str::as_bytes),
        })
    }

    #[test]
    fn body_equality_needs_the_value_not_just_the_path() {
        let v = valid(serde_json::json!([{"path": "pull_request.state", "value": "open"}]));
        assert!(run(
            &v,
            "",
            &[],
            Some(r#"{"pull_request":{"state":"open"}}"#)
        ));
        assert!(!run(
            &v,
            "",
            &[],
            Some(r#"{"pull_request":{"state":"closed"}}"#)
        ));
        assert!(!run(&v, "", &[], Some(r#"{"other":1}"#)));
        assert!(!run(&v, "", &[], Some("not json")));
        assert!(!run(&v, "", &[], None));
    }

    #[test]
    fn body_paths_with_stars_search_every_branch() {
        let v = valid(serde_json::json!([{"path": "commits.*.added.*", "value": "package.json"}]));
        let hit = r#"{"commits":[{"added":["a.txt"]},{"added":["x","package.json"]}]}"#;
        let miss = r#"{"commits":[{"added":["a.txt"]},{"modified":["package.json"]}]}"#;
        assert!(run(&v, "", &[], Some(hit)));
        assert!(!run(&v, "", &[], Some(miss)));
    }

    #[test]
    fn body_regex_and_any_group_passes() {
        let v = valid(serde_json::json!([
            {"path": "ref", "value": "refs/heads/main"},
            {"path": "ref", "regex": "^refs/tags/v\\d+$"}
        ]));
        assert!(run(&v, "", &[], Some(r#"{"ref":"refs/heads/main"}"#)));
        assert!(run(&v, "", &[], Some(r#"{"ref":"refs/tags/v12"}"#)));
        assert!(!run(&v, "", &[], Some(r#"{"ref":"refs/tags/vx"}"#)));
    }

    #[test]
    fn query_globs_are_all_required_and_minimatch_like() {
        let v = valid(serde_json::json!([
            {"queryParam": "file_path", "values": ["**/package.json", "**/*req*.txt"]},
            {"queryParam": "ref", "values": ["*"]}
        ]));
        assert!(run(
            &v,
            "file_path=a%2Fb%2Fpackage.json&ref=main",
            &[],
            None
        ));
        assert!(run(&v, "file_path=package.json&ref=main", &[], None));
        assert!(run(
            &v,
            "file_path=.config%2Frequirements.txt&ref=x",
            &[],
            None
        ));
        assert!(!run(&v, "file_path=a%2Fsecrets.env&ref=main", &[], None));
        assert!(!run(&v, "file_path=package.json&ref=a%2Fb", &[], None));
        assert!(!run(&v, "ref=main", &[], None));
    }

    #[test]
    fn headers_must_all_be_present_with_an_exact_value() {
        let v = valid(serde_json::json!([
            {"header": "Accept", "values": ["application/vnd.github.v4.sha"]}
        ]));
        assert!(run(
            &v,
            "",
            &[("accept", "application/vnd.github.v4.sha")],
            None
        ));
        assert!(!run(&v, "", &[("accept", "application/json")], None));
        assert!(!run(&v, "", &[], None));
    }

    #[test]
    fn no_conditions_always_pass() {
        assert!(run(&valid(serde_json::json!([])), "", &[], None));
    }
}
