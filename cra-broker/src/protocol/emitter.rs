//! primus-emitter packets and Primus protocol strings, carried in engine.io messages.

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::event::{Event, Lenient};
use super::message::ResponseObject;
use crate::error::ProtocolError;

const PING: &str = "primus::ping::";
const PONG: &str = "primus::pong::";
const SERVER_CLOSE: &str = "primus::server::close";

/// One Primus-level frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// An event, and the ack id when the sender wants an answer.
    Event {
        /// The event.
        event: Event,
        /// Ack id, when an acknowledgement is expected.
        id: Option<u64>,
    },
    /// An acknowledgement of the request event with this id.
    Ack {
        /// The id of the acknowledged event.
        id: u64,
        /// The response object; `None` when the peer sent something else.
        response: Option<ResponseObject>,
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

/// The fields of an emitter packet; `data` is read by its own shape (an event starts with its
/// name, an acknowledgement with the response object), so the key order does not matter.
#[derive(Deserialize)]
struct RawPacket {
    #[serde(rename = "type")]
    kind: Option<u64>,
    id: Option<u64>,
    data: Option<Data>,
}

enum Data {
    Event(Event),
    Ack(Option<ResponseObject>),
    Empty,
}

/// The first element of `data`.
#[derive(Deserialize)]
#[serde(untagged)]
enum First {
    Name(String),
    Response(Lenient<ResponseObject>),
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataVisitor;
        impl<'de> Visitor<'de> for DataVisitor {
            type Value = Data;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the data array of an emitter packet")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
                Ok(match seq.next_element::<First>()? {
                    None => Data::Empty,
                    Some(First::Name(name)) => Data::Event(Event::from_rest(name, &mut seq)?),
                    Some(First::Response(response)) => {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Data::Ack(response.ok())
                    }
                })
            }
        }
        deserializer.deserialize_seq(DataVisitor)
    }
}

impl Frame {
    /// Decodes the payload of an engine.io message.
    pub fn decode(payload: &str) -> Result<Self, ProtocolError> {
        match payload.trim_start().as_bytes().first() {
            Some(b'"') => {
                let text: String = serde_json::from_str(payload).map_err(ProtocolError::Payload)?;
                Ok(if let Some(stamp) = text.strip_prefix(PING) {
                    Self::Ping(stamp.to_owned())
                } else if let Some(stamp) = text.strip_prefix(PONG) {
                    Self::Pong(stamp.to_owned())
                } else if text == SERVER_CLOSE {
                    Self::ServerClose
                } else {
                    Self::Other
                })
            }
            Some(b'{') => {
                let packet: RawPacket =
                    serde_json::from_str(payload).map_err(ProtocolError::Payload)?;
                match (packet.kind, packet.id, packet.data) {
                    (Some(0), id, Some(Data::Event(event))) => Ok(Self::Event { event, id }),
                    (Some(1), Some(id), Some(Data::Ack(response))) => {
                        Ok(Self::Ack { id, response })
                    }
                    (Some(1), Some(id), Some(Data::Empty | Data::Event(_))) => {
                        Ok(Self::Ack { id, response: None })
                    }
                    _ => Err(ProtocolError::Emitter),
                }
            }
            _ => {
                serde_json::from_str::<IgnoredAny>(payload).map_err(ProtocolError::Payload)?;
                Ok(Self::Other)
            }
        }
    }

