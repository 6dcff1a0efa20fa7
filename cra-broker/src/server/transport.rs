//! engine.io v4 transports on `/primus/<token>/`: the long-polling handshake and polls that stock
//! clients start with, the websocket upgrade (`2probe` → `3probe`, `5`), and direct websockets.
//!
//! Either way the session sees one channel of packets in and one out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_channel::mpsc as fmpsc;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{mpsc, Notify};

use super::connections::Connection;
use super::{upstream, Shared};
use crate::protocol::engineio::{self, Handshake, Packet};
use crate::protocol::event::{Event, EventName, Identify, Terminate};
use crate::protocol::message::{ClientIdentify, Metadata, ServerIdentify, RECEIVE_POST_STREAMS};
use crate::session::{self, Duplex, Handle, Incoming, Role};
use crate::token::Token;

/// Largest websocket message accepted (the stock `maxPayload`).
pub(crate) const MAX_PAYLOAD: usize = 22_020_096;

/// How long a poll waits for something to send.
const POLL_WAIT: Duration = Duration::from_secs(30);

type Inbound = fmpsc::Sender<Result<String, Infallible>>;

/// A socket still on long-polling, by sid.
#[derive(Debug, Default)]
pub(crate) struct Sockets(Mutex<HashMap<String, Arc<PollingSocket>>>);

/// The two packet channels of a session, as the polling transport holds them.
#[derive(Debug)]
pub(crate) struct PollingSocket {
    inbound: Inbound,
    outbound: tokio::sync::Mutex<fmpsc::Receiver<String>>,
    upgrading: Notify,
}

impl Sockets {
    fn get(&self, sid: &str) -> Option<Arc<PollingSocket>> {
        self.0.lock().ok()?.get(sid).cloned()
    }
    fn insert(&self, sid: String, socket: Arc<PollingSocket>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(sid, socket);
        }
    }
    fn remove(&self, sid: &str) -> Option<Arc<PollingSocket>> {
        self.0.lock().ok()?.remove(sid)
    }
}

/// The engine.io query.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct EioQuery {
    transport: Option<String>,
    sid: Option<String>,
}

/// `/primus/<token>/`: every engine.io request.
pub(crate) async fn primus(
    State(shared): State<Arc<Shared>>,
    Path(token): Path<String>,
    Query(query): Query<EioQuery>,
    method: http::Method,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    body: Bytes,
) -> Response {
    let url_token = Token::new(&token);
    match (query.transport.as_deref(), query.sid.clone(), ws) {
        (Some("websocket"), sid, Ok(ws)) => {
            let ws = ws.max_message_size(MAX_PAYLOAD).max_frame_size(MAX_PAYLOAD);
            match sid {
                Some(sid) => match shared.sockets.get(&sid) {
                    Some(socket) => ws.on_upgrade(move |ws| upgrade(shared, sid, socket, ws)),
                    None => bad_request("unknown sid"),
                },
                None => ws.on_upgrade(move |ws| direct(shared, url_token, ws)),
            }
        }
        (Some("polling"), None, _) if method == http::Method::GET => handshake(&shared, url_token),
        (Some("polling"), Some(sid), _) => match shared.sockets.get(&sid) {
            None => bad_request("unknown sid"),
            Some(socket) if method == http::Method::POST => receive(socket, &body).await,
            Some(socket) => poll(socket).await,
        },
        _ => bad_request("unsupported transport"),
    }
}

fn bad_request(message: &str) -> Response {
    (
        http::StatusCode::BAD_REQUEST,
        axum::Json(json!({"code": 3, "message": message})),
    )
        .into_response()
}

