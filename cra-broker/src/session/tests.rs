//! Sessions driven through channels.

use std::convert::Infallible;

use futures_channel::mpsc as fmpsc;
use futures_util::{SinkExt, StreamExt};

use super::*;
use crate::protocol::event::{Identify, Notification};
use crate::protocol::message::{ClientIdentify, Metadata, RequestEvent, ServerIdentify};

fn request(url: &str) -> Event {
    Event::Request(Box::new(RequestEvent {
        url: url.into(),
        method: "GET".into(),
        ..RequestEvent::default()
    }))
}

fn response(status: u16) -> ResponseObject {
    ResponseObject {
        status,
        ..ResponseObject::default()
    }
}

struct Peer {
    to_session: fmpsc::UnboundedSender<Result<String, Infallible>>,
    from_session: fmpsc::UnboundedReceiver<String>,
}

impl Peer {
    async fn send(&mut self, text: &str) {
        self.to_session.send(Ok(text.to_owned())).await.unwrap();
    }
    async fn recv(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(5), self.from_session.next())
            .await
            .expect("a frame in time")
            .expect("session still open")
    }
}

fn start(
    role: Role,
    timing: Timing,
) -> (
    Peer,
    Handle,
    mpsc::Receiver<Incoming>,
    tokio::task::JoinHandle<End>,
) {
    let (to_session, session_in) = fmpsc::unbounded();
    let (session_out, from_session) = fmpsc::unbounded::<String>();
    let io = Duplex::new(session_out, session_in);
    let (handle, commands) = channel();
    let (events_tx, events_rx) = mpsc::channel(16);
    let task = tokio::spawn(run(io, role, timing, commands, events_tx));
    (
        Peer {
            to_session,
            from_session,
        },
        handle,
        events_rx,
        task,
    )
}

const SLOW: Timing = Timing {
    ping_interval: Duration::from_secs(3600),
    pong_timeout: Duration::from_secs(3600),
};

#[tokio::test]
async fn client_answers_engine_io_pings_and_delivers_events() {
    let (mut peer, handle, mut events, _task) = start(Role::Client, SLOW);
    peer.send(
        r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1}"#,
    )
    .await;
    peer.send("2").await;
    assert_eq!(peer.recv().await, "3");
    peer.send(r#"4{"type":0,"data":["identify",{"capabilities":["receive-post-streams"]}]}"#)
        .await;
    let event = events.recv().await.unwrap();
    assert_eq!(
        event.event,
        Event::Identify(Identify::Server(ServerIdentify {
            capabilities: vec!["receive-post-streams".into()]
        }))
    );
    assert_eq!(event.ack, None);
    let identify = ClientIdentify {
        token: "t".into(),
        metadata: Metadata::default(),
    };
    handle
        .emit(Event::Identify(Identify::Client(identify)))
        .await
        .unwrap();
    assert_eq!(
        peer.recv().await,
        r#"4{"type":0,"data":["identify",{"token":"t","metadata":{"capabilities":[],"preflightChecks":[]}}]}"#
    );
}

