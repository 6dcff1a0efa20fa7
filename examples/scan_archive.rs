//! Scans a local image and prints its OS and packages.
//!
//! ```text
//! cargo run -p cra-examples --example scan_archive -- oci:examples/images/tiny-debian
//! cargo run -p cra-examples --example scan_archive -- oci-archive:image.tar:latest
//! cargo run -p cra-examples --example scan_archive -- docker-archive:saved.tar
//! ```
//!
//! Without an argument it scans the small image committed under `examples/images/`.

// An example program talks to its user on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;

use cra_core::Digest;
use cra_scan::{sbom, ImageSource, Progress, ScanOptions, Scanner};

/// Reports each layer as it finishes, on stderr.
struct Log;

impl Progress for Log {
    fn layer_started(&self, index: usize, digest: &Digest, size: u64) {
        eprintln!("layer {index}: {digest} ({size} bytes)");
    }

    fn bytes(&self, _index: usize, _n: u64) {}

    fn layer_done(&self, index: usize) {
        eprintln!("layer {index}: done");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let input = std::env::args().nth(1).unwrap_or_else(|| {
        concat!("oci:", env!("CARGO_MANIFEST_DIR"), "/images/tiny-debian").to_owned()
    });
    let source: ImageSource = input.parse()?;
    let scanner = Scanner::new(ScanOptions::default());

    let info = scanner.inspect(&source).await?;
    eprintln!(
        "{} layers, {} bytes, image id {}",
        info.layers.len(),
        info.total_size,
        info.config_digest
    );

    let report = scanner.scan(&source, Some(Arc::new(Log))).await?;
    match &report.inventory.os {
        Some(os) => println!(
            "OS: {} {}",
            os.id,
            os.version_id.as_deref().unwrap_or("(no version)")
        ),
        None => println!("OS: unknown"),
    }
    for pkg in &report.inventory.packages {
        println!("{:<24} {:<24} {}", pkg.name, pkg.version, pkg.purl);
    }
    for warning in &report.inventory.warnings {
        eprintln!("warning: {warning}");
    }

    // The same report in the snyk scan-result shape, as the agent sends it.
    let results = sbom::snyk_scan_results(&report).scan_results;
    for result in &results {
        let packages = result
            .dep_graph()
            .map_or(0, |g| g.pkgs.len().saturating_sub(1));
        eprintln!(
            "scan result: {} {} with {packages} packages",
            result.identity.kind,
            result.identity.target_file.as_deref().unwrap_or("(image)")
        );
    }
    Ok(())
}
