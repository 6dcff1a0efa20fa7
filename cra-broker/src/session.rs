//! One tunnel: engine.io heartbeats, Primus pings, and primus-emitter events and acks, over any
//! `Sink<String> + Stream<Item = Result<String, E>>` of engine.io text packets.
//!
//! The transport (a websocket, or the server's long-polling adaptor) is not known here, so unit
//! tests drive a session with channels.
//! [`channel`] makes a [`Handle`] (clone it to emit events and acks) and the [`Commands`] that
//! [`run`] consumes; events from the far side arrive on the `events` sender given to [`run`].

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use crate::protocol::emitter::Frame;
use crate::protocol::engineio::Packet;
use crate::protocol::event::Event;
use crate::protocol::message::ResponseObject;

/// Which end of the tunnel this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Dials out; answers engine.io pings, sends Primus pings.
    Client,
    /// Accepts; sends engine.io pings, answers Primus pings.
    Server,
}

/// Heartbeat timing.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Time between the pings this side sends.
    pub ping_interval: Duration,
    /// Time to wait for the answer to a ping before the link counts as dead.
    pub pong_timeout: Duration,
}

impl Timing {
    /// The stock server defaults: engine.io ping every 25 s, pong within 20 s.
    pub const SERVER: Self = Self {
        ping_interval: Duration::from_secs(25),
        pong_timeout: Duration::from_secs(20),
    };
}

/// An event from the far side.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The event.
    pub event: Event,
    /// The ack id to answer with [`Handle::ack`], when the far side wants an answer.
    pub ack: Option<u64>,
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The transport closed, or a close packet arrived, or [`Handle::close`] was called.
    Closed,
    /// The server said `primus::server::close`: do not reconnect.
    ServerClose,
    /// A ping went unanswered.
    Timeout,
    /// The transport failed.
    Transport(String),
}

/// The session is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tunnel session is closed")]
pub struct Closed;

/// What a request's acknowledgement carried: the response object, or `None` when the far side
/// acknowledged with something else.
pub type Acknowledgement = Option<ResponseObject>;

enum Command {
    Emit {
        event: Event,
        reply: Option<oneshot::Sender<Acknowledgement>>,
    },
    Ack {
        id: u64,
        response: ResponseObject,
    },
    Close,
}

/// Sends events and acks into a running session.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
}

/// The receiving side of a [`Handle`], consumed by [`run`].
#[derive(Debug)]
pub struct Commands(mpsc::Receiver<Command>);

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Emit { event, .. } => write!(f, "Emit({})", event.name()),
            Self::Ack { id, .. } => write!(f, "Ack({id})"),
            Self::Close => f.write_str("Close"),
        }
    }
}

/// Makes a handle and the commands a session will read.
pub fn channel() -> (Handle, Commands) {
    let (tx, rx) = mpsc::channel(64);
    (Handle { commands: tx }, Commands(rx))
}

impl Handle {
    /// Sends an event without asking for an acknowledgement.
    pub async fn emit(&self, event: Event) -> Result<(), Closed> {
        let command = Command::Emit { event, reply: None };
        self.commands.send(command).await.map_err(|_| Closed)
    }

    /// Sends an event and waits for its acknowledgement.
    pub async fn request(&self, event: Event) -> Result<Acknowledgement, Closed> {
        let (tx, rx) = oneshot::channel();
        let command = Command::Emit {
            event,
            reply: Some(tx),
        };
        self.commands.send(command).await.map_err(|_| Closed)?;
        rx.await.map_err(|_| Closed)
    }

    /// Answers an event that asked for an acknowledgement.
    pub async fn ack(&self, id: u64, response: ResponseObject) -> Result<(), Closed> {
        self.commands
            .send(Command::Ack { id, response })
            .await
            .map_err(|_| Closed)
    }

    /// Ends the session.
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }

    /// Whether the session still runs.
    pub fn is_open(&self) -> bool {
        !self.commands.is_closed()
    }
}

struct State {
    role: Role,
    next_id: u64,
    pending: HashMap<u64, oneshot::Sender<Acknowledgement>>,
    deadline: Option<Instant>,
}

