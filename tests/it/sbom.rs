//! Every analyzer through the real pipeline, and the SBOM outputs validated against the official
//! CycloneDX 1.6 and SPDX 2.3 JSON schemas (committed under `tests/fixtures/schemas/`).
//!
//! The image is an OCI layout the test writes itself: one uncompressed layer holding an OS
//! release file and one database or manifest of each kind.
//! A second image holds an OS and applications (`cra_tests::app_image`): its snyk results have
//! one result per application and the same packages as its CycloneDX BOM, also as the agent
//! sends them; its SPDX output passes `pyspdxtools` where that is installed (CI installs it).

// Test helpers outside `#[test]` functions panic on setup failures by design.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cra_cli::agent::callback::RetryPolicy;
use cra_cli::agent::Settings;
use cra_core::{Digest, Ecosystem, Package, RegistryKind};
use cra_scan::sbom::snyk::{DepGraph, Fact, ScanResults};
use cra_scan::{sbom, ImageSource, ScanOptions, ScanReport, Scanner};
use cra_tests::agent::{CallbackReceiver, RunningAgent};
use cra_tests::app_image::{
    application_jars, application_layer, purls_in_cyclonedx, purls_in_scan_results, sha1_hex,
};
use cra_tests::registry::{registry_available, Auth, RegistryServer};
use serde_json::{json, Value};

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

fn schema(name: &str) -> Value {
    let path = repo_root().join("tests/fixtures/schemas").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "schema violations: {errors:#?}");
}

pub(crate) fn cyclonedx_validator() -> jsonschema::Validator {
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            schema("spdx.schema.json"),
        )
        .unwrap()
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            schema("jsf-0.82.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&schema("bom-1.6.schema.json"))
        .expect("CycloneDX schema compiles")
}

fn spdx_validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema("spdx-2.3.schema.json"))
        .expect("SPDX schema compiles")
}

fn render(report: &ScanReport, format: sbom::Format) -> Value {
    let mut out = Vec::new();
    sbom::render(report, format, &mut out).expect("render");
    serde_json::from_slice(&out).expect("valid JSON")
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

#[tokio::test]
async fn cyclonedx_is_valid_against_the_official_schema() {
    let (_dir, report) = synthetic_report().await;
    let bom = render(&report, sbom::Format::CycloneDx);
    assert_valid(&cyclonedx_validator(), &bom);
    let components = bom["components"].as_array().unwrap();
    // OS component plus one component per package.
    assert_eq!(components.len(), report.inventory.packages.len() + 1);
    let six = components
        .iter()
        .find(|c| c["purl"] == "pkg:pypi/six@1.16.0")
        .unwrap();
    assert!(six["properties"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "cra:package:osManaged" && p["value"] == "true"));
    // Flask's `Requires-Dist: Werkzeug` becomes an edge to the installed Werkzeug.
    let flask = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == "pkg:pypi/flask@3.0.2")
        .unwrap();
    assert_eq!(flask["dependsOn"], json!(["pkg:pypi/werkzeug@3.0.1"]));
    // A broken document is rejected, so the validator really checks.
    let mut broken = bom.clone();
    broken["components"][0]["type"] = json!("not-a-type");
    assert!(!cyclonedx_validator().is_valid(&broken));
}

#[tokio::test]
async fn spdx_is_valid_against_the_official_schema() {
    let (_dir, report) = synthetic_report().await;
    let doc = render(&report, sbom::Format::Spdx);
    assert_valid(&spdx_validator(), &doc);
    // Image + OS + every package.
    assert_eq!(
        doc["packages"].as_array().unwrap().len(),
        report.inventory.packages.len() + 2
    );
    let mut broken = doc.clone();
    broken["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("downloadLocation");
    assert!(!spdx_validator().is_valid(&broken));
}

/// The real Debian image from `../shared/fixtures`, when present.
#[tokio::test]
async fn real_debian_image_sboms_are_valid() {
    let archive = repo_root().join("../shared/fixtures/images/debian-min.oci.tar");
    if !archive.exists() {
        eprintln!("skipping: {} is absent", archive.display());
        return;
    }
    let report = scan(&format!("oci-archive:{}", archive.display())).await;
    assert!(report.inventory.packages.len() >= 80);
    assert_valid(
        &cyclonedx_validator(),
        &render(&report, sbom::Format::CycloneDx),
    );
    assert_valid(&spdx_validator(), &render(&report, sbom::Format::Spdx));
}

async fn application_report() -> (tempfile::TempDir, ScanReport) {
    let dir = tempfile::tempdir().unwrap();
    write_layout(dir.path(), &application_layer());
    let report = scan(&format!("oci:{}", dir.path().display())).await;
    (dir, report)
}

/// The rules `@snyk/dep-graph` enforces: ids `name@version` and unique, every node's package
/// known, the root without incoming edges, every node reachable from the root.
fn assert_valid_dep_graph(g: &DepGraph) {
    let mut pkgs = HashMap::new();
    for p in &g.pkgs {
        let id = format!(
            "{}@{}",
            p.info.name,
            p.info.version.as_deref().unwrap_or("")
        );
        assert_eq!(p.id, id);
        assert!(
            pkgs.insert(p.id.as_str(), ()).is_none(),
            "duplicate {}",
            p.id
        );
    }
    let nodes: HashMap<&str, &Vec<_>> = g
        .graph
        .nodes
        .iter()
        .map(|n| (n.node_id.as_str(), &n.deps))
        .collect();
    assert_eq!(nodes.len(), g.graph.nodes.len(), "node ids unique");
    assert!(g
        .graph
        .nodes
        .iter()
        .all(|n| pkgs.contains_key(n.pkg_id.as_str())));
    let root = g.graph.root_node_id.as_str();
    let mut seen = BTreeSet::from([root]);
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        for d in nodes[n] {
            assert_ne!(d.node_id, root, "an edge into the root");
            if seen.insert(d.node_id.as_str()) {
                todo.push(d.node_id.as_str());
            }
        }
    }
    assert_eq!(seen.len(), nodes.len(), "every node reachable");
}

