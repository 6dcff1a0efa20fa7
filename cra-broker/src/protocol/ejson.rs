//! The EJSON forms a body can take inside a Primus payload.
//!
//! Bodies arrive as a plain string, as `{"$binary": "<base64>"}` (a Node `Buffer`), or, from old
//! clients, as `{"type":"Buffer","data":[bytes…]}`. They are sent as a string when they are UTF-8
//! and as `$binary` otherwise.

use base64::Engine;
use serde_json::{json, Value};

/// The bytes of a body value; `None` for a value that is not a body form.
pub fn body_bytes(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Object(map) => {
            if let Some(Value::String(b64)) = map.get("$binary") {
                return base64::engine::general_purpose::STANDARD.decode(b64).ok();
            }
            if map.get("type").and_then(Value::as_str) == Some("Buffer") {
                let data = map.get("data")?.as_array()?;
                return data
                    .iter()
                    .map(|b| b.as_u64().and_then(|n| u8::try_from(n).ok()))
                    .collect();
            }
            // A JSON object body (broker-made error bodies): its JSON text.
            serde_json::to_vec(value).ok()
        }
        Value::Null => None,
        other => serde_json::to_vec(other).ok(),
    }
}

/// The value to send for a body.
pub fn body_value(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => binary(bytes),
    }
}

/// `{"$binary": "<base64>"}`.
pub fn binary(bytes: &[u8]) -> Value {
    json!({ "$binary": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_body_form_decodes() {
        assert_eq!(body_bytes(&json!("abc")).unwrap(), b"abc");
        assert_eq!(
            body_bytes(&json!({"$binary": "eyJkb25lIjp0cnVlfQ=="})).unwrap(),
            br#"{"done":true}"#
        );
        assert_eq!(
            body_bytes(&json!({"type": "Buffer", "data": [104, 105]})).unwrap(),
            b"hi"
        );
        assert!(body_bytes(&json!({"type": "Buffer", "data": [300]})).is_none());
        assert!(body_bytes(&json!({"$binary": "!!"})).is_none());
        assert_eq!(
            body_bytes(&json!({"message": "blocked"})).unwrap(),
            br#"{"message":"blocked"}"#
        );
        assert!(body_bytes(&Value::Null).is_none());
    }

    #[test]
    fn bodies_encode_as_text_or_binary() {
        assert_eq!(body_value(b"hi"), json!("hi"));
        let bin = body_value(&[0xff, 0x00]);
        assert_eq!(bin, json!({"$binary": "/wA="}));
        assert_eq!(body_bytes(&bin).unwrap(), vec![0xff, 0x00]);
    }
}
