//! Manifests, indexes, image configs and platform selection (pure; parsing uses `oci-spec` types).

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{ErrorKind, RegistryError, Result};

/// The media types a scanner switches on.
pub mod media_type {
    /// Docker schema2 image manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Legacy schema1 manifests, which we do not support.
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Signed legacy schema1 manifests.
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /// The `Accept` list for manifest requests: all four manifest and index types.
    pub const MANIFEST_ACCEPT: [&str; 4] = [
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST,
    ];

    /// Whether a layer media type is one a Linux image scanner reads (gzip, zstd or plain tar,
    /// distributable or not).
    pub fn is_layer(media_type: &str) -> bool {
        media_type.starts_with("application/vnd.oci.image.layer.")
            || media_type.starts_with("application/vnd.docker.image.rootfs.")
    }

    /// Whether a layer is foreign or non-distributable (may carry `urls` and be unavailable).
    pub fn is_foreign_layer(media_type: &str) -> bool {
        media_type.contains("foreign") || media_type.contains("nondistributable")
    }
}

/// A manifest or index as fetched: the exact bytes, their digest, and the declared media type.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The `Content-Type` the registry sent (or the `mediaType` field of a local file).
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
    /// The raw bytes.
    pub bytes: Bytes,
}

/// A parsed manifest: a single image or an index of images.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// A single-platform image manifest.
    Image(Box<ImageManifest>),
    /// An index (manifest list).
    Index(Box<ImageIndex>),
}

impl Manifest {
    /// Parses manifest bytes; `media_type` decides, and when it is generic (`application/json`,
    /// empty) the shape decides: a `manifests` array is an index, `layers` is an image.
    pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Manifest> {
        let media_type = media_type.split(';').next().unwrap_or("").trim();
        let shape: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            RegistryError::new(ErrorKind::Protocol, "manifest is not valid JSON").with_source(e)
        })?;
        let declared = shape
            .get("mediaType")
            .and_then(|v| v.as_str())
            .unwrap_or(media_type)
            .to_owned();
        let kind = match declared.as_str() {
            media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST => Shape::Index,
            media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => Shape::Image,
            media_type::DOCKER_SCHEMA1 | media_type::DOCKER_SCHEMA1_SIGNED => {
                return Err(RegistryError::new(
                    ErrorKind::Unsupported,
                    "legacy schema1 manifests are not supported",
                ))
            }
            _ if shape.get("manifests").is_some() => Shape::Index,
            _ if shape.get("layers").is_some() => Shape::Image,
            other => {
                return Err(RegistryError::new(
                    ErrorKind::Unsupported,
                    format!("unknown manifest media type {other:?}"),
                ))
            }
        };
        let invalid = |e: serde_json::Error| {
            RegistryError::new(
                ErrorKind::Protocol,
                "manifest does not follow the image spec",
            )
            .with_source(e)
        };
        Ok(match kind {
            Shape::Index => {
                Manifest::Index(Box::new(serde_json::from_value(shape).map_err(invalid)?))
            }
            Shape::Image => {
                Manifest::Image(Box::new(serde_json::from_value(shape).map_err(invalid)?))
            }
        })
    }
}

enum Shape {
    Index,
    Image,
}

