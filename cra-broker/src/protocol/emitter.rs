//! primus-emitter packets and Primus protocol strings, carried in engine.io messages.

use serde_json::{json, Value};

use crate::error::ProtocolError;

const PING: &str = "primus::ping::";
const PONG: &str = "primus::pong::";
const SERVER_CLOSE: &str = "primus::server::close";

/// One Primus-level frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// An event: name, arguments, and the ack id when the sender wants an answer.
    Event {
        /// Event name.
        name: String,
        /// Event arguments.
        args: Vec<Value>,
        /// Ack id, when an acknowledgement is expected.
        id: Option<u64>,
    },
    /// An acknowledgement of the event with this id.
    Ack {
        /// The id of the acknowledged event.
        id: u64,
        /// Acknowledgement arguments.
        args: Vec<Value>,
    },
    /// `"primus::ping::<ms>"`, the client heartbeat.
    Ping(String),
    /// `"primus::pong::<ms>"`, its answer.
    Pong(String),
    /// `"primus::server::close"`: the server ends the link and asks the client not to reconnect.
    ServerClose,
    /// Any other Primus string or value, ignored.
    Other,
}

impl Frame {
    /// Decodes the payload of an engine.io message.
    pub fn decode(payload: &str) -> Result<Self, ProtocolError> {
        let value: Value = serde_json::from_str(payload).map_err(ProtocolError::Payload)?;
        Ok(match value {
            Value::String(text) => {
                if let Some(stamp) = text.strip_prefix(PING) {
                    Self::Ping(stamp.to_owned())
                } else if let Some(stamp) = text.strip_prefix(PONG) {
                    Self::Pong(stamp.to_owned())
                } else if text == SERVER_CLOSE {
                    Self::ServerClose
                } else {
                    Self::Other
                }
            }
            Value::Object(map) => {
                let kind = map.get("type").and_then(Value::as_u64);
                let id = map.get("id").and_then(Value::as_u64);
                let Some(Value::Array(mut data)) = map.get("data").cloned() else {
                    return Err(ProtocolError::Emitter);
                };
                match (kind, id) {
                    (Some(0), id) => {
                        if data.is_empty() {
                            return Err(ProtocolError::Emitter);
                        }
                        let Value::String(name) = data.remove(0) else {
                            return Err(ProtocolError::Emitter);
                        };
                        Self::Event {
                            name,
                            args: data,
                            id,
                        }
                    }
                    (Some(1), Some(id)) => Self::Ack { id, args: data },
                    _ => return Err(ProtocolError::Emitter),
                }
            }
            _ => Self::Other,
        })
    }

    /// Encodes as the payload of an engine.io message, with the stock key order.
    pub fn encode(&self) -> String {
        match self {
            Self::Event { name, args, id } => {
                let mut data = Vec::with_capacity(args.len() + 1);
                data.push(Value::String(name.clone()));
                data.extend(args.iter().cloned());
                let data = Value::Array(data).to_string();
                match id {
                    Some(id) => format!("{{\"type\":0,\"data\":{data},\"id\":{id}}}"),
                    None => format!("{{\"type\":0,\"data\":{data}}}"),
                }
            }
            Self::Ack { id, args } => {
                format!(
                    "{{\"id\":{id},\"type\":1,\"data\":{}}}",
                    Value::Array(args.clone())
                )
            }
            Self::Ping(stamp) => json!(format!("{PING}{stamp}")).to_string(),
            Self::Pong(stamp) => json!(format!("{PONG}{stamp}")).to_string(),
            Self::ServerClose => json!(SERVER_CLOSE).to_string(),
            Self::Other => "null".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_frames_decode() {
        let identify =
            r#"{"type":0,"data":["identify",{"capabilities":["receive-post-streams"]}]}"#;
        assert_eq!(
            Frame::decode(identify).unwrap(),
            Frame::Event {
                name: "identify".into(),
                args: vec![json!({"capabilities":["receive-post-streams"]})],
                id: None
            }
        );
        let request = r#"{"type":0,"data":["request",{"url":"/x"}],"id":1}"#;
        assert!(matches!(
            Frame::decode(request).unwrap(),
            Frame::Event { id: Some(1), .. }
        ));
        let ack = r#"{"id":1,"type":1,"data":[{"status":200}]}"#;
        assert_eq!(
            Frame::decode(ack).unwrap(),
            Frame::Ack {
                id: 1,
                args: vec![json!({"status":200})]
            }
        );
        assert_eq!(
            Frame::decode("\"primus::ping::1795443352957\"").unwrap(),
            Frame::Ping("1795443352957".into())
        );
        assert_eq!(
            Frame::decode("\"primus::pong::5\"").unwrap(),
            Frame::Pong("5".into())
        );
        assert_eq!(
            Frame::decode("\"primus::server::close\"").unwrap(),
            Frame::ServerClose
        );
        assert_eq!(Frame::decode("\"primus::id::\"").unwrap(), Frame::Other);
    }

    #[test]
    fn malformed_frames_are_errors() {
        for bad in [
            "{",
            r#"{"type":0,"data":[]}"#,
            r#"{"type":0,"data":[1]}"#,
            r#"{"type":1,"data":[]}"#,
            r#"{"type":0}"#,
            r#"{"type":7,"data":["x"]}"#,
        ] {
            assert!(Frame::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn frames_encode_in_stock_key_order_and_round_trip() {
        let event = Frame::Event {
            name: "request".into(),
            args: vec![json!({"a":1})],
            id: Some(3),
        };
        assert_eq!(
            event.encode(),
            r#"{"type":0,"data":["request",{"a":1}],"id":3}"#
        );
        let ack = Frame::Ack {
            id: 3,
            args: vec![json!({"status":401})],
        };
        assert_eq!(ack.encode(), r#"{"id":3,"type":1,"data":[{"status":401}]}"#);
        assert_eq!(Frame::Ping("9".into()).encode(), "\"primus::ping::9\"");
        for frame in [
            event,
            ack,
            Frame::Ping("1".into()),
            Frame::Pong("2".into()),
            Frame::ServerClose,
        ] {
            assert_eq!(Frame::decode(&frame.encode()).unwrap(), frame);
        }
    }
}
