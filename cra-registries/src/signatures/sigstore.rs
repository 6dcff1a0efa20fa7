//! Sigstore signatures stored as registry attachments, verified with a public key.
//!
//! The signatures of manifest `sha256:<hex>` are the layers of the image tagged
//! `sha256-<hex>.sig` in the same repository (cosign's convention): each layer's blob is the
//! payload, and its `dev.cosignproject.cosign/signature` annotation the base64 of an ASN.1 DER
//! ECDSA signature over it.
//! Keys are PEM public keys; ECDSA P-256 with SHA-256 (cosign's and skopeo's default) is what the
//! `p256` crate verifies here; other key types are refused with a clear error.

use base64::Engine as _;
use bytes::BytesMut;
use cra_core::manifest::Manifest;
use cra_core::policy::SignatureRefusal;
use cra_core::{Digest, ErrorKind, Registry, RegistryError};
use futures_util::StreamExt;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};

use super::lookaside::{MAX_SIGNATURES, MAX_SIGNATURE_SIZE};

/// The annotation holding the base64 signature.
const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of a simple-signing payload layer.
const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The largest attachment manifest read.
const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

/// A sigstore public key.
#[derive(Clone)]
pub(crate) struct PublicKey {
    key: VerifyingKey,
    fingerprint: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PublicKey").field(&self.fingerprint).finish()
    }
}

/// Why a sigstore public key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The data is not a PEM ECDSA P-256 public key.
    #[error("not a PEM ECDSA P-256 public key (the only sigstore key type supported)")]
    Parse(#[source] p256::pkcs8::spki::Error),
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY`.
    pub(crate) fn parse(pem: &[u8]) -> Result<PublicKey, KeyError> {
        let text = String::from_utf8_lossy(pem);
        let key = VerifyingKey::from_public_key_pem(text.trim()).map_err(KeyError::Parse)?;
        let der = key.to_public_key_der().map_err(KeyError::Parse)?;
        let fingerprint = Digest::sha256_of(der.as_bytes()).to_string();
        Ok(PublicKey { key, fingerprint })
    }

    /// `sha256:<hex>` of the key's DER form.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Verifies a base64 DER signature over `payload`.
    pub(crate) fn verify(
        &self,
        payload: &[u8],
        signature_b64: &str,
    ) -> Result<(), SignatureRefusal> {
        let der = base64::engine::general_purpose::STANDARD
            .decode(signature_b64.trim())
            .map_err(|_| SignatureRefusal::Malformed {
                reason: "the signature annotation is not base64",
            })?;
        let signature =
            DerSignature::try_from(der.as_slice()).map_err(|_| SignatureRefusal::Malformed {
                reason: "the signature is not an ASN.1 DER ECDSA signature",
            })?;
        self.key
            .verify(payload, &signature)
            .map_err(|_| SignatureRefusal::NotVerified {
                key_id: self.fingerprint.clone(),
            })
    }
}

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
