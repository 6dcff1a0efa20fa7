//! `cra db update` and `cra db status` against a loopback mirror: a directory, an HTTP server,
//! a truncated archive, and a server that dies mid-download (the old database stays in use).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use clap::Parser;
use cra_scan::vulns::db::{Database, Status};
use cra_tests::osv;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn cra(args: &[&str]) -> anyhow::Result<()> {
    let mut argv = vec!["cra"];
    argv.extend_from_slice(args);
    cra_cli::run(cra_cli::Cli::parse_from(argv)).await
}

/// `cra db update --mirror <mirror> [--ecosystem <ecosystems>] --db-dir <db> [extra…]`.
async fn update(
    mirror: &str,
    ecosystems: Option<&str>,
    db: &Path,
    extra: &[&str],
) -> anyhow::Result<()> {
    let db = db.to_str().unwrap();
    let mut args = vec!["db", "update", "--mirror", mirror, "--db-dir", db];
    if let Some(e) = ecosystems {
        args.extend(["--ecosystem", e]);
    }
    args.extend_from_slice(extra);
    cra(&args).await
}

/// A database already updated with the Debian fixtures from a directory mirror, and its status.
struct Seeded {
    db: tempfile::TempDir,
    before: Status,
    _mirror: tempfile::TempDir,
}

async fn seeded_with_debian() -> Seeded {
    let mirror = tempfile::tempdir().unwrap();
    osv::write_mirror(mirror.path(), &["Debian"]);
    let db = tempfile::tempdir().unwrap();
    update(
        mirror.path().to_str().unwrap(),
        Some("Debian"),
        db.path(),
        &[],
    )
    .await
    .unwrap();
    Seeded {
        before: status(db.path()),
        db,
        _mirror: mirror,
    }
}

/// Serves `<ecosystem>/all.zip` from a map on loopback until the guard drops.
async fn serve(archives: HashMap<String, Vec<u8>>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
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
        .route("/{ecosystem}/all.zip", get(archive))
        .with_state(Arc::new(archives));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

fn status(dir: &Path) -> Status {
    Database::open(dir).unwrap().status().unwrap()
}

fn names(status: &Status) -> Vec<(&str, u64)> {
    status
        .sources
        .iter()
        .map(|s| (s.ecosystem.as_str(), s.records))
        .collect()
}

/// Only the database file is left in the directory: no temporary download or database.
fn assert_only_the_database(dir: &Path) {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["osv.sqlite"]);
}

#[tokio::test]
async fn update_over_http_then_restrict_to_one_ecosystem() {
    let archives = ["Debian", "PyPI", "npm"]
        .iter()
        .map(|e| ((*e).to_owned(), osv::fixture_zip(e)))
        .collect();
    let (addr, server) = serve(archives).await;
    let db = tempfile::tempdir().unwrap();
    let mirror = format!("http://{addr}");
    update(&mirror, Some("Debian,PyPI"), db.path(), &[])
        .await
        .unwrap();
    let first = status(db.path());
    assert_eq!(names(&first), [("Debian", 3), ("PyPI", 1)]);
    let debian = &first.sources[0];
    assert_eq!(
        debian.newest_modified.as_deref(),
        Some("2024-01-01T00:00:00Z")
    );
    assert_eq!(debian.origin, format!("http://{addr}/Debian/all.zip"));

    // npm alone: Debian and PyPI keep their data; the withdrawn record is left out.
    update(&mirror, Some("npm"), db.path(), &[]).await.unwrap();
    let second = status(db.path());
    assert_eq!(names(&second), [("Debian", 3), ("PyPI", 1), ("npm", 1)]);
    assert_eq!(second.sources[0].imported_at, debian.imported_at);
    assert_only_the_database(db.path());

    // An ecosystem the mirror lacks, named explicitly, is an error.
    let err = update(&mirror, Some("Go"), db.path(), &[])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("404"), "{err:#}");
    assert_eq!(status(db.path()), second);
    let dir = db.path().to_str().unwrap();
    cra(&["db", "status", "--db-dir", dir, "--format", "json"])
        .await
        .unwrap();
    server.abort();
}

#[tokio::test]
async fn update_from_a_directory_mirror_skips_missing_default_ecosystems() {
    let mirror = tempfile::tempdir().unwrap();
    osv::write_mirror(mirror.path(), &["Debian", "npm"]);
    let db = tempfile::tempdir().unwrap();
    // No --ecosystem: every default one is tried, the absent ones are skipped.
    update(mirror.path().to_str().unwrap(), None, db.path(), &[])
        .await
        .unwrap();
    assert_eq!(names(&status(db.path())), [("Debian", 3), ("npm", 1)]);
}

#[tokio::test]
async fn a_truncated_archive_leaves_the_old_database_in_use() {
    let Seeded { db, before, .. } = seeded_with_debian().await;
    let zip = osv::fixture_zip("Debian");
    let truncated = zip[..zip.len() / 2].to_vec();
    let (addr, server) = serve([("Debian".to_owned(), truncated)].into_iter().collect()).await;
    let err = update(&format!("http://{addr}"), Some("Debian"), db.path(), &[])
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("not a readable zip"), "{err:#}");
    assert_eq!(status(db.path()), before);
    assert_only_the_database(db.path());
    server.abort();
}

/// Answers every connection with a full `Content-Length`, half of the body, then a close.
async fn dying_server(body: Vec<u8>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = vec![0u8; 8192];
            let mut read = 0;
            while !request[..read].windows(4).any(|w| w == b"\r\n\r\n") && read < request.len() {
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    socket.read(&mut request[read..]),
                )
                .await
                {
                    Ok(Ok(n)) if n > 0 => read += n,
                    _ => break,
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/zip\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body[..body.len() / 2]).await;
            let _ = socket.shutdown().await;
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_server_dying_mid_download_leaves_the_old_database_in_use() {
    let Seeded { db, before, .. } = seeded_with_debian().await;
    let (addr, server) = dying_server(osv::fixture_zip("Debian")).await;
    let err = update(
        &format!("http://{addr}"),
        Some("Debian"),
        db.path(),
        &["--timeout", "5"],
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("downloading"), "{err:#}");
    assert_eq!(status(db.path()), before);
    assert_only_the_database(db.path());
    // The database still answers.
    assert!(!Database::open(db.path())
        .unwrap()
        .advisories_for("Debian", "glibc")
        .unwrap()
        .is_empty());
    server.abort();
}