#[tokio::test]
async fn snyk_results_have_one_result_per_application_and_the_cyclonedx_packages() {
    let (_dir, report) = application_report().await;
    let mut out = Vec::new();
    sbom::render(&report, sbom::Format::Json, &mut out).unwrap();
    let results: ScanResults = serde_json::from_slice(&out).expect("the typed payload reads back");
    let identities: Vec<(&str, Option<&str>)> = results
        .scan_results
        .iter()
        .map(|r| (r.identity.kind.as_str(), r.identity.target_file.as_deref()))
        .collect();
    assert_eq!(
        identities,
        [
            ("deb", None),
            ("maven", Some("/opt/app")),
            ("maven", Some("/opt/app/lib")),
            ("pip", Some("/opt/venv/lib/python3.11/site-packages")),
            ("npm", Some("/srv/app/package.json")),
            ("pip", Some("/usr/lib/python3/dist-packages")),
        ]
    );
    for r in &results.scan_results {
        assert!(r
            .facts
            .contains(&Fact::ImageId(report.image.config_digest.to_string())));
        assert!(r.facts.contains(&Fact::Platform("linux/amd64".into())));
        assert!(r
            .facts
            .iter()
            .any(|f| matches!(f, Fact::ImageLayers(l) if l.len() == 1)));
        assert!(r
            .facts
            .iter()
            .any(|f| matches!(f, Fact::RootFs(l) if l.len() == 1)));
        assert!(r.facts.iter().any(|f| matches!(f, Fact::PluginVersion(_))));
        if let Some(g) = r.dep_graph() {
            assert_valid_dep_graph(g);
            assert_eq!(g.pkg_manager.name, r.identity.kind);
        }
    }
    // The npm app is its graph's root, with the edges of its manifests.
    let npm = results.scan_results[4].dep_graph().unwrap();
    assert_eq!(npm.pkgs[0].id, "goof@0.0.3");
    let deps = |id: &str| -> Vec<&str> {
        let node = npm.graph.nodes.iter().find(|n| n.pkg_id == id).unwrap();
        node.deps.iter().map(|d| d.node_id.as_str()).collect()
    };
    let mut top = deps("goof@0.0.3");
    top.sort_unstable();
    assert_eq!(top, ["debug@4.3.4", "lodash@4.17.21"]);
    assert_eq!(deps("debug@4.3.4"), ["ms@2.1.2"]);
    // The virtualenv's root is its directory; Flask depends on the installed Werkzeug and click.
    let venv = results.scan_results[3].dep_graph().unwrap();
    assert_eq!(venv.pkgs[0].id, "/opt/venv/lib/python3.11/site-packages@");
    let flask = venv
        .graph
        .nodes
        .iter()
        .find(|n| n.pkg_id == "flask@3.0.2")
        .unwrap();
    let mut flask_deps: Vec<&str> = flask.deps.iter().map(|d| d.node_id.as_str()).collect();
    flask_deps.sort_unstable();
    assert_eq!(flask_deps, ["click@8.1.7", "werkzeug@3.0.1"]);
    // Jars: path and SHA-1 of each, coordinates beside.
    let jars = application_jars();
    let lib = results.scan_results[2].jar_fingerprints().unwrap();
    assert_eq!(lib.path, "/opt/app/lib");
    assert_eq!(lib.fingerprints.len(), 1);
    assert_eq!(
        lib.fingerprints[0].location,
        "/opt/app/lib/guava-32.1.3-jre.jar"
    );
    assert_eq!(lib.fingerprints[0].digest, Some(sha1_hex(&jars[0].1)));
    assert_eq!(
        lib.fingerprints[0].coordinates.artifact_id.as_deref(),
        Some("guava")
    );
    let app = results.scan_results[1].jar_fingerprints().unwrap();
    let outer = app
        .fingerprints
        .iter()
        .find(|f| f.location == "/opt/app/app.jar")
        .unwrap();
    assert_eq!(outer.digest, Some(sha1_hex(&jars[1].1)));
    assert_eq!(outer.coordinates.artifact_id.as_deref(), Some("app"));

    // Across all results, the same packages as the CycloneDX BOM, per ecosystem.
    let from_snyk = purls_in_scan_results(&results);
    let from_cdx = purls_in_cyclonedx(&render(&report, sbom::Format::CycloneDx));
    assert_eq!(
        from_snyk.keys().collect::<Vec<_>>(),
        ["deb", "maven", "npm", "pypi"]
    );
    assert_eq!(from_snyk, from_cdx);
    assert_eq!(from_snyk["maven"].len(), 3, "{:?}", from_snyk["maven"]);
    assert_eq!(from_snyk["pypi"].len(), 5, "{:?}", from_snyk["pypi"]);
}

