//! `cra scan-registry --policy/--verify` over images skopeo signed: the signature status of each
//! image in the summary and its reports, refused images counted and left without a report, and
//! exit status 8 once every image was tried.

// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use cra_cli::Status;
use serde_json::Value;

use super::fixture::Fixture;
use crate::scan::scan_registry::{run_scan_registry, summary_rows};

async fn scan_registry(f: &Fixture, out: &Path, extra: &[&str]) -> anyhow::Result<()> {
    let mut args = vec![
        "--no-cache",
        "--repository",
        "team/*",
        "--registries.d",
        f.file_store.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_scan_registry(&f.registry, out, &args).await
}

fn signature_fact(out: &Path, row: &Value) -> Value {
    let report = out.join(row["reports"][0].as_str().unwrap());
    let doc: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    doc["scanResults"][0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "imageSignature")
        .expect("imageSignature fact")["data"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_registry_reports_each_signature_and_refuses_under_the_policy() {
    let Some(f) = Fixture::start().await else {
        return;
    };
    let trusted = f.trusted.clone();
    let other = f.other.clone();
    f.signed_copy("sr-good", "team/good:1", &["--sign-by", &trusted])
        .await;
    f.signed_copy("sr-bad", "team/bad:1", &["--sign-by", &other])
        .await;
    f.signed_copy("sr-plain", "team/plain:1", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{}/team":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}}}]}}}}}}"#,
            f.host(),
            serde_json::to_string(&f.key("trusted.gpg")).unwrap()
        ),
    )
    .unwrap();
    let policy = policy.to_str().unwrap();

    // Report only: every image is scanned, the rejected one with its status in the report.
    let out = dir.path().join("out");
    scan_registry(&f, &out, &["--verify", "--policy", policy])
        .await
        .unwrap();
    let summary = summary_rows(&out);
    assert!(
        summary.iter().all(|r| r["status"] == "scanned"),
        "{summary:?}"
    );
    assert_eq!(summary[0]["signature"]["status"], "rejected");
    let fact = signature_fact(&out, &summary[0]);
    assert_eq!(fact["status"], "rejected");
    assert_eq!(fact["enforced"], false);
    // Three reports, the summary and the state.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 5);

    // Enforced on the same directory: the two images the policy rejects get no report (those of
    // the run before are deleted), and the run ends with 8.
    let err = scan_registry(&f, &out, &["--policy", policy])
        .await
        .unwrap_err();
    assert_eq!(Status::of(&err), Status::PolicyRefused, "{err:#}");
    assert!(
        format!("{err}").contains("the signature policy refuses 2 of 3 images"),
        "{err}"
    );
    let summary = summary_rows(&out);
    let (bad, good, plain) = (&summary[0], &summary[1], &summary[2]);
    assert_eq!(good["image"], "team/good:1");
    assert_eq!(good["status"], "scanned");
    assert_eq!(good["signature"]["status"], "verified");
    assert!(good["signature"]["signers"][0]
        .as_str()
        .unwrap()
        .contains(&trusted));
    let fact = signature_fact(&out, good);
    assert_eq!(fact["status"], "accepted");
    assert_eq!(
        fact["enforced"], true,
        "the report of the run before was replaced"
    );
    assert_eq!(fact["signers"][0]["key"], trusted.as_str());
    assert_eq!(bad["status"], "refused");
    assert_eq!(bad["signature"]["status"], "rejected");
    assert!(
        bad["signature"]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("untrusted key {other}")),
        "{bad}"
    );
    assert_eq!(plain["status"], "refused");
    assert_eq!(plain["signature"]["status"], "unsigned");
    for refused in [bad, plain] {
        assert!(refused["reports"].as_array().unwrap().is_empty());
    }
    let files = std::fs::read_dir(&out).unwrap().count();
    // good's report, the summary and the state.
    assert_eq!(files, 3);
}
