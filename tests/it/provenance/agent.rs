//! `cra agent` as a process with `CRA_POLICY` and `CRA_REGISTRIES_D`: every scan is verified
//! first; a rejected image is reported as failed with the policy's reason and none of its
//! packages, an accepted one's result carries the `imageSignature` fact, and a malformed policy
//! stops the agent before it serves.

use std::time::Duration;

use cra_core::RegistryKind;
use cra_tests::agent::CallbackReceiver;
use cra_tests::broker::wait_for_status;
use cra_tests::process::{cra_binary, CraProcess};
use cra_tests::registry::free_port;
use serde_json::{json, Value};

use super::fixture::Fixture;

fn policy_json(host: &str, key: &std::path::Path) -> String {
    format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}/team":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}}}]}}}}}}"#,
        serde_json::to_string(&key.display().to_string()).expect("json string")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_reports_images_its_policy_rejects_as_failed_without_packages() {
    let Some(bin) = cra_binary() else {
        return;
    };
    let Some(f) = Fixture::start().await else {
        return;
    };
    let trusted = f.trusted.clone();
    let other = f.other.clone();
    f.signed_copy("agent-good", "team/agent:good", &["--sign-by", &trusted])
        .await;
    f.signed_copy("agent-bad", "team/agent:bad", &["--sign-by", &other])
        .await;
    f.signed_copy("agent-unsigned", "team/agent:unsigned", &[])
        .await;
    let dir = tempfile::tempdir().expect("scratch");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, policy_json(&f.host(), &f.key("trusted.gpg"))).expect("policy");

    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let port = free_port();
    let agent = CraProcess::start(
        &bin,
        "agent",
        &[
            ("SNYK_PORT", port.to_string()),
            ("SNYK_BIND_ADDRESS", "127.0.0.1".into()),
            (
                "CRA_STATE_DIR",
                dir.path().join("state").display().to_string(),
            ),
            ("CRA_NO_CACHE", "true".into()),
            ("BROKER_CLIENT_URL", receiver.url()),
            ("CRA_POLICY", policy.display().to_string()),
            (
                "CRA_REGISTRIES_D",
                f.file_store.path().display().to_string(),
            ),
        ],
    );
    wait_for_status(
        &format!("http://127.0.0.1:{port}/healthcheck"),
        200,
        Duration::from_secs(20),
    )
    .await;
    let credentials = f.registry.credentials(RegistryKind::Nexus).to_base64();
    let http = reqwest::Client::new();
    for (job, image) in [
        ("good", "team/agent:good"),
        ("bad", "team/agent:bad"),
        ("unsigned", "team/agent:unsigned"),
    ] {
        let response = http
            .post(format!("http://127.0.0.1:{port}/scan"))
            .header("authorization", &credentials)
            .json(&json!({"image": image, "jobId": job}))
            .send()
            .await
            .expect("the agent answers");
        assert_eq!(response.status().as_u16(), 202, "{job}: {}", agent.output());
    }
    // A result and a done callback for each job.
    let calls = receiver.wait_for(6, Duration::from_secs(90)).await;
    let calls: Vec<_> = calls
        .into_iter()
        .filter(|c| c.path == "/api/v2/import/result")
        .collect();
    assert_eq!(calls.len(), 3, "results: {calls:?}\n{}", agent.output());
    let by_job = |job: &str| -> Value {
        calls
            .iter()
            .find(|c| c.body["jobId"] == job)
            .unwrap_or_else(|| panic!("no callback for {job}: {calls:?}"))
            .body
            .clone()
    };

    let good = by_job("good");
    assert_eq!(good["status"], "success", "{good}");
    let fact = good["scanResults"][0]["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .find(|f| f["type"] == "imageSignature")
        .expect("imageSignature fact")
        .clone();
    assert_eq!(fact["data"]["status"], "accepted", "{fact}");
    assert_eq!(fact["data"]["enforced"], true, "{fact}");
    assert_eq!(fact["data"]["signers"][0]["kind"], "gpg", "{fact}");
    assert_eq!(
        fact["data"]["signers"][0]["key"],
        trusted.as_str(),
        "{fact}"
    );

    for (job, why) in [
        ("bad", format!("untrusted key {other}")),
        ("unsigned", "the image has none".to_owned()),
    ] {
        let body = by_job(job);
        assert_eq!(body["status"], "failed", "{body}");
        assert_eq!(body["error"]["code"], "signature_rejected", "{body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(&why), "{job}: {message}");
        assert!(
            body.get("scanResults").is_none(),
            "{job}: packages sent: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_refuses_to_start_with_a_malformed_policy() {
    let Some(bin) = cra_binary() else {
        return;
    };
    let dir = tempfile::tempdir().expect("scratch");
    let policy = dir.path().join("policy.json");
    std::fs::write(&policy, r#"{"default": [{"type": "signedBy"}]}"#).expect("policy");
    let mut agent = CraProcess::start(
        &bin,
        "agent",
        &[
            ("SNYK_PORT", free_port().to_string()),
            ("SNYK_BIND_ADDRESS", "127.0.0.1".into()),
            (
                "CRA_STATE_DIR",
                dir.path().join("state").display().to_string(),
            ),
            ("CRA_NO_CACHE", "true".into()),
            ("CRA_POLICY", policy.display().to_string()),
        ],
    );
    let status = agent.wait_exit(Duration::from_secs(20));
    let output = agent.output();
    let status = status.unwrap_or_else(|| panic!("the agent kept running:\n{output}"));
    assert!(!status.success(), "{output}");
    assert!(
        output.contains("cannot load the signature policy"),
        "{output}"
    );
    assert!(output.contains("invalid policy"), "{output}");
}
