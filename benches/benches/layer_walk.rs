//! Layer-walk throughput, in MB/s of compressed input.
//!
//! - `walk/gzip`, `walk/zstd`: one synthetic layer (a few thousand files and a dpkg status
//!   database) walked in memory: inflate, both digests, tar, analyzers.
//! - `scan/debian-min`: the whole pipeline on the real Debian fixture
//!   (`<repo>/../shared/fixtures/images/debian-min.oci.tar`), when it is present.
//!
//! Run with `cargo bench -p cra-benches --bench layer_walk`.

// `criterion_group!` defines an undocumented public function; skips are reported on stderr.
#![allow(missing_docs, clippy::print_stderr)]

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use cra_core::digest::Algorithm;
use cra_scan::analyzers::{builtin, Analyzer};
use cra_scan::layer::{walk, Budget, Walk};
use cra_scan::{ImageSource, ScanOptions, Scanner};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A tar of `files` text-like files of about 24 KiB each, plus a dpkg status of 200 packages.
fn synthetic_tar(files: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).expect("append");
    };
    let mut status = String::new();
    for i in 0..200 {
        status.push_str(&format!(
            "Package: pkg{i}\nStatus: install ok installed\nArchitecture: amd64\nSource: src{i} (1.{i}-1)\nVersion: 1.{i}-1+b1\nDepends: libc6 (>= 2.36), pkg{}\nDescription: package {i}\n a package\n\n",
            (i + 1) % 200
        ));
    }
    add("var/lib/dpkg/status", status.as_bytes());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for f in 0..files {
        // Pseudo-random words: compresses like real text and binaries mixed (about 3:1).
        let mut data = Vec::with_capacity(24 * 1024);
        while data.len() < 24 * 1024 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let word = (seed % 4096) as u32;
            write!(data, "w{word:x} ").expect("write");
            if seed.is_multiple_of(11) {
                data.extend_from_slice(&seed.to_le_bytes());
            }
        }
        add(&format!("usr/share/data/{}/file{f}.txt", f % 64), &data);
    }
    b.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn bench_walk(c: &mut Criterion) {
    let tar = synthetic_tar(2000);
    let analyzers: Vec<Arc<dyn Analyzer>> = builtin().into_iter().map(Arc::from).collect();
    let mut group = c.benchmark_group("walk");
    group.sample_size(10);
    for (name, blob) in [
        ("gzip", gzip(&tar)),
        ("zstd", zstd::encode_all(&tar[..], 3).expect("zstd")),
    ] {
        group.throughput(Throughput::Bytes(blob.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let compressed = Budget::new(None);
                let unpacked = Budget::new(None);
                let findings = walk(
                    black_box(&blob[..]),
                    &Walk {
                        label: "bench",
                        analyzers: &analyzers,
                        blob_algorithm: Some(Algorithm::Sha256),
                        compressed: &compressed,
                        unpacked: &unpacked,
                        on_bytes: &|_| {},
                    },
                )
                .expect("walk");
                black_box(findings.files.len())
            })
        });
    }
    group.finish();
}

/// The largest blob of an oci-archive, read into memory.
fn largest_blob(path: &Path) -> Vec<u8> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).expect("open fixture"));
    let mut best = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        if entry.size() > best.len() as u64 {
            best.clear();
            std::io::Read::read_to_end(&mut entry, &mut best).expect("read blob");
        }
    }
    best
}

fn bench_fixture(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/images/debian-min.oci.tar");
    if !path.exists() {
        eprintln!(
            "skipping scan/debian-min: {} is not present",
            path.display()
        );
        return;
    }
    // The floor: inflating the largest layer alone, with the inflater the walk uses.
    let blob = largest_blob(&path);
    let mut group = c.benchmark_group("inflate");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(blob.len() as u64));
    group.bench_function("debian-min/flate2-zlib-rs", |b| {
        b.iter(|| {
            let mut d = flate2::read::MultiGzDecoder::new(black_box(&blob[..]));
            std::io::copy(&mut d, &mut std::io::sink()).expect("inflate")
        })
    });
    group.finish();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let source: ImageSource = format!("oci-archive:{}", path.display())
        .parse()
        .expect("source");
    let scanner = Scanner::new(ScanOptions::default());
    let info = runtime.block_on(scanner.inspect(&source)).expect("inspect");
    let compressed: u64 = info.layers.iter().map(|l| l.size).sum();
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(compressed));
    group.bench_function("debian-min", |b| {
        b.iter(|| {
            let report = runtime
                .block_on(scanner.scan(black_box(&source), None))
                .expect("scan");
            black_box(report.inventory.packages.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_walk, bench_fixture);
criterion_main!(benches);
