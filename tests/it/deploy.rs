//! The deployment as documented, with real processes on loopback: `cra server`, `cra client` and
//! `cra agent`, each a process of its own configured by environment only, in front of the real
//! CNCF registry; a stub platform behind the server records the result callbacks.
//!
//! The agent gets `SNYK_PORT` only (plus, because tests listen on loopback only, its bind address
//! and a scratch state directory): its callback base comes from the client with each request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cra_core::{RegistryCredentials, RegistryKind, Secret};
use cra_tests::agent::debian_layer;
use cra_tests::broker::{free_port, server_accept, stub_upstream, wait_for_status, Log, TOKEN};
use cra_tests::image::{tar, Entry};
use cra_tests::process::{cra_binary, metric, CraProcess, RoundRobin};
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use serde_json::{json, Value};

const USER: &str = "robot";
const PASS: &str = "pa55-w0rd-deploy";
/// A registry type whose adapter speaks the plain distribution API.
const CR_TYPE: &str = "nexus-cr";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// The binary and the registry, or `None` (with a message) when either is missing.
fn prerequisites() -> Option<PathBuf> {
    if !registry_available() {
        return None;
    }
    cra_binary()
}

/// `cra server` on a free loopback port, routing client callbacks to `upstream`.
async fn start_server(bin: &Path, scratch: &Path, upstream: SocketAddr) -> (CraProcess, String) {
    let accept = scratch.join("server-accept.json");
    std::fs::write(&accept, server_accept(upstream)).expect("accept file");
    let port = free_port();
    let server = CraProcess::start(
        bin,
        "server",
        &[
            ("PORT", port.to_string()),
            ("BROKER_SERVER_BIND_ADDRESS", "127.0.0.1".into()),
            ("ACCEPT", accept.display().to_string()),
        ],
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_for_status(&format!("{url}/healthcheck"), 200, Duration::from_secs(20)).await;
    (server, url)
}

/// `cra agent` as documented: its port only.
async fn start_agent(
    bin: &Path,
    state: &Path,
    extra: &[(&str, String)],
) -> (CraProcess, SocketAddr) {
    start_agent_on(bin, state, free_port(), extra).await
}

/// `cra agent` on `port`, as a container restarted in its pod comes back on the same address.
async fn start_agent_on(
    bin: &Path,
    state: &Path,
    port: u16,
    extra: &[(&str, String)],
) -> (CraProcess, SocketAddr) {
    let mut env = vec![
        ("SNYK_PORT", port.to_string()),
        ("SNYK_BIND_ADDRESS", "127.0.0.1".into()),
        ("CRA_STATE_DIR", state.display().to_string()),
    ];
    env.extend(extra.iter().cloned());
    let agent = CraProcess::start(bin, "agent", &env);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_status(
        &format!("http://{addr}/healthcheck"),
        200,
        Duration::from_secs(20),
    )
    .await;
    (agent, addr)
}

/// `cra client` with the documented variables.
async fn start_client(
    bin: &Path,
    server_url: &str,
    agent_url: &str,
    registry: &RegistryServer,
) -> (CraProcess, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let client = CraProcess::start(
        bin,
        "client",
        &[
            ("BROKER_TOKEN", TOKEN.into()),
            ("BROKER_SERVER_URL", server_url.into()),
            ("BROKER_CLIENT_URL", url.clone()),
            ("CR_AGENT_URL", agent_url.into()),
            ("CR_TYPE", CR_TYPE.into()),
            ("CR_BASE", registry.base_url()),
            ("CR_USERNAME", USER.into()),
            ("CR_PASSWORD", PASS.into()),
            ("PORT", port.to_string()),
            ("BROKER_CLIENT_BIND_ADDRESS", "127.0.0.1".into()),
        ],
    );
    wait_for_status(&format!("{url}/healthcheck"), 200, Duration::from_secs(20)).await;
    (client, url)
}

/// Waits until the server has a client connection for the token.
async fn wait_connected(server_url: &str) {
    wait_for_status(
        &format!("{server_url}/connection-status/{TOKEN}"),
        200,
        Duration::from_secs(20),
    )
    .await;
}

/// Asks for a scan through the server, as the platform does (the client fills in the
/// credentials); returns the status and body.
async fn request_scan(server_url: &str, job: &str) -> (u16, String) {
    let response = http()
        .post(format!("{server_url}/broker/{TOKEN}/scan"))
        .header("authorization", "${CR_CREDENTIALS}")
        .header("x-broker-var-sub", "authorization")
        .json(&json!({"image": "team/app:1", "jobId": job, "orgId": "org-deploy"}))
        .send()
        .await;
    match response {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// The result callbacks the platform received, by job id.
fn results(upstream: &Log) -> BTreeMap<String, Vec<Value>> {
    let mut by_job: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for seen in upstream.matching("/api/v2/import/result") {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        let job = body["jobId"].as_str().unwrap_or_default().to_owned();
        by_job.entry(job).or_default().push(body);
    }
    by_job
}

/// Package names in a result's dep-graph.
fn graph_packages(result: &Value) -> Vec<String> {
    let facts = result["scanResults"][0]["facts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    facts
        .iter()
        .find(|f| f["type"] == "depGraph")
        .and_then(|f| f["data"]["pkgs"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["info"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// The logs of every process, for failure messages.
fn outputs(processes: &[&CraProcess]) -> String {
    processes
        .iter()
        .map(|p| format!("--- cra {}\n{}", p.role, p.output()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_setup_scans_through_the_server() {
    let Some(bin) = prerequisites() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("scratch dir");
    let registry = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2"), ("zlib1g", "1:1.2.13.dfsg-1")]);
    registry
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let (platform, platform_log) = stub_upstream().await;

    let (server, server_url) = start_server(&bin, scratch.path(), platform.addr).await;
    let (agent, agent_addr) = start_agent(&bin, scratch.path(), &[]).await;
    let (client, client_url) = start_client(
        &bin,
        &server_url,
        &format!("http://{agent_addr}"),
        &registry,
    )
    .await;
    let all = [&server, &client, &agent];
    wait_connected(&server_url).await;

    let (status, body) = request_scan(&server_url, "deploy-1").await;
    assert_eq!(status, 202, "{body}\n{}", outputs(&all));

    let deadline = Instant::now() + Duration::from_secs(60);
    while platform_log.matching("/api/v2/import/done").is_empty() {
        assert!(
            Instant::now() < deadline,
            "no result reached the platform\n{}",
            outputs(&all)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let results = results(&platform_log);
    let result = &results["deploy-1"];
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0]["status"], "success", "{}", result[0]);
    // Fields of the request the agent does not know are not echoed (they could carry a secret).
    assert!(result[0].get("orgId").is_none(), "{}", result[0]);
    let packages = graph_packages(&result[0]);
    assert!(packages.iter().any(|p| p == "bash"), "{packages:?}");
    let done: Value = serde_json::from_slice(&platform_log.matching("/api/v2/import/done")[0].body)
        .expect("done body");
    assert_eq!(
        (&done["jobId"], &done["status"]),
        (&json!("deploy-1"), &json!("success"))
    );

    // The client's /systemcheck calls the agent's with the client's credentials: both pass.
    let response = http()
        .get(format!("{client_url}/systemcheck"))
        .send()
        .await
        .expect("client answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{text}\n{}", outputs(&all));
    assert!(!text.contains(PASS), "{text}");
    let credentials = RegistryCredentials::Basic {
        kind: RegistryKind::Nexus,
        registry_base: registry.base_url(),
        username: USER.into(),
        password: Secret::new(PASS),
    };
    let response = http()
        .get(format!("http://{agent_addr}/systemcheck"))
        .header("authorization", credentials.to_base64())
        // As the client sends it: the agent started with its port alone learns its callback base
        // from this header.
        .header("x-broker-client-url", client_url.as_str())
        .send()
        .await
        .expect("agent answers");
    assert_eq!(response.status(), 200);

    // Neither the token nor the password reaches any log.
    for process in all {
        let output = process.output();
        assert!(
            !output.contains(PASS),
            "cra {} logged the password",
            process.role
        );
        assert!(
            !output.contains(TOKEN),
            "cra {} logged the token",
            process.role
        );
    }
}

/// A layer with a dpkg database and a few MiB of incompressible data, so that a scan takes
/// long enough for an agent to be stopped while scans run.
fn heavy_layer() -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(13);
    let filler: Vec<u8> = std::iter::repeat_with(|| rng.u8(..))
        .take(4 << 20)
        .collect();
    let base = debian_layer(&[("bash", "5.2.15-2+b2")]);
    let mut entries = Vec::new();
    let mut archive = tar::Archive::new(&base[..]);
    for entry in archive.entries().expect("debian layer") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("read entry");
        entries.push(Entry::file(&path, data));
    }
    entries.push(Entry::file("opt/data.bin", filler));
    tar(&entries)
}

const SCANS: usize = 60;

/// Figures a run measured, in the test output.
#[allow(clippy::print_stderr)]
fn report(line: &str) {
    eprintln!("{line}");
}

/// The job ids of the scan journal records in an agent's state directory.
fn journaled(state: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(state.join("journal")) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            // `<accepted ms>-<seq>-<job id>.job`
            let stem = name.strip_suffix(".job")?;
            Some(stem.splitn(3, '-').nth(2)?.to_owned())
        })
        .collect()
}

/// The job ids of the results waiting in an agent's outbox (`<created>-<seq>-<job id>.cb`).
fn kept(state: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(state) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            let stem = name.strip_suffix(".cb")?;
            Some(stem.splitn(3, '-').nth(2)?.to_owned())
        })
        .collect()
}

/// Two clients and three agents behind one address; 60 scans through the server. While they
/// run, one agent is stopped (SIGTERM, as Kubernetes stops a pod) and another is killed
/// (SIGKILL, as an out-of-memory kill does) and restarted on the same state directory, as a
/// container restarts within its pod. Every scan the platform asked for ends in one result
/// (two only for a result the killed agent had sent but not yet recorded as received):
/// accepted scans are reported (success or failed) — those the killed agent had accepted
/// included, by the restarted one — and a request that was not accepted gets an error status
/// the platform can retry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_loses_no_result() {
    let Some(bin) = prerequisites() else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(300), async {
        let scratch = tempfile::tempdir().expect("scratch dir");
        let registry = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
        registry
            .push_small_image("team/app", "1", "amd64", &heavy_layer())
            .await;
        let (platform, platform_log) = stub_upstream().await;
        let (server, server_url) = start_server(&bin, scratch.path(), platform.addr).await;

        let mut agents = Vec::new();
        // Without the analysis cache every scan walks its layer, so the killed agent is
        // caught holding scans in flight.
        let agent_env = [
            ("SHUTDOWN_GRACE_SECONDS", "10".to_owned()),
            ("CRA_NO_CACHE", "true".to_owned()),
        ];
        let states: Vec<PathBuf> = (0..3)
            .map(|i| scratch.path().join(format!("agent-{i}")))
            .collect();
        for state in &states {
            std::fs::create_dir_all(state).expect("state dir");
            agents.push(start_agent(&bin, state, &agent_env).await);
        }
        let proxy = RoundRobin::start(agents.iter().map(|(_, addr)| *addr).collect()).await;
        let agent_url = format!("http://{}", proxy.addr);
        let mut clients = Vec::new();
        for _ in 0..2 {
            clients.push(start_client(&bin, &server_url, &agent_url, &registry).await);
        }
        wait_connected(&server_url).await;

        // The platform asks for every scan, a few at a time, and asks again for a scan whose
        // request was not accepted; one agent is stopped a third of the way through, another
        // killed and restarted half way through.
        let jobs: Vec<String> = (0..SCANS).map(|i| format!("scale-{i:02}")).collect();
        let mut accepted = 0usize;
        let mut refusals = Vec::new();
        let mut stopped = false;
        // What the killed agent held when it died: accepted scans in its journal, and
        // results in its outbox that may already have reached the receiver.
        let mut killed: Option<(Vec<String>, Vec<String>)> = None;
        for chunk in jobs.chunks(6) {
            let mut pending: Vec<String> = chunk.to_vec();
            let mut attempts = 0;
            while !pending.is_empty() {
                attempts += 1;
                assert!(
                    attempts <= 20,
                    "scans {pending:?} were never accepted: {refusals:?}"
                );
                let answers = futures_util::future::join_all(
                    pending.iter().map(|job| request_scan(&server_url, job)),
                )
                .await;
                let mut again = Vec::new();
                for (job, (status, body)) in pending.iter().zip(answers) {
                    if status == 202 {
                        accepted += 1;
                    } else {
                        assert!(
                            status == 0 || status == 429 || status >= 500,
                            "{job}: {status} {body}"
                        );
                        refusals.push((job.clone(), status));
                        again.push(job.clone());
                    }
                }
                pending = again;
                if !pending.is_empty() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            if !stopped && accepted >= SCANS / 3 {
                agents[0].0.terminate();
                stopped = true;
            }
            if killed.is_none() && accepted >= SCANS / 2 {
                // Killed while it holds accepted, unfinished scans; if it holds none yet,
                // the next chunk gives it some.
                let deadline = Instant::now() + Duration::from_secs(2);
                while journaled(&states[1]).is_empty() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if journaled(&states[1]).is_empty() {
                    continue;
                }
                let (mut agent, addr) = agents.remove(1);
                agent.kill();
                killed = Some((journaled(&states[1]), kept(&states[1])));
                drop(agent);
                agents.insert(1, start_agent_on(&bin, &states[1], addr.port(), &agent_env).await);
            }
        }
        assert_eq!(accepted, SCANS);
        let (interrupted, unconfirmed) = killed.expect("an agent was killed");
        assert!(
            !interrupted.is_empty(),
            "the killed agent held no accepted scan"
        );

        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let results = results(&platform_log);
            if jobs.iter().all(|j| results.contains_key(j)) {
                break;
            }
            let all: Vec<&CraProcess> = agents.iter().map(|(p, _)| p).collect();
            assert!(
                Instant::now() < deadline,
                "missing results for {:?}\n{}",
                jobs.iter()
                    .filter(|j| !results.contains_key(*j))
                    .collect::<Vec<_>>(),
                outputs(&all)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Late duplicates would come within a few retry intervals.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let results = results(&platform_log);
        for job in &jobs {
            let got = &results[job];
            // Delivery is at least once: a result the receiver took just before the kill,
            // and whose receipt the agent had not recorded yet, is sent again by the
            // restarted agent; the platform keys results by jobId. Nothing else repeats.
            assert!(
                got.len() == 1 || (got.len() == 2 && unconfirmed.contains(job)),
                "{job} got {} results (unconfirmed at the kill: {unconfirmed:?})",
                got.len()
            );
            for result in got {
                let status = result["status"].as_str().unwrap_or_default();
                assert!(
                    status == "success" || status == "failed",
                    "{job}: {result}"
                );
            }
        }
        assert!(
            results.keys().all(|k| jobs.contains(k)),
            "unexpected results: {:?}",
            results.keys().collect::<Vec<_>>()
        );
        let stopped_exit = agents[0].0.wait_exit(Duration::from_secs(30));
        assert!(stopped_exit.is_some(), "the stopped agent did not exit");
        let spread = proxy.counts();
        assert!(
            spread.iter().filter(|&&n| n > 0).count() >= 2,
            "the proxy spread no load: {spread:?}"
        );
        assert!(
            spread[0] > 0,
            "the stopped agent never had work: {spread:?}"
        );
        let failed = jobs
            .iter()
            .filter(|j| results[*j][0]["status"] == "failed")
            .count();
        // The restarted agent ran again what its killed run had accepted, except a record
        // whose result was kept just before the kill.
        let resumed = metric(agents[1].1, "cra_agent_scans_resumed_total")
            .await
            .unwrap_or_default();
        let unfinished = interrupted
            .iter()
            .filter(|job| !unconfirmed.contains(*job))
            .count() as u64;
        assert!(
            (unfinished..=interrupted.len() as u64).contains(&resumed),
            "{resumed} resumed; killed with {interrupted:?} in the journal, \
             {unconfirmed:?} in the outbox"
        );
        assert!(
            journaled(&states[1]).is_empty(),
            "{:?}",
            journaled(&states[1])
        );
        report(&format!(
            "scale-out: {SCANS} results, {failed} failed; {} requests refused and asked again; \
             {resumed} of {} journaled scans resumed after SIGKILL; connections per agent {spread:?}",
            refusals.len(),
            interrupted.len()
        ));
        drop(server);
    })
    .await
    .expect("the scale-out run finishes in time");
}
