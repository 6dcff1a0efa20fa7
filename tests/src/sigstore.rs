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

/// A key type the `openssl` command line generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on the named curve (`P-256`, `P-384`, `P-521`, `secp256k1`).
    Ec(&'static str),
    /// RSA of that many bits.
    Rsa(u32),
    /// Ed25519.
    Ed25519,
}

/// A key made by the `openssl` command line, an implementation independent of cra's: it signs
/// the way sigstore verifies (SHA-256 digest for ECDSA and RSA PKCS#1 v1.5, pure Ed25519).
#[derive(Debug)]
pub struct OpensslKey {
    kind: KeyKind,
    private: PathBuf,
    /// The PEM `PUBLIC KEY` (a policy's `keyPath`).
    pub public: PathBuf,
}

/// Whether the `openssl` command line is installed; prints why not.
#[allow(clippy::print_stderr)]
pub fn openssl_available() -> bool {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipping: openssl is not installed (apt-get install openssl)");
    }
    found
}

/// Runs `openssl` with `args`, failing the test with its stderr.
fn openssl(args: &[&std::ffi::OsStr]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OpensslKey {
    /// Generates a key in `dir` and writes its public key to `dir/<name>.pub`.
    pub fn generate(dir: &Path, name: &str, kind: KeyKind) -> OpensslKey {
        let private = dir.join(format!("{name}.key"));
        let public = dir.join(format!("{name}.pub"));
        let options: Vec<String> = match kind {
            KeyKind::Ec(curve) => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                format!("ec_paramgen_curve:{curve}"),
                "-pkeyopt".into(),
                "ec_param_enc:named_curve".into(),
            ],
            KeyKind::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
            KeyKind::Ed25519 => vec!["-algorithm".into(), "ed25519".into()],
        };
        let mut args: Vec<&std::ffi::OsStr> = vec!["genpkey".as_ref()];
        args.extend(options.iter().map(std::ffi::OsStr::new));
        args.extend(["-out".as_ref(), private.as_os_str()]);
        openssl(&args);
        openssl(&[
            "pkey".as_ref(),
            "-in".as_ref(),
            private.as_os_str(),
            "-pubout".as_ref(),
            "-out".as_ref(),
            public.as_os_str(),
        ]);
        OpensslKey {
            kind,
            private,
            public,
        }
    }

    /// Writes the public key as a PKCS#1 `RSA PUBLIC KEY` to `path` (RSA keys only).
    pub fn write_pkcs1_public(&self, path: &Path) {
        openssl(&[
            "rsa".as_ref(),
            "-in".as_ref(),
            self.private.as_os_str(),
            "-RSAPublicKey_out".as_ref(),
            "-out".as_ref(),
            path.as_os_str(),
        ]);
    }

    /// The base64 signature over `payload`.
    pub fn sign(&self, payload: &[u8]) -> String {
        let dir = tempfile::tempdir().expect("signing dir");
        let input = dir.path().join("payload");
        let output = dir.path().join("signature");
        std::fs::write(&input, payload).expect("write payload");
        let (inp, out, key) = (
            input.as_os_str(),
            output.as_os_str(),
            self.private.as_os_str(),
        );
        if self.kind == KeyKind::Ed25519 {
            openssl(&[
                "pkeyutl".as_ref(),
                "-sign".as_ref(),
                "-rawin".as_ref(),
                "-inkey".as_ref(),
                key,
                "-in".as_ref(),
                inp,
                "-out".as_ref(),
                out,
            ]);
        } else {
            openssl(&[
                "dgst".as_ref(),
                "-sha256".as_ref(),
                "-sign".as_ref(),
                key,
                "-out".as_ref(),
                out,
                inp,
            ]);
        }
        let signature = std::fs::read(&output).expect("read signature");
        base64::engine::general_purpose::STANDARD.encode(signature)
    }
}
