//! Package database parsers, and the cost of all analyzers over a bare layer walk.
//!
//! `cargo bench -p cra-benches --bench parsers`
//!
//! - `parsers/*`: the dpkg, apk and rpm (SQLite) analyzers on databases of realistic size,
//!   built in memory (dpkg and apk: 1,000 packages) or taken from the committed rpm fixture.
//! - `walk/*`: a whole scan of the real Debian image in `../shared/fixtures/images` (skipped with
//!   a message when absent) with no analyzers (the bare decompress-and-tar walk), the OS
//!   analyzers only, and every analyzer. The target is all analyzers ≤ 10% over the bare walk.

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use cra_scan::analyzers::{builtin, Analyzer, AnalyzerId, AnalyzerInput, FileMeta};
use cra_scan::{ImageSource, ScanOptions, Scanner};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn analyzer(id: AnalyzerId) -> Box<dyn Analyzer> {
    builtin()
        .into_iter()
        .find(|a| a.id() == id)
        .unwrap_or_else(|| panic!("no analyzer {id}"))
}

fn run(a: &dyn Analyzer, path: &str, bytes: &[u8]) -> usize {
    let meta = FileMeta {
        size: bytes.len() as u64,
        mode: 0o644,
    };
    let findings = a
        .analyze(AnalyzerInput {
            path,
            meta,
            reader: &mut Cursor::new(bytes),
            spooled: None,
        })
        .expect("analyze");
    findings.packages.len()
}

fn dpkg_status(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "Package: pkg{i}\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
             Installed-Size: 1234\nMaintainer: Someone <a@b.invalid>\nArchitecture: amd64\n\
             Multi-Arch: same\nSource: src{i} (1.{i}-1)\nVersion: 1:1.{i}-1+b1\n\
             Depends: libc6 (>= 2.34), pkg{} | pkg{}\nDescription: package {i}\n \
             A longer description line.\n .\n Another paragraph.\n\n",
            (i + 1) % n,
            (i + 2) % n
        ));
    }
    s.into_bytes()
}

fn apk_installed(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "C:Q1Wc4kqM0w3e0mAzKvR2rS9t8pX1c=\nP:pkg{i}\nV:1.{i}-r0\nA:x86_64\nS:1725382\nI:4526080\n\
             T:package {i}\nU:https://example.invalid/\nL:MIT\no:origin{i}\nm:Someone <a@b.invalid>\n\
             t:1709298843\nc:2ce5b0a4bd0bb46e1cd5c3ab8e1ea9a8d0b7a5d1\nD:so:libc.musl-x86_64.so.1 pkg{}\n\
             p:so:libpkg{i}.so.1=1 cmd:pkg{i}=1.{i}-r0\nF:usr/lib\nR:libpkg{i}.so.1\na:0:0:755\nZ:Q1abc=\n\n",
            (i + 1) % n
        ));
    }
    s.into_bytes()
}

fn parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("parsers");
    let dpkg = analyzer(AnalyzerId::Dpkg);
    let status = dpkg_status(1000);
    group.throughput(Throughput::Bytes(status.len() as u64));
    group.bench_function("dpkg_1000", |b| {
        b.iter(|| run(dpkg.as_ref(), "/var/lib/dpkg/status", black_box(&status)))
    });
    let apk = analyzer(AnalyzerId::Apk);
    let installed = apk_installed(1000);
    group.throughput(Throughput::Bytes(installed.len() as u64));
    group.bench_function("apk_1000", |b| {
        b.iter(|| run(apk.as_ref(), "/lib/apk/db/installed", black_box(&installed)))
    });
    let rpm = analyzer(AnalyzerId::Rpm);
    let sqlite = std::fs::read(repo_root().join("cra-scan/tests/fixtures/rpm/rpmdb.sqlite"))
        .expect("rpm fixture");
    group.throughput(Throughput::Bytes(sqlite.len() as u64));
    group.bench_function("rpm_sqlite_fixture", |b| {
        b.iter(|| {
            run(
                rpm.as_ref(),
                "/var/lib/rpm/rpmdb.sqlite",
                black_box(&sqlite),
            )
        })
    });
    group.finish();
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_path_buf()
}

#[allow(clippy::print_stderr)] // a skipped group says why on the bench's own output
fn walk(c: &mut Criterion) {
    let archive = repo_root().join("../shared/fixtures/images/debian-min.oci.tar");
    if !archive.exists() {
        eprintln!("walk benches skipped: {} is absent", archive.display());
        return;
    }
    let source: ImageSource = format!("oci-archive:{}", archive.display())
        .parse()
        .expect("source");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("walk");
    group.sample_size(10);
    let cases: [(&str, Option<Vec<AnalyzerId>>); 3] = [
        ("bare", Some(Vec::new())),
        ("os_only", Some(vec![AnalyzerId::Os, AnalyzerId::Dpkg])),
        ("all_analyzers", None),
    ];
    for (name, analyzers) in cases {
        let scanner = Scanner::new(ScanOptions {
            analyzers,
            ..ScanOptions::default()
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                let report = runtime.block_on(scanner.scan(&source, None)).expect("scan");
                black_box(report.inventory.packages.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parsers, walk);
criterion_main!(benches);
