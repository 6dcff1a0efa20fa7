//! The final view: layer results applied base first, honouring whiteouts.
//!
//! For each layer, deletions come first and touch only lower layers: opaque directories hide
//! everything below them, whiteouts hide their path and everything below it, and wanted paths
//! that became links or directories drop their old content.
//! Then the layer's analyzed files replace whatever was at their paths.
//! A package database is therefore never unioned across layers: the top-most copy wins.

use std::collections::BTreeMap;

use crate::layer::path::{is_below, is_within};
use crate::layer::{AnalyzedFile, LayerFindings};

/// An analyzed file that survived to the final view.
#[derive(Debug, Clone)]
pub struct MergedFile {
    /// The layer that last wrote it.
    pub layer_index: usize,
    /// What the analyzers found in it.
    pub analyzed: Vec<AnalyzedFile>,
}

/// The merged view: analyzed files by path, and every layer's warnings in order.
#[derive(Debug, Default)]
pub struct Merged {
    /// Files by normalised path.
    pub files: BTreeMap<String, MergedFile>,
    /// Warnings of all layers, base first.
    pub warnings: Vec<String>,
}

/// Merges layer results given base first.
pub fn merge(layers: impl IntoIterator<Item = LayerFindings>) -> Merged {
    let mut merged = Merged::default();
    for (index, layer) in layers.into_iter().enumerate() {
        let files = &mut merged.files;
        for dir in &layer.opaque_dirs {
            files.retain(|p, _| !is_below(p, dir));
        }
        for gone in layer.whiteouts.iter().chain(&layer.replaced) {
            files.retain(|p, _| !is_within(p, gone));
        }
        for (path, analyzed) in layer.files {
            files.insert(
                path,
                MergedFile {
                    layer_index: index,
                    analyzed,
                },
            );
        }
        merged.warnings.extend(layer.warnings);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::Findings;

    fn layer(files: &[&str], whiteouts: &[&str], opaque: &[&str]) -> LayerFindings {
        LayerFindings {
            files: files
                .iter()
                .map(|f| {
                    let analyzed = vec![AnalyzedFile {
                        analyzer: crate::analyzers::AnalyzerId::Dpkg,
                        findings: Findings::default(),
                    }];
                    ((*f).to_owned(), analyzed)
                })
                .collect(),
            whiteouts: whiteouts.iter().map(|s| (*s).to_owned()).collect(),
            opaque_dirs: opaque.iter().map(|s| (*s).to_owned()).collect(),
            ..LayerFindings::default()
        }
    }

    fn paths(m: &Merged) -> Vec<(&str, usize)> {
        m.files
            .iter()
            .map(|(p, f)| (p.as_str(), f.layer_index))
            .collect()
    }

    #[test]
    fn later_layers_replace_and_whiteouts_delete() {
        let m = merge([
            layer(&["/a/x", "/a/y", "/b/z"], &[], &[]),
            layer(&["/a/x"], &["/a/y"], &[]),
            layer(&[], &["/b"], &[]),
        ]);
        assert_eq!(paths(&m), [("/a/x", 1)]);
    }

    #[test]
    fn added_twice_deleted_once_is_gone() {
        let m = merge([
            layer(&["/f"], &[], &[]),
            layer(&["/f"], &[], &[]),
            layer(&[], &["/f"], &[]),
        ]);
        assert!(m.files.is_empty());
    }

    #[test]
    fn opaque_hides_lower_children_but_keeps_its_own_layer() {
        let m = merge([
            layer(&["/d/old", "/d/sub/x", "/dd/keep"], &[], &[]),
            layer(&["/d/new"], &[], &["/d"]),
        ]);
        assert_eq!(paths(&m), [("/d/new", 1), ("/dd/keep", 0)]);
    }

    #[test]
    fn whiteout_then_recreate_in_a_later_layer() {
        let m = merge([
            layer(&["/etc/os-release"], &[], &[]),
            layer(&[], &["/etc"], &[]),
            layer(&["/etc/os-release"], &[], &[]),
        ]);
        assert_eq!(paths(&m), [("/etc/os-release", 2)]);
    }

    #[test]
    fn whiteout_does_not_hide_its_own_layer() {
        let m = merge([layer(&["/x"], &[], &[]), layer(&["/x"], &["/x"], &[])]);
        assert_eq!(paths(&m), [("/x", 1)]);
    }

    #[test]
    fn replaced_paths_drop_lower_content() {
        let mut top = layer(&[], &[], &[]);
        top.replaced.push("/etc/os-release".into());
        let m = merge([layer(&["/etc/os-release", "/etc/other"], &[], &[]), top]);
        assert_eq!(paths(&m), [("/etc/other", 0)]);
    }
}
