//! The agent in-process against the real CNCF registry (htpasswd auth) on loopback, with a local
//! callback receiver standing in for the broker client.

use std::time::Duration;

use cra_cli::agent::callback::RetryPolicy;
use cra_cli::agent::{Settings, TlsFiles};
use cra_core::{RegistryCredentials, RegistryKind, Secret};
use cra_tests::agent::{debian_layer, CallbackReceiver, RunningAgent};
use cra_tests::logs::CapturedLogs;
use cra_tests::registry::{free_port, generate_tls, registry_available, Auth, RegistryServer};
use serde_json::{json, Value};

const USER: &str = "robot";
const PASS: &str = "pa55-w0rd-s3cret";
/// A registry type whose adapter speaks the plain distribution API.
const KIND: RegistryKind = RegistryKind::Nexus;

fn auth(server: &RegistryServer) -> String {
    server.credentials(KIND).to_base64()
}

fn auth_with(base: &str, password: &str) -> String {
    RegistryCredentials::Basic {
        kind: KIND,
        registry_base: base.to_owned(),
        username: USER.to_owned(),
        password: Secret::new(password),
    }
    .to_base64()
}

fn settings(callback: Option<&CallbackReceiver>) -> Settings {
    Settings {
        broker_client_url: callback.map(|c| c.url().parse().expect("url")),
        registry_timeout: Duration::from_secs(20),
        callback_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(10),
        },
        shutdown_grace: Duration::from_secs(20),
        ..Settings::default()
    }
}

/// Package names in the first scan result's dep-graph.
fn graph_packages(result: &Value) -> Vec<String> {
    let facts = result["scanResults"][0]["facts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let graph = facts
        .iter()
        .find(|f| f["type"] == "depGraph")
        .map(|f| f["data"].clone())
        .unwrap_or(Value::Null);
    graph["pkgs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["info"]["name"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn agent_lists_describes_and_maps_errors() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    let one = server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    server
        .push_small_image("team/app", "2", "amd64", &layer)
        .await;
    server
        .push_small_image("base", "latest", "amd64", &layer)
        .await;
    let agent = RunningAgent::start(settings(None)).await;
    let good = auth(&server);
    let good = Some(good.as_str());

    let (s, body) = agent.get("/validate-credentials", good).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = agent.get("/list", good).await;
    assert_eq!((s, body), (200, json!(["base", "team/app"])));
    let (s, body) = agent.get("/list/team/app", good).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(sorted(&body), ["1", "2"]);
    // Follow the cursors to the end (this registry may ignore the page size for tags).
    let mut paged = Vec::new();
    let mut path = "/list-paginated/team/app?size=1".to_owned();
    for _ in 0..5 {
        let (s, body) = agent.get(&path, good).await;
        assert_eq!(s, 200, "{body}");
        paged.extend(sorted(&body["items"]));
        match body["next"].as_str() {
            Some(cursor) => {
                path = format!(
                    "/list-paginated/team/app?size=1&cursor={}",
                    url_encode(cursor)
                )
            }
            None => break,
        }
    }
    paged.sort();
    assert_eq!(paged, ["1", "2"]);
    let (s, body) = agent.get("/list-with-metadata/team/app", good).await;
    assert_eq!(s, 200, "{body}");
    let mut tags: Vec<&str> = body
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["tag"].as_str())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["1", "2"]);

    let (s, body) = agent.get("/image-metadata/team/app:1", good).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["digest"], one.digest.to_string());
    assert_eq!(body["configDigest"], one.config_digest.to_string());
    assert_eq!(body["platform"], "linux/amd64");
    assert_eq!(
        body["layers"][0]["digest"],
        one.layer_digests[0].to_string()
    );
    assert_eq!(body["layers"][0]["size"], layer.len() as u64);
    // The total counts every blob the image pulls: layers and config.
    let manifest: Value = serde_json::from_slice(&one.manifest).expect("manifest");
    let config_size = manifest["config"]["size"].as_u64().expect("config size");
    assert_eq!(body["size"], layer.len() as u64 + config_size);

    let (s, body) = agent
        .get("/get-state-identifier?image=team/app:1", good)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["stateIdentifier"], one.digest.to_string());

    // Typed errors: bad credentials, unknown repository and tag, unreachable registry, bad input.
    let bad = auth_with(&server.base_url(), "wrong");
    let (s, body) = agent.get("/list", Some(&bad)).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (401, &json!("unauthorized")),
        "{body}"
    );
    let (s, body) = agent.get("/validate-credentials", Some(&bad)).await;
    assert_eq!(s, 401, "{body}");
    let (s, body) = agent.get("/list/nope/missing", good).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    let (s, body) = agent.get("/image-metadata/team/app:9", good).await;
    assert_eq!(s, 404, "{body}");
    let dead = auth_with(&format!("http://127.0.0.1:{}", free_port()), PASS);
    let (s, body) = agent.get("/list", Some(&dead)).await;
    assert_eq!(s, 502, "{body}");
    let (s, body) = agent.get("/list/Bad_Name!", good).await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );
    let (s, body) = agent.get("/list", None).await;
    assert_eq!(s, 401, "{body}");
    agent.stop().await;
}

