//! Manifest media types and digest verification of fetched manifest bytes (pure).

use bytes::Bytes;
use cra_core::manifest::media_type;
use cra_core::{Digest, FetchedManifest};

use crate::error::{Error, Result};

/// The largest manifest we buffer (what distribution itself accepts).
pub(crate) const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The media type of manifest bytes: the `Content-Type` when it is specific, else the body's
/// `mediaType`, else the shape (`manifests` → OCI index, `layers` → OCI manifest).
pub(crate) fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    let declared = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "text/plain");
    if let Some(c) = declared {
        return c.to_owned();
    }
    let shape: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let Some(m) = shape.get("mediaType").and_then(|m| m.as_str()) {
        return m.to_owned();
    }
    if shape.get("manifests").is_some() {
        media_type::OCI_INDEX.to_owned()
    } else {
        media_type::OCI_MANIFEST.to_owned()
    }
}

/// Checks manifest bytes against the digest asked for (by-digest fetches) and the digest the
/// registry announced in `Docker-Content-Digest`, and returns the fetched manifest.
pub(crate) fn verify(
    what: &str,
    requested: Option<&Digest>,
    announced: Option<&str>,
    content_type: Option<&str>,
    bytes: Bytes,
) -> Result<FetchedManifest> {
    let announced =
        match announced.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Some(s.parse::<Digest>().map_err(|e| {
                Error::protocol(what, format!("invalid Docker-Content-Digest: {e}"))
            })?),
            None => None,
        };
    let expected = requested.or(announced.as_ref());
    let digest = match expected {
        Some(expected) => {
            let mut h = expected.hasher();
            h.update(&bytes);
            let actual = h.finish();
            if &actual != expected {
                return Err(Error::DigestMismatch {
                    what: what.to_owned(),
                    expected: expected.clone(),
                    actual,
                });
            }
            if let (Some(req), Some(ann)) = (requested, announced.as_ref()) {
                if req.algorithm() == ann.algorithm() && req != ann {
                    return Err(Error::DigestMismatch {
                        what: what.to_owned(),
                        expected: req.clone(),
                        actual: ann.clone(),
                    });
                }
            }
            actual
        }
        None => Digest::sha256_of(&bytes),
    };
    Ok(FetchedManifest {
        media_type: media_type_of(content_type, &bytes),
        digest,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

    #[test]
    fn verifies_requested_and_announced_digests() {
        let good = Digest::sha256_of(BODY);
        let other = Digest::sha256_of(b"other");
        let ok = verify("m", Some(&good), None, None, Bytes::from_static(BODY)).unwrap();
        assert_eq!(ok.digest, good);
        assert_eq!(ok.media_type, media_type::OCI_INDEX);
        let ok = verify(
            "m",
            None,
            Some(&good.to_string()),
            Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
            Bytes::from_static(BODY),
        )
        .unwrap();
        assert_eq!(ok.digest, good);
        let ok = verify("m", None, None, None, Bytes::from_static(BODY)).unwrap();
        assert_eq!(ok.digest, good, "computed when nothing is announced");

        let err = verify("m", Some(&other), None, None, Bytes::from_static(BODY)).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        let err = verify(
            "m",
            None,
            Some(&other.to_string()),
            None,
            Bytes::from_static(BODY),
        )
        .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        let err = verify(
            "m",
            Some(&good),
            Some(&other.to_string()),
            None,
            Bytes::from_static(BODY),
        )
        .unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        let err = verify("m", None, Some("md5:x"), None, Bytes::from_static(BODY)).unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
    }

    #[test]
    fn media_type_falls_back_to_body_and_shape() {
        assert_eq!(
            media_type_of(Some("application/json"), br#"{"layers":[]}"#),
            media_type::OCI_MANIFEST
        );
        assert_eq!(
            media_type_of(None, br#"{"manifests":[]}"#),
            media_type::OCI_INDEX
        );
        assert_eq!(
            media_type_of(Some(media_type::DOCKER_MANIFEST_LIST), b"{}"),
            media_type::DOCKER_MANIFEST_LIST
        );
    }
}
