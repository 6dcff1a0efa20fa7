//! `cra scan-registry` against the CNCF registry on loopback: selection, reports, summary,
//! a failing image that does not stop the run, the cache shared by images, and resuming.

use super::*;

/// An image of the shared Debian base plus a top layer installing `app-<version>`.
fn app(version: &str) -> Image {
    let status = dpkg_status(&[
        Deb::installed("base-files", "12.4+deb12u5"),
        Deb::installed(&format!("app-{}", version.replace('.', "-")), "1.0-1"),
    ]);
    Image::new(
        "amd64",
        vec![
            base_layer(Compression::Gzip),
            Layer::new(
                &[Entry::file("var/lib/dpkg/status", &status)],
                Compression::Gzip,
            ),
        ],
    )
}

/// `cra scan-registry` over the loopback `registry` (as a nexus-cr) into `out`, then `args`.
pub(crate) async fn run_scan_registry(
    registry: &RegistryServer,
    out: &Path,
    args: &[&str],
) -> anyhow::Result<()> {
    let base = registry.base_url();
    let mut argv = vec![
        "cra",
        "scan-registry",
        "--type",
        "nexus-cr",
        "--base",
        &base,
        "--output-dir",
        out.to_str().unwrap(),
    ];
    argv.extend_from_slice(args);
    cra_cli::run(cra_cli::Cli::try_parse_from(argv)?).await
}

/// The rows of `summary.json` in the output directory `out`.
pub(crate) fn summary_rows(out: &Path) -> Vec<serde_json::Value> {
    read_json(&out.join("summary.json"))
        .as_array()
        .unwrap()
        .clone()
}

async fn scan_registry(
    registry: &RegistryServer,
    dir: &Path,
    extra: &[&str],
) -> Result<(), String> {
    let cache = dir.join("cache");
    let mut args = vec![
        "--cache-dir",
        cache.to_str().unwrap(),
        "--repository",
        "team/*",
        "--newest",
        "2",
        "-f",
        "json",
        "-f",
        "cyclonedx-json",
    ];
    args.extend_from_slice(extra);
    run_scan_registry(registry, &dir.join("out"), &args)
        .await
        .map_err(|e| format!("{e:#}"))
}

fn summary(dir: &Path) -> Vec<serde_json::Value> {
    summary_rows(&dir.join("out"))
}

