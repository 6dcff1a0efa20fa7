//! `cra scan-registry --vulns` against the CNCF registry on loopback: per-image reports in
//! every format as `cra scan --vulns` writes them, findings and grades in the summary, the
//! `--fail-on` gate over the run, and resuming a run that had no findings.

use std::path::Path;

use clap::Parser;
use cra_cli::Status;
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use serde_json::Value;

use super::{bookworm_image, bullseye_image, fixture_db};
use crate::scan::scan_registry::{run_scan_registry, summary_rows};

async fn cra(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["cra"];
    argv.extend_from_slice(args);
    cra_cli::run(cra_cli::Cli::try_parse_from(argv)?).await
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn report(out: &Path, row: &Value, extension: &str) -> String {
    let name = row["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .find(|r| r.ends_with(extension))
        .unwrap();
    std::fs::read_to_string(out.join(name)).unwrap()
}

#[tokio::test]
async fn scan_registry_vulns_reports_summary_gate_and_resume() {
    if !registry_available() {
        return;
    }
    let registry = RegistryServer::start(Auth::None).await;
    registry
        .push_gzipped("team/app", "1", &bookworm_image())
        .await;
    registry
        .push_gzipped("team/old", "1", &bullseye_image())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    fixture_db(&db_dir, &["Debian", "PyPI", "npm"]);
    let db = db_dir.to_str().unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache");
    let run = |extra: &'static [&'static str]| {
        let mut args = vec![
            "--cache-dir",
            cache.to_str().unwrap(),
            "--db-dir",
            db,
            "-f",
            "json",
            "-f",
            "cyclonedx-json",
        ];
        args.extend_from_slice(extra);
        let (registry, out) = (&registry, &out);
        async move { run_scan_registry(registry, out, &args).await }
    };

    // Without findings first: the state then holds images scanned without --vulns.
    run(&[]).await.unwrap();
    assert!(summary_rows(&out).iter().all(|r| r.get("vulns").is_none()));

    // --vulns redoes them although their digests are unchanged; a High gate trips (status 7)
    // after every report and the summary are written.
    let err = run(&["--vulns", "-f", "sarif", "-f", "table", "--fail-on", "high"])
        .await
        .unwrap_err();
    assert_eq!(Status::of(&err), Status::GateFailed, "{err:#}");
    assert!(
        format!("{err}").contains("2 of 2 images fail --fail-on severity high"),
        "{err}"
    );
    let summary = summary_rows(&out);
    assert_eq!(summary.len(), 2);
    let (app, old) = (&summary[0], &summary[1]);
    assert_eq!(app["image"], "team/app:1");
    assert_eq!(app["status"], "scanned");
    assert_eq!(app["vulns"]["findings"]["high"], 3);
    assert_eq!(app["vulns"]["findings"]["medium"], 1);
    assert_eq!(app["vulns"]["grade"], "F");
    assert_eq!(app["vulns"]["grade_set_by"], "CVE-2021-23337");
    assert_eq!(app["vulns"]["unmatched"], 1);
    assert!(app["vulns"]["gate"]
        .as_str()
        .unwrap()
        .contains("3 finding(s) of severity high"));
    assert_eq!(old["status"], "scanned");
    assert_eq!(old["vulns"]["findings"]["high"], 1);
    assert_eq!(old["vulns"]["grade_set_by"], "CVE-2023-4911");
    assert_eq!(old["vulns"]["unmatched"], 0);

    // Each report is what `cra scan --vulns` writes for the same image.
    let single = dir.path().join("single");
    std::fs::create_dir(&single).unwrap();
    let image = format!("{}/team/app:1", registry.host());
    let file = |name: &str| single.join(name).display().to_string();
    cra(&[
        "scan",
        &image,
        "--vulns",
        "--db-dir",
        db,
        "--cache-dir",
        cache.to_str().unwrap(),
        "-f",
        &format!("json={}", file("r.json")),
        "-f",
        &format!("cyclonedx={}", file("r.cdx.json")),
        "-f",
        &format!("sarif={}", file("r.sarif")),
        "-f",
        &format!("table={}", file("r.txt")),
    ])
    .await
    .unwrap();
    let json = report(&out, app, ".json");
    assert_eq!(json, std::fs::read_to_string(file("r.json")).unwrap());
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap()["grade"], "F");
    let cdx: Value = serde_json::from_str(&report(&out, app, ".cdx.json")).unwrap();
    assert_eq!(cdx["vulnerabilities"].as_array().unwrap().len(), 4);
    assert_eq!(
        cdx["vulnerabilities"],
        read_json(&single.join("r.cdx.json"))["vulnerabilities"]
    );
    let sarif: Value = serde_json::from_str(&report(&out, app, ".sarif")).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);
    assert_eq!(sarif, read_json(&single.join("r.sarif")));
    assert_eq!(
        report(&out, app, ".txt"),
        std::fs::read_to_string(file("r.txt")).unwrap()
    );

    // Unchanged images keep their findings; a Critical gate passes.
    run(&["--vulns", "--fail-on", "critical"]).await.unwrap();
    let summary = summary_rows(&out);
    assert_eq!(summary[0]["status"], "unchanged");
    assert_eq!(summary[0]["vulns"]["grade"], "F");
    assert!(summary[0]["vulns"].get("gate").is_none(), "{}", summary[0]);

    // No database: the same advice as `cra scan --vulns`, before anything is scanned.
    let none = dir.path().join("none");
    let err = run_scan_registry(
        &registry,
        &out,
        &["--vulns", "--db-dir", none.to_str().unwrap()],
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("cra db update"), "{err:#}");
}
