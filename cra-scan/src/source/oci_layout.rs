//! OCI image layouts, as a directory or as a tar of one.
//!
//! `index.json` lists images, each optionally tagged by `org.opencontainers.image.ref.name`.
//! With a tag the matching entry is taken; without one, a single entry is taken, and several
//! entries are treated as one multi-platform index.
//! Index entries whose blobs are absent (a one-platform export of a multi-platform image) are
//! ignored when selecting a platform, and so are attestation manifests; an entry that states no
//! platform (`docker save` of several images) is judged by its config's.

use std::path::Path;

use cra_core::manifest::{media_type, Manifest};
use cra_core::{Digest, Platform};
use oci_spec::image::Descriptor;

use super::archive::{self, Store};
use super::platform::{candidates, Wanted};
use super::{
    digest_of, image_info, parse_config, verify_bytes, LayerSource, Resolved, MAX_INDEX_DEPTH,
};
use crate::error::ScanError;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Resolves an OCI layout directory.
pub(crate) fn resolve_dir(
    path: &Path,
    tag: Option<&str>,
    platform: &Wanted,
) -> Result<Resolved, ScanError> {
    if !path.join("index.json").is_file() {
        return Err(ScanError::Archive {
            path: path.to_owned(),
            reason: "no index.json: not an OCI image layout".into(),
        });
    }
    resolve_store(&Store::Dir(path.to_owned()), tag, platform)
}

/// Resolves an oci-archive (a tar of an OCI layout, plain or gzip- or zstd-compressed).
pub(crate) fn resolve_archive(
    path: &Path,
    tag: Option<&str>,
    platform: &Wanted,
) -> Result<Resolved, ScanError> {
    let store = archive::open(path)?;
    if !store.contains("index.json")? {
        return Err(ScanError::Archive {
            path: path.to_owned(),
            reason: "no index.json: not an OCI archive".into(),
        });
    }
    resolve_store(&store, tag, platform)
}

pub(crate) fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex())
}

fn read_blob(store: &Store, digest: &Digest, what: &str) -> Result<Option<Vec<u8>>, ScanError> {
    let Some(bytes) = store.read_small(&blob_name(digest))? else {
        return Ok(None);
    };
    verify_bytes(what, digest, &bytes)?;
    Ok(Some(bytes))
}

fn annotation<'a>(d: &'a Descriptor, key: &str) -> Option<&'a str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Resolves the image that `tag` (or the only entry, or the platform) selects in a layout.
pub(crate) fn resolve_store(
    store: &Store,
    tag: Option<&str>,
    platform: &Wanted,
) -> Result<Resolved, ScanError> {
    let bad = |reason: String| ScanError::Archive {
        path: store.path().to_owned(),
        reason,
    };
    let bytes = store
        .read_small("index.json")?
        .ok_or_else(|| bad("no index.json".into()))?;
    let Manifest::Index(index) = Manifest::parse(media_type::OCI_INDEX, &bytes)
        .map_err(|e| ScanError::metadata("index.json is not an image index", e))?
    else {
        return Err(bad("index.json is not an image index".into()));
    };
    let entries: Vec<&Descriptor> = match tag {
        Some(tag) => index
            .manifests()
            .iter()
            .filter(|d| {
                annotation(d, REF_NAME) == Some(tag)
                    || annotation(d, CONTAINERD_NAME)
                        .is_some_and(|n| n.ends_with(&format!(":{tag}")))
            })
            .collect(),
        None => index.manifests().iter().collect(),
    };
    let chosen = match entries.as_slice() {
        [] => {
            return Err(ScanError::NotFound {
                what: match tag {
                    Some(t) => format!("tag {t:?} in {}", store.path().display()),
                    None => format!("any image in {}", store.path().display()),
                },
            })
        }
        [only] => (*only).clone(),
        several => select_present(
            store,
            several.iter().map(|d| (*d).clone()).collect(),
            platform,
        )?,
    };
    let names = names_of(store, &chosen, tag);
    resolve_descriptor(store, chosen, platform, names)
}

