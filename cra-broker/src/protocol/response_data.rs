//! The head of a `/response-data` stream: `u32` little-endian length, then that many bytes of
//! JSON `{"status", "headers", "errorType"?}`; the raw body follows.

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ProtocolError;

/// Largest head accepted; a real head is a few kilobytes of headers.
pub const MAX_HEAD: usize = 1 << 20;

/// The response status and headers that open the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// HTTP status.
    pub status: u16,
    /// Response headers (values are strings or arrays of strings).
    #[serde(default)]
    pub headers: Map<String, Value>,
    /// Broker error type, for broker-made responses.
    #[serde(rename = "errorType", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

impl Head {
    /// Encodes the length prefix and the JSON; non-ASCII is escaped so that the stock server,
    /// which reads the length as bytes while the stock client writes it as UTF-16 units, agrees.
    pub fn encode(&self) -> Bytes {
        let json = ascii_json(&serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned()));
        let mut out = BytesMut::with_capacity(4 + json.len());
        out.put_u32_le(u32::try_from(json.len()).unwrap_or(u32::MAX));
        out.put_slice(json.as_bytes());
        out.freeze()
    }

    /// Reads the head from the start of `buf`; `Ok(None)` when more bytes are needed, else the
    /// head and how many bytes it took.
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, ProtocolError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > MAX_HEAD {
            return Err(ProtocolError::TooLarge {
                size: len,
                limit: MAX_HEAD,
            });
        }
        let Some(json) = buf.get(4..4 + len) else {
            return Ok(None);
        };
        let head = serde_json::from_slice(json).map_err(|_| ProtocolError::ResponseHeader)?;
        Ok(Some((head, 4 + len)))
    }
}

fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_round_trips_and_stays_ascii() {
        let mut headers = Map::new();
        headers.insert("x-name".into(), Value::String("Zoë ✓ 𝄞".into()));
        let head = Head {
            status: 200,
            headers,
            error_type: None,
        };
        let bytes = head.encode();
        assert!(bytes[4..].is_ascii());
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        assert_eq!(len, bytes.len() - 4);
        let mut with_body = bytes.to_vec();
        with_body.extend_from_slice(b"BODY");
        let (decoded, used) = Head::decode(&with_body).unwrap().unwrap();
        assert_eq!(decoded, head);
        assert_eq!(&with_body[used..], b"BODY");
    }

    #[test]
    fn partial_and_bad_heads() {
        let bytes = Head {
            status: 401,
            headers: Map::new(),
            error_type: Some("FILTER_BLOCKED".into()),
        }
        .encode();
        for cut in 0..bytes.len() {
            assert!(Head::decode(&bytes[..cut]).unwrap().is_none());
        }
        assert!(Head::decode(&[0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(Head::decode(b"\x02\x00\x00\x00{x").is_err());
        assert_eq!(
            &bytes[4..],
            br#"{"status":401,"headers":{},"errorType":"FILTER_BLOCKED"}"#
        );
    }

    #[test]
    fn stock_capture_prefix_decodes() {
        let json = br#"{"status":200,"headers":{"content-type":"application/json","content-length":"376"}}"#;
        let mut buf = (json.len() as u32).to_le_bytes().to_vec();
        buf.extend_from_slice(json);
        let (head, _) = Head::decode(&buf).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["content-length"], "376");
    }
}
