//! The cached form of a [`LayerFindings`]: the same facts, with warnings made independent of the
//! layer's position in the image.
//!
//! The walker starts its warnings with the layer's label (`layer 2 (sha256:…): …`), and the same
//! layer can sit at another index in another image; the stored form keeps the text after the
//! label, and [`StoredLayer::into_findings`] puts the current label back.

use std::collections::BTreeMap;

use cra_core::Digest;
use serde::{Deserialize, Serialize};

use crate::layer::{AnalyzedFile, LayerFindings};

/// One warning of a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Warning {
    /// A warning that started with the layer's label; the text after it.
    #[serde(rename = "l")]
    Labelled(String),
    /// Any other warning, as it was.
    #[serde(rename = "p")]
    Plain(String),
}

/// A layer's findings as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredLayer {
    files: BTreeMap<String, Vec<AnalyzedFile>>,
    whiteouts: Vec<String>,
    opaque_dirs: Vec<String>,
    replaced: Vec<String>,
    warnings: Vec<Warning>,
    diff_id: Option<Digest>,
    compressed_size: u64,
    uncompressed_size: u64,
}

impl StoredLayer {
    /// The stored form of `findings`, walked under `label`.
    pub(super) fn new(findings: &LayerFindings, label: &str) -> Self {
        let warnings = findings
            .warnings
            .iter()
            .map(|w| match w.strip_prefix(label) {
                Some(rest) => Warning::Labelled(rest.to_owned()),
                None => Warning::Plain(w.clone()),
            })
            .collect();
        Self {
            files: findings.files.clone(),
            whiteouts: findings.whiteouts.clone(),
            opaque_dirs: findings.opaque_dirs.clone(),
            replaced: findings.replaced.clone(),
            warnings,
            diff_id: findings.diff_id.clone(),
            compressed_size: findings.compressed_size,
            uncompressed_size: findings.uncompressed_size,
        }
    }

    /// The findings again, with warnings labelled `label`; the blob digest is not kept (the cache
    /// key names it).
    pub(super) fn into_findings(self, label: &str) -> LayerFindings {
        LayerFindings {
            files: self.files,
            whiteouts: self.whiteouts,
            opaque_dirs: self.opaque_dirs,
            replaced: self.replaced,
            warnings: self
                .warnings
                .into_iter()
                .map(|w| match w {
                    Warning::Labelled(rest) => format!("{label}{rest}"),
                    Warning::Plain(w) => w,
                })
                .collect(),
            blob_digest: None,
            diff_id: self.diff_id,
            compressed_size: self.compressed_size,
            uncompressed_size: self.uncompressed_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::{AnalyzerId, Findings};

    #[test]
    fn round_trips_and_relabels_warnings() {
        let mut files = BTreeMap::new();
        files.insert(
            "/var/lib/dpkg/status".to_owned(),
            vec![AnalyzedFile {
                analyzer: AnalyzerId::Dpkg,
                findings: Findings {
                    warnings: vec!["stanza 3 has no Version".into()],
                    ..Findings::default()
                },
            }],
        );
        let findings = LayerFindings {
            files,
            whiteouts: vec!["/etc/gone".into()],
            opaque_dirs: vec!["/opt".into()],
            replaced: vec!["/etc/os-release".into()],
            warnings: vec![
                "layer 0 (sha256:aa): /x is a hardlink".into(),
                "something else".into(),
            ],
            blob_digest: None,
            diff_id: Some(Digest::sha256_of(b"tar")),
            compressed_size: 10,
            uncompressed_size: 20,
        };
        let stored = StoredLayer::new(&findings, "layer 0 (sha256:aa)");
        let json = serde_json::to_vec(&stored).unwrap();
        let back: StoredLayer = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.clone().into_findings("layer 0 (sha256:aa)"), findings);
        let moved = back.into_findings("layer 3 (sha256:aa)");
        assert_eq!(
            moved.warnings,
            ["layer 3 (sha256:aa): /x is a hardlink", "something else"]
        );
    }
}