/// The strings of a JSON array, sorted (registries need not sort tags).
fn sorted(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    items.sort();
    items
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn agent_scans_and_reports_packages() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2"), ("zlib1g", "1:1.2.13.dfsg-1")]);
    let image = server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let agent = RunningAgent::start(settings(Some(&receiver))).await;

    let (s, body) = agent
        .post(
            "/scan",
            &auth(&server),
            &json!({"image": "team/app:1", "jobId": "job-1", "orgId": "org-7"}),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["jobId"], "job-1");
    let calls = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(calls[0].path, "/api/v2/import/result");
    let result = &calls[0].body;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["jobId"], "job-1");
    // Fields the agent did not validate are not echoed.
    assert!(result.get("orgId").is_none(), "{result}");
    assert_eq!(result["imageDigest"], image.digest.to_string());
    let packages = graph_packages(result);
    assert!(packages.iter().any(|p| p == "bash"), "{packages:?}");
    assert!(packages.iter().any(|p| p == "zlib1g"), "{packages:?}");
    assert_eq!(calls[1].path, "/api/v2/import/done");
    assert_eq!(calls[1].body["jobId"], "job-1");
    assert_eq!(calls[1].body["status"], "success");

    // v1 reports to the recurring-tests path; a scan failure is a failed result, not silence.
    let (s, _) = agent
        .post("/discover", &auth(&server), &json!({"image": "team/app:1"}))
        .await;
    assert_eq!(s, 202);
    let (s, _) = agent
        .post("/scan", &auth(&server), &json!({"image": "team/app:nope"}))
        .await;
    assert_eq!(s, 202);
    let calls = receiver.wait_for(6, Duration::from_secs(30)).await;
    let v1 = calls
        .iter()
        .find(|c| c.path == "/api/v1/recurring-tests/dependencies")
        .expect("a v1 result");
    assert_eq!(v1.body["status"], "success");
    let failed = calls
        .iter()
        .find(|c| c.path == "/api/v2/import/result" && c.body["status"] == "failed")
        .expect("a failed result");
    assert_eq!(failed.body["error"]["code"], "not_found", "{}", failed.body);
    agent.stop().await;
}

