//! The agent's `vulns` request option: findings and the grade travel in the result callback,
//! beside the stock scan results, matched against the agent's own database.

use std::time::Duration;

use cra_cli::agent::callback::RetryPolicy;
use cra_cli::agent::Settings;
use cra_core::RegistryKind;
use cra_tests::agent::{CallbackReceiver, RunningAgent};
use cra_tests::image::{debian_os_release, dpkg_status, tar, Deb, Entry};
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use serde_json::{json, Value};

use super::fixture_db;

const USER: &str = "robot";
const PASS: &str = "pa55-w0rd";

fn settings(receiver: &CallbackReceiver, vuln_db: Option<&std::path::Path>) -> Settings {
    Settings {
        broker_client_url: Some(receiver.url().parse().expect("url")),
        registry_timeout: Duration::from_secs(20),
        callback_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(10),
        },
        vuln_db: vuln_db.map(ToOwned::to_owned),
        ..Settings::default()
    }
}

/// Debian 12 with glibc before the Looney Tunables fix, zlib, and one PyPI package.
fn layer() -> Vec<u8> {
    let status = dpkg_status(&[
        Deb {
            source: Some("glibc"),
            ..Deb::installed("libc6", "2.36-9+deb12u1")
        },
        Deb::installed("zlib1g", "1:1.2.13.dfsg-1"),
    ]);
    tar(&[
        Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
        Entry::file("var/lib/dpkg/status", status),
        Entry::file(
            "usr/local/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\n",
        ),
    ])
}

fn result_of<'a>(calls: &'a [cra_tests::agent::Callback], job: &str) -> &'a Value {
    &calls
        .iter()
        .find(|c| c.path == "/api/v2/import/result" && c.body["jobId"] == job)
        .unwrap_or_else(|| panic!("no result for {job}"))
        .body
}

#[tokio::test]
async fn agent_reports_findings_and_grade_when_asked() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd(USER, PASS)).await;
    server
        .push_small_image("team/app", "1", "amd64", &layer())
        .await;
    let auth = server.credentials(RegistryKind::Nexus).to_base64();
    // Debian data only: the PyPI package is unmatched, not clean.
    let db = tempfile::tempdir().unwrap();
    fixture_db(db.path(), &["Debian"]);
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let agent = RunningAgent::start(settings(&receiver, Some(db.path()))).await;

    let (s, body) = agent
        .post(
            "/scan",
            &auth,
            &json!({"image": "team/app:1", "jobId": "with-vulns", "vulns": true}),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let (s, body) = agent
        .post(
            "/scan",
            &auth,
            &json!({"image": "team/app:1", "jobId": "without", "vulns": false}),
        )
        .await;
    assert_eq!(s, 202, "{body}");
    let calls = receiver.wait_for(4, Duration::from_secs(60)).await;

    let with = result_of(&calls, "with-vulns");
    assert_eq!(with["status"], "success", "{with}");
    // The stock payload is all there.
    let facts = with["scanResults"][0]["facts"].as_array().unwrap();
    assert!(facts.iter().any(|f| f["type"] == "depGraph"), "{with}");
    let vulns = &with["vulnerabilities"];
    let ids: Vec<(&str, &str)> = vulns["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["name"].as_str().unwrap()))
        .collect();
    assert_eq!(ids, [("CVE-2023-4911", "libc6")], "{vulns}");
    let glibc = &vulns["findings"][0];
    assert_eq!(glibc["fixed_in"], "2.36-9+deb12u3");
    assert_eq!(glibc["rating"]["severity"], "high");
    assert_eq!(
        glibc["aliases"],
        json!(["DEBIAN-CVE-2023-4911", "DSA-5514-1"])
    );
    // A High finding published in 2023 is older than a year: F.
    assert_eq!(vulns["grade"], "F");
    assert_eq!(vulns["grade_set_by"], "CVE-2023-4911");
    let unmatched = vulns["unmatched"].as_array().unwrap();
    assert_eq!(unmatched.len(), 1, "{vulns}");
    assert_eq!(unmatched[0]["name"], "requests");
    assert_eq!(unmatched[0]["reason"]["reason"], "no_data");
    assert_eq!(vulns["data"][0]["ecosystem"], "Debian");

    let without = result_of(&calls, "without");
    assert_eq!(without["status"], "success");
    assert!(without.get("vulnerabilities").is_none(), "{without}");
    agent.stop().await;
}

#[tokio::test]
async fn agent_without_a_database_refuses_vulns_requests() {
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let empty = tempfile::tempdir().unwrap();
    for vuln_db in [None, Some(empty.path())] {
        let agent = RunningAgent::start(settings(&receiver, vuln_db)).await;
        let auth = cra_core::RegistryCredentials::Basic {
            kind: RegistryKind::Nexus,
            registry_base: "127.0.0.1:9".into(),
            username: USER.into(),
            password: cra_core::Secret::new(PASS),
        }
        .to_base64();
        let (s, body) = agent
            .post(
                "/scan",
                &auth,
                &json!({"image": "team/app:1", "vulns": true}),
            )
            .await;
        assert_eq!(s, 501, "{body}");
        assert_eq!(body["error"]["code"], "vulns_unavailable", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cra db update"),
            "{body}"
        );
        let (s, body) = agent
            .post(
                "/scan",
                &auth,
                &json!({"image": "team/app:1", "vulns": "yes"}),
            )
            .await;
        assert_eq!(s, 400, "{body}");
        agent.stop().await;
    }
    assert!(receiver.calls().is_empty());
}
