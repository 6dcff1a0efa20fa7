//! `cra scan` and `cra_scan::Scanner` on synthetic images in every local transport, on broken
//! input, on the real Debian fixture when present, and through the CNCF registry on loopback.

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

#[tokio::test]
async fn oci_layout_with_three_layers_whiteouts_and_every_compression() {
    let dir = tempfile::tempdir().unwrap();
    let image = three_layer_image();
    write_oci_layout(dir.path(), &[(&image, Some("12"))], false);
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    let report = scan(&source).await.unwrap();
    assert_three_layer_report(&report, &image);
    assert_eq!(report.image.manifest_digest, image.digest());
}

#[tokio::test]
async fn oci_archive_selects_the_tag() {
    let dir = tempfile::tempdir().unwrap();
    let image = three_layer_image();
    let other = Image::new("amd64", vec![base_layer(Compression::Gzip)]);
    let path = dir.path().join("image.tar");
    write_oci_archive(&path, &[(&other, Some("11")), (&image, Some("12"))]);
    let report = scan(
        &format!("oci-archive:{}:12", path.display())
            .parse()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_three_layer_report(&report, &image);
    let report = scan(
        &format!("oci-archive:{}:11", path.display())
            .parse()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(report.inventory.packages.len(), 5, "{:?}", names(&report));
    let err = scan(
        &format!("oci-archive:{}:13", path.display())
            .parse()
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ScanError::NotFound { .. }), "{err}");
}

#[tokio::test]
async fn docker_archive_legacy_with_a_linked_layer() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_layer(Compression::None);
    let image = Image::new(
        "amd64",
        vec![base.clone(), three_layer_image().layers[1].clone(), base],
    );
    let path = dir.path().join("docker.tar");
    write_docker_archive(&path, &image, "example/app:1.0");
    let report = scan(
        &format!("docker-archive:{}", path.display())
            .parse()
            .unwrap(),
    )
    .await
    .unwrap();
    // The third layer (a link to the first) brings the base status back on top.
    assert_eq!(report.inventory.packages.len(), 5, "{:?}", names(&report));
    assert!(report
        .inventory
        .packages
        .iter()
        .all(|p| p.location.layer_index == 2));
    assert_eq!(report.image.names, ["example/app:1.0"]);
    assert!(report.image.layers[0]
        .archive_path
        .as_deref()
        .is_some_and(|p| p.ends_with("/layer.tar")));
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

#[tokio::test]
async fn two_platform_index_in_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let amd = platform_image("amd64", "only-on-amd64");
    let arm = platform_image("arm64", "only-on-arm64");
    write_oci_layout(dir.path(), &[(&amd, None), (&arm, None)], true);
    let source: ImageSource = format!("oci:{}:multi", dir.path().display())
        .parse()
        .unwrap();
    let report = scan(&source).await.unwrap();
    assert_eq!(names(&report), ["only-on-amd64@1.0-1"]);
    let options = ScanOptions {
        platform: "linux/arm64".parse().unwrap(),
        ..ScanOptions::default()
    };
    let report = Scanner::new(options).scan(&source, None).await.unwrap();
    assert_eq!(names(&report), ["only-on-arm64@1.0-1"]);
    assert_eq!(report.image.platform.os_arch(), "linux/arm64");
    let options = ScanOptions {
        platform: "linux/s390x".parse().unwrap(),
        ..ScanOptions::default()
    };
    let err = Scanner::new(options).scan(&source, None).await.unwrap_err();
    assert!(err.to_string().contains("linux/arm64"), "{err}");
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

#[tokio::test]
async fn wrong_layer_digest_is_a_digest_mismatch() {
    let image = three_layer_image();
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[(&image, None)], false);
    // Same size, different bytes: the plain-tar layer with one status byte changed.
    let path = blob_path(dir.path(), &image.layers[2].digest());
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(5).position(|w| w == b"bash\n").unwrap();
    bytes[at] = b'c';
    std::fs::write(&path, bytes).unwrap();
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    let err = scan(&source).await.unwrap_err();
    match &err {
        ScanError::DigestMismatch { what, expected, .. } => {
            assert!(what.contains("layer 2"), "{err}");
            assert_eq!(expected, &image.layers[2].digest());
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
}

#[tokio::test]
async fn wrong_diff_id_is_a_digest_mismatch() {
    let good = three_layer_image();
    let mut diff_ids: Vec<String> = good
        .layers
        .iter()
        .map(|l| l.diff_id().to_string())
        .collect();
    diff_ids[1] = Digest::sha256_of(b"something else").to_string();
    let image = Image::with_diff_ids("amd64", good.layers.clone(), diff_ids);
    let (result, _dir) = scan_layout(&image, ScanOptions::default()).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ScanError::DigestMismatch { what, .. } if what.starts_with("diff_id of layer 1")),
        "{err}"
    );
}

