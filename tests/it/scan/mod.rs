//! `cra scan` and `cra_scan::Scanner` on synthetic images in every local transport, on broken
//! input, on the real Debian fixture when present, and through the CNCF registry on loopback.
//! This module holds the images and helpers the files below share.

// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clap::Parser;
use cra_core::{Digest, ErrorKind};
use cra_scan::{ImageSource, Progress, ScanError, ScanOptions, ScanReport, Scanner};
use cra_tests::image::{
    debian_os_release, dpkg_status, gzip, tar, write_docker_archive, write_oci_archive,
    write_oci_layout, Compression, Deb, Entry, Image, Layer,
};
use cra_tests::registry::{registry_available, Auth, PushedImage, RegistryServer};

mod broken;
mod cache;
mod command;
mod platforms;
mod registry;
pub(crate) mod scan_registry;
mod transports;

fn base_layer(compression: Compression) -> Layer {
    let status = dpkg_status(&[
        Deb::installed("base-files", "12.4+deb12u5"),
        Deb {
            source: Some("glibc"),
            depends: Some("libgcc-s1"),
            ..Deb::installed("libc6", "2.36-9+deb12u7")
        },
        Deb {
            source: Some("gcc-12 (12.2.0-14)"),
            depends: Some("libc6 (>= 2.35)"),
            ..Deb::installed("libgcc-s1", "12.2.0-14+b1")
        },
        Deb {
            source: Some("audit"),
            ..Deb::installed("libaudit1", "1:3.0.9-1")
        },
        Deb {
            status: "deinstall ok config-files",
            ..Deb::installed("vim-tiny", "2:9.0.1378-2")
        },
    ]);
    Layer::new(
        &[
            Entry::Dir("etc/".into()),
            Entry::Symlink("etc/os-release".into(), "../usr/lib/os-release".into()),
            Entry::file("usr/lib/os-release", debian_os_release("12", "bookworm")),
            Entry::file("etc/debian_version", "12.8\n"),
            Entry::file("var/lib/dpkg/status", &status),
            Entry::file(
                "var/lib/dpkg/status.d/stale",
                "Package: stale\nVersion: 1\n",
            ),
        ],
        compression,
    )
}

/// L0 (multi-member gzip): Debian 12 with four installed packages.
/// L1 (zstd): apt installs two packages (a new status) and removes status.d.
/// L2 (plain tar): deletes bash again (new status) and whites out `/etc/debian_version`.
fn three_layer_image() -> Image {
    let l1_status = dpkg_status(&[
        Deb::installed("base-files", "12.4+deb12u5"),
        Deb {
            source: Some("glibc"),
            ..Deb::installed("libc6", "2.36-9+deb12u7")
        },
        Deb {
            source: Some("gcc-12 (12.2.0-14)"),
            ..Deb::installed("libgcc-s1", "12.2.0-14+b1")
        },
        Deb {
            source: Some("audit"),
            ..Deb::installed("libaudit1", "1:3.0.9-1")
        },
        Deb::installed("bash", "5.2.15-2+b7"),
        Deb {
            source: Some("openssl"),
            depends: Some("libc6 (>= 2.34)"),
            ..Deb::installed("libssl3", "3.0.15-1~deb12u1")
        },
    ]);
    let l2_status = l1_status.replace(
        "Package: bash\nStatus: install ok installed",
        "Package: bash\nStatus: deinstall ok config-files",
    );
    Image::new(
        "amd64",
        vec![
            base_layer(Compression::MultiGzip),
            Layer::new(
                &[
                    Entry::file("var/lib/dpkg/status", &l1_status),
                    Entry::whiteout("var/lib/dpkg/status.d"),
                ],
                Compression::Zstd,
            ),
            Layer::new(
                &[
                    Entry::whiteout("etc/debian_version"),
                    Entry::file("./var/lib/dpkg/status", &l2_status),
                ],
                Compression::None,
            ),
        ],
    )
}

fn names(report: &ScanReport) -> Vec<String> {
    report
        .inventory
        .packages
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect()
}

