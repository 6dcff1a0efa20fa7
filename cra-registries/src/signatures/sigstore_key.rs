//! The public keys a `sigstoreSigned` requirement trusts, and the check of one signature.
//!
//! This accepts what containers/image accepts: a PEM `PUBLIC KEY` (X.509 SubjectPublicKeyInfo)
//! or `RSA PUBLIC KEY` (PKCS#1), verified the way sigstore's `LoadVerifier` does with the SHA-256
//! hash containers/image always asks for:
//! - ECDSA on P-256, P-384 or P-521: the SHA-256 digest of the payload, whatever the curve; the
//!   signature ASN.1 DER, or the fixed-size `r || s` form (IEEE P1363);
//! - RSA: PKCS#1 v1.5 with SHA-256 (no PSS);
//! - Ed25519: pure Ed25519 over the payload itself.
//!
//! Other curves and algorithms are refused with a clear error when the policy is read.

use base64::Engine as _;
use cra_core::policy::SignatureRefusal;
use cra_core::Digest;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::der::asn1::ObjectIdentifier;
use p256::pkcs8::der::{Decode as _, Encode as _};
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::pkcs1v15;
use sha2::{Digest as _, Sha256};

/// `id-ecPublicKey` (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1`, `secp384r1` and `secp521r1` (RFC 5480).
const P256_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521_CURVE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
/// `rsaEncryption` (RFC 8017).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-Ed25519` (RFC 8410).
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// The smallest RSA modulus accepted, as Go's `crypto/rsa` (which skopeo uses) since Go 1.24.
const MIN_RSA_BITS: usize = 1024;
/// The largest RSA modulus accepted.
const MAX_RSA_BITS: usize = 16384;

/// An ECDSA signature of type `$sig` (scalars of `$n` bytes) in ASN.1 DER, or else in the
/// `r || s` form (IEEE P1363) sigstore also accepts.
macro_rules! ecdsa_signature {
    ($sig:ty, $n:expr, $bytes:expr) => {
        <$sig>::from_der($bytes)
            .or_else(|_| <$sig>::from_slice(&p1363_fixed($bytes, $n).unwrap_or_default()))
            .map_err(|_| SignatureRefusal::Malformed {
                reason: "the signature is not an ECDSA signature of the key's curve",
            })
    };
}

