//! Cache keys: what a cached result depends on, hashed into a file name.
//!
//! A layer's result depends on the layer's content (its blob digest names it), on the set of
//! analyzers that ran and on each analyzer's [`version`](crate::analyzers::Analyzer::version),
//! and on the walk itself, which [`FORMAT_VERSION`](super::FORMAT_VERSION) stands for.

use cra_core::Digest;
use sha2::{Digest as _, Sha256};

use super::FORMAT_VERSION;
use crate::analyzers::AnalyzerId;

/// What the analyzers that ran contribute to a key: their ids and versions, order-independent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzerSet {
    text: String,
}

impl AnalyzerSet {
    /// The set of `(id, version)` pairs.
    pub fn new(analyzers: impl IntoIterator<Item = (AnalyzerId, u32)>) -> Self {
        let mut pairs: Vec<(AnalyzerId, u32)> = analyzers.into_iter().collect();
        pairs.sort();
        pairs.dedup();
        let text = pairs
            .iter()
            .map(|(id, v)| format!("{id}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        Self { text }
    }

    /// The key of the result of walking the layer `digest` with these analyzers: 64 hex digits.
    pub fn layer_key(&self, digest: &Digest) -> String {
        let mut h = Sha256::new();
        h.update(format!("layer\n{FORMAT_VERSION}\n{}\n{digest}\n", self.text).as_bytes());
        hex::encode(h.finalize())
    }
}

/// The key of an image config blob: it depends on nothing but its digest.
pub(super) fn config_key(digest: &Digest) -> String {
    let mut h = Sha256::new();
    h.update(format!("config\n{FORMAT_VERSION}\n{digest}\n").as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    #[test]
    fn a_key_changes_with_the_layer_the_analyzers_and_their_versions() {
        let all = AnalyzerSet::new([(AnalyzerId::Dpkg, 1), (AnalyzerId::Os, 2)]);
        let reordered = AnalyzerSet::new([(AnalyzerId::Os, 2), (AnalyzerId::Dpkg, 1)]);
        let bumped = AnalyzerSet::new([(AnalyzerId::Dpkg, 2), (AnalyzerId::Os, 2)]);
        let fewer = AnalyzerSet::new([(AnalyzerId::Os, 2)]);
        let key = all.layer_key(&digest(1));
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, reordered.layer_key(&digest(1)));
        for other in [
            all.layer_key(&digest(2)),
            bumped.layer_key(&digest(1)),
            fewer.layer_key(&digest(1)),
            config_key(&digest(1)),
        ] {
            assert_ne!(key, other);
        }
    }
}
