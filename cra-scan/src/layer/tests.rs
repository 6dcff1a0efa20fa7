//! Tests of the layer walk.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use super::walker::SPOOL_ABOVE;
use super::*;
use crate::analyzers::java::JavaAnalyzer;
use crate::analyzers::{builtin, AnalyzerError, AnalyzerId};
use crate::analyzers::{AnalyzerInput, FileMeta};
use crate::testutil::{gzip, mutate, tar, Item};

const STATUS: &[u8] =
    b"Package: bash\nStatus: install ok installed\nVersion: 5.2-1\nArchitecture: amd64\n";

fn run(blob: &[u8], unpacked_limit: Option<u64>) -> Result<LayerFindings, LayerError> {
    let analyzers: Vec<Arc<dyn Analyzer>> = builtin().into_iter().map(Arc::from).collect();
    let compressed = Budget::new(None);
    let unpacked = Budget::new(unpacked_limit);
    let seen = AtomicU64::new(0);
    let on_bytes = |n: u64| {
        seen.fetch_add(n, Ordering::Relaxed);
    };
    let out = walk(
        blob,
        &Walk {
            label: "layer 0 (test)",
            analyzers: &analyzers,
            blob_algorithm: Some(Algorithm::Sha256),
            compressed: &compressed,
            unpacked: &unpacked,
            on_bytes: &on_bytes,
        },
    );
    if out.is_ok() {
        assert_eq!(seen.load(Ordering::Relaxed), blob.len() as u64);
    }
    out
}

#[test]
fn finds_wanted_files_and_markers_and_hashes_both_sides() {
    let raw = tar(&[
        Item::Dir("./var/lib/dpkg/"),
        Item::File("./var/lib/dpkg/status", STATUS),
        Item::File("./usr/bin/bash", b"ELF"),
        Item::File("./etc/.wh.os-release", b""),
        Item::File("./opt/.wh..wh..opq", b""),
        Item::Symlink("./usr/lib/os-release", "../../etc/os-release"),
    ]);
    let blob = gzip(&raw);
    let f = run(&blob, None).unwrap();
    assert_eq!(f.files.keys().collect::<Vec<_>>(), ["/var/lib/dpkg/status"]);
    assert_eq!(f.whiteouts, ["/etc/os-release"]);
    assert_eq!(f.opaque_dirs, ["/opt"]);
    assert_eq!(f.replaced, ["/usr/lib/os-release"]);
    assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
    assert_eq!(f.blob_digest, Some(Digest::sha256_of(&blob)));
    assert_eq!(f.uncompressed_size, raw.len() as u64);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    let pkgs = &f.files["/var/lib/dpkg/status"][0].findings.packages;
    assert_eq!(pkgs[0].name, "bash");
}

/// Links are recorded, never followed: loops, self-links and links out of the root cost
/// nothing, and a wanted path that is a link is not read through it.
#[test]
fn symlink_loops_and_escapes_are_not_followed() {
    let raw = tar(&[
        Item::Symlink("./a", "b"),
        Item::Symlink("./b", "a"),
        Item::Symlink("./self", "self"),
        Item::Symlink("./etc/os-release", "../../../../proc/self/environ"),
        Item::Symlink("./var/lib/dpkg/status", "/var/lib/dpkg/status"),
        Item::File("./lib/apk/db/installed", b"P:musl\nV:1.2.4-r2\n\n"),
    ]);
    let f = run(&raw, None).unwrap();
    assert_eq!(
        f.files.keys().collect::<Vec<_>>(),
        ["/lib/apk/db/installed"]
    );
    assert_eq!(f.replaced, ["/etc/os-release", "/var/lib/dpkg/status"]);
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
}

#[test]
fn zstd_and_plain_layers() {
    let raw = tar(&[Item::File("var/lib/dpkg/status", STATUS)]);
    for blob in [zstd::encode_all(&raw[..], 3).unwrap(), raw.clone()] {
        let f = run(&blob, None).unwrap();
        assert_eq!(f.files.len(), 1);
        assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
    }
}

#[test]
fn hostile_names_are_skipped_with_a_warning() {
    let raw = tar(&[
        Item::File("../var/lib/dpkg/status", STATUS),
        Item::File("etc/ok", b"x"),
    ]);
    let f = run(&raw, None).unwrap();
    assert!(f.files.is_empty());
    assert!(
        f.warnings[0].contains("layer 0 (test)") && f.warnings[0].contains("escapes"),
        "{:?}",
        f.warnings
    );
}

#[test]
fn missing_end_blocks_warn_and_empty_layers_do_not() {
    let raw = tar(&[Item::File("var/lib/dpkg/status", STATUS)]);
    let without_end = &raw[..raw.len() - 1024];
    let f = run(without_end, None).unwrap();
    assert_eq!(f.files.len(), 1);
    assert!(f.warnings[0].contains("end-of-archive"), "{:?}", f.warnings);
    let f = run(b"", None).unwrap();
    assert!(f.warnings.is_empty() && f.files.is_empty());
    let f = run(&gzip(&tar(&[])), None).unwrap();
    assert!(f.warnings.is_empty());
}

