//! Durable delivery: callbacks wait in the state directory, hold no scan slot, survive a
//! restart, expire, and one job id runs once at a time.

use std::time::Duration;

use serde_json::Value;

use super::{settings, Agent, FakeEngine, Receiver};

fn dead_port() -> std::net::SocketAddr {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    addr
}

fn entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "cb")
        })
        .count()
}

async fn wait_metric(agent: &Agent, series: &str, want: u64) {
    for _ in 0..500 {
        if agent.metric(series).await == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{series} never reached {want}");
}

#[tokio::test]
async fn delivery_holds_no_scan_slot_and_survives_a_restart() {
    let state = tempfile::tempdir().unwrap();
    let addr = dead_port();
    let mut s = settings(Some(&format!("http://{addr}")));
    s.state_dir = Some(state.path().to_owned());
    s.max_active_operations = 1;
    let agent = Agent::start(s.clone(), FakeEngine::new(true)).await;
    for i in 0..5 {
        let resp = agent
            .post(
                "/scan",
                &format!(r#"{{"image":"team/app:1","jobId":"job-{i}"}}"#),
            )
            .await;
        assert_eq!(resp.status().as_u16(), 202);
    }
    // With the receiver down, every scan still finishes: delivery holds no slot.
    wait_metric(&agent, "cra_agent_scans_total{outcome=\"succeeded\"}", 5).await;
    wait_metric(&agent, "cra_agent_callbacks_pending", 5).await;
    agent.stop().await;
    assert_eq!(entries(state.path()), 5);

    // The next run finds them and delivers each once, result before done.
    let receiver = Receiver::default();
    receiver.spawn_on(addr).await;
    let agent = Agent::start(s, FakeEngine::new(true)).await;
    let calls = receiver.wait_for(10).await;
    for i in 0..5 {
        let id = format!("job-{i}");
        let mine: Vec<&(String, Value)> = calls.iter().filter(|(_, b)| b["jobId"] == *id).collect();
        assert_eq!(mine.len(), 2, "{id}: {mine:?}");
        assert_eq!(mine[0].0, "/api/v2/import/result");
        assert_eq!(mine[1].0, "/api/v2/import/done");
        assert_eq!(mine[1].1["resultDelivered"], true);
    }
    wait_metric(&agent, "cra_agent_callbacks_pending", 0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.calls.lock().unwrap().len(), 10);
    agent.stop().await;
    assert_eq!(entries(state.path()), 0);
}

#[tokio::test]
async fn callbacks_older_than_the_bound_are_dropped_and_counted() {
    let state = tempfile::tempdir().unwrap();
    let mut s = settings(Some(&format!("http://{}", dead_port())));
    s.state_dir = Some(state.path().to_owned());
    s.outbox_max_age = Duration::from_millis(100);
    let agent = Agent::start(s, FakeEngine::new(true)).await;
    let resp = agent.post("/scan", r#"{"image":"team/app:1"}"#).await;
    assert_eq!(resp.status().as_u16(), 202);
    wait_metric(&agent, "cra_agent_callbacks_expired_total", 1).await;
    wait_metric(&agent, "cra_agent_callbacks_pending", 0).await;
    assert_eq!(entries(state.path()), 0);
    agent.stop().await;
}

#[tokio::test]
async fn one_job_id_runs_once_at_a_time() {
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let engine = FakeEngine::new(false);
    let agent = Agent::start(settings(Some(&url)), engine.clone()).await;
    let body = r#"{"image":"team/app:1","jobId":"dup"}"#;
    assert_eq!(agent.post("/scan", body).await.status().as_u16(), 202);
    let resp = agent.post("/discover", body).await;
    assert_eq!(resp.status().as_u16(), 409);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "job_conflict");
    engine.gate.add_permits(100);
    receiver.wait_for(2).await;
    // Once the first scan has finished, the id is free again.
    let mut status = 0;
    for _ in 0..100 {
        status = agent.post("/scan", body).await.status().as_u16();
        if status == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, 202);
    receiver.wait_for(4).await;
    agent.stop().await;
}

/// The resident set of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// 200 scans: the receiver is down for the first 100 and the agent restarts in the middle.
#[tokio::test]
async fn soak_every_result_arrives_once_across_an_outage_and_a_restart() {
    const HALF: usize = 100;
    let state = tempfile::tempdir().unwrap();
    let addr = dead_port();
    let mut s = settings(Some(&format!("http://{addr}")));
    s.state_dir = Some(state.path().to_owned());
    s.max_active_operations = 2;
    s.max_queued_operations = 2 * HALF;
    s.callback_retry.max_backoff = Duration::from_millis(100);
    let submit = |agent: &Agent, from: usize| {
        let agent_base = agent.base.clone();
        let http = agent.http.clone();
        async move {
            for i in from..from + HALF {
                let resp = http
                    .post(format!("{agent_base}/scan"))
                    .header(
                        "authorization",
                        Agent::creds(super::PASSWORD, "registry.test:5000"),
                    )
                    .body(format!(r#"{{"image":"team/app:1","jobId":"soak-{i}"}}"#))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 202, "soak-{i}");
            }
        }
    };
    let first = Agent::start(s.clone(), FakeEngine::new(true)).await;
    submit(&first, 0).await;
    // Every scan of the first half finishes while nobody takes the results.
    wait_metric(
        &first,
        "cra_agent_scans_total{outcome=\"succeeded\"}",
        HALF as u64,
    )
    .await;
    wait_metric(&first, "cra_agent_callbacks_pending", HALF as u64).await;
    first.stop().await;

    let receiver = Receiver::default();
    receiver.spawn_on(addr).await;
    let second = Agent::start(s, FakeEngine::new(true)).await;
    submit(&second, HALF).await;
    let calls = receiver.wait_for(4 * HALF).await;
    wait_metric(&second, "cra_agent_callbacks_pending", 0).await;
    let rss = rss_kib();
    #[allow(clippy::print_stderr)]
    {
        eprintln!("soak: {} callbacks, RSS at the end {rss} KiB", calls.len());
    }
    second.stop().await;
    let calls = receiver.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 4 * HALF);
    for i in 0..2 * HALF {
        let id = format!("soak-{i}");
        let paths: Vec<&str> = calls
            .iter()
            .filter(|(_, b)| b["jobId"] == *id)
            .map(|(p, _)| p.as_str())
            .collect();
        assert_eq!(
            paths,
            ["/api/v2/import/result", "/api/v2/import/done"],
            "{id}"
        );
    }
    assert_eq!(entries(state.path()), 0);
    // Other tests share this process: its RSS is reported above, not asserted (memory budgets
    // live in benches/agent_rss.sh).
}