    /// Encodes as the payload of an engine.io message, with the stock key order.
    pub fn encode(&self) -> String {
        match self {
            Self::Event { event, id } => {
                let data = serde_json::to_string(event).unwrap_or_else(|_| "[]".to_owned());
                match id {
                    Some(id) => format!("{{\"type\":0,\"data\":{data},\"id\":{id}}}"),
                    None => format!("{{\"type\":0,\"data\":{data}}}"),
                }
            }
            Self::Ack { id, response } => {
                let data = response
                    .as_ref()
                    .and_then(|r| serde_json::to_string(r).ok())
                    .map(|r| format!("[{r}]"))
                    .unwrap_or_else(|| "[]".to_owned());
                format!("{{\"id\":{id},\"type\":1,\"data\":{data}}}")
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
    use crate::protocol::event::{EventName, Identify, Notification, Terminate};
    use crate::protocol::message::{ClientIdentify, RequestEvent, ServerIdentify};

    fn request(url: &str) -> Event {
        Event::Request(Box::new(RequestEvent {
            url: url.into(),
            method: "GET".into(),
            ..RequestEvent::default()
        }))
    }

    #[test]
    fn stock_frames_decode() {
        let identify =
            r#"{"type":0,"data":["identify",{"capabilities":["receive-post-streams"]}]}"#;
        assert_eq!(
            Frame::decode(identify).unwrap(),
            Frame::Event {
                event: Event::Identify(Identify::Server(ServerIdentify {
                    capabilities: vec!["receive-post-streams".into()]
                })),
                id: None
            }
        );
        let client =
            r#"{"type":0,"data":["identify",{"token":"t","metadata":{"role":"primary"}}]}"#;
        let Frame::Event {
            event: Event::Identify(Identify::Client(ClientIdentify { token, metadata })),
            ..
        } = Frame::decode(client).unwrap()
        else {
            panic!("a client identify")
        };
        assert_eq!(
            (token.as_str(), metadata.role.as_deref()),
            ("t", Some("primary"))
        );
        assert_eq!(
            Frame::decode(r#"{"type":0,"data":["identify","tok"]}"#).unwrap(),
            Frame::Event {
                event: Event::Identify(Identify::Token("tok".into())),
                id: None
            }
        );
        let stock_request = r#"{"type":0,"data":["request",{"url":"/x","method":"GET","headers":{"a":"b"},"streamingID":"s"}],"id":1}"#;
        let Frame::Event {
            event: Event::Request(request),
            id: Some(1),
        } = Frame::decode(stock_request).unwrap()
        else {
            panic!("a request")
        };
        assert_eq!(
            (request.url.as_str(), request.streaming_id.as_str()),
            ("/x", "s")
        );
        let ack = r#"{"id":1,"type":1,"data":[{"status":200}]}"#;
        assert_eq!(
            Frame::decode(ack).unwrap(),
            Frame::Ack {
                id: 1,
                response: Some(ResponseObject {
                    status: 200,
                    ..ResponseObject::default()
                })
            }
        );
        let notification =
            r#"{"type":0,"data":["notification",{"level":"warning","message":"upgrade"}]}"#;
        assert_eq!(
            Frame::decode(notification).unwrap(),
            Frame::Event {
                event: Event::Notification(Notification {
                    level: Some("warning".into()),
                    message: Some("upgrade".into())
                }),
                id: None
            }
        );
        let terminate = r#"{"type":0,"data":["terminate",{"signal":"SIGTERM"}]}"#;
        assert_eq!(
            Frame::decode(terminate).unwrap(),
            Frame::Event {
                event: Event::Terminate(Terminate {
                    signal: Some("SIGTERM".into())
                }),
                id: None
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
        assert_eq!(Frame::decode("[1,2]").unwrap(), Frame::Other);
    }

    #[test]
    fn payloads_of_the_wrong_shape_keep_the_frame() {
        // A request that cannot be parsed can still be answered: its id survives.
        assert_eq!(
            Frame::decode(r#"{"type":0,"data":["request",{"url":5}],"id":4}"#).unwrap(),
            Frame::Event {
                event: Event::Invalid(EventName::Request),
                id: Some(4)
            }
        );
        assert_eq!(
            Frame::decode(r#"{"type":0,"data":["request"],"id":4}"#).unwrap(),
            Frame::Event {
                event: Event::Invalid(EventName::Request),
                id: Some(4)
            }
        );
        assert_eq!(
            Frame::decode(r#"{"type":0,"data":["chunk","id","",false,{"status":200}]}"#).unwrap(),
            Frame::Event {
                event: Event::Unknown("chunk".into()),
                id: None
            }
        );
        assert_eq!(
            Frame::decode(r#"{"id":2,"type":1,"data":["not a response"]}"#).unwrap(),
            Frame::Ack {
                id: 2,
                response: None
            }
        );
        assert_eq!(
            Frame::decode(r#"{"data":[{"status":204}],"type":1,"id":3}"#).unwrap(),
            Frame::Ack {
                id: 3,
                response: Some(ResponseObject {
                    status: 204,
                    ..ResponseObject::default()
                })
            }
        );
    }

    #[test]
    fn malformed_frames_are_errors() {
        for bad in [
            "{",
            "",
            "nul",
            r#"{"type":0,"data":[]}"#,
            r#"{"type":0,"data":[1]}"#,
            r#"{"type":1,"data":[]}"#,
            r#"{"type":0}"#,
            r#"{"type":7,"data":["x"]}"#,
            r#"{"type":0,"data":"x"}"#,
        ] {
            assert!(Frame::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn frames_encode_in_stock_key_order_and_round_trip() {
        let event = Frame::Event {
            event: Event::Terminate(Terminate {
                signal: Some("SIGINT".into()),
            }),
            id: Some(3),
        };
        assert_eq!(
            event.encode(),
            r#"{"type":0,"data":["terminate",{"signal":"SIGINT"}],"id":3}"#
        );
        let ack = Frame::Ack {
            id: 3,
            response: Some(ResponseObject {
                status: 401,
                ..ResponseObject::default()
            }),
        };
        assert_eq!(
            ack.encode(),
            r#"{"id":3,"type":1,"data":[{"status":401,"headers":{},"body":null}]}"#
        );
        assert_eq!(Frame::Ping("9".into()).encode(), "\"primus::ping::9\"");
        for frame in [
            event,
            ack,
            Frame::Event {
                event: request("/a%2Fb?x=1"),
                id: None,
            },
            Frame::Event {
                event: Event::Identify(Identify::Token("t".into())),
                id: None,
            },
            Frame::Ack {
                id: 9,
                response: None,
            },
            Frame::Ping("1".into()),
            Frame::Pong("2".into()),
            Frame::ServerClose,
        ] {
            assert_eq!(Frame::decode(&frame.encode()).unwrap(), frame);
        }
    }
}