/// A sigstore public key of one of the supported types.
#[derive(Clone)]
enum Key {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
    Rsa(pkcs1v15::VerifyingKey<Sha256>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A sigstore public key and its fingerprint.
#[derive(Clone)]
pub(crate) struct PublicKey {
    key: Key,
    fingerprint: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PublicKey")
            .field(&self.algorithm())
            .field(&self.fingerprint)
            .finish()
    }
}

/// Why a sigstore public key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The data is not PEM.
    #[error("the sigstore public key is not PEM")]
    Pem(#[source] p256::pkcs8::der::Error),
    /// The PEM block is not a public key.
    #[error("the PEM block is {label:?}, not a PUBLIC KEY or RSA PUBLIC KEY")]
    Label {
        /// The block's label.
        label: String,
    },
    /// The DER inside is malformed.
    #[error("the sigstore public key is not a well-formed {form}")]
    Der {
        /// What was expected.
        form: &'static str,
        /// The decoding error.
        #[source]
        source: p256::pkcs8::der::Error,
    },
    /// The key is well-formed but not a valid key of its type.
    #[error("the sigstore public key is not a valid {algorithm} key")]
    Invalid {
        /// The key type.
        algorithm: &'static str,
        /// What the key type's library said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An elliptic curve other than P-256, P-384 or P-521.
    #[error("unsupported elliptic curve {oid} (sigstore keys may use P-256, P-384 or P-521)")]
    UnsupportedCurve {
        /// The curve's object identifier, or "none" when absent.
        oid: String,
    },
    /// An algorithm other than ECDSA, RSA or Ed25519.
    #[error("unsupported public key algorithm {oid} (sigstore keys may be ECDSA, RSA or Ed25519)")]
    UnsupportedAlgorithm {
        /// The algorithm's object identifier.
        oid: String,
    },
    /// An RSA key too small or too large.
    #[error("an RSA key of {bits} bits is refused (from {MIN_RSA_BITS} to {MAX_RSA_BITS} bits)")]
    RsaSize {
        /// The modulus size.
        bits: usize,
    },
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS#1).
    pub(crate) fn parse(pem: &[u8]) -> Result<PublicKey, KeyError> {
        let text = String::from_utf8_lossy(pem);
        let (label, der) = p256::pkcs8::der::pem::decode_vec(text.trim().as_bytes())
            .map_err(|e| KeyError::Pem(e.into()))?;
        match label {
            "PUBLIC KEY" => Self::from_spki(&der),
            "RSA PUBLIC KEY" => {
                let key = rsa_key(&der)?;
                let spki = rsa::pkcs8::EncodePublicKey::to_public_key_der(&key).map_err(|e| {
                    KeyError::Invalid {
                        algorithm: "RSA",
                        source: Box::new(e),
                    }
                })?;
                Ok(PublicKey::new(
                    Key::Rsa(pkcs1v15::VerifyingKey::new(key)),
                    spki.as_bytes(),
                ))
            }
            other => Err(KeyError::Label {
                label: other.chars().take(64).collect(),
            }),
        }
    }

    /// Parses a DER SubjectPublicKeyInfo.
    fn from_spki(der: &[u8]) -> Result<PublicKey, KeyError> {
        let info = SubjectPublicKeyInfoRef::from_der(der).map_err(|source| KeyError::Der {
            form: "SubjectPublicKeyInfo",
            source,
        })?;
        // The fingerprint is of the canonical encoding, whatever the file's.
        let canonical = info.to_der().map_err(|source| KeyError::Der {
            form: "SubjectPublicKeyInfo",
            source,
        })?;
        let bits = info.subject_public_key.raw_bytes();
        let key = match info.algorithm.oid {
            EC_PUBLIC_KEY => {
                let curve = info.algorithm.parameters_oid().ok();
                match curve {
                    Some(P256_CURVE) => Key::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                            .map_err(invalid("P-256"))?,
                    ),
                    Some(P384_CURVE) => Key::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                            .map_err(invalid("P-384"))?,
                    ),
                    Some(P521_CURVE) => Key::P521(
                        p521::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                            .map_err(invalid("P-521"))?,
                    ),
                    other => {
                        return Err(KeyError::UnsupportedCurve {
                            oid: other.map_or_else(|| "none".to_owned(), |oid| oid.to_string()),
                        })
                    }
                }
            }
            RSA_ENCRYPTION => Key::Rsa(pkcs1v15::VerifyingKey::new(rsa_key(bits)?)),
            ED25519 => {
                let bytes: &[u8; 32] = bits.try_into().map_err(|_| KeyError::Invalid {
                    algorithm: "Ed25519",
                    source: "the key is not 32 bytes".into(),
                })?;
                Key::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(invalid("Ed25519"))?,
                )
            }
            oid => {
                return Err(KeyError::UnsupportedAlgorithm {
                    oid: oid.to_string(),
                })
            }
        };
        Ok(PublicKey::new(key, &canonical))
    }

    fn new(key: Key, spki_der: &[u8]) -> PublicKey {
        PublicKey {
            key,
            fingerprint: Digest::sha256_of(spki_der).to_string(),
        }
    }

    /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The key type, for messages.
    pub(crate) fn algorithm(&self) -> &'static str {
        match self.key {
            Key::P256(_) => "ECDSA P-256",
            Key::P384(_) => "ECDSA P-384",
            Key::P521(_) => "ECDSA P-521",
            Key::Rsa(_) => "RSA",
            Key::Ed25519(_) => "Ed25519",
        }
    }

    /// Verifies a base64 signature over `payload`.
    pub(crate) fn verify(
        &self,
        payload: &[u8],
        signature_b64: &str,
    ) -> Result<(), SignatureRefusal> {
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature_b64.trim())
            .map_err(|_| SignatureRefusal::Malformed {
                reason: "the signature annotation is not base64",
            })?;
        let verified = match &self.key {
            Key::P256(key) => {
                let signature = ecdsa_signature!(p256::ecdsa::Signature, 32, &signature)?;
                key.verify_prehash(&sha256_prehash::<32>(payload), &signature)
            }
            Key::P384(key) => {
                let signature = ecdsa_signature!(p384::ecdsa::Signature, 48, &signature)?;
                key.verify_prehash(&sha256_prehash::<48>(payload), &signature)
            }
            Key::P521(key) => {
                let signature = ecdsa_signature!(p521::ecdsa::Signature, 66, &signature)?;
                key.verify_prehash(&sha256_prehash::<66>(payload), &signature)
            }
            Key::Rsa(key) => {
                let signature =
                    pkcs1v15::Signature::try_from(signature.as_slice()).map_err(|_| {
                        SignatureRefusal::Malformed {
                            reason: "the signature is not an RSA signature",
                        }
                    })?;
                key.verify(payload, &signature)
            }
            Key::Ed25519(key) => {
                let signature = ed25519_dalek::Signature::from_slice(&signature).map_err(|_| {
                    SignatureRefusal::Malformed {
                        reason: "the signature is not an Ed25519 signature",
                    }
                })?;
                key.verify(payload, &signature)
            }
        };
        verified.map_err(|_| SignatureRefusal::NotVerified {
            key_id: self.fingerprint.clone(),
        })
    }
}

