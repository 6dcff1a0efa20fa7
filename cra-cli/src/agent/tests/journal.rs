//! Accepted scans survive a crash: the journal holds them from the 202 on, the next start runs
//! them again (or, past the attempt bound, reports them failed), and each reports once.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::{settings, Agent, FakeEngine, Receiver, PASSWORD};
use crate::agent::journal::{Journal, Record, SealedCredentials, MAX_ATTEMPTS};
use crate::agent::outbox::store::ResultRoute;

fn records(state: &Path) -> usize {
    std::fs::read_dir(state.join("journal"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "job")
        })
        .count()
}

fn results_of<'a>(calls: &'a [(String, Value)], job: &str) -> Vec<&'a Value> {
    calls
        .iter()
        .filter(|(path, body)| path == "/api/v2/import/result" && body["jobId"] == job)
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test]
async fn scans_accepted_before_a_crash_run_after_the_restart() {
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let mut s = settings(Some(&url));
    s.state_dir = Some(state.path().to_owned());
    s.max_active_operations = 1;

    // One scan runs (and never ends), two wait; then the agent dies.
    let stuck = FakeEngine::new(false);
    let first = Agent::start(s.clone(), stuck.clone()).await;
    for job in ["c-1", "c-2", "c-3"] {
        let body = format!(r#"{{"image":"team/app:1","jobId":"{job}","platform":"linux/arm64"}}"#);
        assert_eq!(first.post("/scan", &body).await.status().as_u16(), 202);
    }
    assert_eq!(records(state.path()), 3);
    first.crash().await;
    assert!(receiver.calls.lock().unwrap().is_empty());

    let second = Agent::start(s, FakeEngine::new(true)).await;
    let calls = receiver.wait_for(6).await;
    for job in ["c-1", "c-2", "c-3"] {
        let results = results_of(&calls, job);
        assert_eq!(results.len(), 1, "{job}: {calls:?}");
        assert_eq!(results[0]["status"], "success", "{}", results[0]);
    }
    assert_eq!(
        second.metric("cra_agent_scans_resumed_total").await,
        Some(3)
    );
    second.stop().await;
    assert_eq!(records(state.path()), 0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.calls.lock().unwrap().len(), 6);
    // The dead run's scan task stays blocked until the test ends, as if its process were gone.
    drop(stuck);
}

#[tokio::test]
async fn a_scan_that_keeps_killing_the_agent_ends_failed() {
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let journal = Journal::open(state.path()).unwrap();
    let record = |job: &str, attempts| Record {
        job_id: job.into(),
        route: ResultRoute::V2,
        image: "team/app:1".into(),
        platform: None,
        vulns: false,
        credentials: SealedCredentials::seal(
            &cra_core::RegistryCredentials::from_base64(&Agent::creds(
                PASSWORD,
                "registry.test:5000",
            ))
            .unwrap(),
        ),
        base: Url::parse(&url).unwrap(),
        accepted_ms: 1,
        attempts,
    };
    journal
        .record(record("killer", MAX_ATTEMPTS))
        .await
        .unwrap();
    journal
        .record(record("unlucky", MAX_ATTEMPTS - 1))
        .await
        .unwrap();
    // A record the crash cut in half is dropped, not fatal.
    std::fs::write(
        state.path().join("journal").join("2-00000000-half.job"),
        b"{\"jo",
    )
    .unwrap();

    let mut s = settings(Some(&url));
    s.state_dir = Some(state.path().to_owned());
    let agent = Agent::start(s, FakeEngine::new(true)).await;
    let calls = receiver.wait_for(4).await;
    let killer = results_of(&calls, "killer");
    assert_eq!(killer.len(), 1, "{calls:?}");
    assert_eq!(killer[0]["status"], "failed");
    assert_eq!(killer[0]["error"]["code"], "scan_interrupted");
    let unlucky = results_of(&calls, "unlucky");
    assert_eq!(unlucky.len(), 1, "{calls:?}");
    assert_eq!(unlucky[0]["status"], "success");
    agent.stop().await;
    assert_eq!(records(state.path()), 0);
}

#[tokio::test]
async fn a_finished_scan_leaves_no_record_and_a_refused_one_writes_none() {
    let state = tempfile::tempdir().unwrap();
    let receiver = Receiver::default();
    let url = receiver.spawn().await;
    let mut s = settings(Some(&url));
    s.state_dir = Some(state.path().to_owned());
    s.max_active_operations = 1;
    s.max_queued_operations = 1;
    let engine = FakeEngine::new(false);
    let agent = Agent::start(s, engine.clone()).await;
    assert_eq!(
        agent
            .post("/scan", r#"{"image":"team/app:1","jobId":"r-1"}"#)
            .await
            .status()
            .as_u16(),
        202
    );
    // r-1 runs, r-2 waits, r-3 finds the queue full.
    for _ in 0..100 {
        if engine.active.load(std::sync::atomic::Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        agent
            .post("/scan", r#"{"image":"team/app:1","jobId":"r-2"}"#)
            .await
            .status()
            .as_u16(),
        202
    );
    let full = agent
        .post("/scan", r#"{"image":"team/app:1","jobId":"r-3"}"#)
        .await;
    assert_eq!(full.status().as_u16(), 429);
    assert_eq!(records(state.path()), 2);
    engine.gate.add_permits(10);
    receiver.wait_for(4).await;
    for _ in 0..100 {
        if records(state.path()) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(records(state.path()), 0);
    agent.stop().await;
}
