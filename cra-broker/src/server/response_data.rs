//! `POST /response-data/<token>/<id>`: the client's response stream, matched to the caller that
//! waits for it.
//!
//! Unlike the stock server, the token segment must be the token the request went to, and the
//! id must belong to a request still in flight; anything else gets the stock 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::{Bytes, BytesMut};
use futures_channel::mpsc as fmpsc;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::oneshot;

use super::Shared;
use crate::protocol::response_data::Head;
use crate::token::Token;

/// The start of a streamed response: its head, and its body as it arrives.
#[derive(Debug)]
pub(crate) struct Started {
    /// Status and headers.
    pub(crate) head: Head,
    /// Body chunks.
    pub(crate) body: fmpsc::Receiver<Result<Bytes, std::io::Error>>,
}

#[derive(Debug)]
struct Waiting {
    token: Token,
    reply: oneshot::Sender<Started>,
}

/// Requests waiting for their response stream, by streaming id.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashMap<String, Waiting>>);

/// Removes its entry when the caller stops waiting.
#[derive(Debug)]
pub(crate) struct Ticket {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut map) = self.shared.in_flight.0.lock() {
            map.remove(&self.id);
        }
    }
}

impl InFlight {
    /// Registers a request; the receiver resolves when the client starts its response.
    pub(crate) fn register(
        shared: &Arc<Shared>,
        token: Token,
    ) -> (String, Ticket, oneshot::Receiver<Started>) {
        let id = uuid::Uuid::new_v4().to_string();
        let (reply, rx) = oneshot::channel();
        if let Ok(mut map) = shared.in_flight.0.lock() {
            map.insert(id.clone(), Waiting { token, reply });
        }
        let ticket = Ticket {
            shared: shared.clone(),
            id: id.clone(),
        };
        (id, ticket, rx)
    }

    fn take(&self, id: &str, token: &Token) -> Option<oneshot::Sender<Started>> {
        let mut map = self.0.lock().ok()?;
        if !map.get(id)?.token.matches(token) {
            return None;
        }
        map.remove(id).map(|w| w.reply)
    }
}

fn unknown_stream() -> Response {
    (
        http::StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"message": "Unable to find request matching streaming id."})),
    )
        .into_response()
}

/// Receives one response stream.
pub(crate) async fn receive(
    State(shared): State<Arc<Shared>>,
    Path((token, id)): Path<(String, String)>,
    body: Body,
) -> Response {
    let token = Token::new(&token);
    let Some(reply) = shared.in_flight.take(&id, &token) else {
        tracing::warn!(token = %token, "response stream for an unknown request");
        return unknown_stream();
    };
    let mut stream = body.into_data_stream();
    let mut buffer = BytesMut::new();
    let (head, used) = loop {
        match Head::decode(&buffer) {
            Ok(Some(found)) => break found,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "bad response stream head");
                return (
                    http::StatusCode::BAD_REQUEST,
                    Json(json!({"message": e.to_string()})),
                )
                    .into_response();
            }
        }
        match stream.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            _ => {
                return (
                    http::StatusCode::BAD_REQUEST,
                    Json(json!({"message": "truncated response stream"})),
                )
                    .into_response()
            }
        }
    };
    let rest = buffer.split_off(used).freeze();
    let (mut body_tx, body_rx) = fmpsc::channel(8);
    if reply
        .send(Started {
            head,
            body: body_rx,
        })
        .is_err()
    {
        // The caller has gone; the stream is read no further.
        return Json(json!({})).into_response();
    }
    if !rest.is_empty() && body_tx.send(Ok(rest)).await.is_err() {
        return Json(json!({})).into_response();
    }
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other);
        let failed = chunk.is_err();
        if body_tx.send(chunk).await.is_err() || failed {
            break;
        }
    }
    Json(json!({})).into_response()
}