#[test]
fn entry_cut_mid_way_is_an_error() {
    let big = vec![b'x'; 4096];
    let raw = tar(&[
        Item::File("var/lib/dpkg/status", STATUS),
        Item::File("usr/share/big", &big),
    ]);
    // Cut inside the unwanted entry's data, and inside the wanted entry's data.
    for cut in [512 + 512 + 512 + 100, 512 + 20] {
        let err = run(&raw[..cut], None).unwrap_err();
        assert!(
            matches!(err, LayerError::Corrupt(_) | LayerError::Truncated { .. }),
            "{err:?}"
        );
    }
    let err = run(&gzip(&raw)[..100], None).unwrap_err();
    assert!(matches!(err, LayerError::Corrupt(_)), "{err:?}");
}

/// The Java analyzer, noting how many uncompressed bytes the walk had read when it was called.
struct Probe {
    unpacked: Arc<Budget>,
    read_before: Arc<AtomicU64>,
    partial: bool,
}

impl Analyzer for Probe {
    fn id(&self) -> AnalyzerId {
        AnalyzerId::Java
    }
    fn version(&self) -> u32 {
        1
    }
    fn max_size(&self) -> u64 {
        JavaAnalyzer.max_size()
    }
    fn wants(&self, path: &str, meta: &FileMeta) -> bool {
        JavaAnalyzer.wants(path, meta)
    }
    fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError> {
        self.read_before
            .store(self.unpacked.used(), Ordering::Relaxed);
        if self.partial {
            let mut head = [0u8; 4];
            input.reader.read_exact(&mut head).unwrap();
            return Ok(Findings::default());
        }
        JavaAnalyzer.analyze(input)
    }
}

fn big_jar() -> Vec<u8> {
    use std::io::Write;
    let mut state = 7u64;
    let noise: Vec<u8> = (0..(17 << 20))
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 56) as u8
        })
        .collect();
    let mut z = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("META-INF/maven/a/big/pom.properties", stored)
        .unwrap();
    z.write_all(b"groupId=a\nartifactId=big\nversion=1\n")
        .unwrap();
    z.start_file("blob.bin", stored).unwrap();
    z.write_all(&noise).unwrap();
    z.finish().unwrap().into_inner()
}

fn walk_with_probe(raw: &[u8], partial: bool) -> (LayerFindings, u64) {
    let unpacked = Arc::new(Budget::new(None));
    let read_before = Arc::new(AtomicU64::new(0));
    let analyzers: Vec<Arc<dyn Analyzer>> = vec![Arc::new(Probe {
        unpacked: Arc::clone(&unpacked),
        read_before: Arc::clone(&read_before),
        partial,
    })];
    let f = walk(
        raw,
        &Walk {
            label: "layer 0 (test)",
            analyzers: &analyzers,
            blob_algorithm: Some(Algorithm::Sha256),
            compressed: &Budget::new(None),
            unpacked: &unpacked,
            on_bytes: &|_| {},
        },
    )
    .unwrap();
    (f, read_before.load(Ordering::Relaxed))
}

#[test]
fn a_large_jar_streams_into_its_one_analyzer() {
    let jar = big_jar();
    assert!(jar.len() > 16 << 20);
    let raw = tar(&[
        Item::File("opt/app/big-1.jar", &jar),
        Item::File("var/lib/dpkg/status", STATUS),
    ]);
    for partial in [false, true] {
        let (f, read_before) = walk_with_probe(&raw, partial);
        // Had the walker buffered the jar, all of it would have been read before the call.
        assert!(
            read_before < (1 << 20),
            "{read_before} bytes read before the analyzer ran"
        );
        // Bytes the analyzer left unread are still hashed.
        assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
        assert_eq!(f.uncompressed_size, raw.len() as u64);
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        let found = &f.files["/opt/app/big-1.jar"][0].findings.packages;
        if partial {
            assert!(found.is_empty());
        } else {
            assert_eq!(found[0].purl, "pkg:maven/a/big@1");
        }
    }
    // Through the built-in set, where only the Java analyzer wants a jar.
    let f = run(&raw, None).unwrap();
    let found = &f.files["/opt/app/big-1.jar"][0].findings.packages;
    assert_eq!(found[0].purl, "pkg:maven/a/big@1");
    assert_eq!(
        f.files["/var/lib/dpkg/status"][0].findings.packages.len(),
        1
    );
}

