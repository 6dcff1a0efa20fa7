//! Every analyzer through the real pipeline (here), the SBOM outputs validated against the official
//! CycloneDX 1.6 and SPDX 2.3 JSON schemas (committed under `tests/fixtures/schemas/`; `validators`),
//! and the snyk results (`snyk`).
//!
//! The image is an OCI layout the test writes itself: one uncompressed layer holding an OS
//! release file and one database or manifest of each kind.
//! A second image holds an OS and applications (`cra_tests::app_image`): its snyk results have
//! one result per application and the same packages as its CycloneDX BOM, also as the agent
//! sends them; its SPDX output passes `pyspdxtools` where that is installed (CI installs it).

// Test helpers outside `#[test]` functions panic on setup failures by design.
#![allow(clippy::unwrap_used)]

mod snyk;
mod validators;

use std::path::{Path, PathBuf};

use cra_core::{Digest, Ecosystem, Package};
use cra_scan::{sbom, ImageSource, ScanOptions, ScanReport, Scanner};
use cra_tests::app_image::application_layer;
use serde_json::{json, Value};

pub(crate) use validators::{assert_valid, cyclonedx_validator};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Appends one regular file (ustar) to an in-memory tar.
fn tar_file(out: &mut Vec<u8>, path: &str, mode: u32, content: &[u8]) {
    let mut header = [0u8; 512];
    header[..path.len()].copy_from_slice(path.as_bytes());
    header[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", content.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[148..156].copy_from_slice(b"        ");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn layer() -> Vec<u8> {
    let rpmdb = std::fs::read(repo_root().join("cra-scan/tests/fixtures/rpm/rpmdb.sqlite"))
        .expect("rpm fixture");
    let files: Vec<(&str, u32, Vec<u8>)> = vec![
        (
            "etc/os-release",
            0o644,
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n".to_vec(),
        ),
        (
            "var/lib/dpkg/status",
            0o644,
            b"Package: python3-six\nStatus: install ok installed\nArchitecture: all\nSource: six\nVersion: 1.16.0-4\nDepends: python3:any\n\n".to_vec(),
        ),
        (
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info",
            0o644,
            b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n".to_vec(),
        ),
        (
            "opt/venv/lib/python3.11/site-packages/Flask-3.0.2.dist-info/METADATA",
            0o644,
            b"Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.2\nRequires-Dist: Werkzeug>=3.0.0\n".to_vec(),
        ),
        (
            "opt/venv/lib/python3.11/site-packages/werkzeug-3.0.1.dist-info/METADATA",
            0o644,
            b"Metadata-Version: 2.1\nName: Werkzeug\nVersion: 3.0.1\n".to_vec(),
        ),
        (
            "srv/app/package.json",
            0o644,
            br#"{"name":"goof","version":"0.0.3","dependencies":{"lodash":"^4"}}"#.to_vec(),
        ),
        (
            "srv/app/package-lock.json",
            0o644,
            br#"{"lockfileVersion":3,"packages":{"node_modules/lodash":{"version":"4.17.21"}}}"#.to_vec(),
        ),
        (
            "srv/app/node_modules/lodash/package.json",
            0o644,
            br#"{"name":"lodash","version":"4.17.21","license":"MIT"}"#.to_vec(),
        ),
        (
            "srv/tool/yarn.lock",
            0o644,
            b"left-pad@^1.3.0:\n  version \"1.3.0\"\n".to_vec(),
        ),
        ("var/lib/rpm/rpmdb.sqlite", 0o644, rpmdb),
        (
            "lib/apk/db/installed",
            0o644,
            b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n".to_vec(),
        ),
        (
            "usr/local/bundle/specifications/rack-3.0.9.gemspec",
            0o644,
            b"Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"3.0.9\"\nend\n".to_vec(),
        ),
        (
            "var/www/vendor/composer/installed.json",
            0o644,
            br#"{"packages":[{"name":"symfony/console","version":"v6.4.3"}]}"#.to_vec(),
        ),
        (
            "app/MyApp.deps.json",
            0o644,
            br#"{"libraries":{"Newtonsoft.Json/13.0.3":{"type":"package"}}}"#.to_vec(),
        ),
        ("usr/local/bin/script", 0o755, b"#!/bin/sh\necho not an ELF binary at all\n".to_vec()),
    ];
    let mut tar = Vec::new();
    for (path, mode, content) in &files {
        tar_file(&mut tar, path, *mode, content);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

/// Writes an OCI image layout with one uncompressed layer; returns its directory.
fn write_layout(dir: &Path, layer: &[u8]) {
    let blob = |bytes: &[u8]| -> (Digest, usize) {
        let digest = Digest::sha256_of(bytes);
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        std::fs::write(blobs.join(digest.hex()), bytes).unwrap();
        (digest, bytes.len())
    };
    let (layer_digest, layer_size) = blob(layer);
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [layer_digest.to_string()] },
    });
    let (config_digest, config_size) = blob(&serde_json::to_vec(&config).unwrap());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest.to_string(), "size": config_size },
        "layers": [ { "mediaType": "application/vnd.oci.image.layer.v1.tar",
                      "digest": layer_digest.to_string(), "size": layer_size } ],
    });
    let (manifest_digest, manifest_size) = blob(&serde_json::to_vec(&manifest).unwrap());
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [ { "mediaType": "application/vnd.oci.image.manifest.v1+json",
                         "digest": manifest_digest.to_string(), "size": manifest_size,
                         "annotations": { "org.opencontainers.image.ref.name": "1.0" } } ],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

