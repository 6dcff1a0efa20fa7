//! `--platform` in every transport: an image's only platform is scanned with a warning unless a
//! platform was asked for explicitly, archives of several images give the requested one, and
//! attestation manifests are never scanned nor counted as a platform.

use cra_core::Platform;
use cra_tests::image::write_docker_archive_of;

use super::*;

fn p(s: &str) -> Platform {
    s.parse().unwrap()
}

fn options(platform: &str, require_platform: bool) -> ScanOptions {
    ScanOptions {
        platform: p(platform),
        require_platform,
        ..ScanOptions::default()
    }
}

async fn scan_with(source: &str, options: ScanOptions) -> Result<ScanReport, ScanError> {
    let source: ImageSource = source.parse().unwrap();
    Scanner::new(options).scan(&source, None).await
}

fn platform_warnings(report: &ScanReport) -> Vec<&String> {
    report
        .inventory
        .warnings
        .iter()
        .filter(|w| w.contains("platform"))
        .collect()
}

fn assert_unavailable(err: &ScanError, requested: &str, available: &[&str]) {
    let ScanError::PlatformUnavailable {
        requested: r,
        available: a,
    } = err
    else {
        panic!("expected PlatformUnavailable, got {err:?}");
    };
    assert_eq!(r, &p(requested));
    let want: Vec<Platform> = available.iter().map(|s| p(s)).collect();
    assert_eq!(a, &want);
}

/// `<transport>:<file>` of `plain` itself and of its gzip and zstd copies.
fn with_compressed(transport: &str, plain: &Path) -> Vec<String> {
    let bytes = std::fs::read(plain).unwrap();
    let gz = plain.with_extension("tar.gz");
    std::fs::write(&gz, gzip(&bytes)).unwrap();
    let zst = plain.with_extension("tar.zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    [plain, gz.as_path(), zst.as_path()]
        .iter()
        .map(|path| format!("{transport}:{}", path.display()))
        .collect()
}

#[tokio::test]
async fn an_images_only_platform_is_scanned_with_a_warning_unless_one_was_required() {
    let dir = tempfile::tempdir().unwrap();
    let arm = platform_image("arm64", "only-on-arm64");
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[(&arm, None)], false);
    let oci = dir.path().join("oci.tar");
    write_oci_archive(&oci, &[(&arm, None)]);
    let docker = dir.path().join("docker.tar");
    write_docker_archive(&docker, &arm, "example/arm:1");
    let mut sources = vec![format!("oci:{}", layout.display())];
    sources.extend(with_compressed("oci-archive", &oci));
    sources.extend(with_compressed("docker-archive", &docker));
    for source in &sources {
        let report = scan_with(source, ScanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{source}: {e:?}"));
        assert_eq!(names(&report), ["only-on-arm64@1.0-1"], "{source}");
        // The platform is the config's, variant included, in every transport.
        assert_eq!(report.image.platform, p("linux/arm64/v8"), "{source}");
        let warnings = platform_warnings(&report);
        assert_eq!(warnings.len(), 1, "{source}: {warnings:?}");
        assert!(
            warnings[0].contains("linux/arm64/v8 only") && warnings[0].contains("linux/amd64"),
            "{source}: {warnings:?}"
        );

        let err = scan_with(source, options("linux/amd64", true))
            .await
            .unwrap_err();
        assert_unavailable(&err, "linux/amd64", &["linux/arm64/v8"]);

        let report = scan_with(source, options("linux/arm64", true))
            .await
            .unwrap();
        assert_eq!(names(&report), ["only-on-arm64@1.0-1"], "{source}");
        assert!(platform_warnings(&report).is_empty(), "{source}");
    }
}

#[tokio::test]
async fn archives_of_several_images_give_the_requested_platform() {
    let dir = tempfile::tempdir().unwrap();
    let amd = platform_image("amd64", "only-on-amd64");
    let arm = platform_image("arm64", "only-on-arm64");
    let docker = dir.path().join("docker.tar");
    write_docker_archive_of(
        &docker,
        &[(&arm, "example/app:arm"), (&amd, "example/app:amd")],
    );
    // An OCI layout whose index entries state no platform (`docker save` of two images by
    // Docker 25 and later): each entry is judged by its config.
    let oci = dir.path().join("oci.tar");
    write_oci_archive(&oci, &[(&arm, None), (&amd, None)]);
    let mut sources = with_compressed("docker-archive", &docker);
    sources.extend(with_compressed("oci-archive", &oci));
    for source in &sources {
        let report = scan_with(source, ScanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{source}: {e:?}"));
        assert_eq!(names(&report), ["only-on-amd64@1.0-1"], "{source}");
        assert_eq!(report.image.platform, p("linux/amd64"), "{source}");
        assert!(platform_warnings(&report).is_empty(), "{source}");

        let report = scan_with(source, options("linux/arm64", true))
            .await
            .unwrap();
        assert_eq!(names(&report), ["only-on-arm64@1.0-1"], "{source}");
        assert_eq!(report.image.platform.to_string(), "linux/arm64/v8");
        if source.starts_with("docker-archive:") {
            assert_eq!(report.image.names, ["example/app:arm"]);
        }

        // Two platforms and neither asked for: refused, explicit or not.
        for required in [true, false] {
            let err = scan_with(source, options("linux/s390x", required))
                .await
                .unwrap_err();
            assert_unavailable(&err, "linux/s390x", &["linux/arm64/v8", "linux/amd64"]);
        }
    }

    // Two images of one platform cannot be told apart: refused, as before.
    let same = dir.path().join("same.tar");
    let other = platform_image("amd64", "another");
    write_docker_archive_of(&same, &[(&amd, "a:1"), (&other, "b:1")]);
    let err = scan_with(
        &format!("docker-archive:{}", same.display()),
        ScanOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ScanError::Archive { .. }), "{err:?}");
    assert!(
        err.to_string().contains("save one image per archive"),
        "{err}"
    );
}

/// An attestation manifest as BuildKit attaches one: an image manifest whose config says
/// `unknown/unknown` and whose layer is an in-toto statement, listed in the index with platform
/// `unknown/unknown` and the `attestation-manifest` annotation.
struct Attestation {
    config: Vec<u8>,
    layer: Vec<u8>,
    manifest: Vec<u8>,
}

impl Attestation {
    fn for_image(image: &Image) -> Attestation {
        let layer = serde_json::to_vec(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "subject": [{"name": "example", "digest": {"sha256": image.digest().hex()}}],
            "predicate": {"spdxVersion": "SPDX-2.3"},
        }))
        .unwrap();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "unknown", "os": "unknown", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&layer).to_string()]},
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.in-toto+json",
                        "digest": Digest::sha256_of(&layer).to_string(), "size": layer.len(),
                        "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}],
        }))
        .unwrap();
        Attestation {
            config,
            layer,
            manifest,
        }
    }

    fn descriptor(&self, image: &Image) -> serde_json::Value {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": Digest::sha256_of(&self.manifest).to_string(),
            "size": self.manifest.len(),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": image.digest().to_string(),
            },
        })
    }
}

