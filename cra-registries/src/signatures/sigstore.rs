//! Sigstore signatures stored as registry attachments, verified with a public key.
//!
//! The signatures of manifest `sha256:<hex>` are the layers of the image tagged
//! `sha256-<hex>.sig` in the same repository (cosign's convention): each layer's blob is the
//! payload, and its `dev.cosignproject.cosign/signature` annotation the base64 of a signature
//! over it.
//! Keys are PEM public keys of the types containers/image accepts (ECDSA P-256, P-384 and P-521,
//! RSA, Ed25519), verified as `sigstore_key.rs` describes.

use bytes::BytesMut;
use cra_core::manifest::Manifest;
use cra_core::policy::SignatureRefusal;
use cra_core::{Digest, ErrorKind, Registry, RegistryError};
use futures_util::StreamExt;

use super::lookaside::{MAX_SIGNATURES, MAX_SIGNATURE_SIZE};
pub use super::sigstore_key::KeyError;
pub(crate) use super::sigstore_key::PublicKey;

/// The annotation holding the base64 signature.
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of a simple-signing payload layer.
const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The largest attachment manifest read.
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

/// One attachment: its payload and base64 signature, or why it was refused before verifying.
pub(crate) type Attachment = Result<(Vec<u8>, String), SignatureRefusal>;

/// The signatures attached to `digest` in `repository`; none when the `.sig` tag is absent.
pub(crate) async fn fetch_all(
    registry: &dyn Registry,
    repository: &str,
    digest: &Digest,
) -> Result<Vec<Attachment>, RegistryError> {
    let tag = format!("{}-{}.sig", digest.algorithm().as_str(), digest.hex());
    let fetched = match registry.fetch_manifest(repository, &tag).await {
        Ok(fetched) => fetched,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if fetched.bytes.len() as u64 > MAX_MANIFEST {
        return Err(RegistryError::new(
            ErrorKind::TooLarge,
            "the signature attachment manifest is too large",
        ));
    }
    let Manifest::Image(manifest) = Manifest::parse(&fetched.media_type, &fetched.bytes)? else {
        return Err(RegistryError::new(
            ErrorKind::Protocol,
            "the signature attachment is an index, not an image manifest",
        ));
    };
    if manifest.layers().len() > MAX_SIGNATURES {
        return Err(RegistryError::new(
            ErrorKind::Protocol,
            "the signature attachment has too many layers",
        ));
    }
    let mut out = Vec::new();
    for layer in manifest.layers() {
        let Some(signature) = layer
            .annotations()
            .as_ref()
            .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        else {
            out.push(Err(SignatureRefusal::Malformed {
                reason: "the attachment layer has no signature annotation",
            }));
            continue;
        };
        if layer.media_type().to_string() != PAYLOAD_MEDIA_TYPE {
            out.push(Err(SignatureRefusal::Malformed {
                reason: "the attachment layer is not a simple-signing payload",
            }));
            continue;
        }
        if layer.size() > MAX_SIGNATURE_SIZE {
            out.push(Err(SignatureRefusal::TooLarge {
                limit: MAX_SIGNATURE_SIZE,
            }));
            continue;
        }
        let digest: Digest = layer.digest().to_string().parse().map_err(|e| {
            RegistryError::new(ErrorKind::Protocol, "invalid attachment layer digest")
                .with_source(e)
        })?;
        let mut stream = registry
            .fetch_blob(repository, &digest, Some(MAX_SIGNATURE_SIZE))
            .await?;
        let mut payload = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            payload.extend_from_slice(&chunk?);
        }
        out.push(Ok((payload.to_vec(), signature.clone())));
    }
    Ok(out)
}
