//! Streaming layer walk, package analyzers and output formats.
//!
//! ```text
//!  ImageSource ──resolve──► manifest + config ──► layers (concurrently, bounded)
//!     registry / oci / oci-archive / docker-archive     │
//!                                                        ▼
//!               blob ─► digest ─► gzip|zstd|plain ─► tar ─► analyzers.wants? ─► analyze
//!                                                        │
//!                      LayerFindings (files, whiteouts) ─┴─► merge (base first) ─► Inventory
//!                                                                                   │
//!                                                          sbom::render (json, table, …)
//! ```
//!
//! Nothing is written to disk; only files some analyzer wants are read into memory, bounded.
//!
//! ```no_run
//! use cra_scan::{sbom, ImageSource, ScanOptions, Scanner};
//!
//! # async fn demo() -> Result<(), cra_scan::ScanError> {
//! let source: ImageSource = "oci:examples/images/tiny-debian".parse()?;
//! let report = Scanner::new(ScanOptions::default()).scan(&source, None).await?;
//! for pkg in &report.inventory.packages {
//!     println!("{} {}", pkg.name, pkg.version);
//! }
//! sbom::render(&report, sbom::Format::Json, &mut std::io::stdout())?;
//! # Ok(())
//! # }
//! ```

pub mod analyzers;
pub mod cache;
pub mod error;
pub mod inventory;
pub mod layer;
pub mod merge;
pub mod pipeline;
pub mod purl;
pub mod sbom;
pub mod signature;
pub mod source;
mod spool;
#[cfg(test)]
mod testutil;
pub mod vulns;

#[doc(inline)]
pub use cache::LayerCache;
#[doc(inline)]
pub use error::ScanError;
#[doc(inline)]
pub use inventory::Inventory;
#[doc(inline)]
pub use pipeline::{Progress, Rescan, ScanOptions, ScanReport, Scanner};
#[doc(inline)]
pub use source::{ImageInfo, ImageSource, LayerInfo};