async fn scan(source: &ImageSource) -> Result<ScanReport, ScanError> {
    Scanner::new(ScanOptions::default())
        .scan(source, None)
        .await
}

fn assert_three_layer_report(report: &ScanReport, image: &Image) {
    assert_eq!(
        names(report),
        [
            "base-files@12.4+deb12u5",
            "libc6@2.36-9+deb12u7",
            "libgcc-s1@12.2.0-14+b1",
            "libaudit1@1:3.0.9-1",
            "libssl3@3.0.15-1~deb12u1",
        ]
    );
    let os = report.inventory.os.as_ref().expect("os detected");
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    assert!(report
        .inventory
        .packages
        .iter()
        .all(|p| p.location.layer_index == 2));
    let gcc = &report.inventory.packages[2];
    assert_eq!(gcc.source_name.as_deref(), Some("gcc-12"));
    assert_eq!(gcc.source_version.as_deref(), Some("12.2.0-14"));
    assert_eq!(
        gcc.purl,
        "pkg:deb/debian/libgcc-s1@12.2.0-14%2Bb1?arch=amd64&distro=debian-bookworm&upstream=gcc-12%4012.2.0-14"
    );
    assert_eq!(report.image.config_digest, image.config_digest());
    assert_eq!(report.image.layers.len(), 3);
    assert!(
        report.inventory.warnings.is_empty(),
        "{:?}",
        report.inventory.warnings
    );
}

/// Writes `image` as a layout and scans it with `options`.
async fn scan_layout(
    image: &Image,
    options: ScanOptions,
) -> (Result<ScanReport, ScanError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[(image, None)], false);
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    (Scanner::new(options).scan(&source, None).await, dir)
}

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(digest.hex())
}

/// `<repo root>/../shared`, present in CI but not in a user's clone.
fn shared_fixture(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/images")
        .join(name);
    path.exists().then_some(path)
}

fn platform_image(arch: &str, package: &str) -> Image {
    let status = dpkg_status(&[Deb::installed(package, "1.0-1")]);
    Image::new(
        arch,
        vec![Layer::new(
            &[
                Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
                Entry::file("var/lib/dpkg/status", &status),
            ],
            Compression::Gzip,
        )],
    )
}

async fn cli(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["cra", "scan"];
    argv.extend_from_slice(args);
    cra_cli::run(cra_cli::Cli::parse_from(argv)).await
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn fact<'a>(result: &'a serde_json::Value, ty: &str) -> Option<&'a serde_json::Value> {
    result["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == ty)
        .map(|f| &f["data"])
}

/// Checks the dep-graph rules snyk's `createFromJSON` enforces.
fn assert_valid_dep_graph(graph: &serde_json::Value) {
    use std::collections::{HashMap, HashSet};
    let pkgs: HashMap<&str, &serde_json::Value> = graph["pkgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), &p["info"]))
        .collect();
    for (id, info) in &pkgs {
        let want = format!(
            "{}@{}",
            info["name"].as_str().unwrap(),
            info["version"].as_str().unwrap_or("")
        );
        assert_eq!(*id, want);
    }
    let nodes = graph["graph"]["nodes"].as_array().unwrap();
    let by_id: HashMap<&str, &serde_json::Value> = nodes
        .iter()
        .map(|n| (n["nodeId"].as_str().unwrap(), n))
        .collect();
    assert_eq!(by_id.len(), nodes.len(), "node ids are unique");
    let root = graph["graph"]["rootNodeId"].as_str().unwrap();
    let mut seen = HashSet::new();
    let mut todo = vec![root];
    while let Some(n) = todo.pop() {
        if !seen.insert(n) {
            continue;
        }
        let node = by_id[n];
        assert!(pkgs.contains_key(node["pkgId"].as_str().unwrap()));
        for d in node["deps"].as_array().unwrap() {
            let d = d["nodeId"].as_str().unwrap();
            assert_ne!(d, root, "the root has no incoming edges");
            todo.push(d);
        }
    }
    assert_eq!(
        seen.len(),
        nodes.len(),
        "every node is reachable from the root"
    );
}