/// An OCI layout whose index.json points at a nested index of `images` (each with its
/// platform) and an attestation manifest for each, all blobs present.
fn layout_with_attestations(dir: &Path, images: &[&Image]) {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |bytes: &[u8]| {
        let d = Digest::sha256_of(bytes);
        files.push((format!("blobs/sha256/{}", d.hex()), bytes.to_vec()));
        d
    };
    let mut entries = Vec::new();
    for image in images {
        for blob in image.blobs() {
            add(&blob);
        }
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.digest().to_string(), "size": image.manifest.len(),
            "platform": {"os": "linux", "architecture": image.arch},
        }));
    }
    for image in images {
        let a = Attestation::for_image(image);
        for blob in [&a.config, &a.layer, &a.manifest] {
            add(blob);
        }
        entries.push(a.descriptor(image));
    }
    let nested = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    let nested_digest = add(&nested);
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                       "digest": nested_digest.to_string(), "size": nested.len()}],
    });
    files.push(("index.json".into(), serde_json::to_vec(&index).unwrap()));
    files.push((
        "oci-layout".into(),
        br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
    ));
    cra_tests::image::write_dir(dir, &files);
    cra_tests::image::write_tar(&dir.with_extension("tar"), &files, false);
}

#[tokio::test]
async fn attestation_manifests_are_never_scanned_nor_counted_as_a_platform() {
    let dir = tempfile::tempdir().unwrap();
    let amd = platform_image("amd64", "only-on-amd64");
    let arm = platform_image("arm64", "only-on-arm64");

    // One platform plus its attestation is a single-platform image.
    let single = dir.path().join("single");
    layout_with_attestations(&single, &[&arm]);
    let mut sources = vec![format!("oci:{}", single.display())];
    sources.extend(with_compressed(
        "oci-archive",
        &single.with_extension("tar"),
    ));
    for source in &sources {
        let report = scan_with(source, ScanOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{source}: {e:?}"));
        assert_eq!(names(&report), ["only-on-arm64@1.0-1"], "{source}");
        assert_eq!(platform_warnings(&report).len(), 1, "{source}");
        let err = scan_with(source, options("linux/amd64", true))
            .await
            .unwrap_err();
        assert_unavailable(&err, "linux/amd64", &["linux/arm64/v8"]);
        let err = scan_with(source, options("unknown/unknown", true))
            .await
            .unwrap_err();
        assert_unavailable(&err, "unknown/unknown", &["linux/arm64/v8"]);
    }

    // Two platforms and two attestations: the attestations are not among the platforms.
    let multi = dir.path().join("multi");
    layout_with_attestations(&multi, &[&amd, &arm]);
    let source = format!("oci:{}", multi.display());
    let report = scan_with(&source, ScanOptions::default()).await.unwrap();
    assert_eq!(names(&report), ["only-on-amd64@1.0-1"]);
    let report = scan_with(&source, options("linux/arm64", true))
        .await
        .unwrap();
    assert_eq!(names(&report), ["only-on-arm64@1.0-1"]);
    let err = scan_with(&source, options("linux/s390x", false))
        .await
        .unwrap_err();
    assert_unavailable(&err, "linux/s390x", &["linux/amd64", "linux/arm64/v8"]);
}

#[tokio::test]
async fn registry_images_follow_the_same_platform_rules() {
    if !registry_available() {
        eprintln!("skipping: docker-registry is not installed");
        return;
    }
    let registry = RegistryServer::start(Auth::None).await;
    let arm = platform_image("arm64", "only-on-arm64");
    let layers: Vec<Vec<u8>> = arm.layers.iter().map(|l| l.blob.clone()).collect();
    let pushed = registry
        .push_image(
            "team/arm",
            "single",
            &arm.config,
            &layers,
            &arm.layers[0].media_type,
        )
        .await;
    let attestation = Attestation::for_image(&arm);
    registry.push_blob("team/arm", &attestation.config).await;
    registry.push_blob("team/arm", &attestation.layer).await;
    let attestation_digest = registry
        .push_manifest(
            "team/arm",
            &Digest::sha256_of(&attestation.manifest).to_string(),
            "application/vnd.oci.image.manifest.v1+json",
            &attestation.manifest,
        )
        .await;
    let mut descriptor = attestation.descriptor(&arm);
    descriptor["digest"] = serde_json::json!(attestation_digest.to_string());
    descriptor["annotations"]["vnd.docker.reference.digest"] =
        serde_json::json!(pushed.digest.to_string());
    registry
        .push_index(
            "team/arm",
            "indexed",
            &[(&pushed, "linux", "arm64")],
            &[descriptor],
        )
        .await;
    let client = cra_registries::generic(
        &registry.host(),
        None,
        None,
        &cra_registries::ConnectOptions {
            insecure_http: true,
            ..Default::default()
        },
    )
    .unwrap();
    for tag in ["single", "indexed"] {
        let source = ImageSource::Registry {
            registry: client.clone(),
            reference: format!("{}/team/arm:{tag}", registry.host())
                .parse()
                .unwrap(),
        };
        let report = Scanner::new(ScanOptions::default())
            .scan(&source, None)
            .await
            .unwrap_or_else(|e| panic!("{tag}: {e:?}"));
        assert_eq!(names(&report), ["only-on-arm64@1.0-1"], "{tag}");
        assert_eq!(report.image.manifest_digest, pushed.digest, "{tag}");
        assert_eq!(platform_warnings(&report).len(), 1, "{tag}");
        let err = Scanner::new(options("linux/amd64", true))
            .scan(&source, None)
            .await
            .unwrap_err();
        assert_unavailable(&err, "linux/amd64", &["linux/arm64/v8"]);
    }
}

#[tokio::test]
async fn cli_warns_without_platform_and_refuses_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let arm = platform_image("arm64", "only-on-arm64");
    let archive = dir.path().join("arm.tar");
    write_oci_archive(&archive, &[(&arm, None)]);
    let image = format!("oci-archive:{}", archive.display());
    let table = dir.path().join("table.txt");
    cli(&[&image, "--output", table.to_str().unwrap()])
        .await
        .unwrap();
    let table = std::fs::read_to_string(&table).unwrap();
    assert!(table.contains("Platform: linux/arm64/v8"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("linux/arm64/v8 only")),
        "{table}"
    );
    let json = dir.path().join("out.json");
    cli(&[
        &image,
        "--format",
        "json",
        "--output",
        json.to_str().unwrap(),
    ])
    .await
    .unwrap();
    assert_eq!(
        fact(&read_json(&json)["scanResults"][0], "platform").unwrap(),
        "linux/arm64/v8"
    );

    let err = cli(&[&image, "--platform", "linux/amd64"])
        .await
        .unwrap_err();
    assert!(
        err.chain().any(|c| matches!(
            c.downcast_ref(),
            Some(ScanError::PlatformUnavailable { .. })
        )),
        "{err:?}"
    );
    assert_eq!(
        cra_cli::exit::Status::of(&err),
        cra_cli::exit::Status::NotFound
    );
    let again = dir.path().join("again.txt");
    cli(&[
        &image,
        "--platform",
        "linux/arm64/v8",
        "--output",
        again.to_str().unwrap(),
    ])
    .await
    .unwrap();
    let again = std::fs::read_to_string(&again).unwrap();
    assert!(!again.contains("warning:"), "{again}");
}