fn names_of(store: &Store, d: &Descriptor, tag: Option<&str>) -> Vec<String> {
    if let Some(name) = annotation(d, CONTAINERD_NAME) {
        return vec![name.to_owned()];
    }
    let base = store
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    match annotation(d, REF_NAME).or(tag) {
        Some(r) if r.contains(':') || r.contains('/') => vec![r.to_owned()],
        Some(r) => vec![format!("{base}:{r}")],
        None => vec![base],
    }
}

fn select_present(
    store: &Store,
    entries: Vec<Descriptor>,
    platform: &Wanted,
) -> Result<Descriptor, ScanError> {
    let mut present = Vec::new();
    for d in entries {
        let digest = digest_of(d.digest())?;
        if store.contains(&blob_name(&digest))? {
            present.push(d);
        }
    }
    let mut found = candidates(&present);
    if found.len() > 1 {
        for (d, p) in &mut found {
            if p.is_none() {
                *p = config_platform(store, d);
            }
        }
    }
    platform.choose(found)
}

/// The platform in the config of the image manifest `d` names; `None` when `d` is an index or
/// its manifest or config cannot be read (it is then not a candidate for a platform).
fn config_platform(store: &Store, d: &Descriptor) -> Option<Platform> {
    let digest = digest_of(d.digest()).ok()?;
    let bytes = read_blob(store, &digest, "manifest").ok()??;
    let Manifest::Image(manifest) = Manifest::parse(d.media_type().as_ref(), &bytes).ok()? else {
        return None;
    };
    let config_digest = digest_of(manifest.config().digest()).ok()?;
    let config = read_blob(store, &config_digest, "config").ok()??;
    parse_config(&config).ok().map(|facts| facts.platform)
}

fn resolve_descriptor(
    store: &Store,
    mut d: Descriptor,
    platform: &Wanted,
    names: Vec<String>,
) -> Result<Resolved, ScanError> {
    for _ in 0..MAX_INDEX_DEPTH {
        let digest = digest_of(d.digest())?;
        let bytes = read_blob(store, &digest, "manifest")?.ok_or_else(|| ScanError::NotFound {
            what: format!("manifest {digest} in {}", store.path().display()),
        })?;
        let declared = d.media_type().to_string();
        match Manifest::parse(&declared, &bytes)
            .map_err(|e| ScanError::metadata("cannot parse the manifest", e))?
        {
            Manifest::Index(index) => {
                d = select_present(store, index.manifests().clone(), platform)?;
            }
            Manifest::Image(manifest) => {
                let config_digest = digest_of(manifest.config().digest())?;
                let config = read_blob(store, &config_digest, "config")?.ok_or_else(|| {
                    ScanError::NotFound {
                        what: format!("config {config_digest} in {}", store.path().display()),
                    }
                })?;
                let info = image_info(digest, declared, &manifest, &config, names)?;
                let mut layers = Vec::with_capacity(info.layers.len());
                for l in &info.layers {
                    let name = blob_name(&l.digest);
                    match store.layer(&name, Some(l.size), Some(l.digest.clone()))? {
                        Some(source) => layers.push(source),
                        None if media_type::is_foreign_layer(&l.media_type) => {
                            layers.push(LayerSource::Missing {
                                reason: format!("foreign layer {} is not in the archive", l.digest),
                            })
                        }
                        None => {
                            return Err(ScanError::NotFound {
                                what: format!("layer {} in {}", l.digest, store.path().display()),
                            })
                        }
                    }
                }
                return Ok(Resolved::new(info, layers));
            }
        }
    }
    Err(ScanError::Metadata {
        reason: format!("indexes nest deeper than {MAX_INDEX_DEPTH} levels"),
        source: None,
    })
}
