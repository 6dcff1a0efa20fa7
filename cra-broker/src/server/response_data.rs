//! `POST /response-data/<token>/<id>`: the client's response stream, matched to the caller that
//! waits for it.
//!
//! Unlike the stock server, the token segment must be the token the request went to, and the
//! id must belong to a request still in flight; anything else gets the stock 500.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::{Bytes, BytesMut};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::oneshot;

use super::Shared;
use crate::protocol::response_data::Head;
use crate::token::Token;

/// The start of a streamed response: its head, and its body as it arrives.
pub(crate) struct Started {
    /// Status and headers.
    pub(crate) head: Head,
    /// Body chunks.
    pub(crate) body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Waiting {
    token: Token,
    reply: oneshot::Sender<Started>,
}

/// A body stream that reports when it has ended, failed or been dropped.
struct Finishing {
    inner: BoxStream<'static, Result<Bytes, std::io::Error>>,
    done: Option<oneshot::Sender<()>>,
}

impl Finishing {
    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

impl Stream for Finishing {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.poll_next_unpin(cx);
        if matches!(next, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.finish();
        }
        next
    }
}

impl Drop for Finishing {
    fn drop(&mut self) {
        self.finish();
    }
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
    // The caller's response reads the client's stream directly; this handler only waits for
    // the end (or for the caller to go) before answering the client.
    let first = futures_util::stream::iter((!rest.is_empty()).then_some(Ok(rest)));
    let body = first.chain(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
    let (done_tx, done_rx) = oneshot::channel();
    let body = Finishing {
        inner: body.boxed(),
        done: Some(done_tx),
    };
    if reply
        .send(Started {
            head,
            body: body.boxed(),
        })
        .is_err()
    {
        // The caller has gone; the stream is read no further.
        return Json(json!({})).into_response();
    }
    let _ = done_rx.await;
    Json(json!({})).into_response()
}