fn statuses(rows: &[serde_json::Value]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| {
            (
                r["image"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn scan_registry_selects_scans_shares_layers_and_resumes() {
    if !registry_available() {
        return;
    }
    let registry = RegistryServer::start_logged(Auth::None).await;
    for tag in ["1.0", "1.1", "2.0"] {
        registry.push_gzipped("team/app", tag, &app(tag)).await;
    }
    registry.push_gzipped("team/web", "1.0", &app("web")).await;
    registry.push_gzipped("other/x", "1.0", &app("x")).await;
    // A layer that is no gzip at all: the image fails, the run goes on.
    let mut bad = app("bad");
    bad.layers[1] = Layer::from_tar(b"not a tar".to_vec(), Compression::None);
    bad = Image::new("amd64", bad.layers);
    registry
        .push_image(
            "team/bad",
            "1.0",
            &bad.config,
            &[bad.layers[0].blob.clone(), b"not a gzip stream".to_vec()],
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
        .await;
    let dir = tempfile::tempdir().unwrap();

    let before = registry.blob_requests();
    let err = scan_registry(&registry, dir.path(), &["--concurrency", "1"])
        .await
        .unwrap_err();
    assert!(err.contains("1 of 4 images could not be scanned"), "{err}");
    // Configs of 4 images, the shared base once, 3 top layers and the bad one.
    assert_eq!(registry.blob_requests() - before, 4 + 1 + 3 + 1);
    let rows = summary(dir.path());
    assert_eq!(
        statuses(&rows),
        [
            ("team/app:1.1".into(), "scanned".into()),
            ("team/app:2.0".into(), "scanned".into()),
            ("team/bad:1.0".into(), "failed".into()),
            ("team/web:1.0".into(), "scanned".into()),
        ]
    );
    let app2 = &rows[1];
    assert_eq!(app2["os"], "debian 12");
    // base-files and app-2-0 from the status file, and the base layer's status.d entry.
    assert_eq!(app2["packages"], 3);
    assert_eq!(app2["by_ecosystem"]["deb"], 3);
    assert!(app2["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        rows[2]["error"].as_str().unwrap().contains("layer"),
        "{}",
        rows[2]
    );
    for row in [&rows[0], &rows[1], &rows[3]] {
        let reports = row["reports"].as_array().unwrap();
        assert_eq!(reports.len(), 2);
        let json = read_json(&dir.path().join("out").join(reports[0].as_str().unwrap()));
        assert!(json["scanResults"].is_array());
        let cdx = read_json(&dir.path().join("out").join(reports[1].as_str().unwrap()));
        assert_eq!(cdx["bomFormat"], "CycloneDX");
    }
    let app2_report = read_json(
        &dir.path()
            .join("out")
            .join(app2["reports"][0].as_str().unwrap()),
    );
    assert!(app2_report.to_string().contains("app-2-0"));

    // Interrupted before team/web finished: its entry is not in the state.
    let state_path = dir.path().join("out/.cra-scan-registry-state.json");
    let mut state = read_json(&state_path);
    state["done"]
        .as_object_mut()
        .unwrap()
        .remove("team/web:1.0");
    std::fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
    // A new tag replaces 1.1 among the two newest.
    registry.push_gzipped("team/app", "3.0", &app("3.0")).await;

    let before = registry.blob_requests();
    let err = scan_registry(&registry, dir.path(), &[]).await.unwrap_err();
    assert!(err.contains("1 of 4 images could not be scanned"), "{err}");
    // The new image's config and top layer, and the bad layer again; nothing else.
    assert_eq!(registry.blob_requests() - before, 2 + 1);
    assert_eq!(
        statuses(&summary(dir.path())),
        [
            ("team/app:2.0".into(), "unchanged".into()),
            ("team/app:3.0".into(), "scanned".into()),
            ("team/bad:1.0".into(), "failed".into()),
            ("team/web:1.0".into(), "scanned".into()),
        ]
    );
}

/// A layer of one file of `len` bytes that do not compress, so that walking it takes a while.
fn filler_layer(len: usize) -> Layer {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    Layer::new(
        &[Entry::file("usr/share/filler.bin", bytes)],
        Compression::Gzip,
    )
}

#[tokio::test]
async fn images_scanned_at_once_walk_a_shared_layer_once() {
    if !registry_available() {
        return;
    }
    let registry = RegistryServer::start_logged(Auth::None).await;
    let filler = filler_layer(2 << 20);
    let names = ["a", "b", "c", "d"];
    for name in names {
        let mut image = app(name);
        image.layers.insert(1, filler.clone());
        let image = Image::new("amd64", image.layers);
        registry
            .push_gzipped(&format!("fleet/{name}"), "1", &image)
            .await;
    }
    let shared = [base_layer(Compression::Gzip).blob, filler.blob.clone()]
        .map(|blob| Digest::sha256_of(&blob).to_string());
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str, extra: &'static [&'static str]| {
        let base = registry.base_url();
        let out = dir.path().join(out);
        let cache = dir.path().join("cache");
        async move {
            let mut argv = vec![
                "cra".to_owned(),
                "scan-registry".into(),
                "--type".into(),
                "nexus-cr".into(),
                "--base".into(),
                base,
                "--output-dir".into(),
                out.to_str().unwrap().into(),
                "--cache-dir".into(),
                cache.to_str().unwrap().into(),
                "--repository".into(),
                "fleet/*".into(),
                "--concurrency".into(),
                "4".into(),
            ];
            argv.extend(extra.iter().map(|s| (*s).to_owned()));
            cra_cli::run(cra_cli::Cli::try_parse_from(argv).unwrap())
                .await
                .unwrap();
            out
        }
    };

    let cached = run("cached", &[]).await;
    for digest in &shared {
        assert_eq!(registry.blob_gets(digest), 1, "{digest} pulled once");
    }
    let plain = run("plain", &["--no-cache"]).await;
    for digest in &shared {
        assert_eq!(registry.blob_gets(digest), 1 + names.len(), "{digest}");
    }
    let report = |out: &Path, name: &str| {
        let rows = read_json(&out.join("summary.json"));
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["image"] == format!("fleet/{name}:1"))
            .unwrap()
            .clone();
        read_json(&out.join(row["reports"][0].as_str().unwrap()))
    };
    for name in names {
        let (with, without) = (report(&cached, name), report(&plain, name));
        assert!(with.to_string().contains(&format!("app-{name}")), "{with}");
        assert_eq!(with, without, "{name}: cached and uncached reports");
    }
}

/// Counts the layers being walked at once over several scans: a layer walks from its first
/// bytes to its end, and lingers on its first bytes so that walks overlap when they can.
#[derive(Default)]
struct Overlap {
    walking: std::sync::Mutex<std::collections::HashSet<(usize, usize)>>,
    most: AtomicUsize,
}

struct Watch {
    scan: usize,
    overlap: Arc<Overlap>,
}

impl Progress for Watch {
    fn layer_started(&self, _: usize, _: &Digest, _: u64) {}

    fn bytes(&self, index: usize, _: u64) {
        let now = {
            let mut walking = self.overlap.walking.lock().unwrap();
            if !walking.insert((self.scan, index)) {
                return;
            }
            walking.len()
        };
        self.overlap.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(30));
    }

    fn layer_done(&self, index: usize) {
        let mut walking = self.overlap.walking.lock().unwrap();
        walking.remove(&(self.scan, index));
    }
}

#[tokio::test]
async fn scans_sharing_a_scanner_share_its_walk_slots() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_image = 2 * cores;
    let scanner = Arc::new(Scanner::new(ScanOptions {
        layer_concurrency: per_image,
        ..ScanOptions::default()
    }));
    assert_eq!(scanner.max_walks(), per_image);
    let images: Vec<Image> = (0..3)
        .map(|n| {
            let layers = (0..per_image)
                .map(|i| {
                    Layer::new(
                        &[Entry::file(&format!("srv/{n}/{i}"), "x")],
                        Compression::Gzip,
                    )
                })
                .collect();
            Image::new("amd64", layers)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let names = ["a", "b", "c"];
    let refs: Vec<(&Image, Option<&str>)> = images
        .iter()
        .zip(names)
        .map(|(i, n)| (i, Some(n)))
        .collect();
    write_oci_layout(dir.path(), &refs, false);

    // Clones share the slots, and so do scanners made with options of their own from one.
    let own_options = |_| {
        Arc::new(scanner.with_options(ScanOptions {
            layer_concurrency: per_image,
            ..ScanOptions::default()
        }))
    };
    let scanners: Vec<Arc<Scanner>> = vec![scanner.clone(), own_options(1), own_options(2)];
    let overlap = Arc::new(Overlap::default());
    let scans = names.iter().enumerate().map(|(scan, name)| {
        let (scanner, overlap) = (scanners[scan].clone(), overlap.clone());
        let source: ImageSource = format!("oci:{}:{name}", dir.path().display())
            .parse()
            .unwrap();
        async move {
            let watch: Arc<dyn Progress> = Arc::new(Watch { scan, overlap });
            scanner.scan(&source, Some(watch)).await.unwrap()
        }
    });
    let reports = futures_util::future::join_all(scans).await;
    assert_eq!(reports.len(), 3);
    let most = overlap.most.load(Ordering::SeqCst);
    assert!(most > 1, "the walks overlapped ({most})");
    assert!(
        most <= per_image,
        "{most} layers walked at once by three scans, over the scanner's {per_image} slots"
    );
}