#[test]
fn a_large_binary_wanted_twice_is_spooled_and_read_by_both() {
    let bin = crate::analyzers::gobin::tests::inline_binary_padded(SPOOL_ABOVE as usize);
    assert!(bin.len() as u64 > SPOOL_ABOVE);
    let raw = tar(&[Item::Exec("usr/bin/tool", &bin)]);
    let f = run(&raw, None).unwrap();
    assert!(f.warnings.is_empty(), "{:?}", f.warnings);
    let analyzed = &f.files["/usr/bin/tool"];
    let ids: Vec<AnalyzerId> = analyzed.iter().map(|a| a.analyzer).collect();
    assert_eq!(ids, [AnalyzerId::Go, AnalyzerId::Rust]);
    let go = &analyzed[0].findings.packages;
    assert!(go.iter().any(|p| p.name == "stdlib"), "{go:?}");
    assert!(analyzed[1].findings.packages.is_empty());
    assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
}

#[test]
fn an_entry_wanted_twice_is_buffered_and_given_to_both() {
    let analyzers: Vec<Arc<dyn Analyzer>> = vec![
        Arc::new(crate::analyzers::dpkg::DpkgAnalyzer),
        Arc::new(crate::analyzers::dpkg::DpkgAnalyzer),
    ];
    let raw = tar(&[Item::File("var/lib/dpkg/status", STATUS)]);
    let f = walk(
        &raw[..],
        &Walk {
            label: "layer 0 (test)",
            analyzers: &analyzers,
            blob_algorithm: None,
            compressed: &Budget::new(None),
            unpacked: &Budget::new(None),
            on_bytes: &|_| {},
        },
    )
    .unwrap();
    let both = &f.files["/var/lib/dpkg/status"];
    assert_eq!(both.len(), 2);
    assert!(both.iter().all(|a| a.findings.packages[0].name == "bash"));
    assert_eq!(f.diff_id, Some(Digest::sha256_of(&raw)));
}

#[test]
fn decompression_bomb_is_cut_off() {
    let zeros = vec![0u8; 4 << 20];
    let raw = tar(&[Item::File("big", &zeros)]);
    let err = run(&gzip(&raw), Some(1 << 20)).unwrap_err();
    assert!(
        matches!(err, LayerError::UnpackedTooLarge { limit } if limit == 1 << 20),
        "{err:?}"
    );
}

/// A layer holding a file for every text-format analyzer, then thousands of mutations of it
/// (bytes flipped in the tar or in its gzip stream, cuts): each walk returns, with findings or
/// a typed error, and never panics.
#[test]
fn mutated_layers_end_in_findings_or_a_typed_error() {
    let raw = tar(&[
        Item::File(
            "./etc/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n",
        ),
        Item::File("./var/lib/dpkg/status", STATUS),
        Item::File(
            "./lib/apk/db/installed",
            b"P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r2\n\n",
        ),
        Item::File(
            "./app/node_modules/left-pad/package.json",
            br#"{"name":"left-pad","version":"1.3.0","license":"MIT"}"#,
        ),
        Item::File(
            "./app/package-lock.json",
            br#"{"lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/left-pad":{"version":"1.3.0"}}}"#,
        ),
        Item::File(
            "./app/yarn.lock",
            b"# yarn lockfile v1\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n",
        ),
        Item::File(
            "./app/pnpm-lock.yaml",
            b"lockfileVersion: '9.0'\npackages:\n  left-pad@1.3.0:\n    resolution: {integrity: sha512-x}\n",
        ),
        Item::File(
            "./usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n",
        ),
        Item::File(
            "./usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec",
            b"Gem::Specification.new do |s|\n  s.name = \"rake\"\n  s.version = \"13.0.6\"\nend\n",
        ),
        Item::File(
            "./app/vendor/composer/installed.json",
            br#"{"packages":[{"name":"monolog/monolog","version":"3.5.0"}]}"#,
        ),
        Item::File(
            "./app/app.deps.json",
            br#"{"targets":{".NETCoreApp,Version=v8.0":{"Newtonsoft.Json/13.0.3":{}}},"libraries":{"Newtonsoft.Json/13.0.3":{"type":"package"}}}"#,
        ),
    ]);
    let clean = run(&raw, None).unwrap();
    let analyzers: std::collections::BTreeSet<_> = clean
        .files
        .values()
        .flatten()
        .filter(|f| !f.findings.packages.is_empty() || f.findings.os.is_some())
        .map(|f| f.analyzer)
        .collect();
    assert!(analyzers.len() >= 8, "only {analyzers:?} found something");

    let zipped = gzip(&raw);
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut walked, mut refused) = (0, 0);
    for round in 0..3_000 {
        let mut blob = if round % 4 == 0 {
            zipped.clone()
        } else {
            raw.clone()
        };
        mutate(&mut blob, &mut rng, 6, round % 9 == 0);
        match run(&blob, Some(64 << 20)) {
            Ok(_) => walked += 1,
            Err(_) => refused += 1,
        }
    }
    // Both outcomes occur, so neither path went untested.
    assert!(
        walked > 100 && refused > 100,
        "{walked} walked, {refused} refused"
    );
}
