//! The payloads of the events: `identify` both ways, `request` both ways, and the response
//! object that acknowledges a request.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Server capability: responses may come back by `POST /response-data`.
pub const RECEIVE_POST_STREAMS: &str = "receive-post-streams";
/// Client capability: it can answer by `POST /response-data`.
pub const POST_STREAMS: &str = "post-streams";

/// The server's `identify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerIdentify {
    /// Server capabilities.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// The client's `identify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientIdentify {
    /// The broker token (or, from pre-4.27 clients, the whole payload is a bare string).
    pub token: String,
    /// What the client says about itself.
    #[serde(default)]
    pub metadata: Metadata,
}

/// `identify` metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Client capabilities.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Random id of the client process.
    #[serde(rename = "clientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// SHA-256 hex of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Preflight check results.
    #[serde(rename = "preflightChecks", default)]
    pub preflight_checks: Vec<Value>,
    /// Client version (semver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The client's accept file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Value>,
    /// `primary` or `secondary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// A `request` event, either direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestEvent {
    /// Path and query, raw.
    pub url: String,
    /// HTTP method.
    pub method: String,
    /// Lower-case headers.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// The body in one of the EJSON body forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Non-empty when the response must come back by `POST /response-data`.
    #[serde(rename = "streamingID", default)]
    pub streaming_id: String,
}

/// The response object of an acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// The body: a string, or an object for broker-made errors.
    #[serde(default)]
    pub body: Value,
    /// Broker error type.
    #[serde(rename = "errorType", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The size of a body too large for this path.
    #[serde(
        rename = "originalBodySize",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub original_body_size: Option<usize>,
}

/// Hop-by-hop headers that are never copied between the two HTTP legs.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
];

/// Headers as a JSON map: lower-case names, repeated headers as arrays.
pub fn headers_to_map(headers: &http::HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let value = if values.len() == 1 {
            values.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(values)
        };
        map.insert(name.as_str().to_owned(), value);
    }
    map
}

/// A JSON header map as headers; invalid names and values are skipped.
pub fn map_to_headers(map: &Map<String, Value>) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    for (name, value) in map {
        let Ok(name) = http::HeaderName::try_from(name.to_ascii_lowercase()) else {
            continue;
        };
        let values: Vec<String> = match value {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::Number(n) => vec![n.to_string()],
            Value::Bool(b) => vec![b.to_string()],
            _ => continue,
        };
        for value in values {
            if let Ok(value) = http::HeaderValue::try_from(value) {
                headers.append(name.clone(), value);
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stock_request_event_parses() {
        let wire = json!({"url":"/list/foo%2Fbar?page=2","method":"GET","headers":{"host":"x","snyk-request-id":"r"},"streamingID":"8d86"});
        let req: RequestEvent = serde_json::from_value(wire).unwrap();
        assert_eq!(req.url, "/list/foo%2Fbar?page=2");
        assert_eq!(req.streaming_id, "8d86");
        assert!(req.body.is_none());
        let ack: RequestEvent = serde_json::from_value(json!({"url":"/x","method":"POST","headers":{},"body":{"$binary":"e30="},"streamingID":""})).unwrap();
        assert!(ack.streaming_id.is_empty());
    }

    #[test]
    fn client_identify_has_the_stock_field_names() {
        let identify = ClientIdentify {
            token: "t".into(),
            metadata: Metadata {
                capabilities: vec![POST_STREAMS.into()],
                client_id: Some("c".into()),
                version: Some("4.209.0".into()),
                role: Some("primary".into()),
                ..Metadata::default()
            },
        };
        let v = serde_json::to_value(&identify).unwrap();
        assert_eq!(v["metadata"]["clientId"], "c");
        assert_eq!(v["metadata"]["preflightChecks"], json!([]));
        assert_eq!(v["metadata"]["capabilities"], json!(["post-streams"]));
    }

    #[test]
    fn headers_round_trip_with_repeats() {
        let mut h = http::HeaderMap::new();
        h.append("set-cookie", "a=1".parse().unwrap());
        h.append("set-cookie", "b=2".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        let map = headers_to_map(&h);
        assert_eq!(map["set-cookie"], json!(["a=1", "b=2"]));
        assert_eq!(map_to_headers(&map), h);
        let odd = map_to_headers(
            &serde_json::from_value(json!({"Content-Length": 5, "bad name": "x", "x-bad": "a\nb"}))
                .unwrap(),
        );
        assert_eq!(odd["content-length"], "5");
        assert_eq!(odd.len(), 1);
    }
}
