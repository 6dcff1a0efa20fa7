//! Scans: the queue, the callbacks, failures, timeouts and shutdown.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::{settings, Agent, FakeEngine, Receiver};
use crate::agent::callback::RetryPolicy;

#[tokio::test]
async fn scans_are_queued_limited_and_reported() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let engine = FakeEngine::new(false);
    let mut s = settings(Some(&url));
    s.max_active_operations = 2;
    s.max_queued_operations = 3;
    let agent = Agent::start(s, engine.clone()).await;

    let mut ids = Vec::new();
    for i in 0..5 {
        let resp = agent
            .post(
                "/scan",
                &json!({"image": "team/app:1", "orgId": "o", "jobId": format!("job-{i}")})
                    .to_string(),
            )
            .await;
        assert_eq!(resp.status().as_u16(), 202);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "queued");
        ids.push(body["jobId"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Two run, three wait: the sixth is refused with Retry-After.
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    let (_, text) = agent.get("/metrics", None).await;
    let text = text.as_str().unwrap().to_owned();
    assert!(text.contains("cra_agent_scans_running 2"), "{text}");
    assert!(text.contains("cra_agent_scans_queued 3"), "{text}");

    engine.gate.add_permits(100);
    let calls = receiver.wait_for(10).await;
    assert_eq!(engine.peak.load(Ordering::SeqCst), 2);
    for id in &ids {
        let mine: Vec<&(String, Value)> = calls.iter().filter(|(_, b)| b["jobId"] == *id).collect();
        assert_eq!(mine.len(), 2, "{id}: {mine:?}");
        assert_eq!(mine[0].0, "/api/v2/import/result");
        assert_eq!(mine[0].1["status"], "success");
        // Fields the agent did not validate are not echoed.
        assert!(mine[0].1.get("orgId").is_none(), "{:?}", mine[0].1);
        assert_eq!(mine[0].1["scanResults"][0]["identity"]["type"], "deb");
        assert_eq!(mine[1].0, "/api/v2/import/done");
        assert_eq!(mine[1].1["status"], "success");
    }
    agent.stop().await;
}

#[tokio::test]
async fn failures_go_through_the_callback_and_discover_uses_v1() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let agent = Agent::start(settings(Some(&url)), FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"big:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    let resp = agent.post("/discover", r#"{"image":"team/app:9"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    let calls = receiver.wait_for(4).await;
    let find = |path: &str| {
        calls
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .unwrap()
    };
    let big = find("/api/v2/import/result");
    assert_eq!(big["status"], "failed");
    assert_eq!(big["error"]["code"], "image_too_large");
    let v1 = find("/api/v1/recurring-tests/dependencies");
    assert_eq!(v1["status"], "failed");
    assert_eq!(v1["error"]["code"], "not_found");

    // Bad requests are refused at once.
    for (body, code) in [
        ("nope", "bad_request"),
        (r#"{"image":"UP:1"}"#, "bad_request"),
        (r#"{"image":"a","platform":"x"}"#, "bad_request"),
        (r#"{"image":"a","jobId":"a b"}"#, "bad_request"),
    ] {
        let resp = agent.post("/scan", body).await;
        assert_eq!(resp.status().as_u16(), 400, "{body}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{body}");
    }
    let resp = agent.post("/scan", &"x".repeat(200_000)).await;
    assert_eq!(resp.status().as_u16(), 413);
    agent.stop().await;
}

#[tokio::test]
async fn shutdown_reports_queued_and_running_scans() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let engine = FakeEngine::new(false);
    let agent = Agent::start(settings(Some(&url)), engine.clone()).await;
    for _ in 0..3 {
        let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
        assert_eq!(resp.status().as_u16(), 202);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    agent.stop().await;
    let calls = receiver.wait_for(6).await;
    let results: Vec<&Value> = calls
        .iter()
        .filter(|(p, _)| p == "/api/v2/import/result")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(results.len(), 3);
    for r in results {
        assert_eq!(r["status"], "failed");
        assert_eq!(r["error"]["code"], "shutting_down");
    }
}

#[tokio::test]
async fn scans_need_a_callback_target() {
    let agent = Agent::start(settings(None), FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "callback_not_configured");
    // The broker client names its URL: results go there.
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let resp = agent
        .post_with(
            "/scan",
            r#"{"image":"team/app:1"}"#,
            &[("x-broker-client-url", &url)],
        )
        .await;
    assert_eq!(resp.status().as_u16(), 202);
    let calls = receiver.wait_for(2).await;
    assert_eq!(calls[0].0, "/api/v2/import/result");
    assert_eq!(calls[1].0, "/api/v2/import/done");
    agent.stop().await;
}

#[tokio::test]
async fn callbacks_are_retried_until_the_receiver_is_back() {
    // Reserve a port, start the receiver on it only after the scan finished.
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let mut s = settings(Some(&format!("http://{addr}")));
    s.callback_retry = RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        request_timeout: Duration::from_secs(5),
    };
    let agent = Agent::start(s, FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let receiver = Receiver::default();
    let calls = receiver.calls.clone();
    let app = Router::new().route(
        "/{*path}",
        post(move |uri: axum::http::Uri, body: String| {
            let calls = calls.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                calls.lock().unwrap().push((uri.path().to_owned(), v));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].0, "/api/v2/import/result");
    assert_eq!(got[0].1["status"], "success");
    assert_eq!(got[1].0, "/api/v2/import/done");
    let (_, text) = agent.get("/metrics", None).await;
    let text = text.as_str().unwrap().to_owned();
    let retries: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cra_agent_callback_retries_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(retries >= 1, "{text}");
    agent.stop().await;
}

#[tokio::test]
async fn scans_that_take_too_long_are_cut_and_reported() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let mut s = settings(Some(&url));
    s.scan_timeout = Duration::from_millis(100);
    // The engine never opens its gate: the scan would hang forever.
    let agent = Agent::start(s, FakeEngine::new(false)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    let calls = receiver.wait_for(2).await;
    assert_eq!(calls[0].1["status"], "failed");
    assert_eq!(calls[0].1["error"]["code"], "scan_timeout");
    agent.stop().await;
}