#[tokio::test]
async fn truncated_blob_is_refused() {
    let image = three_layer_image();
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[(&image, None)], false);
    let path = blob_path(dir.path(), &image.layers[0].digest());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    let err = scan(&source).await.unwrap_err();
    assert!(matches!(err, ScanError::SizeMismatch { .. }), "{err}");
}

#[tokio::test]
async fn parent_directory_entries_are_skipped_with_a_warning() {
    let hostile = dpkg_status(&[Deb::installed("planted", "6.6.6")]);
    let mut image = three_layer_image();
    image.layers.push(Layer::new(
        &[Entry::file("../var/lib/dpkg/status", &hostile)],
        Compression::Gzip,
    ));
    let image = Image::new("amd64", image.layers);
    let (result, _dir) = scan_layout(&image, ScanOptions::default()).await;
    let report = result.unwrap();
    assert!(!names(&report).iter().any(|n| n.starts_with("planted")));
    assert_eq!(report.inventory.packages.len(), 5);
    let w = &report.inventory.warnings;
    assert!(
        w.len() == 1 && w[0].contains("layer 3") && w[0].contains("escapes the image root"),
        "{w:?}"
    );
}

#[tokio::test]
async fn unknown_layer_media_type_is_unsupported() {
    let mut image = three_layer_image();
    image.layers[1].media_type = "application/vnd.example.mystery.v1".into();
    image.manifest = image.build_manifest();
    let (result, _dir) = scan_layout(&image, ScanOptions::default()).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ScanError::UnsupportedMediaType { media_type } if media_type.contains("mystery")),
        "{err}"
    );
}

fn cut_tar(status: &str) -> Vec<u8> {
    tar(&[
        Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
        Entry::file("var/lib/dpkg/status", status),
    ])
}

#[tokio::test]
async fn tar_stopping_mid_entry_is_an_error_naming_the_layer() {
    let status = dpkg_status(&[Deb::installed("bash", "5.2.15-2+b7")]);
    let whole = cut_tar(&status);
    // Header of the status file plus 40 of its bytes; digests match the cut content.
    let cut = whole[..whole.len() - 1024 - status.len().div_ceil(512) * 512 + 40].to_vec();
    for compression in [Compression::Gzip, Compression::None] {
        let image = Image::new("amd64", vec![Layer::from_tar(cut.clone(), compression)]);
        let (result, _dir) = scan_layout(&image, ScanOptions::default()).await;
        let err = result.unwrap_err();
        match &err {
            ScanError::Layer { index, digest, .. } => {
                assert_eq!(*index, 0);
                assert_eq!(digest, &image.layers[0].digest());
                assert!(err.to_string().contains("bad layer 0"), "{err}");
            }
            other => panic!("expected a layer error, got {other}"),
        }
    }
}

#[tokio::test]
async fn tar_without_end_blocks_warns_naming_the_layer() {
    let status = dpkg_status(&[Deb::installed("bash", "5.2.15-2+b7")]);
    let whole = cut_tar(&status);
    let image = Image::new(
        "amd64",
        vec![Layer::from_tar(
            whole[..whole.len() - 1024].to_vec(),
            Compression::Gzip,
        )],
    );
    let (result, _dir) = scan_layout(&image, ScanOptions::default()).await;
    let report = result.unwrap();
    assert_eq!(names(&report), ["bash@5.2.15-2+b7"]);
    let w = &report.inventory.warnings;
    assert!(
        w.len() == 1 && w[0].contains("layer 0") && w[0].contains("end-of-archive"),
        "{w:?}"
    );
}

