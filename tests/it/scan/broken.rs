//! Broken input: wrong digests, truncated and corrupt streams, decompression bombs, oversize
//! images, mutated archives. Each ends in a typed error or a warning naming the layer.

use super::*;

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
