//! `cra scan --vulns` end to end: every output format and the `--fail-on` gate.

use std::path::Path;

use clap::Parser;
use cra_cli::Status;
use cra_scan::vulns::policy::GateFailed;
use cra_tests::image::write_oci_layout;
use serde_json::Value;

use super::{bookworm_image, fixture_db};

async fn cra(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["cra"];
    argv.extend_from_slice(args);
    cra_cli::run(cra_cli::Cli::parse_from(argv)).await
}

pub(super) struct Setup {
    _dirs: [tempfile::TempDir; 3],
    image: String,
    db: String,
    out: std::path::PathBuf,
}

pub(super) fn setup() -> Setup {
    let layout = tempfile::tempdir().unwrap();
    write_oci_layout(layout.path(), &[(&bookworm_image(), None)], false);
    let db = tempfile::tempdir().unwrap();
    fixture_db(db.path(), &["Debian", "PyPI", "npm"]);
    let out = tempfile::tempdir().unwrap();
    Setup {
        image: format!("oci:{}", layout.path().display()),
        db: db.path().display().to_string(),
        out: out.path().join("report"),
        _dirs: [layout, db, out],
    }
}

pub(super) async fn scan(s: &Setup, format: &str, extra: &[&str]) -> anyhow::Result<String> {
    let out = s.out.to_str().unwrap();
    let mut args = vec![
        "scan", &s.image, "--vulns", "--db-dir", &s.db, "--format", format, "-o", out,
    ];
    args.extend_from_slice(extra);
    cra(&args).await?;
    Ok(std::fs::read_to_string(Path::new(out)).unwrap())
}

#[tokio::test]
async fn cyclonedx_lists_vulnerabilities_that_point_at_bom_refs() {
    let s = setup();
    let doc: Value = serde_json::from_str(&scan(&s, "cyclonedx", &[]).await.unwrap()).unwrap();
    crate::sbom::assert_valid(&crate::sbom::cyclonedx_validator(), &doc);
    let components = doc["components"].as_array().unwrap();
    let bom_ref = |name: &str| {
        components
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["bom-ref"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    let refs_of = |id: &str| {
        let mut refs: Vec<String> = vulns
            .iter()
            .filter(|v| v["id"] == id)
            .map(|v| v["affects"][0]["ref"].as_str().unwrap().to_owned())
            .collect();
        refs.sort();
        refs
    };
    let mut glibc = vec![bom_ref("libc6"), bom_ref("libc-bin")];
    glibc.sort();
    assert_eq!(refs_of("CVE-2023-4911"), glibc);
    assert_eq!(refs_of("CVE-2023-32681"), [bom_ref("requests")]);
    assert_eq!(refs_of("CVE-2021-23337"), [bom_ref("lodash")]);
    assert_eq!(vulns.len(), 4);
    let requests = vulns.iter().find(|v| v["id"] == "CVE-2023-32681").unwrap();
    assert_eq!(requests["references"][0]["id"], "GHSA-j8r2-6x86-q33q");
    assert_eq!(requests["ratings"][0]["severity"], "medium");
    assert_eq!(requests["ratings"][0]["method"], "CVSSv31");
}

#[tokio::test]
async fn sarif_json_and_table() {
    let s = setup();
    let sarif: Value = serde_json::from_str(&scan(&s, "sarif", &[]).await.unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["results"].as_array().unwrap().len(), 4);
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["CVE-2021-23337", "CVE-2023-32681", "CVE-2023-4911"]);
    let libc = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["message"]["text"].as_str().unwrap().starts_with("libc6 "))
        .unwrap();
    assert_eq!(libc["level"], "error");
    assert_eq!(
        libc["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "var/lib/dpkg/status"
    );

    let json: Value = serde_json::from_str(&scan(&s, "json", &[]).await.unwrap()).unwrap();
    assert_eq!(json["grade"], "F");
    assert_eq!(json["grade_set_by"], "CVE-2021-23337");
    assert_eq!(json["findings"].as_array().unwrap().len(), 4);
    assert_eq!(json["unmatched"][0]["name"], "rack");
    assert_eq!(json["unmatched"][0]["reason"]["reason"], "no_data");

    let table = scan(&s, "table", &[]).await.unwrap();
    assert!(
        table.contains("Grade:    F (set by CVE-2021-23337)"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("CVE-2023-4911 "))
        .unwrap();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "CVE-2023-4911",
            "DEBIAN-CVE-2023-4911,DSA-5514-1",
            "libc-bin",
            "2.36-9+deb12u1",
            "2.36-9+deb12u3",
            "high"
        ]
    );
    assert!(
        table.contains("rack 2.2.8: the database has no RubyGems data"),
        "{table}"
    );
}

#[tokio::test]
async fn fail_on_gates_by_severity_and_grade() {
    let s = setup();
    // The worst finding is High: a Critical gate passes, a High gate fails.
    scan(&s, "json", &["--fail-on", "critical"]).await.unwrap();
    let err = scan(&s, "json", &["--fail-on", "high"]).await.unwrap_err();
    assert!(err.downcast_ref::<GateFailed>().is_some(), "{err:#}");
    assert_eq!(Status::of(&err), Status::GateFailed);
    assert!(
        format!("{err}").contains("3 finding(s) of severity high or higher"),
        "{err}"
    );
    let err = scan(&s, "json", &["--fail-on", "D"]).await.unwrap_err();
    assert!(format!("{err}").contains("grade F"), "{err}");
    // The report is written before the verdict.
    assert!(std::fs::read_to_string(&s.out)
        .unwrap()
        .contains("\"grade\": \"F\""));
}

#[tokio::test]
async fn scanning_with_vulns_without_a_database_says_how_to_make_one() {
    let s = setup();
    let empty = tempfile::tempdir().unwrap();
    let err = cra(&[
        "scan",
        &s.image,
        "--vulns",
        "--db-dir",
        empty.path().to_str().unwrap(),
    ])
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("cra db update"), "{err:#}");
}

#[test]
fn the_binary_exits_7_on_a_failed_gate_and_2_on_sarif_without_vulns() {
    use crate::cli::{cra as process, run};
    let s = setup();
    let cwd = s.out.parent().unwrap();
    let gate = run(
        process(
            cwd,
            &[
                "scan",
                &s.image,
                "--vulns",
                "--db-dir",
                &s.db,
                "-q",
                "-f",
                "json",
                "--fail-on",
                "high",
            ],
        ),
        None,
    );
    assert_eq!(gate.code, Some(7), "{gate:?}");
    assert!(gate.stderr.contains("fails --fail-on high"), "{gate:?}");
    // The report was written to stdout before the verdict.
    let doc: Value = serde_json::from_str(&gate.stdout).unwrap();
    assert_eq!(doc["grade"], "F");
    let pass = run(
        process(
            cwd,
            &[
                "scan",
                &s.image,
                "--vulns",
                "--db-dir",
                &s.db,
                "-q",
                "-f",
                "json",
                "--fail-on",
                "critical",
            ],
        ),
        None,
    );
    assert_eq!(pass.code, Some(0), "{pass:?}");
    let sarif = run(process(cwd, &["scan", &s.image, "-q", "-f", "sarif"]), None);
    assert_eq!(sarif.code, Some(2), "{sarif:?}");
    assert!(sarif.stderr.contains("add --vulns"), "{sarif:?}");
}