#[tokio::test]
async fn truncated_gzip_stream_is_an_error() {
    let status = dpkg_status(&[Deb::installed("bash", "5.2.15-2+b7")]);
    let blob = gzip(&cut_tar(&status));
    let mut layer = Layer::from_tar(cut_tar(&status), Compression::Gzip);
    layer.blob = blob[..blob.len() - 30].to_vec();
    let image = Image::new("amd64", vec![layer]);
    let (result, _dir) = scan_layout(&image, ScanOptions::default()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, ScanError::Layer { index: 0, .. }), "{err}");
}

#[tokio::test]
async fn decompression_bomb_is_cut_off() {
    let zeros = vec![0u8; 8 << 20];
    let image = Image::new(
        "amd64",
        vec![Layer::new(
            &[Entry::file("zeros", &zeros)],
            Compression::Gzip,
        )],
    );
    assert!(image.layers[0].blob.len() < 256 << 10);
    let options = ScanOptions {
        max_unpacked_size: Some(1 << 20),
        ..ScanOptions::default()
    };
    let (result, _dir) = scan_layout(&image, options).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ScanError::UnpackedTooLarge { layer, limit } if layer.contains("layer 0") && *limit == 1 << 20),
        "{err}"
    );
}

#[derive(Default)]
struct Counting {
    started: AtomicUsize,
    done: AtomicUsize,
    bytes: AtomicUsize,
}

impl Progress for Counting {
    fn layer_started(&self, _: usize, _: &Digest, _: u64) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }
    fn bytes(&self, _: usize, n: u64) {
        self.bytes.fetch_add(n as usize, Ordering::SeqCst);
    }
    fn layer_done(&self, _: usize) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn oversize_images_are_refused_before_any_layer_is_read() {
    let image = three_layer_image();
    let dir = tempfile::tempdir().unwrap();
    write_oci_layout(dir.path(), &[(&image, None)], false);
    let source: ImageSource = format!("oci:{}", dir.path().display()).parse().unwrap();
    let progress = Arc::new(Counting::default());
    let options = ScanOptions {
        max_image_size: Some(100),
        ..ScanOptions::default()
    };
    let err = Scanner::new(options)
        .scan(&source, Some(progress.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ScanError::ImageTooLarge { limit: 100, .. }),
        "{err}"
    );
    assert_eq!(progress.started.load(Ordering::SeqCst), 0);
    // And a normal scan reports every layer and every byte.
    let report = Scanner::new(ScanOptions::default())
        .scan(&source, Some(progress.clone()))
        .await
        .unwrap();
    let total: usize = image.layers.iter().map(|l| l.blob.len()).sum();
    assert_eq!(progress.done.load(Ordering::SeqCst), 3);
    assert_eq!(progress.bytes.load(Ordering::SeqCst), total);
    assert_eq!(report.inventory.packages.len(), 5);
}