async fn scan(source: &str) -> ScanReport {
    let source: ImageSource = source.parse().expect("source");
    Scanner::new(ScanOptions::default())
        .scan(&source, None)
        .await
        .expect("scan")
}

async fn synthetic_report() -> (tempfile::TempDir, ScanReport) {
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &layer());
    let report = scan(&format!("oci:{}", dir.path().display())).await;
    (dir, report)
}

fn find<'a>(report: &'a ScanReport, eco: Ecosystem, name: &str) -> Vec<&'a Package> {
    report
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == eco && p.name == name)
        .collect()
}

fn render(report: &ScanReport, format: sbom::Format) -> Value {
    let mut out = Vec::new();
    sbom::render(report, format, &mut out).expect("render");
    serde_json::from_slice(&out).expect("valid JSON")
}

async fn application_report() -> (tempfile::TempDir, ScanReport) {
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &application_layer());
    let report = scan(&format!("oci:{}", dir.path().display())).await;
    (dir, report)
}

#[tokio::test]
async fn every_analyzer_through_the_pipeline() {
    let (_dir, report) = synthetic_report().await;
    let count = |eco: Ecosystem| {
        report
            .inventory
            .packages
            .iter()
            .filter(|p| p.ecosystem == eco)
            .count()
    };
    let all: Vec<String> = report
        .inventory
        .packages
        .iter()
        .map(|p| format!("{} {} {}", p.ecosystem, p.name, p.location.path))
        .collect();
    assert_eq!(count(Ecosystem::Deb), 1, "{all:#?}");
    assert_eq!(count(Ecosystem::Apk), 1, "{all:#?}");
    assert_eq!(count(Ecosystem::Rpm), 2, "{all:#?}");
    assert_eq!(count(Ecosystem::Pypi), 3, "{all:#?}");
    assert_eq!(count(Ecosystem::Gem), 1, "{all:#?}");
    assert_eq!(count(Ecosystem::Composer), 1, "{all:#?}");
    assert_eq!(count(Ecosystem::Nuget), 1, "{all:#?}");
    // The app's own manifest, the installed lodash, and yarn's left-pad; the package-lock entry
    // for lodash is dropped because node_modules is installed beside it.
    let mut npm: Vec<String> = report
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
        .map(|p| format!("{}@{} {}", p.name, p.version, p.location.path))
        .collect();
    npm.sort();
    assert_eq!(
        npm,
        [
            "goof@0.0.3 /srv/app/package.json",
            "left-pad@1.3.0 /srv/tool/yarn.lock",
            "lodash@4.17.21 /srv/app/node_modules/lodash/package.json",
        ]
    );
    // Debian's python3-six files are marked as OS-managed; the virtualenv's are not.
    let six = find(&report, Ecosystem::Pypi, "six");
    assert!(six[0].os_managed);
    let flask = find(&report, Ecosystem::Pypi, "Flask");
    assert!(!flask[0].os_managed);
    assert_eq!(flask[0].purl, "pkg:pypi/flask@3.0.2");
    assert_eq!(flask[0].dependencies, ["werkzeug"]);
    // OS purls are completed with the image's OS after merge.
    let lib = find(&report, Ecosystem::Rpm, "cra-demo-lib");
    assert_eq!(lib[0].version, "1:1.2.3-4.el9");
    assert!(lib[0].purl.contains("distro=debian-12"), "{}", lib[0].purl);
    assert!(lib[0].purl.contains("epoch=1"), "{}", lib[0].purl);
    let musl = find(&report, Ecosystem::Apk, "musl");
    assert!(
        musl[0].purl.starts_with("pkg:apk/debian/musl@1.2.4-r2"),
        "{}",
        musl[0].purl
    );
    // Every package knows its layer.
    assert!(report
        .inventory
        .packages
        .iter()
        .all(|p| p.location.diff_id.is_some() && !p.purl.is_empty()));
}
