//! Package analyzers: small, synchronous, pure plugins behind one trait, listed in [`builtin`].
//!
//! The layer walker asks every analyzer whether it [`wants`](Analyzer::wants) a tar entry, looking
//! only at the path and metadata; only wanted entries are read, through a bounded reader.
//! An analyzer turns one file into [`Findings`]. It never touches the network, and never touches
//! the real filesystem except where its header says so (large Java archives are spooled to a
//! temporary file).
//! Cross-file decisions (which OS file wins, lock files versus `node_modules`) are made after the
//! layers are merged, in `inventory`.

pub mod apk;
pub mod cargo_auditable;
pub mod dotnet;
pub mod dpkg;
mod elf;
pub mod gemfile_lock;
pub mod gobin;
mod id;
pub mod java;
pub mod npm;
pub mod os_release;
pub mod php;
pub mod pip_requirements;
pub mod pipenv;
pub mod poetry;
pub mod pyproject;
pub mod python;
pub mod rpm;
pub mod ruby;

use std::io::Read;

use cra_core::{OsRelease, Package};
use serde::{Deserialize, Serialize};

pub use id::{AnalyzerId, UnknownAnalyzer};

/// Metadata of a tar entry, as far as analyzers may look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// The size in bytes the tar header declares.
    pub size: u64,
    /// The permission bits.
    pub mode: u32,
}

impl FileMeta {
    /// Whether any execute bit is set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// One file handed to an analyzer.
pub struct AnalyzerInput<'a> {
    /// The normalised absolute path inside the image (`/var/lib/dpkg/status`).
    pub path: &'a str,
    /// The entry's metadata.
    pub meta: FileMeta,
    /// The content, already bounded to [`Analyzer::max_size`] bytes.
    pub reader: &'a mut dyn Read,
    /// The same content as a file, when the walker spooled it (a large entry wanted by several
    /// analyzers), for analyzers that read parts of a file out of order.
    pub spooled: Option<&'a std::fs::File>,
}

impl AnalyzerInput<'_> {
    /// Reads the whole content (already bounded by the walker) into memory.
    pub fn read_bytes(&mut self) -> Result<Vec<u8>, AnalyzerError> {
        let mut buf = Vec::with_capacity(usize::try_from(self.meta.size.min(1 << 20)).unwrap_or(0));
        self.reader
            .read_to_end(&mut buf)
            .map_err(|source| AnalyzerError::Io {
                path: self.path.to_owned(),
                source,
            })?;
        Ok(buf)
    }
}

/// The OS facts one file gives, with the rank of the file that gave them (lower wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsFinding {
    /// 0 for `/etc/os-release`, 1 for `/usr/lib/os-release`, larger for fallback files.
    pub rank: u8,
    /// What the file says.
    pub release: OsRelease,
}

/// What an analyzer found in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    /// Packages; their `location.path` is set, the layer fields are filled in by the walker.
    pub packages: Vec<Package>,
    /// OS facts, from OS-identification files.
    pub os: Option<OsFinding>,
    /// Problems that did not stop the analysis (a malformed stanza, a skipped entry).
    pub warnings: Vec<String>,
}

/// Why an analyzer could not read a file at all.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzerError {
    /// Reading the content failed (for example the tar stream ended early).
    #[error("cannot read {path}")]
    Io {
        /// The file being read.
        path: String,
        /// The read error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not in the format the analyzer expects.
    #[error("malformed {format} file {path}: {reason}")]
    Malformed {
        /// The format name (`dpkg status`, `rpm header`).
        format: &'static str,
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// A package analyzer.
pub trait Analyzer: Send + Sync {
    /// A short stable name (`dpkg`, `python`), used by `--analyzers` and in warnings.
    fn id(&self) -> AnalyzerId;

    /// Bumped whenever the analyzer's output for the same input changes.
    fn version(&self) -> u32;

    /// The most bytes of one file this analyzer reads; larger files are skipped with a warning.
    fn max_size(&self) -> u64 {
        16 * 1024 * 1024
    }

    /// Whether this file is of interest, judged by path and metadata alone.
    fn wants(&self, path: &str, meta: &FileMeta) -> bool;

    /// Analyzes one wanted file.
    fn analyze(&self, input: AnalyzerInput<'_>) -> Result<Findings, AnalyzerError>;
}

/// Every built-in analyzer, in the order their results are reported.
pub fn builtin() -> Vec<Box<dyn Analyzer>> {
    vec![
        Box::new(os_release::OsReleaseAnalyzer),
        Box::new(dpkg::DpkgAnalyzer),
        Box::new(apk::ApkAnalyzer),
        Box::new(python::PythonAnalyzer),
        Box::new(pip_requirements::PipRequirementsAnalyzer),
        Box::new(poetry::PoetryAnalyzer),
        Box::new(pipenv::PipenvAnalyzer),
        Box::new(npm::NpmAnalyzer),
        Box::new(rpm::RpmAnalyzer),
        Box::new(gobin::GoBinaryAnalyzer),
        Box::new(java::JavaAnalyzer),
        Box::new(cargo_auditable::CargoAuditableAnalyzer),
        Box::new(ruby::RubyAnalyzer),
        Box::new(gemfile_lock::GemfileLockAnalyzer),
        Box::new(php::PhpAnalyzer),
        Box::new(dotnet::DotnetAnalyzer),
    ]
}
