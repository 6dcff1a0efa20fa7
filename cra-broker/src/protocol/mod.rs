//! The wire format, as the stock broker speaks it.
//!
//! Three text layers nest inside each websocket frame (or long-polling payload):
//! 1. [`engineio`] v4 packets: one digit type, then the payload (`4` = message, `2`/`3` = ping/pong);
//! 2. a Primus payload: EJSON text, where binary bodies are `{"$binary": "<base64>"}` ([`ejson`]);
//! 3. a primus-emitter packet: `{"type":0,"data":["event", args…],"id"?:n}` for events and
//!    `{"id":n,"type":1,"data":[args…]}` for acknowledgements, or a Primus protocol string such as
//!    `"primus::ping::<ms>"` ([`emitter`]).
//!
//! Response bodies travel outside the websocket, as an HTTP POST to `/response-data/<token>/<id>`
//! whose body is a little-endian `u32` length, that many bytes of JSON `{status, headers}`, then
//! the raw body ([`response_data`]).
//! The events are typed: [`event::Event`] has one variant per event the stock broker sends, and
//! their payloads (`identify`, `request`, the response object of an acknowledgement) are in
//! [`message`].

pub mod ejson;
pub mod emitter;
pub mod engineio;
pub mod event;
pub mod message;
pub mod response_data;

/// The client version this implementation announces; stock servers gate features on it.
pub const CLIENT_VERSION: &str = "4.209.0";
