//! Java archives through the pipeline and every output: each package is located at its own
//! archive, nested ones as `outer.jar!/inner.jar`, and a version read from a file name alone is
//! marked as such and is not a Maven coordinate.

// Test helpers outside `#[test]` functions panic on setup failures by design.
#![allow(clippy::unwrap_used)]

use cra_core::{Ecosystem, Package};
use cra_scan::sbom::snyk::ScanResults;
use cra_scan::{sbom, ImageSource, ScanOptions, ScanReport, Scanner};
use cra_tests::app_image::{jar, maven_jar, sha1_hex};
use cra_tests::image::{debian_os_release, write_oci_layout, Compression, Entry, Image, Layer};
use serde_json::Value;

const APP: &str = "/opt/app/app.jar";
const NESTED: &str = "/opt/app/app.jar!/BOOT-INF/lib/slf4j-api-2.0.9.jar";
const GUESSED: &str = "/opt/app/lib/level-3.jar";

/// An OCI layout of one layer: an app jar with a jar nested in it, and a jar with no metadata
/// but a versioned file name.
async fn jar_report() -> (tempfile::TempDir, ScanReport, Vec<u8>) {
    let slf4j = maven_jar("org.slf4j", "slf4j-api", "2.0.9", &[]);
    let app = maven_jar(
        "com.acme",
        "app",
        "1.0.0",
        &[("BOOT-INF/lib/slf4j-api-2.0.9.jar", &slf4j)],
    );
    let bare = jar(&[(
        "META-INF/MANIFEST.MF",
        b"Manifest-Version: 1.0\r\nCreated-By: 17 (Oracle)\r\n\r\n",
    )]);
    let layer = Layer::new(
        &[
            Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
            Entry::file(&APP[1..], &app),
            Entry::file(&GUESSED[1..], &bare),
        ],
        Compression::Gzip,
    );
    let image = Image::new("amd64", vec![layer]);
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[(&image, None)], false);
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    let report = Scanner::new(ScanOptions::default())
        .scan(&source, None)
        .await
        .unwrap();
    (dir, report, slf4j)
}

fn maven<'a>(report: &'a ScanReport, name: &str) -> &'a Package {
    report
        .inventory
        .packages
        .iter()
        .find(|p| p.ecosystem == Ecosystem::Maven && p.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", report.inventory.packages))
}

fn render(report: &ScanReport, format: sbom::Format) -> Vec<u8> {
    let mut out = Vec::new();
    sbom::render(report, format, &mut out).unwrap();
    out
}

/// The CycloneDX component whose purl starts with `purl`.
fn component<'a>(bom: &'a Value, purl: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"].as_str().is_some_and(|p| p.starts_with(purl)))
        .unwrap_or_else(|| panic!("no component {purl} in {bom}"))
}

fn property<'a>(component: &'a Value, name: &str) -> Option<&'a str> {
    component["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["value"].as_str())
}

/// The SPDX package whose purl reference starts with `purl`.
fn spdx_package<'a>(doc: &'a Value, purl: &str) -> &'a Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["externalRefs"].as_array().into_iter().flatten().any(|r| {
                r["referenceLocator"]
                    .as_str()
                    .is_some_and(|l| l.starts_with(purl))
            })
        })
        .unwrap_or_else(|| panic!("no package {purl} in {doc}"))
}

#[tokio::test]
async fn nested_jars_are_located_at_their_own_path_in_every_output() {
    let (_dir, report, slf4j) = jar_report().await;
    // The inventory (after the merge) keeps each package's own archive.
    let nested = maven(&report, "org.slf4j:slf4j-api");
    assert_eq!(nested.location.path, NESTED);
    assert_eq!(nested.sha1.as_deref(), Some(sha1_hex(&slf4j).as_str()));
    assert!(nested.location.diff_id.is_some());
    assert_eq!(maven(&report, "com.acme:app").location.path, APP);
    assert_eq!(maven(&report, "level").location.path, GUESSED);

    let bom: Value = serde_json::from_slice(&render(&report, sbom::Format::CycloneDx)).unwrap();
    let c = component(&bom, "pkg:maven/org.slf4j/slf4j-api@2.0.9");
    assert_eq!(property(c, "cra:location:path"), Some(NESTED));
    let c = component(&bom, "pkg:maven/com.acme/app@1.0.0");
    assert_eq!(property(c, "cra:location:path"), Some(APP));

    let spdx: Value = serde_json::from_slice(&render(&report, sbom::Format::Spdx)).unwrap();
    let p = spdx_package(&spdx, "pkg:maven/org.slf4j/slf4j-api@2.0.9");
    let comment = p["comment"].as_str().unwrap();
    assert!(
        comment.contains(&format!("found at {NESTED} ")),
        "{comment}"
    );

    let results: ScanResults =
        serde_json::from_slice(&render(&report, sbom::Format::Json)).unwrap();
    let locations: Vec<&str> = results
        .scan_results
        .iter()
        .filter_map(|r| r.jar_fingerprints())
        .flat_map(|j| j.fingerprints.iter().map(|f| f.location.as_str()))
        .collect();
    assert!(locations.contains(&NESTED), "{locations:?}");
    assert!(locations.contains(&APP), "{locations:?}");

    let table = String::from_utf8(render(&report, sbom::Format::Table)).unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with("org.slf4j:slf4j-api "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(row.ends_with(NESTED), "{table}");
}

#[tokio::test]
async fn a_version_from_a_file_name_is_marked_and_is_no_coordinate() {
    let (_dir, report, _) = jar_report().await;
    let guessed = maven(&report, "level");
    assert_eq!(guessed.version, "3");
    assert!(guessed.version_from_file_name);
    assert_eq!(guessed.purl, "pkg:maven/level");
    assert!(!maven(&report, "com.acme:app").version_from_file_name);

    let bom: Value = serde_json::from_slice(&render(&report, sbom::Format::CycloneDx)).unwrap();
    let c = component(&bom, "pkg:maven/level");
    assert_eq!(c["purl"], "pkg:maven/level");
    assert_eq!(property(c, "cra:version:source"), Some("file-name"));
    let c = component(&bom, "pkg:maven/com.acme/app@1.0.0");
    assert_eq!(property(c, "cra:version:source"), None);

    let spdx: Value = serde_json::from_slice(&render(&report, sbom::Format::Spdx)).unwrap();
    let p = spdx_package(&spdx, "pkg:maven/level");
    let comment = p["comment"].as_str().unwrap();
    assert!(
        comment.contains("version taken from the file name"),
        "{comment}"
    );
    let p = spdx_package(&spdx, "pkg:maven/com.acme/app@1.0.0");
    assert!(!p["comment"].as_str().unwrap().contains("file name"));

    let results: ScanResults =
        serde_json::from_slice(&render(&report, sbom::Format::Json)).unwrap();
    let fingerprint = results
        .scan_results
        .iter()
        .filter_map(|r| r.jar_fingerprints())
        .flat_map(|j| j.fingerprints.iter())
        .find(|f| f.location == GUESSED)
        .unwrap();
    assert_eq!(
        fingerprint.coordinates.artifact_id.as_deref(),
        Some("level")
    );
    assert_eq!(fingerprint.coordinates.version, None);
}