#[tokio::test]
async fn agent_refuses_oversize_images_in_the_callback() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    server.push_small_image("big", "1", "amd64", &layer).await;
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let mut s = settings(Some(&receiver));
    s.max_image_size = 1024;
    let agent = RunningAgent::start(s).await;
    let (status, _) = agent
        .post("/scan", &auth(&server), &json!({"image": "big:1"}))
        .await;
    assert_eq!(status, 202);
    let calls = receiver.wait_for(2, Duration::from_secs(30)).await;
    let result = &calls[0].body;
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["error"]["code"], "image_too_large", "{result}");
    assert!(result["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("1024"));
    assert_eq!(calls[1].body["status"], "failed");
    agent.stop().await;
}

#[tokio::test]
async fn agent_runs_at_most_max_active_operations() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    // A slow receiver no longer holds a slot: results wait in the outbox, not in the job.
    let receiver = CallbackReceiver::start(Duration::from_millis(150)).await;
    let mut s = settings(Some(&receiver));
    s.max_active_operations = 1;
    s.max_queued_operations = 3;
    let agent = RunningAgent::start(s).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let (status, _) = agent
            .post(
                "/scan",
                &auth(&server),
                &json!({"image": "team/app:1", "jobId": format!("j{i}")}),
            )
            .await;
        statuses.push(status);
    }
    // One runs and three wait; the fifth is refused unless a scan has finished meanwhile.
    assert_eq!(statuses[..4], [202, 202, 202, 202]);
    assert!(matches!(statuses[4], 202 | 429), "{statuses:?}");
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    let mut peak_running = 0;
    for _ in 0..400 {
        let running = agent.metric("cra_agent_scans_running").await.unwrap_or(0);
        peak_running = peak_running.max(running);
        if receiver.calls().len() >= 2 * accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let calls = receiver
        .wait_for(2 * accepted, Duration::from_secs(30))
        .await;
    assert!(peak_running <= 1, "{peak_running}");
    // Each job's result comes before its own done notice.
    for i in 0..accepted {
        let id = format!("j{i}");
        let paths: Vec<&str> = calls
            .iter()
            .filter(|c| c.body["jobId"] == *id)
            .map(|c| c.path.as_str())
            .collect();
        assert_eq!(
            paths,
            ["/api/v2/import/result", "/api/v2/import/done"],
            "{id}"
        );
    }
    agent.stop().await;
}

#[tokio::test]
async fn agent_retries_callbacks_until_the_receiver_is_back() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let port = free_port();
    let mut s = settings(None);
    s.broker_client_url = Some(format!("http://127.0.0.1:{port}").parse().expect("url"));
    let agent = RunningAgent::start(s).await;
    let (status, _) = agent
        .post("/scan", &auth(&server), &json!({"image": "team/app:1"}))
        .await;
    assert_eq!(status, 202);
    // Let the scan finish and a few deliveries fail.
    let mut retried = 0;
    for _ in 0..300 {
        retried = agent
            .metric("cra_agent_callback_retries_total")
            .await
            .unwrap_or(0);
        if retried >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(retried >= 2, "callbacks were not retried");
    let receiver = CallbackReceiver::start_on(([127, 0, 0, 1], port).into()).await;
    let calls = receiver.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(calls[0].path, "/api/v2/import/result");
    assert_eq!(calls[0].body["status"], "success");
    assert_eq!(calls[1].path, "/api/v2/import/done");
    agent.stop().await;
}

#[tokio::test]
async fn agent_logs_never_contain_credentials() {
    if !registry_available() {
        return;
    }
    // The test runtime is single-threaded, so the agent's tasks log through this subscriber.
    let captured = CapturedLogs::start(tracing::Level::TRACE);

    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let agent = RunningAgent::start(settings(Some(&receiver))).await;
    let good = auth(&server);
    let bad = auth_with(&server.base_url(), "wrong-but-secret");
    agent.get("/list", Some(&good)).await;
    agent.get("/list", Some(&bad)).await;
    agent.get("/image-metadata/team/app:1", Some(&good)).await;
    agent.get("/systemcheck", Some(&good)).await;
    agent
        .post("/scan", &good, &json!({"image": "team/app:1"}))
        .await;
    agent
        .post("/scan", &bad, &json!({"image": "team/app:1"}))
        .await;
    receiver.wait_for(4, Duration::from_secs(30)).await;
    agent.stop().await;

    let logs = captured.text();
    assert!(
        logs.contains("scan queued"),
        "the agent logged nothing: {logs}"
    );
    for secret in [PASS, "wrong-but-secret", good.as_str(), bad.as_str()] {
        assert!(!logs.contains(secret), "logs leak {secret:?}");
    }
    assert!(
        !logs.to_ascii_lowercase().contains("authorization:"),
        "{logs}"
    );
}

