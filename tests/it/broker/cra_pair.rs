//! `cra server` ↔ `cra client`, in-process.

use std::time::Duration;

use futures_util::StreamExt;

use cra_tests::broker::{
    client_settings, cra_client, cra_server, stub_agent, stub_upstream, wait_for_status, TOKEN,
};

use super::scenario::{self, http, Running};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_pair_relays_streams_filters_and_survives_a_server_restart() {
    tokio::time::timeout(Duration::from_secs(180), async {
        let mut running = Running::start().await;
        let (server_url, client_url) = (running.server_url.clone(), running.client_url.clone());
        wait_for_status(
            &format!("{client_url}/healthcheck"),
            200,
            Duration::from_secs(10),
        )
        .await;

        scenario::all(&running.pair()).await;

        // Health and system checks, secrets masked.
        let health: serde_json::Value = http()
            .get(format!("{client_url}/healthcheck"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["websocketConnectionOpen"], true);
        let system = http()
            .get(format!("{client_url}/systemcheck"))
            .send()
            .await
            .unwrap();
        assert_eq!(system.status(), 200);
        let system: serde_json::Value = system.json().await.unwrap();
        let credentials = scenario::expected_credentials();
        assert_eq!(
            system[0]["brokerClientValidationUrl"],
            "${CR_AGENT_URL}/systemcheck"
        );
        assert_eq!(
            system[0]["maskedCredentials"],
            format!(
                "{}***{}",
                &credentials[..3],
                &credentials[credentials.len() - 3..]
            )
        );
        assert!(!system.to_string().contains(&credentials));
        let seen = running.agent_log.matching("/systemcheck");
        assert_eq!(seen[0].headers["authorization"], credentials.as_str());

        // Unknown tokens and forged response streams get the stock answers.
        let response = http()
            .get(format!("{server_url}/broker/another-token/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["x-broker-failure"], "no-connection");
        let response = http()
            .post(format!("{server_url}/response-data/{TOKEN}/not-a-stream"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
        let status: serde_json::Value = http()
            .get(format!("{server_url}/connection-status/{TOKEN}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            status["clients"][0]["filters"]["private"][0]["path"],
            "/healthcheck"
        );

        // The server goes away and comes back on the same port; the client reconnects.
        running.restart_server().await;
        scenario::relayed_get(&running.pair()).await;
    })
    .await
    .expect("the scenario finishes in time");
}

/// The engine.io long-polling transport that stock clients start with: handshake, a posted
/// `identify`, a primus ping, and the server's packets on the next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cra_server_speaks_engine_io_polling() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (upstream, _) = stub_upstream().await;
        let server = cra_server("127.0.0.1:0", upstream.addr).await;
        let base = format!("http://{}/primus/{TOKEN}/?connection_role=primary&EIO=4&transport=polling", server.addr);
        let open = http().get(&base).send().await.unwrap().text().await.unwrap();
        let handshake: serde_json::Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
        assert_eq!(handshake["upgrades"], serde_json::json!(["websocket"]));
        assert_eq!(handshake["maxPayload"], 22_020_096);
        let sid = handshake["sid"].as_str().unwrap();
        let polled = format!("{base}&sid={sid}");

        let identify = format!(
            r#"4{{"type":0,"data":["identify",{{"token":"{}","metadata":{{"capabilities":["post-streams"],"version":"4.209.0","role":"primary"}}}}]}}"#,
            TOKEN.to_uppercase()
        );
        let payload = format!("{identify}\u{1e}4\"primus::ping::42\"");
        let ok = http().post(&polled).body(payload).send().await.unwrap().text().await.unwrap();
        assert_eq!(ok, "ok");
        let mut seen = String::new();
        while !(seen.contains("receive-post-streams") && seen.contains("primus::pong::42")) {
            seen.push_str(&http().get(&polled).send().await.unwrap().text().await.unwrap());
            seen.push('\u{1e}');
        }
        assert!(seen.split('\u{1e}').any(|p| p == r#"4{"type":0,"data":["identify",{"capabilities":["receive-post-streams"]}]}"#));
        // The token is case-insensitive: the upper-case identify registered the lower-case token.
        wait_for_status(&format!("http://{}/connection-status/{TOKEN}", server.addr), 200, Duration::from_secs(10)).await;
        let unknown = http().get(format!("{base}&sid=nope")).send().await.unwrap();
        assert_eq!(unknown.status(), 400);
    })
    .await
    .expect("the polling exchange finishes in time");
}

/// Several clients may serve one token; the newest takes requests, and when it goes the others
/// still serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clients_share_a_token() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let (agent, agent_log) = stub_agent().await;
        let (upstream, _) = stub_upstream().await;
        let server = cra_server("127.0.0.1:0", upstream.addr).await;
        let server_url = format!("http://{}", server.addr);
        let first = cra_client(client_settings(&server_url, agent.addr)).await;
        scenario::wait_connected(&server_url).await;
        let second = cra_client(client_settings(&server_url, agent.addr)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.server.client_count(TOKEN) < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the second client never identified"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status: serde_json::Value = http()
            .get(format!("{server_url}/connection-status/{TOKEN}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["clients"].as_array().unwrap().len(), 2);
        drop(second);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.server.client_count(TOKEN) > 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the dropped client is still listed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let response = http()
            .get(format!("{server_url}/broker/{TOKEN}/list"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(agent_log.matching("/list").len(), 1);
        drop(first);
    })
    .await
    .expect("the scenario finishes in time");
}

/// A caller that stops reading holds the agent back: nothing on the way buffers the response,
/// so the agent gets only as far ahead as the socket buffers allow. A caller that goes away ends
/// the agent's stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_caller_holds_the_agent_back_and_a_gone_one_stops_it() {
    /// Far more than the test ever reads: 4 GiB.
    const HUGE: u64 = 4 << 30;
    /// What the caller reads before it stalls.
    const READ: u64 = 1 << 20;
    /// How far ahead of the caller the agent may get: the socket buffers of three loopback
    /// connections and the relays' read buffers, with room to spare.
    const AHEAD: u64 = 64 << 20;
    tokio::time::timeout(Duration::from_secs(90), async {
        let running = Running::start().await;
        let (server_url, agent_log) = (&running.server_url, &running.agent_log);

        let response = http()
            .get(format!("{server_url}/broker/{TOKEN}/list/big/{HUGE}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(HUGE));
        let mut body = response.bytes_stream();
        let mut read = 0;
        while read < READ {
            read += body.next().await.unwrap().unwrap().len() as u64;
        }

        // The agent stalls: its count stops moving while the caller reads nothing.
        let mut last = agent_log.produced();
        let mut still = 0;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = agent_log.produced();
            still = if now == last { still + 1 } else { 0 };
            last = now;
            if still == 10 {
                break;
            }
        }
        assert_eq!(still, 10, "the agent never stalled ({last} bytes produced)");
        assert!(
            last - read < AHEAD,
            "the agent got {} bytes ahead of the caller",
            last - read
        );
        assert_eq!(agent_log.open_streams(), 1);

        // The caller goes away; the agent's stream ends with it.
        drop(body);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while agent_log.open_streams() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the agent is still streaming to a caller that has gone"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(agent_log.produced() < last + AHEAD);

        // The pair still serves.
        scenario::relayed_get(&running.pair()).await;
    })
    .await
    .expect("the scenario finishes in time");
}

/// A request body over the server's limit, or a callback body over the client's, is refused with
/// a 413 before anything is relayed; bodies within the limits go through whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_are_refused_before_they_are_relayed() {
    fn json_of(size: usize) -> String {
        format!("{{\"pad\":\"{}\"}}", "x".repeat(size))
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let running = Running::start().await;
        let (server_url, client_url) = (&running.server_url, &running.client_url);
        let (agent_log, upstream_log) = (&running.agent_log, &running.upstream_log);

        // The server's limit is 20 MiB, the client's local port's 10 MiB; both paths are allowed.
        let scan = format!("{server_url}/broker/{TOKEN}/scan");
        let callback = format!("{client_url}/api/v2/import/result");
        for (url, size) in [(&scan, 21 << 20), (&callback, 11 << 20)] {
            let response = http()
                .post(url)
                .header("content-type", "application/json")
                .body(json_of(size))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 413, "{url}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["message"], "request body too large");
        }
        assert!(agent_log.all().is_empty());
        assert!(upstream_log.all().is_empty());

        for url in [&scan, &callback] {
            let response = http()
                .post(url)
                .header("content-type", "application/json")
                .body(json_of(1 << 20))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{url}");
        }
        let seen = agent_log.matching("/scan");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].body, json_of(1 << 20).as_bytes());
        let seen = upstream_log.matching("/api/v2/import/result");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].body, json_of(1 << 20).as_bytes());
    })
    .await
    .expect("the scenario finishes in time");
}

/// An agent response cut mid-stream reaches the caller as a broken response, never as a shorter
/// one that looks complete, whether or not the agent announced a length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_at_the_agent_is_cut_for_the_caller() {
    const SIZE: u64 = 4 << 20;
    tokio::time::timeout(Duration::from_secs(60), async {
        let running = Running::start().await;
        let server_url = &running.server_url;

        for path in ["cut", "cut-chunked"] {
            let response = http()
                .get(format!("{server_url}/broker/{TOKEN}/list/{path}/{SIZE}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let mut body = response.bytes_stream();
            let mut read = 0;
            let ended = loop {
                match body.next().await {
                    Some(Ok(chunk)) => read += chunk.len() as u64,
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                }
            };
            assert!(
                ended.is_err(),
                "{path}: {read} bytes read as a whole response"
            );
            assert!(read <= SIZE, "{path}: {read} bytes");
        }

        // The pair still serves.
        scenario::relayed_get(&running.pair()).await;
    })
    .await
    .expect("the scenario finishes in time");
}

/// Neither the broker token nor the registry credentials appear in what either end logs at its
/// most verbose, through relayed requests with substitution, a denied one, a callback, forged
/// response streams and a reconnect. Dependencies log at `warn`, as `cra` sets them.
#[tokio::test]
async fn the_token_and_the_credentials_never_reach_the_logs() {
    // The default single-threaded runtime: every task logs on this thread, into the capture.
    let captured = cra_tests::logs::CapturedLogs::start_filtered("warn,cra_broker=trace");
    tokio::time::timeout(Duration::from_secs(120), async {
        let mut running = Running::start().await;
        scenario::all(&running.pair()).await;
        let server_url = &running.server_url;
        for url in [
            format!("{server_url}/response-data/{TOKEN}/not-a-stream"),
            format!("{server_url}/response-data/another-token/not-a-stream"),
        ] {
            let response = http().post(url).body("x").send().await.unwrap();
            assert_eq!(response.status(), 500);
        }
        running.restart_server().await;
        scenario::relayed_get(&running.pair()).await;
    })
    .await
    .expect("the scenario finishes in time");

    let text = captured.text();
    // The capture saw the ends at work: a denial and a reconnect were logged.
    assert!(text.contains("blocked"), "{text}");
    assert!(text.lines().count() > 10, "{text}");
    let credentials = scenario::expected_credentials();
    for secret in [TOKEN, credentials.trim_end(), "labpass"] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
}

/// A peer that sends a tunnel message over the server's limit (about 21 MiB) is cut off without
/// the server buffering it, and the server goes on serving the client that behaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_tunnel_message_ends_that_tunnel_only() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    tokio::time::timeout(Duration::from_secs(60), async {
        let running = Running::start().await;
        let url = format!(
            "{}/primus/{TOKEN}/?EIO=4&transport=websocket",
            running.server_url.replacen("http", "ws", 1)
        );
        let (mut hostile, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let open = hostile.next().await.unwrap().unwrap();
        assert!(open.to_text().unwrap().starts_with('0'), "{open:?}");
        // The send itself may fail once the server has hung up.
        let _ = hostile
            .send(Message::text(format!("4{}", "x".repeat(24 << 20))))
            .await;
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match hostile.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the server kept the oversize tunnel open");

        scenario::relayed_get(&running.pair()).await;
    })
    .await
    .expect("the scenario finishes in time");
}