/// Runs a session until the link ends; frames are engine.io text packets.
pub async fn run<S, E>(
    io: S,
    role: Role,
    timing: Timing,
    commands: Commands,
    events: mpsc::Sender<Incoming>,
) -> End
where
    S: Sink<String> + Stream<Item = Result<String, E>> + Unpin,
    S::Error: std::fmt::Display,
    E: std::fmt::Display,
{
    let (mut sink, mut stream) = io.split();
    let mut commands = commands.0;
    let mut state = State {
        role,
        next_id: 1,
        pending: HashMap::new(),
        deadline: None,
    };
    let mut ticker =
        tokio::time::interval_at(Instant::now() + timing.ping_interval, timing.ping_interval);
    loop {
        let deadline = state.deadline;
        let out = tokio::select! {
            frame = stream.next() => match frame {
                None => return End::Closed,
                Some(Err(e)) => return End::Transport(e.to_string()),
                Some(Ok(text)) => match state.on_packet(&text, &events).await {
                    Ok(reply) => reply,
                    Err(end) => return end,
                },
            },
            command = commands.recv() => match command {
                None | Some(Command::Close) => {
                    let _ = sink.send(Packet::Close.encode()).await;
                    return End::Closed;
                }
                Some(command) => Some(state.on_command(command)),
            },
            _ = ticker.tick() => {
                if state.deadline.is_none() {
                    state.deadline = Some(Instant::now() + timing.pong_timeout);
                }
                Some(match role {
                    Role::Client => Packet::Message(Frame::Ping(now_millis()).encode()).encode(),
                    Role::Server => Packet::Ping(String::new()).encode(),
                })
            },
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                return End::Timeout;
            },
        };
        if let Some(text) = out {
            if let Err(e) = sink.send(text).await {
                return End::Transport(e.to_string());
            }
        }
    }
}

impl State {
    /// Handles one packet; returns a packet to send back, or how the session ends.
    async fn on_packet(
        &mut self,
        text: &str,
        events: &mpsc::Sender<Incoming>,
    ) -> Result<Option<String>, End> {
        let Ok(packet) = Packet::decode(text) else {
            tracing::debug!("ignoring an invalid engine.io packet");
            return Ok(None);
        };
        match packet {
            Packet::Close => Err(End::Closed),
            Packet::Ping(data) => Ok(Some(Packet::Pong(data).encode())),
            Packet::Pong(_) => {
                if self.role == Role::Server {
                    self.deadline = None;
                }
                Ok(None)
            }
            Packet::Message(payload) => self.on_message(&payload, events).await,
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => Ok(None),
        }
    }

    async fn on_message(
        &mut self,
        payload: &str,
        events: &mpsc::Sender<Incoming>,
    ) -> Result<Option<String>, End> {
        let frame = match Frame::decode(payload) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::debug!(error = %e, "ignoring an invalid primus payload");
                return Ok(None);
            }
        };
        match frame {
            Frame::Event { event, id } => {
                let incoming = Incoming { event, ack: id };
                if events.send(incoming).await.is_err() {
                    return Err(End::Closed);
                }
                Ok(None)
            }
            Frame::Ack { id, response } => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(response);
                }
                Ok(None)
            }
            Frame::Ping(stamp) => Ok(Some(Packet::Message(Frame::Pong(stamp).encode()).encode())),
            Frame::Pong(_) => {
                if self.role == Role::Client {
                    self.deadline = None;
                }
                Ok(None)
            }
            Frame::ServerClose => Err(End::ServerClose),
            Frame::Other => Ok(None),
        }
    }

    fn on_command(&mut self, command: Command) -> String {
        let frame = match command {
            Command::Emit { event, reply } => {
                let id = reply.map(|reply| {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.pending.insert(id, reply);
                    id
                });
                Frame::Event { event, id }
            }
            Command::Ack { id, response } => Frame::Ack {
                id,
                response: Some(response),
            },
            Command::Close => Frame::Other,
        };
        Packet::Message(frame.encode()).encode()
    }
}

fn now_millis() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string()
}

/// A sink and a stream joined into one `Sink + Stream`, for transports that come in halves.
#[derive(Debug)]
pub struct Duplex<K, T> {
    sink: K,
    stream: T,
}

impl<K, T> Duplex<K, T> {
    /// Joins the two halves.
    pub fn new(sink: K, stream: T) -> Self {
        Self { sink, stream }
    }
}

impl<K: Sink<String> + Unpin, T: Unpin> Sink<String> for Duplex<K, T> {
    type Error = K::Error;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.sink).poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: String) -> Result<(), Self::Error> {
        Pin::new(&mut self.sink).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.sink).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.sink).poll_close(cx)
    }
}

impl<K: Unpin, T: Stream + Unpin> Stream for Duplex<K, T> {
    type Item = T::Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }
}

#[cfg(test)]
mod tests;
