//! The distribution error envelope `{"errors":[{"code","message","detail"}]}`, and Google APIs'
//! `{"error":{"code","message","status"}}` (pure).

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Envelope {
    errors: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Google's API error envelope (`google.rpc.Status` as JSON).
#[derive(Debug, Deserialize)]
struct GoogleEnvelope {
    error: GoogleStatus,
}

#[derive(Debug, Deserialize)]
struct GoogleStatus {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
}

/// The longest error text we quote from a response body.
const MAX_DETAIL: usize = 300;

/// A one-line description of an error body: the OCI codes and messages when the body is an
/// envelope, else the first line of the body (shortened), else `fallback`.
pub(crate) fn describe(body: &[u8], fallback: &str) -> String {
    if let Ok(env) = serde_json::from_slice::<Envelope>(body) {
        let parts: Vec<String> = env
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{} ({})", e.message, e.code),
                (false, true) => e.code.clone(),
                _ => e.message.clone(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return shorten(&parts.join("; "));
        }
    }
    if let Ok(google) = serde_json::from_slice::<GoogleEnvelope>(body) {
        let e = google.error;
        let said = match (e.message.is_empty(), e.status.is_empty()) {
            (false, false) => format!("{} ({})", e.message, e.status),
            (false, true) => e.message,
            (true, false) => e.status,
            (true, true) => String::new(),
        };
        if !said.is_empty() {
            return shorten(&said);
        }
    }
    let text = String::from_utf8_lossy(body);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    match first {
        Some(line) if !line.starts_with('<') => shorten(line),
        _ => fallback.to_owned(),
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= MAX_DETAIL {
        return s.to_owned();
    }
    let mut end = MAX_DETAIL;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_envelopes_text_and_html() {
        let body = br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"x"}}]}"#;
        assert_eq!(
            describe(body, "f"),
            "repository name not known to registry (NAME_UNKNOWN)"
        );
        assert_eq!(
            describe(b"\n  upstream timed out\nmore", "f"),
            "upstream timed out"
        );
        assert_eq!(
            describe(b"<html><body>502</body></html>", "bad gateway"),
            "bad gateway"
        );
        assert_eq!(describe(b"", "not found"), "not found");
        let google = br#"{"error":{"code":403,"message":"Artifact Registry API has not been used in project 42 before or it is disabled.","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(
            describe(google, "f"),
            "Artifact Registry API has not been used in project 42 before or it is disabled. (PERMISSION_DENIED)"
        );
        let long = "é".repeat(400);
        assert!(describe(long.as_bytes(), "f").len() <= MAX_DETAIL + 4);
    }
}