#[tokio::test]
async fn agent_shutdown_reports_every_accepted_scan() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let receiver = CallbackReceiver::start(Duration::from_millis(200)).await;
    let agent = RunningAgent::start(settings(Some(&receiver))).await;
    for i in 0..3 {
        let (status, _) = agent
            .post(
                "/scan",
                &auth(&server),
                &json!({"image": "team/app:1", "jobId": format!("s{i}")}),
            )
            .await;
        assert_eq!(status, 202);
    }
    // Stop while the first scan runs and two wait: the agent returns only once all three have
    // reported, the waiting ones as failed because of the shutdown.
    agent.stop().await;
    let calls = receiver.calls();
    for id in ["s0", "s1", "s2"] {
        let result = calls
            .iter()
            .find(|c| c.path == "/api/v2/import/result" && c.body["jobId"] == id)
            .unwrap_or_else(|| panic!("no result for {id}: {calls:#?}"));
        let done = calls
            .iter()
            .any(|c| c.path == "/api/v2/import/done" && c.body["jobId"] == id);
        assert!(done, "no done notice for {id}");
        if result.body["status"] == "failed" {
            assert_eq!(
                result.body["error"]["code"], "shutting_down",
                "{}",
                result.body
            );
        }
    }
    let failed = calls
        .iter()
        .filter(|c| c.path == "/api/v2/import/result" && c.body["status"] == "failed")
        .count();
    assert!(
        failed >= 1,
        "the waiting scans are reported as failed: {calls:#?}"
    );
}

#[tokio::test]
async fn agent_serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, chain, key) = generate_tls();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, chain).expect("write cert");
    std::fs::write(&key_path, key).expect("write key");
    let mut s = settings(None);
    s.tls = Some(TlsFiles {
        cert: cert_path,
        key: key_path,
    });
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).expect("ca"))
        .build()
        .expect("client");
    let agent = RunningAgent::start_with_client(s, http).await;
    assert!(agent.base.starts_with("https://"));
    let (status, body) = agent.get("/healthcheck", None).await;
    assert_eq!((status, &body["ok"]), (200, &json!(true)));
    // A client that does not trust the certificate cannot talk to it.
    let untrusted = reqwest::Client::new()
        .get(format!("{}/healthcheck", agent.base))
        .send()
        .await;
    assert!(untrusted.is_err());
    agent.stop().await;
}

#[tokio::test]
async fn agent_rescans_an_unchanged_image_without_pulling_a_blob() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start_logged(Auth::htpasswd(USER, PASS)).await;
    let layer = debian_layer(&[("bash", "5.2.15-2+b2")]);
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let cache_dir = tempfile::tempdir().expect("temp dir");
    let agent = RunningAgent::start(Settings {
        cache: Some(
            cra_scan::LayerCache::open(cache_dir.path(), 64 << 20).expect("open the cache"),
        ),
        ..settings(Some(&receiver))
    })
    .await;
    let mut pulled = Vec::new();
    let mut results = Vec::new();
    for job in ["job-1", "job-2"] {
        let before = server.blob_requests();
        let (s, body) = agent
            .post(
                "/scan",
                &auth(&server),
                &json!({"image": "team/app:1", "jobId": job}),
            )
            .await;
        assert_eq!(s, 202, "{body}");
        let calls = receiver
            .wait_for(2 * (results.len() + 1), Duration::from_secs(30))
            .await;
        let result = calls
            .iter()
            .find(|c| c.path == "/api/v2/import/result" && c.body["jobId"] == job)
            .expect("a result")
            .body
            .clone();
        assert_eq!(result["status"], "success", "{result}");
        pulled.push(server.blob_requests() - before);
        results.push(graph_packages(&result));
    }
    assert_eq!(pulled, [2, 0], "config and layer, then nothing");
    assert_eq!(results[0], results[1]);
    assert!(results[0].iter().any(|p| p == "bash"));
    agent.stop().await;
}
