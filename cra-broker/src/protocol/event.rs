//! The events of the protocol, typed: [`Event`] is what travels as `data: ["name", payload]`
//! in a primus-emitter packet, one variant per event the stock broker sends.
//!
//! Decoding never fails on a payload of the wrong shape: a known event whose payload does not
//! parse becomes [`Event::Invalid`] (so that a `request` can still be answered with an error),
//! an event this implementation does not speak (the legacy `chunk` streaming, which neither end
//! asks for) becomes [`Event::Unknown`].

use std::fmt;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::message::{ClientIdentify, RequestEvent, ServerIdentify};

/// One event, either direction.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `identify`: the client's (token and metadata) or the server's (capabilities).
    Identify(Identify),
    /// `request`: an HTTP request for the far side to relay.
    Request(Box<RequestEvent>),
    /// `notification`: a message from the server for the client's log.
    Notification(Notification),
    /// `terminate`: the client is going away on a signal.
    Terminate(Terminate),
    /// A known event whose payload does not have its shape.
    Invalid(EventName),
    /// An event this implementation does not speak, by name.
    Unknown(String),
}

/// The names of the events this implementation speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    /// `identify`.
    Identify,
    /// `request`.
    Request,
    /// `notification`.
    Notification,
    /// `terminate`.
    Terminate,
}

impl EventName {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identify => "identify",
            Self::Request => "request",
            Self::Notification => "notification",
            Self::Terminate => "terminate",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Self::Identify,
            Self::Request,
            Self::Notification,
            Self::Terminate,
        ]
        .into_iter()
        .find(|known| known.as_str() == name)
    }
}

/// The payload of `identify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Identify {
    /// From a client: its token and what it says about itself.
    Client(ClientIdentify),
    /// From a pre-4.27 client: the bare token.
    Token(String),
    /// From a server: its capabilities.
    Server(ServerIdentify),
}

/// The payload of `notification`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `error`, `warning`, `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The payload of `terminate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminate {
    /// The signal the client got (`SIGTERM`, `SIGINT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
}

impl Event {
    /// The event's name on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::Identify(_) => EventName::Identify.as_str(),
            Self::Request(_) => EventName::Request.as_str(),
            Self::Notification(_) => EventName::Notification.as_str(),
            Self::Terminate(_) => EventName::Terminate.as_str(),
            Self::Invalid(name) => name.as_str(),
            Self::Unknown(name) => name,
        }
    }

    /// Reads the payload of the event named `name` from the rest of `seq`, and drains it.
    pub(crate) fn from_rest<'de, A: SeqAccess<'de>>(
        name: String,
        seq: &mut A,
    ) -> Result<Self, A::Error> {
        let event = match EventName::parse(&name) {
            None => Self::Unknown(name),
            Some(known) => {
                let parsed = match known {
                    EventName::Identify => payload(seq)?.map(Self::Identify),
                    EventName::Request => {
                        payload(seq)?.map(|request| Self::Request(Box::new(request)))
                    }
                    EventName::Notification => payload(seq)?.map(Self::Notification),
                    EventName::Terminate => payload(seq)?.map(Self::Terminate),
                };
                parsed.unwrap_or(Self::Invalid(known))
            }
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(event)
    }
}

/// A value that may not have the expected shape.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Lenient<T> {
    /// It has.
    Valid(T),
    /// It has not; it is skipped.
    Invalid(IgnoredAny),
}

impl<T> Lenient<T> {
    pub(crate) fn ok(self) -> Option<T> {
        match self {
            Self::Valid(value) => Some(value),
            Self::Invalid(_) => None,
        }
    }
}

/// The next element as a `T`; `None` when it is missing or of another shape.
fn payload<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
) -> Result<Option<T>, A::Error> {
    Ok(seq.next_element::<Lenient<T>>()?.and_then(Lenient::ok))
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        seq.serialize_element(self.name())?;
        match self {
            Self::Identify(identify) => seq.serialize_element(identify)?,
            Self::Request(request) => seq.serialize_element(request)?,
            Self::Notification(notification) => seq.serialize_element(notification)?,
            Self::Terminate(terminate) => seq.serialize_element(terminate)?,
            Self::Invalid(_) | Self::Unknown(_) => {}
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EventVisitor;
        impl<'de> Visitor<'de> for EventVisitor {
            type Value = Event;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event: [name, payload]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Event, A::Error> {
                let name: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                Event::from_rest(name, &mut seq)
            }
        }
        deserializer.deserialize_seq(EventVisitor)
    }
}