/// A platform `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// The operating system (`linux`).
    pub os: String,
    /// The CPU architecture, normalised (`amd64`, `arm64`, `arm`).
    pub architecture: String,
    /// The CPU variant (`v8`, `v7`), if any.
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl Platform {
    /// A platform with aliases normalised (`x86_64`→`amd64`, `aarch64`→`arm64`,
    /// `armhf`→`arm/v7`, `armel`→`arm/v6`; `arm64` without variant means `v8`).
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let (arch, implied) = match architecture {
            "x86_64" | "x86-64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "armhf" => ("arm", Some("v7")),
            "armel" => ("arm", Some("v6")),
            other => (other, None),
        };
        let variant = variant.filter(|v| !v.is_empty()).or(implied);
        let variant = match (arch, variant) {
            ("arm64", None) => Some("v8"),
            (_, v) => v,
        };
        Platform {
            os: os.to_owned(),
            architecture: arch.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// `os/architecture`, without the variant (the form snyk's `platform` fact uses).
    pub fn os_arch(&self) -> String {
        format!("{}/{}", self.os, self.architecture)
    }

    /// The platform an index entry declares, normalised; `None` when it declares none.
    pub fn of_descriptor(d: &Descriptor) -> Option<Platform> {
        d.platform().as_ref().map(|p| {
            Platform::new(
                &p.os().to_string(),
                &p.architecture().to_string(),
                p.variant().as_deref(),
            )
        })
    }

    fn matches(&self, wanted: &Platform) -> bool {
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && (wanted.variant.is_none() || self.variant == wanted.variant)
    }
}

/// The string is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {0:?}; expected os/arch[/variant], e.g. linux/arm64/v8")]
pub struct PlatformError(pub String);

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform::new(os, arch, Some(variant)))
            }
            _ => Err(PlatformError(s.to_owned())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

const ATTESTATION_ANNOTATION: &str = "vnd.docker.reference.type";

/// Whether an index entry is an attestation manifest (BuildKit's provenance and SBOM
/// attachments: annotated `vnd.docker.reference.type: attestation-manifest`, platform
/// `unknown/unknown`), which is never an image to scan nor one of the image's platforms.
pub fn is_attestation(d: &Descriptor) -> bool {
    let annotated = d
        .annotations()
        .as_ref()
        .and_then(|a| a.get(ATTESTATION_ANNOTATION))
        .is_some_and(|v| v == "attestation-manifest");
    let unknown = Platform::of_descriptor(d)
        .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
    annotated || unknown
}

/// Picks the entry of `index` for `wanted`, skipping attestation manifests.
///
/// An entry that is itself an index is returned as is; the caller fetches it and selects again.
/// A one-entry index whose entry has no platform yields that entry.
pub fn select_platform<'a>(index: &'a ImageIndex, wanted: &Platform) -> Result<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = index
        .manifests()
        .iter()
        .filter(|d| !is_attestation(d))
        .collect();
    if let [only] = candidates.as_slice() {
        if only.platform().is_none() {
            return Ok(only);
        }
    }
    let matching = candidates
        .iter()
        .copied()
        .find(|d| Platform::of_descriptor(d).is_some_and(|p| p.matches(wanted)));
    if let Some(found) = matching {
        return Ok(found);
    }
    let available: Vec<String> = candidates
        .iter()
        .filter_map(|d| Platform::of_descriptor(d).map(|p| p.to_string()))
        .collect();
    Err(RegistryError::new(
        ErrorKind::NotFound,
        format!(
            "image does not support the requested platform {wanted}; available: {}",
            if available.is_empty() {
                "none".to_owned()
            } else {
                available.join(", ")
            }
        ),
    ))
}

/// Parses an image config blob.
pub fn parse_config(bytes: &[u8]) -> Result<ImageConfiguration> {
    serde_json::from_slice(bytes).map_err(|e| {
        RegistryError::new(
            ErrorKind::Protocol,
            "image config does not follow the image spec",
        )
        .with_source(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index_json() -> String {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}},
            {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
            {{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1,"platform":{{"architecture":"unknown","os":"unknown"}},
              "annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}}]}}"#,
            d('a'),
            d('b'),
            d('c')
        )
    }

    #[test]
    fn selects_platforms_and_skips_attestations() {
        let Manifest::Index(index) = Manifest::parse("", index_json().as_bytes()).unwrap() else {
            panic!("expected an index");
        };
        let amd = select_platform(&index, &Platform::default()).unwrap();
        assert!(amd.digest().to_string().ends_with(&"a".repeat(64)));
        let arm = select_platform(&index, &"linux/aarch64".parse().unwrap()).unwrap();
        assert!(arm.digest().to_string().ends_with(&"b".repeat(64)));
        let err = select_platform(&index, &"linux/s390x".parse().unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .contains("available: linux/amd64, linux/arm64/v8"),
            "{err}"
        );
        assert!(!err.to_string().contains("unknown"));
    }

    #[test]
    fn rejects_unknown_and_schema1_and_garbage() {
        let err = Manifest::parse(media_type::DOCKER_SCHEMA1_SIGNED, b"{}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        let err = Manifest::parse("application/x-nope", b"{\"a\":1}").unwrap_err();
        assert!(err.to_string().contains("x-nope"));
        let err = Manifest::parse(media_type::OCI_MANIFEST, b"{\"layers\":").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        let err = Manifest::parse(media_type::OCI_MANIFEST, b"{\"layers\":[]}").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
    }

    #[test]
    fn platform_strings() {
        assert_eq!(
            "linux/arm64".parse::<Platform>().unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            "linux/armhf".parse::<Platform>().unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            "linux/x86_64".parse::<Platform>().unwrap().os_arch(),
            "linux/amd64"
        );
        assert!("linux".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
    }
}
