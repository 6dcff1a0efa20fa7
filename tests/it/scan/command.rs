//! `cra scan` through the CLI: the report formats and the committed example image.

use super::*;

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
