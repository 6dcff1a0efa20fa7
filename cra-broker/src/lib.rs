//! The broker: a filtered HTTP relay over a websocket, wire-compatible with snyk-broker.
//!
//! ```text
//!  caller ──HTTP──▶ server ◀══ websocket (dialled by the client) ══ client ──HTTP──▶ agent
//!                    ▲                                                │
//!                    └──────── POST /response-data/<token>/<id> ◀─────┘ (response bodies)
//!  agent ──HTTP callback──▶ client ══ websocket request ══▶ server ──HTTP──▶ upstream
//! ```
//!
//! - [`filter`] decides which requests may cross, from an accept.json file, purely.
//! - [`protocol`] is the wire format: engine.io v4 packets carrying Primus EJSON payloads that
//!   carry primus-emitter events, plus the length-prefixed `/response-data` stream.
//! - [`session`] runs one tunnel over any `Sink + Stream` of text frames.
//! - [`client`] and [`server`] are the two ends.

pub mod client;
pub mod error;
pub mod filter;
pub mod protocol;
pub mod server;
pub mod session;
pub mod token;

pub use error::{Error, FilterError, ProtocolError};
