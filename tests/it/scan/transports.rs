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
