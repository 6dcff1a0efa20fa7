//! Known vulnerabilities of an inventory, from OSV advisories held in a local database.
//!
//! ```text
//!  <base>/<Ecosystem>/all.zip ──db::import──► SQLite store (CRA_DB_DIR) ──matcher──► Findings
//!                                                                          │
//!                              Inventory ─────────────────────────────────┘   severity, grade
//! ```
//!
//! [`version`] orders versions per ecosystem, [`osv`] is the record format, [`range`] evaluates
//! OSV ranges, [`severity`] and [`grade`] rate findings and images. All of these are pure; only
//! [`db`] touches the filesystem, and nothing here touches the network (the CLI downloads).

pub mod db;
pub mod grade;
pub mod matcher;
pub mod osv;
pub mod output;
pub mod policy;
pub mod range;
pub mod severity;
pub mod target;
pub mod version;

#[doc(inline)]
pub use matcher::{match_inventory, Finding, Unmatched, VulnReport};
