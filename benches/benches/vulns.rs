//! Vulnerability matching.
//!
//! - `vulns/match-220`: matching an inventory of 220 packages (200 Debian packages from 120
//!   source packages, 20 PyPI packages) against a database of 40 000 Debian and 10 000 PyPI
//!   records, about the size of OSV's sets; the budget is 50 ms.
//! - `vulns/update`: what `cra db update --ecosystem Debian,PyPI` does with those two sets:
//!   download both `all.zip` archives from a mirror on loopback, streaming each to a file, then
//!   build the database from them.
//!
//! The records are generated in the OSV shape. Set `CRA_BENCH_OSV_MIRROR` to a directory laid
//! out as `<Ecosystem>/all.zip` (a copy of the OSV bucket's Debian and PyPI archives) to serve
//! the real sets instead.
//!
//! Run with `cargo bench -p cra-benches --bench vulns`.

// `criterion_group!` defines an undocumented public function; skips are reported on stderr.
#![allow(missing_docs, clippy::print_stderr, clippy::unwrap_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use futures_util::StreamExt;

use cra_core::{Ecosystem, Location, OsRelease, Package};
use cra_scan::vulns::db::{import, Database};
use cra_scan::vulns::match_inventory;
use cra_scan::Inventory;
use criterion::{criterion_group, criterion_main, Criterion};

const DEBIAN_RECORDS: usize = 40_000;
const PYPI_RECORDS: usize = 10_000;
const SOURCES: usize = 4_000;

fn zip_of(records: impl Iterator<Item = (String, String)>) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in records {
        w.start_file(name, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

fn debian_record(i: usize) -> (String, String) {
    let src = i % SOURCES;
    let id = format!("DEBIAN-CVE-2020-{i:05}");
    let body = format!(
        r#"{{"schema_version":"1.7.0","id":"{id}","modified":"2024-05-01T00:00:00Z","published":"2023-0{m}-01T00:00:00Z",
"upstream":["CVE-2020-{i:05}"],"details":"A flaw in src{src}.",
"severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}],
"affected":[
{{"package":{{"ecosystem":"Debian:11","name":"src{src}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"1.{v}-1+deb11u1"}}]}}]}},
{{"package":{{"ecosystem":"Debian:12","name":"src{src}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"1.{v}-2+deb12u1"}}]}}],"versions":["1.{v}-1","1.{v}-2"]}}]}}"#,
        m = 1 + i % 9,
        v = i % 50,
    );
    (format!("{id}.json"), body)
}

fn pypi_record(i: usize) -> (String, String) {
    let id = format!("PYSEC-2021-{i:05}");
    let body = format!(
        r#"{{"id":"{id}","modified":"2024-05-01T00:00:00Z","published":"2021-06-01T00:00:00Z","aliases":["CVE-2021-{i:05}"],
"affected":[{{"package":{{"ecosystem":"PyPI","name":"lib-{p}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"2.{f}.0"}}]}}],
"versions":["1.0","1.1","1.2","2.0.0"]}}]}}"#,
        p = i % 2_000,
        f = i % 30,
    );
    (format!("{id}.json"), body)
}

/// The Debian and PyPI archives: the real ones when `CRA_BENCH_OSV_MIRROR` names a mirror,
/// else generated.
fn archives() -> HashMap<String, Vec<u8>> {
    if let Some(mirror) = std::env::var_os("CRA_BENCH_OSV_MIRROR").map(PathBuf::from) {
        eprintln!("vulns: serving the archives in {}", mirror.display());
        return ["Debian", "PyPI"]
            .iter()
            .map(|e| {
                (
                    (*e).to_owned(),
                    std::fs::read(mirror.join(e).join("all.zip")).unwrap(),
                )
            })
            .collect();
    }
    HashMap::from([
        (
            "Debian".to_owned(),
            zip_of((0..DEBIAN_RECORDS).map(debian_record)),
        ),
        (
            "PyPI".to_owned(),
            zip_of((0..PYPI_RECORDS).map(pypi_record)),
        ),
    ])
}

/// Serves `<Ecosystem>/all.zip` on loopback.
async fn serve(archives: HashMap<String, Vec<u8>>) -> SocketAddr {
    async fn archive(
        State(archives): State<Arc<HashMap<String, Vec<u8>>>>,
        UrlPath(ecosystem): UrlPath<String>,
    ) -> Result<Vec<u8>, StatusCode> {
        archives
            .get(&ecosystem)
            .cloned()
            .ok_or(StatusCode::NOT_FOUND)
    }
    let app = axum::Router::new()
        .route("/{ecosystem}/all.zip", axum::routing::get(archive))
        .with_state(Arc::new(archives));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Downloads each archive from the mirror into `dir`, a chunk at a time, as `cra db update`
/// does, and builds the database in `dir/db`.
async fn update(client: &reqwest::Client, mirror: SocketAddr, dir: &Path) {
    let mut archives = Vec::new();
    for ecosystem in ["Debian", "PyPI"] {
        let url = format!("http://{mirror}/{ecosystem}/all.zip");
        let response = client
            .get(&url)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let path = dir.join(format!("{ecosystem}.zip"));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk.unwrap()).unwrap();
        }
        file.flush().unwrap();
        archives.push(import::Archive {
            ecosystem: ecosystem.into(),
            path,
            origin: url,
        });
    }
    import::build(&dir.join("db"), &archives, "2024-06-01T00:00:00Z").unwrap();
}

fn package(ecosystem: Ecosystem, name: String, version: String, source: Option<String>) -> Package {
    Package {
        ecosystem,
        name,
        version,
        source_name: source,
        source_version: None,
        arch: None,
        license: None,
        purl: String::new(),
        dependencies: Vec::new(),
        location: Location {
            path: "/var/lib/dpkg/status".into(),
            layer_index: 0,
            diff_id: None,
            layer_digest: None,
        },
        os_managed: false,
        sha1: None,
        version_from_file_name: false,
    }
}

/// 200 Debian packages from 120 sources and 20 PyPI packages.
fn inventory() -> Inventory {
    let mut packages = Vec::new();
    for i in 0..200 {
        let src = (i * 7) % 120;
        packages.push(package(
            Ecosystem::Deb,
            format!("bin{i}"),
            format!("1.{}-2+b1", i % 50),
            Some(format!("src{src}")),
        ));
    }
    for i in 0..20 {
        packages.push(package(
            Ecosystem::Pypi,
            format!("Lib_{}", i * 13),
            "2.3.1".into(),
            None,
        ));
    }
    Inventory {
        os: Some(OsRelease {
            id: "debian".into(),
            version_id: Some("12".into()),
            ..OsRelease::default()
        }),
        packages,
        warnings: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mirror = runtime.block_on(serve(archives()));
    let client = reqwest::Client::new();
    let work = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("vulns");
    group.sample_size(10);
    group.bench_function("update", |b| {
        b.to_async(&runtime)
            .iter(|| update(&client, mirror, black_box(work.path())))
    });
    let db = Database::open(&work.path().join("db")).unwrap();
    let inv = inventory();
    let now = time::OffsetDateTime::now_utc();
    let report = match_inventory(&db, &inv, now).unwrap();
    eprintln!(
        "vulns: {} findings, {} unmatched for {} packages",
        report.findings.len(),
        report.unmatched.len(),
        inv.packages.len()
    );
    group.sample_size(30);
    group.bench_function("match-220", |b| {
        b.iter(|| match_inventory(&db, black_box(&inv), now).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