fn text(body: String) -> Response {
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn handshake_json(shared: &Shared, sid: &str, upgrades: &[&str]) -> String {
    let handshake = Handshake {
        sid: sid.to_owned(),
        upgrades: upgrades.iter().map(|u| (*u).to_owned()).collect(),
        ping_interval: u64::try_from(shared.config.timing.ping_interval.as_millis())
            .unwrap_or(u64::MAX),
        ping_timeout: u64::try_from(shared.config.timing.pong_timeout.as_millis())
            .unwrap_or(u64::MAX),
        max_payload: MAX_PAYLOAD as u64,
    };
    serde_json::to_string(&handshake).unwrap_or_default()
}

fn handshake(shared: &Arc<Shared>, url_token: Token) -> Response {
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let (inbound, outbound) = start_session(shared.clone(), url_token, Some(sid.clone()));
    let socket = Arc::new(PollingSocket {
        inbound,
        outbound: tokio::sync::Mutex::new(outbound),
        upgrading: Notify::new(),
    });
    shared.sockets.insert(sid.clone(), socket);
    text(Packet::Open(handshake_json(shared, &sid, &["websocket"])).encode())
}

async fn receive(socket: Arc<PollingSocket>, body: &[u8]) -> Response {
    let payload = String::from_utf8_lossy(body);
    let mut inbound = socket.inbound.clone();
    for packet in engineio::split_payload(&payload) {
        if inbound.send(Ok(packet.to_owned())).await.is_err() {
            return bad_request("session closed");
        }
    }
    text("ok".to_owned())
}

async fn poll(socket: Arc<PollingSocket>) -> Response {
    let mut outbound = socket.outbound.lock().await;
    let first = tokio::select! {
        packet = outbound.next() => packet,
        _ = socket.upgrading.notified() => Some(Packet::Noop.encode()),
        _ = tokio::time::sleep(POLL_WAIT) => Some(Packet::Noop.encode()),
    };
    let Some(first) = first else {
        return text(Packet::Close.encode());
    };
    let mut packets = vec![first];
    while let Ok(packet) = outbound.try_recv() {
        packets.push(packet);
    }
    text(engineio::join_payload(packets.iter().map(String::as_str)))
}

async fn upgrade(shared: Arc<Shared>, sid: String, socket: Arc<PollingSocket>, ws: WebSocket) {
    let (mut ws_tx, mut ws_rx) = ws.split();
    let mut inbound = socket.inbound.clone();
    loop {
        let Some(Ok(message)) = ws_rx.next().await else {
            return;
        };
        let Message::Text(text) = message else {
            continue;
        };
        match text.as_str() {
            "2probe" => {
                if ws_tx.send(Message::Text("3probe".into())).await.is_err() {
                    return;
                }
                socket.upgrading.notify_one();
            }
            "5" => break,
            other => {
                let _ = inbound.send(Ok(other.to_owned())).await;
            }
        }
    }
    // From here on the websocket owns the session; the polling entry must let go of its sender
    // so that a closed websocket ends the session.
    shared.sockets.remove(&sid);
    let mut outbound = socket.outbound.lock().await;
    pump(&mut outbound, inbound, ws_tx, ws_rx).await;
}

async fn direct(shared: Arc<Shared>, url_token: Token, ws: WebSocket) {
    let (inbound, mut outbound) = start_session(shared.clone(), url_token, None);
    let (mut ws_tx, ws_rx) = ws.split();
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let open = Packet::Open(handshake_json(&shared, &sid, &[])).encode();
    if ws_tx.send(Message::Text(open.into())).await.is_err() {
        return;
    }
    pump(&mut outbound, inbound, ws_tx, ws_rx).await;
}

async fn pump(
    outbound: &mut fmpsc::Receiver<String>,
    mut inbound: Inbound,
    mut ws_tx: futures_util::stream::SplitSink<WebSocket, Message>,
    mut ws_rx: futures_util::stream::SplitStream<WebSocket>,
) {
    loop {
        tokio::select! {
            packet = outbound.next() => match packet {
                Some(packet) => {
                    if ws_tx.send(Message::Text(packet.into())).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = ws_tx.close().await;
                    return;
                }
            },
            message = ws_rx.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if inbound.send(Ok(text.as_str().to_owned())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Starts a server session; returns the channel packets go in by and the one they come out of.
fn start_session(
    shared: Arc<Shared>,
    url_token: Token,
    sid: Option<String>,
) -> (Inbound, fmpsc::Receiver<String>) {
    let (inbound_tx, inbound_rx) = fmpsc::channel(64);
    let (outbound_tx, outbound_rx) = fmpsc::channel(64);
    let (handle, commands) = session::channel();
    let (events_tx, events_rx) = mpsc::channel(64);
    let timing = shared.config.timing;
    tokio::spawn(async move {
        tracing::debug!(token = %url_token, "tunnel opened");
        let io = Duplex::new(outbound_tx, inbound_rx);
        let greeting = handle.emit(Event::Identify(Identify::Server(ServerIdentify {
            capabilities: vec![RECEIVE_POST_STREAMS.to_owned()],
        })));
        let connection = std::sync::Mutex::new(None);
        let running = async {
            let (end, _, ()) = tokio::join!(
                session::run(io, Role::Server, timing, commands, events_tx),
                greeting,
                serve_events(shared.clone(), handle.clone(), events_rx, &connection),
            );
            end
        };
        let end = tokio::select! {
            end = running => end,
            () = shared.shutdown.cancelled() => session::End::Closed,
        };
        let connection = connection.lock().ok().and_then(|mut c| c.take());
        if let Some(connection) = connection {
            shared.connections.remove(&connection);
            tracing::info!(token = %connection.token, id = connection.id, ?end, "client disconnected");
        }
        if let Some(sid) = sid {
            shared.sockets.remove(&sid);
        }
    });
    (inbound_tx, outbound_rx)
}

/// Handles the events of one tunnel; keeps its registered connection in `registered`.
async fn serve_events(
    shared: Arc<Shared>,
    handle: Handle,
    mut events: mpsc::Receiver<Incoming>,
    registered: &std::sync::Mutex<Option<Arc<Connection>>>,
) {
    let mut connection: Option<Arc<Connection>> = None;
    while let Some(incoming) = events.recv().await {
        match incoming.event {
            Event::Identify(identify) => {
                let Some((token, metadata)) = client_identity(identify) else {
                    tracing::warn!("ignoring an identify without a token");
                    continue;
                };
                if let Some(old) = connection.take() {
                    shared.connections.remove(&old);
                }
                tracing::info!(
                    token = %token,
                    version = metadata.version.as_deref().unwrap_or("unknown"),
                    role = metadata.role.as_deref().unwrap_or("unknown"),
                    "client identified"
                );
                connection = Some(shared.connections.add(token, metadata, handle.clone()));
                if let Ok(mut slot) = registered.lock() {
                    slot.clone_from(&connection);
                }
            }
            Event::Request(request) => {
                let Some(connection) = connection.clone() else {
                    continue;
                };
                let shared = shared.clone();
                let handle = handle.clone();
                tokio::spawn(async move {
                    let response = upstream::relay(&shared, &connection.token, *request).await;
                    if let Some(id) = incoming.ack {
                        let _ = handle.ack(id, response).await;
                    }
                });
            }
            Event::Invalid(EventName::Request) => {
                if let (Some(id), Some(_)) = (incoming.ack, &connection) {
                    let _ = handle
                        .ack(id, upstream::error(400, "invalid request"))
                        .await;
                }
            }
            Event::Terminate(Terminate { signal }) => tracing::info!(
                signal = signal.as_deref().unwrap_or("unknown"),
                "client terminating"
            ),
            other => tracing::debug!(event = other.name(), "ignoring event"),
        }
    }
}

/// The token and metadata of a client's `identify`; `None` without a token.
fn client_identity(identify: Identify) -> Option<(Token, Metadata)> {
    match identify {
        Identify::Token(token) if !token.is_empty() => {
            Some((Token::new(&token), Metadata::default()))
        }
        Identify::Client(ClientIdentify { token, metadata }) if !token.is_empty() => {
            Some((Token::new(&token), metadata))
        }
        _ => None,
    }
}
