//! Relay throughput and added latency of the cra server + cra client pair on loopback.
//!
//! A stub agent streams the response; the cra client and server run in-process.
//! `relay/100MB` is one 100 MB response through `/broker/<token>/…`;
//! `latency/direct` and `latency/relayed` are one small GET straight to the agent and through
//! the pair, so their difference is the latency the relay adds; `latency/relayed-ack` is the
//! same GET answered on the websocket (`x-broker-ws-response`) instead of by a response stream.
//! `benches/relay_compare.sh` measures the stock pair side by side with the same requests.

// criterion's macros generate items without documentation.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use cra_broker::client::{BrokerClient, Reconnect, Settings};
use cra_broker::server::{BrokerServer, ServerConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::StreamExt;

const TOKEN: &str = "0b1d2c3e-aaaa-4bbb-8ccc-000000000001";
const SIZE: u64 = 100 * 1024 * 1024;
const CHUNK: usize = 256 * 1024;

async fn big(Path(size): Path<u64>) -> Response {
    let chunk = Bytes::from(vec![0x5a; CHUNK]);
    let chunks = futures_util::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            (sent < size).then(|| {
                let len = (size - sent).min(CHUNK as u64) as usize;
                (
                    Ok::<_, std::io::Error>(chunk.slice(..len)),
                    sent + len as u64,
                )
            })
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    if let Ok(length) = size.to_string().parse() {
        response.headers_mut().insert("content-length", length);
    }
    response
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// Starts the agent, the server and the client; returns the agent and server addresses.
async fn start() -> (SocketAddr, SocketAddr) {
    let (agent_listener, agent) = bind().await;
    let router = Router::new()
        .route("/list/big/{size}", get(big))
        .route("/healthcheck", get(|| async { "{\"ok\":true}" }));
    tokio::spawn(async move { axum::serve(agent_listener, router).await });

    let (server_listener, server) = bind().await;
    let broker = BrokerServer::new(ServerConfig::default()).expect("server");
    tokio::spawn(broker.serve(server_listener));

    let settings = Settings {
        broker_token: Some(TOKEN.into()),
        broker_server_url: Some(format!("http://{server}")),
        cr_agent_url: Some(format!("http://{agent}")),
        // The registry credentials are opaque to the relay.
        cr_credentials: Some("e30K".into()),
        ..Settings::default()
    };
    let mut config = settings
        .into_config_with(|_| None)
        .expect("client settings");
    config.reconnect = Reconnect {
        min: Duration::from_millis(50),
        max: Duration::from_millis(500),
    };
    let (client_listener, _) = bind().await;
    tokio::spawn(
        BrokerClient::new(config)
            .expect("client")
            .run(client_listener),
    );

    let http = reqwest::Client::new();
    let status = format!("http://{server}/connection-status/{TOKEN}");
    for _ in 0..200 {
        if http
            .get(&status)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return (agent, server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the client never connected");
}

async fn drain(http: &reqwest::Client, url: &str) -> u64 {
    drain_request(http.get(url), url).await
}

async fn drain_request(request: reqwest::RequestBuilder, url: &str) -> u64 {
    let response = request.send().await.expect("request");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    let mut stream = response.bytes_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("body chunk").len() as u64;
    }
    total
}

fn relay(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (agent, server) = runtime.block_on(start());
    let http = reqwest::Client::new();

    let mut group = c.benchmark_group("relay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(SIZE));
    let url = format!("http://{server}/broker/{TOKEN}/list/big/{SIZE}");
    group.bench_function("100MB", |b| {
        b.to_async(&runtime)
            .iter(|| async { assert_eq!(drain(&http, &url).await, SIZE) });
    });
    group.finish();

    let mut group = c.benchmark_group("latency");
    group.sample_size(200);
    let direct = format!("http://{agent}/healthcheck");
    let relayed = format!("http://{server}/broker/{TOKEN}/healthcheck");
    group.bench_function("direct", |b| {
        b.to_async(&runtime).iter(|| drain(&http, &direct))
    });
    group.bench_function("relayed", |b| {
        b.to_async(&runtime).iter(|| drain(&http, &relayed))
    });
    group.bench_function("relayed-ack", |b| {
        b.to_async(&runtime).iter(|| {
            let request = http.get(&relayed).header("x-broker-ws-response", "true");
            drain_request(request, &relayed)
        })
    });
    group.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
