//! Scans through the CNCF registry on loopback, with and without authentication.

use super::*;

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
