//! Logging of a real `cra agent` process: `DEBUG`, `LOG_FORMAT=json`, no colours on a pipe,
//! and a closed stderr that neither crashes the agent nor keeps SIGTERM from stopping it.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cra_tests::registry::free_port;

use super::{cra, wait};

/// Starts `cra agent` on a free loopback port with `env`; stderr goes to `stderr`.
fn agent(cwd: &std::path::Path, env: &[(&str, &str)], stderr: Stdio) -> (Child, String) {
    let port = free_port().to_string();
    let mut command = cra(cwd, &["agent", "--bind", "127.0.0.1", "--port", &port]);
    command
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    (
        command.spawn().expect("agent starts"),
        format!("http://127.0.0.1:{port}"),
    )
}

/// Waits until the agent answers `/healthcheck`, then asks it `n` times more.
async fn poke(base: &str, n: usize) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http.get(format!("{base}/healthcheck")).send().await {
            Ok(r) if r.status().is_success() => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("the agent did not come up: {other:?}"),
        }
    }
    for _ in 0..n {
        let r = http
            .get(format!("{base}/no-such-route"))
            .send()
            .await
            .expect("agent answers");
        assert_eq!(r.status(), 404);
    }
}

fn sigterm(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Runs an agent with `env`, pokes it, stops it; returns its stderr.
async fn agent_log(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("stderr");
    let file = std::fs::File::create(&log).expect("log file");
    let (mut child, base) = agent(dir.path(), env, Stdio::from(file));
    poke(&base, 2).await;
    sigterm(&child);
    let status = wait(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status:?}");
    std::fs::read_to_string(&log).expect("log")
}

#[tokio::test]
async fn debug_selects_targets_as_the_stock_broker_does() {
    let quiet = agent_log(&[]).await;
    assert!(quiet.contains("agent listening"), "{quiet}");
    assert!(!quiet.contains("DEBUG"), "{quiet}");
    assert!(!quiet.contains('\x1b'), "no colours on a pipe: {quiet:?}");

    let all = agent_log(&[("DEBUG", "*")]).await;
    assert!(all.contains("DEBUG") && all.contains("status=404"), "{all}");

    let agent_only = agent_log(&[("DEBUG", "agent")]).await;
    assert!(
        agent_only.contains("DEBUG") && agent_only.contains("request"),
        "{agent_only}"
    );
    let elsewhere = agent_log(&[("DEBUG", "cra_broker")]).await;
    assert!(!elsewhere.contains("DEBUG"), "{elsewhere}");
}

#[tokio::test]
async fn log_format_json_writes_one_object_per_line() {
    let log = agent_log(&[("LOG_FORMAT", "json"), ("DEBUG", "*")]).await;
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("agent listening"))),
        "{log}"
    );
    assert!(lines.iter().any(|l| l["level"] == "DEBUG"), "{log}");
}

#[tokio::test]
async fn a_closed_stderr_neither_crashes_the_agent_nor_blocks_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = agent(dir.path(), &[("DEBUG", "*")], Stdio::piped());
    // Whoever read the agent's stderr went away: every log line now meets a broken pipe.
    drop(child.stderr.take());
    poke(&base, 20).await;
    assert!(child.try_wait().unwrap().is_none(), "the agent died");
    sigterm(&child);
    let status = wait(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{status:?}");
}