/// A `map_err` adapter naming the key type.
fn invalid<E: std::error::Error + Send + Sync + 'static>(
    algorithm: &'static str,
) -> impl FnOnce(E) -> KeyError {
    move |e| KeyError::Invalid {
        algorithm,
        source: Box::new(e),
    }
}

/// An RSA public key from its DER PKCS#1 `RSAPublicKey`, within the accepted sizes.
fn rsa_key(der: &[u8]) -> Result<rsa::RsaPublicKey, KeyError> {
    let parsed = rsa::pkcs1::RsaPublicKey::from_der(der).map_err(|source| KeyError::Der {
        form: "PKCS#1 RSA public key",
        source,
    })?;
    let n = rsa::BigUint::from_bytes_be(parsed.modulus.as_bytes());
    let e = rsa::BigUint::from_bytes_be(parsed.public_exponent.as_bytes());
    let bits = n.bits();
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(KeyError::RsaSize { bits });
    }
    let key = rsa::RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS).map_err(invalid("RSA"))?;
    Ok(key)
}

/// An `r || s` signature as sigstore reads it (an even length up to 132 bytes, split in halves),
/// with each half left-padded to `n` bytes; `None` when it cannot be one for scalars of `n` bytes.
fn p1363_fixed(bytes: &[u8], n: usize) -> Option<Vec<u8>> {
    if bytes.is_empty() || bytes.len() > 132 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let (r, s) = bytes.split_at(bytes.len() / 2);
    let mut out = vec![0u8; 2 * n];
    for (half, slot) in [r, s].into_iter().zip(out.chunks_mut(n)) {
        let first = half.iter().position(|b| *b != 0).unwrap_or(half.len());
        let significant = &half[first..];
        if significant.len() > n {
            return None;
        }
        slot[n - significant.len()..].copy_from_slice(significant);
    }
    Some(out)
}

