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
//!
//! The client decides with the built-in container-registry-agent rules, and never lets the far
//! side read anything but the registry settings:
//!
//! ```
//! use cra_broker::filter::{Direction, Filter, RequestParts, Vars};
//!
//! let mut vars = Vars::new();
//! vars.insert("CR_AGENT_URL", "http://127.0.0.1:17500");
//! vars.insert_substitutable("CR_CREDENTIALS", "eyJ0eXBlIjoiYWNyIn0K");
//! vars.insert_substitutable("BROKER_TOKEN", "never-substituted");
//! let filter = Filter::container_registry_agent(&vars)?;
//!
//! let headers = http::HeaderMap::new();
//! let scan = RequestParts { method: "POST", url: "/scan", headers: &headers, body: None };
//! assert!(filter.check(Direction::Private, &scan).allowed().is_some());
//! let admin = RequestParts { method: "GET", url: "/admin", ..scan };
//! assert!(filter.check(Direction::Private, &admin).allowed().is_none());
//! assert_eq!(vars.substitute("${CR_CREDENTIALS}|${BROKER_TOKEN}"), "eyJ0eXBlIjoiYWNyIn0K|");
//! # Ok::<(), cra_broker::FilterError>(())
//! ```

pub mod client;
pub mod error;
pub mod filter;
pub mod protocol;
pub mod server;
pub mod session;
pub mod token;

pub use error::{Error, FilterError, ProtocolError};
pub use token::Token;