/// Archives with bytes flipped anywhere (tar headers, index, manifest, config, layers) or cut
/// short end in a report or a typed error: never a panic, which would surface as a task error,
/// and never a hang.
#[tokio::test]
async fn mutated_archives_end_in_a_report_or_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let image = three_layer_image();
    let oci = dir.path().join("oci.tar");
    write_oci_archive(&oci, &[(&image, Some("12"))]);
    let docker = dir.path().join("docker.tar");
    write_docker_archive(&docker, &image, "example/app:1.0");
    let originals = [
        ("oci-archive", std::fs::read(&oci).unwrap()),
        ("docker-archive", std::fs::read(&docker).unwrap()),
    ];
    let mutated = dir.path().join("mutated.tar");
    let mut rng = fastrand::Rng::with_seed(5);
    // The originals scan; what the mutations break is then the mutations' doing.
    for (kind, original) in &originals {
        std::fs::write(&mutated, original).unwrap();
        let source: ImageSource = format!("{kind}:{}", mutated.display()).parse().unwrap();
        scan(&source).await.unwrap();
    }
    let mut refusals = std::collections::BTreeSet::new();
    for round in 0..400 {
        let (kind, original) = &originals[round % 2];
        let mut bytes = original.clone();
        for _ in 0..rng.usize(1..=4) {
            let at = rng.usize(..bytes.len());
            bytes[at] = rng.u8(..);
        }
        if round % 11 == 0 {
            bytes.truncate(rng.usize(..bytes.len()));
        }
        std::fs::write(&mutated, &bytes).unwrap();
        let source: ImageSource = format!("{kind}:{}", mutated.display()).parse().unwrap();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), scan(&source))
            .await
            .unwrap_or_else(|_| panic!("round {round}: the {kind} scan hangs"));
        match outcome {
            Ok(_) => {}
            Err(ScanError::Task(e)) => panic!("round {round}: a {kind} scan task failed: {e}"),
            // The variant's name: which stage refused the archive.
            Err(e) => {
                let debug = format!("{e:?}");
                refusals.insert(
                    debug
                        .split(['(', ' ', '{'])
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    }
    // The mutations reach several stages (archive, metadata, digests, layers), not just the first.
    assert!(refusals.len() >= 4, "{refusals:?}");
}

/// `<repo root>/../shared`, present in CI but not in a user's clone.
fn shared_fixture(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/images")
        .join(name);
    path.exists().then_some(path)
}

#[tokio::test]
async fn real_debian_fixture() {
    let Some(path) = shared_fixture("debian-min.oci.tar") else {
        eprintln!("skipping: shared/fixtures/images/debian-min.oci.tar is not present");
        return;
    };
    let source: ImageSource = format!("oci-archive:{}", path.display()).parse().unwrap();
    let report = scan(&source).await.unwrap();
    let debs = report
        .inventory
        .packages
        .iter()
        .filter(|p| p.ecosystem == cra_core::Ecosystem::Deb)
        .count();
    assert_eq!(debs, 88);
    let os = report.inventory.os.as_ref().unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    // This image's layer tar ends right after its last entry, without end-of-archive blocks;
    // that is reported, and nothing else is.
    let w = &report.inventory.warnings;
    assert!(
        w.iter()
            .all(|w| w.starts_with("layer 0 (") && w.contains("end-of-archive")),
        "{w:?}"
    );
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

#[tokio::test]
async fn cli_writes_the_snyk_scan_result() {
    let dir = tempfile::tempdir().unwrap();
    let image = three_layer_image();
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[(&image, Some("12"))], false);
    let out = dir.path().join("out.json");
    cli(&[
        &format!("oci:{}:12", layout.display()),
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ])
    .await
    .unwrap();
    let json = read_json(&out);
    let result = &json["scanResults"][0];
    assert_eq!(result["identity"]["type"], "deb");
    assert_eq!(result["identity"]["args"]["platform"], "linux/amd64");
    assert_eq!(result["target"]["image"], "docker-image|layout");
    let graph = fact(result, "depGraph").unwrap();
    assert_eq!(graph["pkgManager"]["name"], "deb");
    assert_eq!(graph["pkgManager"]["repositories"][0]["alias"], "debian:12");
    assert_valid_dep_graph(graph);
    let ids: Vec<&str> = graph["pkgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"openssl/libssl3@3.0.15-1~deb12u1"), "{ids:?}");
    assert!(ids.contains(&"libaudit1@1:3.0.9-1") || ids.contains(&"audit/libaudit1@1:3.0.9-1"));
    assert_eq!(
        fact(result, "imageId").unwrap(),
        &image.config_digest().to_string()
    );
    let layers: Vec<String> = image
        .layers
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    assert_eq!(
        fact(result, "imageLayers").unwrap(),
        &serde_json::json!(layers)
    );
    let diff_ids: Vec<String> = image
        .layers
        .iter()
        .map(|l| l.diff_id().to_string())
        .collect();
    assert_eq!(
        fact(result, "rootFs").unwrap(),
        &serde_json::json!(diff_ids)
    );
    assert_eq!(
        fact(result, "imageOsReleasePrettyName").unwrap(),
        "Debian GNU/Linux 12 (bookworm)"
    );
    assert_eq!(fact(result, "platform").unwrap(), "linux/amd64");
    assert_eq!(
        fact(result, "imageCreationTime").unwrap(),
        "2024-11-01T00:00:00Z"
    );

    let err = cli(&[&format!("oci:{}:nope", layout.display())])
        .await
        .unwrap_err();
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    assert!(
        chain.iter().any(|c| c.contains("tag \"nope\"")),
        "{chain:?}"
    );
}

#[tokio::test]
async fn cli_scans_the_committed_example_image() {
    let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/images/tiny-debian");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("table.txt");
    cli(&[
        &format!("oci:{}", layout.display()),
        "--output",
        out.to_str().unwrap(),
    ])
    .await
    .unwrap();
    let table = std::fs::read_to_string(&out).unwrap();
    assert!(
        table.contains("OS:       Debian GNU/Linux 12 (bookworm)"),
        "{table}"
    );
    assert!(table.contains("Packages: 8 (8 deb)"), "{table}");
    assert!(!table.contains("vim-tiny"), "{table}");
}

async fn push(registry: &RegistryServer, repo: &str, tag: &str, image: &Image) -> PushedImage {
    let layers: Vec<Vec<u8>> = image.layers.iter().map(|l| l.blob.clone()).collect();
    let media_type = image.layers[0].media_type.clone();
    assert!(image.layers.iter().all(|l| l.media_type == media_type));
    registry
        .push_image(repo, tag, &image.config, &layers, &media_type)
        .await
}

#[tokio::test]
async fn registry_scan_of_images_and_a_two_platform_index() {
    if !registry_available() {
        eprintln!("skipping: docker-registry is not installed");
        return;
    }
    let registry = RegistryServer::start(Auth::None).await;
    let image = Image::new(
        "amd64",
        three_layer_image()
            .layers
            .into_iter()
            .map(|l| Layer::from_tar(l.tar, Compression::Gzip))
            .collect(),
    );
    push(&registry, "team/app", "1.0", &image).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let reference = format!("{}/team/app:1.0", registry.host());
    cli(&[
        &reference,
        "--insecure-http",
        "--format",
        "json",
        "--output",
        out.to_str().unwrap(),
    ])
    .await
    .unwrap();
    let json = read_json(&out);
    let result = &json["scanResults"][0];
    let graph = fact(result, "depGraph").unwrap();
    assert_valid_dep_graph(graph);
    assert_eq!(
        graph["pkgs"].as_array().unwrap().len(),
        6,
        "root + 5 packages"
    );
    let names = fact(result, "imageNames").unwrap()["names"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(names[0], reference);

    let amd = platform_image("amd64", "only-on-amd64");
    let arm = platform_image("arm64", "only-on-arm64");
    let amd_pushed = push(&registry, "team/multi", "amd", &amd).await;
    let arm_pushed = push(&registry, "team/multi", "arm", &arm).await;
    registry
        .push_index(
            "team/multi",
            "latest",
            &[
                (&amd_pushed, "linux", "amd64"),
                (&arm_pushed, "linux", "arm64"),
            ],
            &[],
        )
        .await;
    let reference = format!("{}/team/multi:latest", registry.host());
    for (platform, want) in [
        ("linux/amd64", "only-on-amd64"),
        ("linux/arm64", "only-on-arm64"),
    ] {
        let out = dir.path().join(format!("{}.txt", want));
        cli(&[
            &reference,
            "--insecure-http",
            "--platform",
            platform,
            "--output",
            out.to_str().unwrap(),
        ])
        .await
        .unwrap();
        let table = std::fs::read_to_string(&out).unwrap();
        assert!(table.contains(want), "{platform}: {table}");
        assert!(table.contains(&format!("Platform: {platform}")), "{table}");
    }
    let err = cli(&[
        &format!("{}/team/missing:1", registry.host()),
        "--insecure-http",
    ])
    .await
    .unwrap_err();
    let scan_err = err.downcast_ref::<ScanError>().expect("a scan error");
    assert_eq!(scan_err.registry_kind(), Some(ErrorKind::NotFound));
}

#[tokio::test]
async fn registry_scan_with_basic_auth() {
    if !registry_available() {
        eprintln!("skipping: docker-registry is not installed");
        return;
    }
    let registry = RegistryServer::start(Auth::htpasswd("scanner", "s3cret-pass")).await;
    let image = platform_image("amd64", "behind-auth");
    push(&registry, "private/app", "1", &image).await;
    let reference = format!("{}/private/app:1", registry.host());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.txt");
    cli(&[
        &reference,
        "--insecure-http",
        "--username",
        "scanner",
        "--password",
        "s3cret-pass",
        "--output",
        out.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("behind-auth"));

    let err = cli(&[
        &reference,
        "--insecure-http",
        "--username",
        "scanner",
        "--password",
        "wrong",
    ])
    .await
    .unwrap_err();
    let scan_err = err.downcast_ref::<ScanError>().expect("a scan error");
    assert_eq!(scan_err.registry_kind(), Some(ErrorKind::Unauthorized));
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    assert!(
        !chain.iter().any(|c| c.contains("wrong")),
        "no secret in errors: {chain:?}"
    );
}
