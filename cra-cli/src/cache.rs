//! The analysis cache options shared by `cra scan` and `cra scan-registry`.
//!
//! The cache lives in `--cache-dir` (`CRA_CACHE_DIR`), by default `cra/layers` under the user's
//! cache directory, and holds at most `--cache-max-size` (`CRA_CACHE_MAX_SIZE`) bytes.
//! `--no-cache` scans without it.

use std::path::PathBuf;

use anyhow::Context;
use cra_scan::cache::{LayerCache, DEFAULT_MAX_SIZE};

/// The cache flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CacheArgs {
    /// Walk every layer again; neither read nor write the analysis cache.
    #[arg(long, env = "CRA_NO_CACHE")]
    pub no_cache: bool,
    /// The analysis cache directory (default: `cra/layers` under the user's cache directory).
    #[arg(long, env = "CRA_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The most the analysis cache holds (bytes, or with a K/M/G/T suffix; default 1G).
    #[arg(long, env = "CRA_CACHE_MAX_SIZE", value_name = "SIZE", value_parser = crate::commands::scan::parse_size)]
    pub cache_max_size: Option<u64>,
}

impl CacheArgs {
    /// Opens the cache, or `None` with `--no-cache`.
    pub fn open(&self) -> anyhow::Result<Option<LayerCache>> {
        self.open_with(default_dir)
    }

    /// Opens the cache in `--cache-dir`, else in the directory `default` gives, or `None` with
    /// `--no-cache`.
    pub fn open_with(
        &self,
        default: impl FnOnce() -> anyhow::Result<PathBuf>,
    ) -> anyhow::Result<Option<LayerCache>> {
        if self.no_cache {
            return Ok(None);
        }
        let dir = match self.cache_dir.clone().filter(|d| !d.as_os_str().is_empty()) {
            Some(d) => d,
            None => default()?,
        };
        let cache = LayerCache::open(&dir, self.cache_max_size.unwrap_or(DEFAULT_MAX_SIZE))
            .with_context(|| format!("cannot open the analysis cache in {}", dir.display()))?;
        Ok(Some(cache))
    }
}

/// `cra/layers` under the user's cache directory.
pub fn default_dir() -> anyhow::Result<PathBuf> {
    Ok(dirs::cache_dir()
        .context(
            "no cache directory for this user: set CRA_CACHE_DIR or --cache-dir, or use --no-cache",
        )?
        .join("cra")
        .join("layers"))
}