/// The SHA-256 digest of `payload`, left-padded with zeros to `N` bytes (the curve's scalar
/// size): the same integer Go's ECDSA takes from a digest shorter than the curve order.
fn sha256_prehash<const N: usize>(payload: &[u8]) -> [u8; N] {
    let digest = Sha256::digest(payload);
    let mut out = [0u8; N];
    let start = N.saturating_sub(digest.len());
    out[start..].copy_from_slice(&digest[..N - start]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Keys and signatures made with the openssl command line (`genpkey`, `pkey -pubout`,
    // `dgst -sha256 -sign`, `pkeyutl -sign -rawin`) over PAYLOAD.
    const PAYLOAD: &[u8] = b"payload signed by openssl";
    const P384: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAExpV9zlLOHBUCvyl++e4FyAPrZjyxlsdO
LZ8HRcbw0G5l8ZGoLFb4UYsaVnEHkQu+SaFu+H+3N/aKgQsXv0dnggbjfaaFj/FV
7Duipo+5rilrmPWZoH2RbfYuEh/8ETzn
-----END PUBLIC KEY-----
";
    const P384_SIG: &str = "MGUCMQCQM2OxQgTcGLe7ZtjhK7iNs8h1tudE4as2ysraLHmhaegONgnthkyqQR6M7nctUnwCMDC2CIxm98Iu5iKj0t3gTn5XKUO4drTcfk8fd7Dn0FCC0HMYR7xIRZTxXhvX/dJ0xw==";
    const ED25519: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAe/yWJ8OTEFKrPfqp2y5qMk+VYnWsi1w1kdszZzxx5Gs=
-----END PUBLIC KEY-----
";
    const ED25519_SIG: &str =
        "3d+wGQ7yBFLMknicIDtRfPnFj2QcpUYXTC0uPa0PJEGNI7ANT+9v+oBZEATxmvGbhnYblyGm1m//Fj+WhB1JDQ==";
    const RSA768: &str = "-----BEGIN PUBLIC KEY-----
MHwwDQYJKoZIhvcNAQEBBQADawAwaAJhALRj9A/GmA7l1cQep8kfQBmqq7AZy4L1
mZZooBA3vJ7gah7/61FI0IaUw8Aev+qds6oPxujP2QmJISUwton1o0Vyf+TL4S/6
VNGiv/+sBPIxvMbjBCd8sIvouJgw+sj1/QIDAQAB
-----END PUBLIC KEY-----
";
    const X25519: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VuAyEALppiuZLEw3r3Xoj1Y/EHl4dMCFP0miJGhSEQ6zBidy8=
-----END PUBLIC KEY-----
";

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn p384_verifies_a_sha256_der_signature_and_its_r_s_form() {
        let key = PublicKey::parse(P384.as_bytes()).unwrap();
        assert_eq!(key.algorithm(), "ECDSA P-384");
        key.verify(PAYLOAD, P384_SIG).unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(P384_SIG)
            .unwrap();
        let raw = p384::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        key.verify(PAYLOAD, &b64(&raw)).unwrap();
        assert!(matches!(
            key.verify(b"another payload", P384_SIG),
            Err(SignatureRefusal::NotVerified { .. })
        ));
        let mut wide = vec![0u8; 18];
        wide.extend_from_slice(&raw[..48]);
        wide.extend_from_slice(&[0u8; 18]);
        wide.extend_from_slice(&raw[48..]);
        key.verify(PAYLOAD, &b64(&wide)).unwrap();
        assert!(matches!(
            key.verify(PAYLOAD, &b64(&raw[..41])),
            Err(SignatureRefusal::Malformed { .. })
        ));
    }

    #[test]
    fn ed25519_verifies_the_payload_itself() {
        let key = PublicKey::parse(ED25519.as_bytes()).unwrap();
        key.verify(PAYLOAD, ED25519_SIG).unwrap();
        assert!(matches!(
            key.verify(b"another payload", ED25519_SIG),
            Err(SignatureRefusal::NotVerified { .. })
        ));
        assert!(matches!(
            key.verify(PAYLOAD, P384_SIG),
            Err(SignatureRefusal::Malformed { .. })
        ));
    }

    #[test]
    fn keys_of_other_types_and_sizes_are_refused_with_the_reason() {
        assert!(matches!(
            PublicKey::parse(RSA768.as_bytes()),
            Err(KeyError::RsaSize { bits: 768 })
        ));
        let err = PublicKey::parse(X25519.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, KeyError::UnsupportedAlgorithm { oid } if oid == "1.3.101.110"),
            "{err:?}"
        );
        assert!(matches!(
            PublicKey::parse(b"not pem"),
            Err(KeyError::Pem(_))
        ));
        let private =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            PublicKey::parse(private.as_bytes()),
            Err(KeyError::Label { .. })
        ));
        let garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            PublicKey::parse(garbage.as_bytes()),
            Err(KeyError::Der { .. })
        ));
    }

    #[test]
    fn the_fingerprint_is_of_the_der_key() {
        let key = PublicKey::parse(ED25519.as_bytes()).unwrap();
        let (_, der) = p256::pkcs8::der::pem::decode_vec(ED25519.as_bytes()).unwrap();
        assert_eq!(key.fingerprint(), Digest::sha256_of(&der).to_string());
    }
}
