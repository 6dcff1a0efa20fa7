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
//! The client decides with the built-in container-registry-agent rules, never lets the far side
//! read the broker token, and lets it have credentials filled into the `Authorization` header of
//! a request to the agent only:
//!
//! ```
//! use cra_broker::filter::{Direction, Filter, RequestParts, Vars};
//!
//! let mut vars = Vars::new();
//! vars.insert("CR_AGENT_URL", "http://127.0.0.1:17500");
//! vars.insert_secret("CR_CREDENTIALS", "eyJ0eXBlIjoiYWNyIn0K");
//! vars.insert_secret("BROKER_TOKEN", "never-substituted");
//! let filter = Filter::container_registry_agent(&vars)?;
//!
//! let headers = http::HeaderMap::new();
//! let scan = RequestParts { method: "POST", url: "/scan", headers: &headers, body: None };
//! assert!(filter.check(Direction::Private, &scan).allowed().is_some());
//! let admin = RequestParts { method: "GET", url: "/admin", ..scan };
//! assert!(filter.check(Direction::Private, &admin).allowed().is_none());
//! // A secret fills the Authorization header only; the token never.
//! let auth = vars.substitute_authorization("${CR_CREDENTIALS}|${BROKER_TOKEN}");
//! assert_eq!(auth, "eyJ0eXBlIjoiYWNyIn0K|");
//! assert_eq!(vars.substitute("${CR_CREDENTIALS}"), "");
//! let asks = RequestParts { url: "/scan?x=${CR_CREDENTIALS}", ..scan };
//! assert!(vars.check_secret_requests(asks.url, asks.headers, asks.body).is_err());
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
