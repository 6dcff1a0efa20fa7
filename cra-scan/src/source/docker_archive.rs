//! `docker save` archives, plain or gzip- or zstd-compressed.
//!
//! An archive with `index.json` and `oci-layout` (Docker 25 and later) is read as an OCI layout.
//! Otherwise `manifest.json` names the config and the layer tars, base first; such archives
//! have no manifest digest, so the image is identified by its config digest, and the layers by
//! their diff_ids, which are verified as they are read.
//! The platform is the config's; of an archive holding several images, the one of the wanted
//! platform is taken (the rules are in `platform.rs`).

use std::path::Path;

use cra_core::Digest;
use serde::Deserialize;

use super::archive::{self, Store};
use super::platform::Wanted;
use super::{oci_layout, parse_config, ConfigFacts, ImageInfo, LayerInfo, Resolved};
use crate::error::ScanError;

const LAYER_MEDIA_TYPE: &str = "application/vnd.docker.image.rootfs.diff.tar";

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Resolves a docker-archive.
pub(crate) fn resolve(path: &Path, platform: &Wanted) -> Result<Resolved, ScanError> {
    let store = archive::open(path)?;
    let bad = |reason: String| ScanError::Archive {
        path: path.to_owned(),
        reason,
    };
    if !store.contains("manifest.json")? {
        if store.contains("index.json")? && store.contains("oci-layout")? {
            return oci_layout::resolve_store(&store, None, platform);
        }
        return Err(bad("no manifest.json: not a docker archive".into()));
    }
    let manifest_bytes = store
        .read_small("manifest.json")?
        .ok_or_else(|| bad("no manifest.json".into()))?;
    let entries: Vec<Entry> = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| ScanError::metadata("manifest.json is malformed", e))?;
    if entries.is_empty() {
        return Err(bad("manifest.json lists no image".into()));
    }
    let mut configs = Vec::with_capacity(entries.len());
    for entry in &entries {
        let config = store
            .read_small(&entry.config)?
            .ok_or_else(|| bad(format!("config {} is missing", entry.config)))?;
        configs.push((config.clone(), parse_config(&config)?));
    }
    let platforms: Vec<_> = configs.iter().map(|(_, f)| f.platform.clone()).collect();
    let chosen = platform.choose(
        platforms
            .iter()
            .enumerate()
            .map(|(i, p)| (i, Some(p.clone())))
            .collect(),
    )?;
    let same = platforms
        .iter()
        .filter(|p| **p == platforms[chosen])
        .count();
    if same > 1 {
        return Err(bad(format!(
            "the archive holds {same} images for {}; save one image per archive",
            platforms[chosen]
        )));
    }
    let (config, facts) = configs.swap_remove(chosen);
    image(&store, &manifest_bytes, &entries[chosen], &config, facts)
}

/// The image of one `manifest.json` entry.
fn image(
    store: &Store,
    manifest_bytes: &[u8],
    entry: &Entry,
    config: &[u8],
    facts: ConfigFacts,
) -> Result<Resolved, ScanError> {
    let bad = |reason: String| ScanError::Archive {
        path: store.path().to_owned(),
        reason,
    };
    if facts.diff_ids.len() != entry.layers.len() {
        return Err(ScanError::Metadata {
            reason: format!(
                "manifest.json lists {} layers but the config lists {} diff_ids",
                entry.layers.len(),
                facts.diff_ids.len()
            ),
            source: None,
        });
    }
    let mut layers = Vec::new();
    let mut sources = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(&facts.diff_ids) {
        // Docker 25+ names layers by blob path; the blob digest is then known.
        let blob_digest: Option<Digest> = name
            .strip_prefix("blobs/sha256/")
            .and_then(|hex| format!("sha256:{hex}").parse().ok());
        let source = store
            .layer(name, None, blob_digest.clone())?
            .ok_or_else(|| bad(format!("layer {name} is missing")))?;
        let size = match &source {
            super::LayerSource::File { size, .. }
            | super::LayerSource::ArchiveEntry { size, .. } => *size,
            _ => 0,
        };
        layers.push(LayerInfo {
            digest: blob_digest.unwrap_or_else(|| diff_id.clone()),
            diff_id: Some(diff_id.clone()),
            size,
            media_type: LAYER_MEDIA_TYPE.to_owned(),
            archive_path: Some(name.clone()),
        });
        sources.push(source);
    }
    let total_size = config.len() as u64 + layers.iter().map(|l| l.size).sum::<u64>();
    let info = ImageInfo {
        manifest_digest: Digest::sha256_of(manifest_bytes),
        manifest_media_type: "application/json".into(),
        config_digest: Digest::sha256_of(config),
        platform: facts.platform,
        created: facts.created,
        layers,
        names: entry.repo_tags.clone().unwrap_or_default(),
        total_size,
        config: facts.value,
    };
    Ok(Resolved::new(info, sources))
}
