//! The agent's loopback soak, with `cra agent` as a process of its own in front of the real CNCF
//! registry: 200 scans, the callback receiver down for the first half, the agent restarted once
//! in the middle. Every job's result arrives exactly once, delivery holds no scan slot, the
//! agent's peak RSS stays under 64 MiB, and the state directory ends empty.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use cra_core::{RegistryCredentials, RegistryKind, Secret};
use cra_tests::agent::debian_layer;
use cra_tests::broker::{free_port, stub_upstream_on, wait_for_status, Log};
use cra_tests::process::{cra_binary, metric, CraProcess};
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use serde_json::Value;

const USER: &str = "soak";
const PASS: &str = "soak-pa55";
const HALF: usize = 100;
/// The agent's peak resident set must stay under this (the bound).
const MAX_PEAK_RSS_KIB: u64 = 64 * 1024;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// `cra agent` on `port`, its callbacks going to `receiver`, its state in `state` (and its
/// analysis cache, which stays by design, beside it).
async fn start_agent(bin: &Path, state: &Path, port: u16, receiver: SocketAddr) -> CraProcess {
    let cache = state.with_extension("cache");
    let agent = CraProcess::start(
        bin,
        "agent",
        &[
            ("SNYK_PORT", port.to_string()),
            ("SNYK_BIND_ADDRESS", "127.0.0.1".into()),
            ("CRA_STATE_DIR", state.display().to_string()),
            ("CRA_CACHE_DIR", cache.display().to_string()),
            ("BROKER_CLIENT_URL", format!("http://{receiver}")),
            ("MAX_ACTIVE_OPERATIONS", "2".into()),
            ("MAX_QUEUED_OPERATIONS", (2 * HALF).to_string()),
            ("CALLBACK_INITIAL_BACKOFF_MS", "100".into()),
            ("CALLBACK_MAX_BACKOFF_MS", "1000".into()),
            ("SHUTDOWN_GRACE_SECONDS", "10".into()),
            ("LOG_LEVEL", "warn".into()),
        ],
    );
    wait_for_status(
        &format!("http://127.0.0.1:{port}/healthcheck"),
        200,
        Duration::from_secs(20),
    )
    .await;
    agent
}

/// A sample of the agent's `/metrics`.
async fn sample(port: u16, series: &str) -> Option<u64> {
    metric(SocketAddr::from(([127, 0, 0, 1], port)), series).await
}

/// Waits (bounded) until `series` reads `want`.
async fn wait_metric(port: u16, series: &str, want: u64, agent: &CraProcess) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = sample(port, series).await;
        if now == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {now:?}, not {want}\n{}",
            agent.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asks for the scans `range` directly, as the broker client forwards them.
async fn submit(port: u16, credentials: &str, range: std::ops::Range<usize>) {
    let client = http();
    for i in range {
        let response = client
            .post(format!("http://127.0.0.1:{port}/scan"))
            .header("authorization", credentials)
            .json(&serde_json::json!({"image": "team/app:1", "jobId": format!("soak-{i:03}")}))
            .send()
            .await
            .expect("the agent answers");
        assert_eq!(response.status().as_u16(), 202, "soak-{i:03}");
    }
}

/// The callbacks by job id: the paths posted, in order.
fn callbacks(log: &Log) -> BTreeMap<String, Vec<(String, Value)>> {
    let mut by_job: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for seen in log.all() {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        let job = body["jobId"].as_str().unwrap_or_default().to_owned();
        by_job.entry(job).or_default().push((seen.uri, body));
    }
    by_job
}

/// The files under `dir`, at any depth.
fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// Stops the agent as Kubernetes does and returns its peak RSS in KiB, read just before.
fn stop(agent: &mut CraProcess) -> u64 {
    let peak = agent.peak_rss_kib().expect("the agent runs");
    agent.terminate();
    let status = agent.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "the agent did not stop cleanly: {status:?}\n{}",
        agent.output()
    );
    peak
}

#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_200_scans_across_an_outage_and_a_restart() {
    if !registry_available() {
        return;
    }
    let Some(bin) = cra_binary() else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(300), async {
        let started = Instant::now();
        let scratch = tempfile::tempdir().expect("scratch dir");
        let state = scratch.path().join("state");
        let registry = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
        let layer = debian_layer(&[("bash", "5.2.15-2+b2"), ("zlib1g", "1:1.2.13.dfsg-1")]);
        registry
            .push_small_image("team/app", "1", "amd64", &layer)
            .await;
        let credentials = RegistryCredentials::Basic {
            kind: RegistryKind::Nexus,
            registry_base: registry.base_url(),
            username: USER.into(),
            password: Secret::new(PASS),
        }
        .to_base64();
        // The receiver's address is fixed, but nothing listens there for the first half.
        let receiver_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let port = free_port();

        let mut first = start_agent(&bin, state.as_path(), port, receiver_addr).await;
        submit(port, &credentials, 0..HALF).await;
        // Every scan of the first half finishes while nobody takes the results: delivery holds
        // no slot.
        let succeeded = "cra_agent_scans_total{outcome=\"succeeded\"}";
        wait_metric(port, succeeded, HALF as u64, &first).await;
        wait_metric(port, "cra_agent_callbacks_pending", HALF as u64, &first).await;
        assert_eq!(sample(port, "cra_agent_scans_running").await, Some(0));
        assert_eq!(sample(port, "cra_agent_scans_queued").await, Some(0));
        let first_peak = stop(&mut first);
        let outage = started.elapsed();

        // The receiver comes up, the agent restarts on the same state directory.
        let listener = tokio::net::TcpListener::bind(receiver_addr)
            .await
            .expect("bind the receiver");
        let (_receiver, log) = stub_upstream_on(listener);
        let mut second = start_agent(&bin, state.as_path(), port, receiver_addr).await;
        submit(port, &credentials, HALF..2 * HALF).await;
        let delivered = "cra_agent_callbacks_total{result=\"delivered\"}";
        wait_metric(port, delivered, 4 * HALF as u64, &second).await;
        wait_metric(port, "cra_agent_callbacks_pending", 0, &second).await;
        let second_peak = stop(&mut second);

        let by_job = callbacks(&log);
        assert_eq!(by_job.len(), 2 * HALF, "{:?}", by_job.keys());
        for i in 0..2 * HALF {
            let job = format!("soak-{i:03}");
            let got = &by_job[&job];
            let paths: Vec<&str> = got.iter().map(|(path, _)| path.as_str()).collect();
            assert_eq!(
                paths,
                ["/api/v2/import/result", "/api/v2/import/done"],
                "{job}"
            );
            assert_eq!(got[0].1["status"], "success", "{job}: {}", got[0].1);
            assert_eq!(got[1].1["resultDelivered"], true, "{job}");
        }
        let left = files(state.as_path());
        assert!(left.is_empty(), "the state directory holds {left:?}");
        report(&format!(
            "soak: {} scans, {} callbacks, each once; first half (receiver down) {:.1}s, \
             total {:.1}s; agent peak RSS {first_peak} KiB before the restart, {second_peak} KiB after",
            2 * HALF,
            log.all().len(),
            outage.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ));
        for (run, peak) in [("first", first_peak), ("second", second_peak)] {
            assert!(
                peak < MAX_PEAK_RSS_KIB,
                "the {run} agent peaked at {peak} KiB"
            );
        }
    })
    .await
    .expect("the soak finishes in time");
}