#[tokio::test]
async fn acks_flow_both_ways_with_increasing_ids() {
    let (mut peer, handle, mut events, _task) = start(Role::Client, SLOW);
    let h = handle.clone();
    let first = tokio::spawn(async move { h.request(request("/a")).await });
    assert_eq!(
        peer.recv().await,
        r#"4{"type":0,"data":["request",{"url":"/a","method":"GET","headers":{},"streamingID":""}],"id":1}"#
    );
    let h = handle.clone();
    let second = tokio::spawn(async move { h.request(request("/b")).await });
    assert_eq!(
        peer.recv().await,
        r#"4{"type":0,"data":["request",{"url":"/b","method":"GET","headers":{},"streamingID":""}],"id":2}"#
    );
    peer.send(r#"4{"id":2,"type":1,"data":[{"status":201}]}"#)
        .await;
    peer.send(r#"4{"id":1,"type":1,"data":[{"status":200}]}"#)
        .await;
    assert_eq!(first.await.unwrap().unwrap(), Some(response(200)));
    assert_eq!(second.await.unwrap().unwrap(), Some(response(201)));

    peer.send(r#"4{"type":0,"data":["request",{"url":"/x","method":"GET"}],"id":7}"#)
        .await;
    let event = events.recv().await.unwrap();
    assert_eq!(event.ack, Some(7));
    assert_eq!(event.event, request("/x"));
    handle.ack(7, response(401)).await.unwrap();
    assert_eq!(
        peer.recv().await,
        r#"4{"id":7,"type":1,"data":[{"status":401,"headers":{},"body":null}]}"#
    );

    // An acknowledgement that is not a response object still ends the wait.
    let h = handle.clone();
    let third = tokio::spawn(async move { h.request(request("/c")).await });
    assert!(peer.recv().await.ends_with(r#""id":3}"#));
    peer.send(r#"4{"id":3,"type":1,"data":["nonsense"]}"#).await;
    assert_eq!(third.await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn server_answers_primus_pings_and_sends_engine_io_pings() {
    let timing = Timing {
        ping_interval: Duration::from_millis(50),
        pong_timeout: Duration::from_secs(5),
    };
    let (mut peer, _handle, _events, _task) = start(Role::Server, timing);
    peer.send("4\"primus::ping::123\"").await;
    assert_eq!(peer.recv().await, "4\"primus::pong::123\"");
    assert_eq!(peer.recv().await, "2");
    peer.send("3").await;
}

#[tokio::test]
async fn unanswered_pings_end_the_session() {
    let timing = Timing {
        ping_interval: Duration::from_millis(30),
        pong_timeout: Duration::from_millis(60),
    };
    let (mut peer, _handle, _events, task) = start(Role::Client, timing);
    assert!(peer.recv().await.starts_with("4\"primus::ping::"));
    let end = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end, End::Timeout);
}

#[tokio::test]
async fn answered_pings_keep_the_session() {
    let timing = Timing {
        ping_interval: Duration::from_millis(30),
        pong_timeout: Duration::from_millis(100),
    };
    let (mut peer, handle, _events, task) = start(Role::Client, timing);
    for _ in 0..6 {
        let ping = peer.recv().await;
        let stamp = ping
            .trim_start_matches("4\"primus::ping::")
            .trim_end_matches('"')
            .to_owned();
        peer.send(&format!("4\"primus::pong::{stamp}\"")).await;
    }
    assert!(!task.is_finished());
    handle.close().await;
    assert_eq!(task.await.unwrap(), End::Closed);
}

#[tokio::test]
async fn server_close_and_transport_end() {
    let (mut peer, handle, _events, task) = start(Role::Client, SLOW);
    peer.send("4\"primus::server::close\"").await;
    assert_eq!(task.await.unwrap(), End::ServerClose);
    assert!(handle.request(request("/x")).await.is_err());

    let (peer, _handle, _events, task) = start(Role::Client, SLOW);
    drop(peer);
    assert_eq!(task.await.unwrap(), End::Closed);
}

#[tokio::test]
async fn garbage_is_ignored() {
    let (mut peer, _handle, mut events, _task) = start(Role::Server, SLOW);
    for junk in ["", "9", "4{", "4{\"type\":5,\"data\":[]}", "4[1,2]"] {
        peer.send(junk).await;
    }
    peer.send(r#"4{"type":0,"data":["notification",{"message":"hi"}]}"#)
        .await;
    peer.send(r#"4{"type":0,"data":["identify","tok"]}"#).await;
    assert_eq!(
        events.recv().await.unwrap().event,
        Event::Notification(Notification {
            level: None,
            message: Some("hi".into())
        })
    );
    assert_eq!(
        events.recv().await.unwrap().event,
        Event::Identify(Identify::Token("tok".into()))
    );
}
