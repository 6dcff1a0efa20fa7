//! Whiteout markers: `.wh.<name>` deletes `<name>` from lower layers, `.wh..wh..opq` makes its
//! directory opaque, and other `.wh..wh.*` names are aufs bookkeeping to ignore.
//!
//! The prefix is matched literally on the basename, so `/usr/share/whois` or `awhx` are ordinary
//! files.

use crate::layer::path;

const PREFIX: &str = ".wh.";
const META_PREFIX: &str = ".wh..wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// What a normalised entry path means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// An ordinary entry.
    None,
    /// Deletes this path (and everything below it) from lower layers.
    Whiteout(String),
    /// Hides everything below this directory from lower layers.
    Opaque(String),
    /// aufs metadata (`.wh..wh.plnk` and friends): ignored.
    AufsMeta,
}

/// Classifies a normalised path.
pub fn classify(path: &str) -> Marker {
    let parent = path::parent(path);
    let base = &path[path.rfind('/').map_or(0, |i| i + 1)..];
    if base == OPAQUE {
        Marker::Opaque(parent.to_owned())
    } else if base.starts_with(META_PREFIX) {
        Marker::AufsMeta
    } else if let Some(name) = base.strip_prefix(PREFIX) {
        if name.is_empty() {
            return Marker::AufsMeta;
        }
        let target = if parent == "/" {
            format!("/{name}")
        } else {
            format!("{parent}/{name}")
        };
        Marker::Whiteout(target)
    } else {
        Marker::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_markers() {
        for (path, want) in [
            (
                "/etc/.wh.os-release",
                Marker::Whiteout("/etc/os-release".into()),
            ),
            ("/.wh.etc", Marker::Whiteout("/etc".into())),
            ("/var/lib/.wh..wh..opq", Marker::Opaque("/var/lib".into())),
            ("/.wh..wh..opq", Marker::Opaque("/".into())),
            ("/x/.wh..wh.plnk", Marker::AufsMeta),
            ("/x/.wh..wh.aufs", Marker::AufsMeta),
            ("/x/.wh..wh.orph", Marker::AufsMeta),
            ("/usr/lib/node_modules/whois/package.json", Marker::None),
            ("/usr/share/awhx", Marker::None),
            ("/a/.whx", Marker::None),
            ("/a/x.wh.y", Marker::None),
        ] {
            assert_eq!(classify(path), want, "{path}");
        }
    }
}
