//! The live tunnels, by token: several clients per token, newest first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::protocol::message::{Metadata, POST_STREAMS};
use crate::session::Handle;
use crate::token::Token;

/// One identified client tunnel.
#[derive(Debug)]
pub(crate) struct Connection {
    /// Unique per server process.
    pub(crate) id: u64,
    /// The token the client identified with.
    pub(crate) token: Token,
    /// What the client said about itself.
    pub(crate) metadata: Metadata,
    /// Sends events down the tunnel.
    pub(crate) handle: Handle,
}

impl Connection {
    /// Whether the client can receive requests (stock: has a version and capabilities).
    pub(crate) fn is_ready(&self) -> bool {
        self.handle.is_open() && self.metadata.version.is_some()
    }

    /// Whether the client answers by `POST /response-data`.
    pub(crate) fn posts_streams(&self) -> bool {
        self.metadata.capabilities.iter().any(|c| c == POST_STREAMS)
    }
}

/// Tunnels by token hash.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    next_id: AtomicU64,
    by_token: Mutex<HashMap<String, Vec<Arc<Connection>>>>,
}

impl Connections {
    /// Registers a tunnel; it becomes the first choice for its token.
    pub(crate) fn add(&self, token: Token, metadata: Metadata, handle: Handle) -> Arc<Connection> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            id,
            token,
            metadata,
            handle,
        });
        let key = connection.token.hashed();
        if let Ok(mut map) = self.by_token.lock() {
            map.entry(key).or_default().insert(0, connection.clone());
        }
        connection
    }

    /// Removes a tunnel; a token without tunnels is forgotten.
    pub(crate) fn remove(&self, connection: &Connection) {
        let key = connection.token.hashed();
        if let Ok(mut map) = self.by_token.lock() {
            if let Some(list) = map.get_mut(&key) {
                list.retain(|c| c.id != connection.id);
                if list.is_empty() {
                    map.remove(&key);
                }
            }
        }
    }

    /// Every tunnel of a token, newest first.
    pub(crate) fn all(&self, token: &Token) -> Vec<Arc<Connection>> {
        let Ok(map) = self.by_token.lock() else {
            return Vec::new();
        };
        map.get(&token.hashed())
            .map(|list| {
                list.iter()
                    .filter(|c| c.token.matches(token))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tunnel a request for this token goes to: the newest ready one.
    pub(crate) fn pick(&self, token: &Token) -> Option<Arc<Connection>> {
        self.all(token).into_iter().find(|c| c.is_ready())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::channel;

    fn meta(version: Option<&str>) -> Metadata {
        Metadata {
            version: version.map(str::to_owned),
            capabilities: vec![POST_STREAMS.into()],
            ..Metadata::default()
        }
    }

    #[test]
    fn newest_ready_connection_wins_and_removal_forgets() {
        let pool = Connections::default();
        let token = Token::new("Tok-1");
        let (h1, _c1) = channel();
        let (h2, _c2) = channel();
        let (h3, _c3) = channel();
        let first = pool.add(token.clone(), meta(Some("1.0.0")), h1);
        let second = pool.add(Token::new("tok-1"), meta(Some("1.0.0")), h2);
        let _unready = pool.add(token.clone(), meta(None), h3);
        assert_eq!(pool.all(&token).len(), 3);
        assert_eq!(pool.pick(&token).unwrap().id, second.id);
        pool.remove(&second);
        assert_eq!(pool.pick(&token).unwrap().id, first.id);
        assert!(pool.pick(&Token::new("other")).is_none());
        pool.remove(&first);
        assert!(pool.pick(&token).is_none());
    }

    #[test]
    fn closed_sessions_are_not_picked() {
        let pool = Connections::default();
        let token = Token::new("t");
        let (handle, commands) = channel();
        pool.add(token.clone(), meta(Some("1.0.0")), handle);
        drop(commands);
        assert!(pool.pick(&token).is_none());
    }
}
