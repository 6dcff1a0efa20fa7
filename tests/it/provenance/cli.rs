//! `cra scan --policy/--verify` as a process: exit status 8 with the reason for a refused image,
//! the verified signer in the outputs of an accepted one, report-only verification, and the
//! user's registries.d found as containers tools find it.

use super::fixture::Fixture;
use crate::cli::{cra, run};

fn write_policy(dir: &std::path::Path, host: &str, key: &std::path::Path) -> std::path::PathBuf {
    let policy = dir.join("policy.json");
    let json = format!(
        r#"{{"default":[{{"type":"reject"}}],"transports":{{"docker":{{"{host}/team":[{{"type":"signedBy","keyType":"GPGKeys","keyPath":{}}}]}}}}}}"#,
        serde_json::to_string(&key.display().to_string()).expect("json string")
    );
    std::fs::write(&policy, json).expect("write policy");
    policy
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_enforces_the_policy_and_reports_the_signer() {
    let Some(f) = Fixture::start().await else {
        return;
    };
    let trusted = f.trusted.clone();
    let other = f.other.clone();
    let good = f
        .signed_copy("cli-good", "team/cli:good", &["--sign-by", &trusted])
        .await;
    let bad = f
        .signed_copy("cli-bad", "team/cli:bad", &["--sign-by", &other])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), &f.host(), &f.key("trusted.gpg"));
    let policy = policy.to_str().unwrap().to_owned();
    let regd = f.file_store.path().to_str().unwrap().to_owned();
    let cdx = dir.path().join("bom.json");
    let cdx_arg = format!("cyclonedx-json={}", cdx.display());

    let accepted = run(
        cra(
            dir.path(),
            &[
                "scan",
                "--policy",
                &policy,
                "--registries.d",
                &regd,
                "-f",
                "json",
                "-f",
                &cdx_arg,
                &good,
            ],
        ),
        None,
    );
    assert_eq!(accepted.code, Some(0), "{}", accepted.stderr);
    let results: serde_json::Value = serde_json::from_str(&accepted.stdout).unwrap();
    let fact = results["scanResults"][0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "imageSignature")
        .expect("imageSignature fact")
        .clone();
    assert_eq!(fact["data"]["status"], "accepted");
    assert_eq!(fact["data"]["enforced"], true);
    assert_eq!(fact["data"]["signers"][0]["kind"], "gpg");
    assert_eq!(fact["data"]["signers"][0]["key"], trusted.as_str());
    assert_eq!(fact["data"]["signers"][0]["identity"], good.as_str());
    let bom = std::fs::read_to_string(&cdx).unwrap();
    assert!(bom.contains(&format!("gpg:{trusted}")), "{bom}");
    assert!(bom.contains("cra:signature:status"), "{bom}");

    let refused = run(
        cra(
            dir.path(),
            &["scan", "--policy", &policy, "--registries.d", &regd, &bad],
        ),
        None,
    );
    assert_eq!(refused.code, Some(8), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    assert!(refused.stderr.contains("refuses"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("untrusted key {other}")),
        "{}",
        refused.stderr
    );

    let reported = run(
        cra(
            dir.path(),
            &[
                "scan",
                "--verify",
                "--policy",
                &policy,
                "--registries.d",
                &regd,
                "-f",
                "table",
                &bad,
            ],
        ),
        None,
    );
    assert_eq!(reported.code, Some(0), "{}", reported.stderr);
    assert!(
        reported.stdout.contains("Signature: rejected"),
        "{}",
        reported.stdout
    );

    std::fs::write(&policy, r#"{"default": []}"#).unwrap();
    let malformed = run(cra(dir.path(), &["scan", "--policy", &policy, &good]), None);
    assert_eq!(malformed.code, Some(2), "{}", malformed.stderr);
    assert!(
        malformed.stderr.contains("invalid policy"),
        "{}",
        malformed.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_policy_without_registries_d_reads_the_users_directory() {
    let Some(f) = Fixture::start().await else {
        return;
    };
    let trusted = f.trusted.clone();
    let good = f
        .signed_copy("cli-home", "team/cli:home", &["--sign-by", &trusted])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let policy = write_policy(dir.path(), &f.host(), &f.key("trusted.gpg"));
    let policy = policy.to_str().unwrap().to_owned();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let scan = || {
        let mut command = cra(
            dir.path(),
            &[
                "scan",
                "--no-cache",
                "--policy",
                &policy,
                "-f",
                "json",
                &good,
            ],
        );
        command.env("HOME", &home);
        run(command, None)
    };

    // No registries.d of the user's: no lookaside, so no signature is found.
    let refused = scan();
    assert_eq!(refused.code, Some(8), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("signature is required"),
        "{}",
        refused.stderr
    );

    // The user's registries.d names the lookaside, as containers tools read it.
    let user_dir = home.join(".config/containers/registries.d");
    std::fs::create_dir_all(&user_dir).unwrap();
    for entry in std::fs::read_dir(f.file_store.path()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), user_dir.join(entry.file_name())).unwrap();
    }
    let accepted = scan();
    assert_eq!(accepted.code, Some(0), "{}", accepted.stderr);
    let results: serde_json::Value = serde_json::from_str(&accepted.stdout).unwrap();
    let signed_by_trusted = results["scanResults"][0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| {
            f["type"] == "imageSignature" && f["data"]["signers"][0]["key"] == trusted.as_str()
        });
    assert!(signed_by_trusted, "{}", accepted.stdout);
}
