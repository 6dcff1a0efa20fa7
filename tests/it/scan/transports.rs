//! Every local transport: OCI layouts, oci-archive and docker-archive files, multi-platform
//! indexes, and the real Debian fixture when present.

use super::*;

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

/// `docker save IMAGE | gzip` and the same with zstd: both archive kinds, compressed whole,
/// scan to the same report as uncompressed, a linked layer included.
#[tokio::test]
async fn compressed_archives_scan_like_uncompressed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let base = base_layer(Compression::None);
    let linked = Image::new(
        "amd64",
        vec![base.clone(), three_layer_image().layers[1].clone(), base],
    );
    let docker = dir.path().join("docker.tar");
    write_docker_archive(&docker, &linked, "example/app:1.0");
    let oci = dir.path().join("oci.tar");
    write_oci_archive(&oci, &[(&three_layer_image(), Some("12"))]);
    for (transport, plain) in [("docker-archive", &docker), ("oci-archive", &oci)] {
        let bytes = std::fs::read(plain).unwrap();
        let expected = scan(&format!("{transport}:{}", plain.display()).parse().unwrap())
            .await
            .unwrap();
        assert!(!expected.inventory.packages.is_empty());
        // The image's name comes from the file name, which differs; everything else is the same.
        let comparable = |report: &ScanReport| {
            let mut value = serde_json::to_value(report).unwrap();
            value["image"]["names"] = serde_json::Value::Null;
            value
        };
        let expected = comparable(&expected);
        for (suffix, compressed) in [
            ("gz", gzip(&bytes)),
            ("zst", zstd::encode_all(&bytes[..], 3).unwrap()),
        ] {
            let path = plain.with_extension(format!("tar.{suffix}"));
            std::fs::write(&path, compressed).unwrap();
            let report = scan(&format!("{transport}:{}", path.display()).parse().unwrap())
                .await
                .unwrap_or_else(|e| panic!("{transport} .{suffix}: {e:?}"));
            assert_eq!(comparable(&report), expected, "{transport} .{suffix}");
        }
    }
}

/// A compressed archive cut short, or with a layer that does not match its diff_id, is refused
/// with a typed error.
#[tokio::test]
async fn broken_compressed_archives_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = three_layer_image();
    let plain = dir.path().join("oci.tar");
    write_oci_archive(&plain, &[(&image, Some("12"))]);
    let zipped = gzip(&std::fs::read(&plain).unwrap());
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &zipped[..zipped.len() - 200]).unwrap();
    let err = scan(&format!("oci-archive:{}", cut.display()).parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::Archive { .. }), "{err:?}");

    let wrong = Image::with_diff_ids(
        "amd64",
        vec![base_layer(Compression::None)],
        vec![format!("sha256:{}", "0".repeat(64))],
    );
    let docker = dir.path().join("docker.tar");
    write_docker_archive(&docker, &wrong, "example/app:1.0");
    let zst = dir.path().join("docker.tar.zst");
    std::fs::write(
        &zst,
        zstd::encode_all(&std::fs::read(&docker).unwrap()[..], 3).unwrap(),
    )
    .unwrap();
    let err = scan(&format!("docker-archive:{}", zst.display()).parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::DigestMismatch { .. }), "{err:?}");
}