/// `pyspdxtools -i` on a document; `None` when the tool is not installed.
fn pyspdxtools(doc: &Value) -> Option<Result<(), String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.spdx.json");
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = match std::process::Command::new("pyspdxtools")
        .arg("-i")
        .arg(&path)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(format!("pyspdxtools did not run: {e}"))),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        if out.status.success() && !text.contains("ValidationMessage") {
            Ok(())
        } else {
            Err(text)
        },
    )
}

/// Both SBOMs of an image against the reference validators.
// A skipped check is said on stderr, as the tests' other skips are.
#[allow(clippy::print_stderr)]
fn assert_sboms_valid(report: &ScanReport) {
    let bom = render(report, sbom::Format::CycloneDx);
    assert_valid(&cyclonedx_validator(), &bom);
    let doc = render(report, sbom::Format::Spdx);
    assert_valid(&spdx_validator(), &doc);
    match pyspdxtools(&doc) {
        None => eprintln!("skipping pyspdxtools: not installed (.ci/install-sbom.sh installs it)"),
        Some(verdict) => {
            verdict.unwrap_or_else(|e| panic!("pyspdxtools rejects the document: {e}"))
        }
    }
}

#[tokio::test]
async fn sboms_pass_the_reference_validators() {
    // The schema is strict: an unknown property is an error, so nothing unchecked slips by.
    let (_dir, report) = application_report().await;
    let mut bom = render(&report, sbom::Format::CycloneDx);
    bom["components"][0]["unknownField"] = json!(1);
    assert!(!cyclonedx_validator().is_valid(&bom));
    assert_sboms_valid(&report);

    // License strings that are not SPDX expressions are carried as LicenseRefs with their text.
    let doc = render(&report, sbom::Format::Spdx);
    let declared = |name: &str| -> String {
        doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["licenseDeclared"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(declared("Flask"), "LicenseRef-BSD");
    assert_eq!(declared("Werkzeug"), "LicenseRef-LGPL");
    assert_eq!(declared("click"), "BSD-3-Clause");
    assert!(declared("docutils").starts_with("LicenseRef-public-domain"));
    let extracted: Vec<(&str, &str)> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["licenseId"].as_str().unwrap(),
                e["extractedText"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        extracted.contains(&("LicenseRef-BSD", "BSD")),
        "{extracted:?}"
    );
    assert!(
        extracted.contains(&("LicenseRef-LGPL", "LGPL")),
        "{extracted:?}"
    );

    // The committed example image.
    let example = repo_root().join("examples/images/tiny-debian");
    let report = scan(&format!("oci:{}", example.display())).await;
    assert!(!report.inventory.packages.is_empty());
    assert_sboms_valid(&report);
    // And the synthetic image of every analyzer.
    let (_dir, report) = synthetic_report().await;
    assert_sboms_valid(&report);
}

#[tokio::test]
async fn agent_result_callback_carries_every_application() {
    if !registry_available() {
        return;
    }
    let server = RegistryServer::start(Auth::htpasswd("robot", "pa55-w0rd")).await;
    let layer = application_layer();
    server
        .push_small_image("team/app", "1", "amd64", &layer)
        .await;
    let receiver = CallbackReceiver::start(Duration::ZERO).await;
    let agent = RunningAgent::start(Settings {
        broker_client_url: Some(receiver.url().parse().unwrap()),
        callback_retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            request_timeout: Duration::from_secs(10),
        },
        ..Settings::default()
    })
    .await;
    let auth = server.credentials(RegistryKind::Nexus).to_base64();
    let (status, body) = agent
        .post(
            "/scan",
            &auth,
            &json!({"image": "team/app:1", "jobId": "apps-1"}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let calls = receiver.wait_for(2, Duration::from_secs(60)).await;
    let result = &calls
        .iter()
        .find(|c| c.path == "/api/v2/import/result")
        .unwrap()
        .body;
    assert_eq!(result["status"], "success", "{result}");
    let results: ScanResults =
        serde_json::from_value(json!({ "scanResults": result["scanResults"] })).unwrap();
    assert_eq!(results.scan_results.len(), 6);
    // The same packages as the CycloneDX BOM of the same layer scanned locally.
    let (_dir, report) = application_report().await;
    assert_eq!(
        purls_in_scan_results(&results),
        purls_in_cyclonedx(&render(&report, sbom::Format::CycloneDx))
    );
    agent.stop().await;
}
