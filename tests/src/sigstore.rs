//! Sigstore signatures made the way cosign and containers/image store them, for images on the
//! loopback registry.
//!
//! Debian's skopeo verifies sigstore signatures but was built with sigstore signing disabled
//! ("Debian-local change: sigstore disabled"), so the tests sign here: an ECDSA P-256 key
//! (SHA-256, ASN.1 DER signatures, the key type cosign generates) signs a simple-signing payload,
//! and [`attach`] pushes the signatures as the `sha256-<hex>.sig` image whose layers are the
//! payloads, each carrying its base64 signature in the `dev.cosignproject.cosign/signature`
//! annotation.
//! skopeo then decides on those signatures as the oracle.

use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::Engine as _;
use cra_core::Digest;

use crate::registry::RegistryServer;

/// The media type of a simple-signing payload layer.
const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation holding a layer's signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of the attachment manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A P-256 signing key and its PEM public key file.
#[derive(Debug)]
pub struct SigstoreKey {
    pair: EcdsaKeyPair,
    /// The PEM `PUBLIC KEY` (a policy's `keyPath`).
    pub public: PathBuf,
}

impl SigstoreKey {
    /// Generates a key and writes its public key to `dir/<name>.pub`.
    pub fn generate(dir: &Path, name: &str) -> SigstoreKey {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("P-256 key");
        let spki: PublicKeyX509Der<'_> = pair.public_key().as_der().expect("public key DER");
        let public = dir.join(format!("{name}.pub"));
        let pem = pem::Pem::new("PUBLIC KEY", spki.as_ref().to_vec());
        std::fs::write(&public, pem::encode(&pem)).expect("write public key");
        SigstoreKey { pair, public }
    }

    /// The base64 DER signature over `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let signature = self.pair.sign(&rng, payload).expect("sign");
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    }
}

/// The simple-signing payload cosign writes for `identity` at `digest`.
pub fn payload(identity: &str, digest: &Digest) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": {"docker-reference": identity},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": "cosign container image signature",
        },
        "optional": null,
    }))
    .expect("payload")
}

/// The attachment tag of `digest`.
pub fn attachment_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().as_str(), digest.hex())
}

/// Pushes `signatures` (payload and base64 signature) as the attachment of `digest` in `repo`,
/// replacing any attachment it had.
pub async fn attach(
    registry: &RegistryServer,
    repo: &str,
    digest: &Digest,
    signatures: &[(Vec<u8>, String)],
) {
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    for (payload, signature) in signatures {
        let blob = registry.push_blob(repo, payload).await;
        layers.push(serde_json::json!({
            "mediaType": PAYLOAD_MEDIA_TYPE,
            "digest": blob.to_string(),
            "size": payload.len(),
            "annotations": {SIGNATURE_ANNOTATION: signature},
        }));
        diff_ids.push(blob.to_string());
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "os": "",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config");
    let config_digest = registry.push_blob(repo, &config).await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest.to_string(),
            "size": config.len(),
        },
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&manifest).expect("manifest");
    registry
        .push_manifest(repo, &attachment_tag(digest), OCI_MANIFEST, &bytes)
        .await;
}
