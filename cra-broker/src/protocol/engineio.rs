//! engine.io v4 packets (text only: the broker forces base64, so there are no binary frames).

use crate::error::ProtocolError;

/// The record separator between packets in one long-polling payload.
pub const SEPARATOR: char = '\x1e';

/// One engine.io packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + JSON handshake (server → client).
    Open(String),
    /// `1`.
    Close,
    /// `2` + optional data (`probe` during an upgrade).
    Ping(String),
    /// `3` + optional data.
    Pong(String),
    /// `4` + the Primus payload.
    Message(String),
    /// `5`: the client switches to the websocket.
    Upgrade,
    /// `6`: ends a pending poll.
    Noop,
}

impl Packet {
    /// Decodes one packet.
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(ProtocolError::Packet)?;
        let rest = chars.as_str().to_owned();
        Ok(match kind {
            '0' => Self::Open(rest),
            '1' => Self::Close,
            '2' => Self::Ping(rest),
            '3' => Self::Pong(rest),
            '4' => Self::Message(rest),
            '5' => Self::Upgrade,
            '6' => Self::Noop,
            _ => return Err(ProtocolError::Packet),
        })
    }

    /// Encodes one packet.
    pub fn encode(&self) -> String {
        match self {
            Self::Open(json) => format!("0{json}"),
            Self::Close => "1".to_owned(),
            Self::Ping(data) => format!("2{data}"),
            Self::Pong(data) => format!("3{data}"),
            Self::Message(payload) => format!("4{payload}"),
            Self::Upgrade => "5".to_owned(),
            Self::Noop => "6".to_owned(),
        }
    }
}

/// The server's handshake, sent in the open packet.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Handshake {
    /// Session id.
    pub sid: String,
    /// Transports the client may upgrade to.
    pub upgrades: Vec<String>,
    /// Milliseconds between server pings.
    #[serde(rename = "pingInterval")]
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong after the interval.
    #[serde(rename = "pingTimeout")]
    pub ping_timeout: u64,
    /// Largest message accepted.
    #[serde(rename = "maxPayload")]
    pub max_payload: u64,
}

/// Splits a long-polling payload into packets.
pub fn split_payload(payload: &str) -> impl Iterator<Item = &str> {
    payload.split(SEPARATOR).filter(|p| !p.is_empty())
}

/// Joins packets into one long-polling payload.
pub fn join_payload<'a>(packets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, packet) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(packet);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip() {
        for packet in [
            Packet::Open("{\"sid\":\"x\"}".into()),
            Packet::Close,
            Packet::Ping(String::new()),
            Packet::Ping("probe".into()),
            Packet::Pong("probe".into()),
            Packet::Message("\"primus::ping::1\"".into()),
            Packet::Upgrade,
            Packet::Noop,
        ] {
            assert_eq!(Packet::decode(&packet.encode()).unwrap(), packet);
        }
        assert!(Packet::decode("").is_err());
        assert!(Packet::decode("9x").is_err());
    }

    #[test]
    fn payloads_split_on_the_record_separator() {
        let joined = join_payload(["4\"a\"", "2", "6"]);
        assert_eq!(joined, "4\"a\"\x1e2\x1e6");
        assert_eq!(
            split_payload(&joined).collect::<Vec<_>>(),
            vec!["4\"a\"", "2", "6"]
        );
    }

    #[test]
    fn handshake_uses_the_stock_field_names() {
        let text = r#"{"sid":"lkMg","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":22020096}"#;
        let hs: Handshake = serde_json::from_str(text).unwrap();
        assert_eq!(hs.ping_interval, 25000);
        assert_eq!(serde_json::to_string(&hs).unwrap(), text);
    }
}
