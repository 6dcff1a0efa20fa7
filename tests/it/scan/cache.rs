//! The analysis cache: reports identical with and without it, no blob pulled for a warm rescan,
//! damaged entries recomputed.

use cra_scan::cache::LayerCache;
use cra_tests::app_image::application_layer;

use super::*;

/// L0: Debian with an npm app under /srv/app; L1: the app replaced (opaque dir) and a new
/// status; L2: the app's lock file whited out and os-release replaced by another file.
fn opaque_image() -> Image {
    let pkg = |name: &str, version: &str| {
        format!(r#"{{"name":"{name}","version":"{version}","license":"MIT"}}"#)
    };
    Image::new(
        "amd64",
        vec![
            base_layer(Compression::Gzip),
            Layer::new(
                &[
                    Entry::file(
                        "srv/app/node_modules/left-pad/package.json",
                        pkg("left-pad", "1.0.0"),
                    ),
                    Entry::file("srv/app/node_modules/old/package.json", pkg("old", "0.1.0")),
                ],
                Compression::Gzip,
            ),
            Layer::new(
                &[
                    Entry::opaque("srv/app"),
                    Entry::file(
                        "srv/app/node_modules/left-pad/package.json",
                        pkg("left-pad", "1.3.0"),
                    ),
                    Entry::whiteout("var/lib/dpkg/status.d"),
                ],
                Compression::Zstd,
            ),
            Layer::new(
                &[
                    Entry::whiteout("srv/app/node_modules/left-pad"),
                    Entry::file("srv/app/node_modules/new/package.json", pkg("new", "2.0.0")),
                ],
                Compression::None,
            ),
        ],
    )
}

fn app_image() -> Image {
    Image::new(
        "amd64",
        vec![
            base_layer(Compression::Gzip),
            Layer::from_tar(application_layer(), Compression::Gzip),
        ],
    )
}

fn registry_source(registry: &RegistryServer, repo: &str, tag: &str) -> ImageSource {
    let reference: cra_core::Reference =
        format!("{}/{repo}:{tag}", registry.host()).parse().unwrap();
    let options = cra_registries::ConnectOptions {
        insecure_http: true,
        ..Default::default()
    };
    ImageSource::Registry {
        registry: cra_registries::generic(reference.registry(), None, None, &options).unwrap(),
        reference,
    }
}

async fn scan_with(source: &ImageSource, cache: Option<&LayerCache>) -> serde_json::Value {
    let options = ScanOptions {
        cache: cache.cloned(),
        ..ScanOptions::default()
    };
    let report = Scanner::new(options).scan(source, None).await.unwrap();
    serde_json::to_value(&report).unwrap()
}

#[tokio::test]
async fn cached_reports_are_identical_to_uncached_ones() {
    if !registry_available() {
        return;
    }
    let registry = RegistryServer::start_logged(Auth::None).await;
    let images = [
        ("three", three_layer_image()),
        ("opaque", opaque_image()),
        ("app", app_image()),
        ("arm", platform_image("arm64", "only-on-arm64")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(dir.path().join("cache"), 64 << 20).unwrap();
    for (repo, image) in &images {
        registry.push_gzipped(repo, "1", image).await;
    }
    let mut expected = Vec::new();
    for (repo, _) in &images {
        let source = registry_source(&registry, repo, "1");
        let plain = scan_with(&source, None).await;
        let cold = scan_with(&source, Some(&cache)).await;
        assert_eq!(plain, cold, "{repo}: cold cache");
        expected.push(plain);
    }
    let opaque = &expected[1]["inventory"]["packages"];
    let npm: Vec<&str> = opaque
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"] == "npm")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(npm, ["new"], "opaque dir and whiteout applied: {opaque}");

    let before = registry.blob_requests();
    let (hits, misses) = (cache.stats().layer_hits, cache.stats().layer_misses);
    for ((repo, _), want) in images.iter().zip(&expected) {
        let source = registry_source(&registry, repo, "1");
        assert_eq!(
            &scan_with(&source, Some(&cache)).await,
            want,
            "{repo}: warm"
        );
    }
    assert_eq!(
        registry.blob_requests(),
        before,
        "a warm rescan pulls no blob"
    );
    assert_eq!(cache.stats().layer_hits - hits, 3 + 4 + 2 + 1);
    assert_eq!(cache.stats().layer_misses, misses);

    // The same images from an OCI layout, where layers are local files.
    let layout = dir.path().join("layout");
    let refs: Vec<(&Image, Option<&str>)> = images.iter().map(|(n, i)| (i, Some(*n))).collect();
    write_oci_layout(&layout, &refs, false);
    for (repo, image) in &images {
        let source: ImageSource = format!("oci:{}:{repo}", layout.display()).parse().unwrap();
        let options = ScanOptions {
            platform: image_platform(image),
            ..ScanOptions::default()
        };
        let plain = Scanner::new(options.clone())
            .scan(&source, None)
            .await
            .unwrap();
        let cached = Scanner::new(ScanOptions {
            cache: Some(cache.clone()),
            ..options
        })
        .scan(&source, None)
        .await
        .unwrap();
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            serde_json::to_value(&cached).unwrap(),
            "{repo}: layout"
        );
    }
}

fn image_platform(image: &Image) -> cra_core::Platform {
    let config: serde_json::Value = serde_json::from_slice(&image.config).unwrap();
    format!("linux/{}", config["architecture"].as_str().unwrap())
        .parse()
        .unwrap()
}

#[tokio::test]
async fn damaged_entries_are_recomputed() {
    if !registry_available() {
        return;
    }
    let registry = RegistryServer::start_logged(Auth::None).await;
    registry
        .push_gzipped("three", "1", &three_layer_image())
        .await;
    let source = registry_source(&registry, "three", "1");
    let dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(dir.path(), 64 << 20).unwrap();
    let want = scan_with(&source, None).await;
    assert_eq!(scan_with(&source, Some(&cache)).await, want);
    // Cut every entry short, or flip a byte in it.
    let mut damaged = 0;
    for shard in std::fs::read_dir(dir.path().join("entries")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let mut bytes = std::fs::read(&path).unwrap();
            if damaged % 2 == 0 {
                bytes.truncate(bytes.len() / 2);
            } else {
                let last = bytes.len() - 2;
                bytes[last] ^= 0x40;
            }
            std::fs::write(&path, bytes).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 4, "three layers and a config");
    let before = registry.blob_requests();
    assert_eq!(scan_with(&source, Some(&cache)).await, want);
    assert_eq!(
        registry.blob_requests() - before,
        4,
        "the config and the layers are pulled again"
    );
    assert_eq!(cache.stats().discarded, 4);
    // Recomputed entries are sound again.
    let before = registry.blob_requests();
    assert_eq!(scan_with(&source, Some(&cache)).await, want);
    assert_eq!(registry.blob_requests(), before);
}

#[tokio::test]
async fn cli_rescan_pulls_no_blob_and_no_cache_pulls_them_all() {
    if !registry_available() {
        return;
    }
    let registry = RegistryServer::start_logged(Auth::None).await;
    registry
        .push_gzipped("team/app", "1.0", &three_layer_image())
        .await;
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let reference = format!("{}/team/app:1.0", registry.host());
    let scan = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            reference.clone(),
            "--insecure-http".into(),
            "-f".into(),
            format!("json={}", out.display()),
            "--cache-dir".into(),
            cache_dir.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        (args, out)
    };
    let mut counts = Vec::new();
    let mut outputs = Vec::new();
    for (name, extra) in [
        ("cold.json", &[][..]),
        ("warm.json", &[][..]),
        ("none.json", &["--no-cache"][..]),
    ] {
        let (args, out) = scan(name, extra);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let before = registry.blob_requests();
        cli(&argv).await.unwrap();
        counts.push(registry.blob_requests() - before);
        outputs.push(read_json(&out));
    }
    assert_eq!(counts, [4, 0, 4], "config + 3 layers, then none, then all");
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}
