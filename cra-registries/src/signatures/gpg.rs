//! OpenPGP "simple signing": a signed message whose literal data is the signature payload.
//!
//! Verification uses rpgp (the `pgp` crate: pure Rust, MIT or Apache-2.0), not a gpg binary or
//! keyring: the trusted keys are exactly those the policy names.
//! A signature is accepted only when it verifies under a trusted primary key or subkey that is
//! neither revoked nor expired now.

use std::io::{BufReader, Read};
use std::time::{Duration, SystemTime};

use cra_core::policy::SignatureRefusal;
use pgp::composed::{Message, PublicOrSecret, SignedPublicKey};
use pgp::packet::Signature;
use pgp::types::{KeyDetails, VerifyingKey};

/// The most payload bytes read from one signed message (a payload is a few hundred bytes).
pub(crate) const MAX_PAYLOAD: u64 = 64 * 1024;
/// How many nested compression layers are opened.
const MAX_NESTING: usize = 4;

/// Trusted public keys, from one or more keyrings.
pub(crate) struct Keyring {
    keys: Vec<SignedPublicKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fingerprints: Vec<String> = self
            .keys
            .iter()
            .map(|k| fingerprint_hex(&k.primary_key))
            .collect();
        f.debug_struct("Keyring")
            .field("keys", &fingerprints)
            .finish()
    }
}

/// Why a keyring cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The data is not an OpenPGP keyring.
    #[error("not an OpenPGP keyring")]
    Parse(#[source] pgp::errors::Error),
    /// It holds no public key.
    #[error("the keyring holds no key")]
    Empty,
}

impl Keyring {
    /// Parses armored or binary keyrings (each element one keyring file or `keyData`).
    pub(crate) fn parse<'a>(
        rings: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Keyring, KeyringError> {
        let mut keys = Vec::new();
        for ring in rings {
            let (parsed, _) = PublicOrSecret::from_reader_many(BufReader::new(ring))
                .map_err(KeyringError::Parse)?;
            for key in parsed {
                let key = key.map_err(KeyringError::Parse)?;
                keys.push(match key {
                    PublicOrSecret::Public(key) => key,
                    PublicOrSecret::Secret(key) => key.to_public_key(),
                });
            }
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        Ok(Keyring { keys })
    }
}

/// A verified signature: who made it and what it signed.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The primary key's fingerprint, upper-case hex.
    pub(crate) signer: String,
    /// The literal data (the payload).
    pub(crate) payload: Vec<u8>,
}

/// Verifies one signed message against the keyring at `now`.
pub(crate) fn verify(
    keyring: &Keyring,
    signature: &[u8],
    now: SystemTime,
) -> Result<Verified, SignatureRefusal> {
    let malformed = |reason| SignatureRefusal::Malformed { reason };
    let mut message = Message::from_bytes(BufReader::new(signature))
        .map_err(|_| malformed("not an OpenPGP message"))?;
    for _ in 0..MAX_NESTING {
        if !message.is_compressed() {
            break;
        }
        message = message
            .decompress()
            .map_err(|_| malformed("the compressed data is invalid"))?;
    }
    if !message.is_signed() {
        return Err(malformed("not a signed OpenPGP message"));
    }
    let mut payload = Vec::new();
    message
        .by_ref()
        .take(MAX_PAYLOAD + 1)
        .read_to_end(&mut payload)
        .map_err(|_| malformed("the signed data cannot be read"))?;
    if payload.len() as u64 > MAX_PAYLOAD {
        return Err(SignatureRefusal::TooLarge { limit: MAX_PAYLOAD });
    }
    let Message::Signed { reader, .. } = &message else {
        return Err(malformed("not a signed OpenPGP message"));
    };
    if reader.num_signatures() != 1 {
        return Err(malformed(
            "a simple signing message carries exactly one signature",
        ));
    }
    let issuer = reader.signature(0).map(issuer_of).unwrap_or_default();
    for key in &keyring.keys {
        if message.verify(&key.primary_key).is_ok() {
            check_key_validity(key, None, now)?;
            return Ok(Verified {
                signer: fingerprint_hex(&key.primary_key),
                payload,
            });
        }
        for (index, sub) in key.public_subkeys.iter().enumerate() {
            if message.verify(&sub.key).is_ok() {
                check_key_validity(key, Some(index), now)?;
                return Ok(Verified {
                    signer: fingerprint_hex(&key.primary_key),
                    payload,
                });
            }
        }
    }
    let known = keyring.keys.iter().any(|k| {
        std::iter::once(fingerprint_hex(&k.primary_key))
            .chain(k.public_subkeys.iter().map(|s| fingerprint_hex(&s.key)))
            .any(|fpr| !issuer.is_empty() && fpr.ends_with(&issuer))
    });
    if known {
        Err(SignatureRefusal::BadSignature { key_id: issuer })
    } else {
        Err(SignatureRefusal::UnknownKey {
            key_id: if issuer.is_empty() {
                "(none named)".to_owned()
            } else {
                issuer
            },
        })
    }
}

/// The issuer fingerprint, else the key id, upper-case hex.
fn issuer_of(sig: &Signature) -> String {
    if let Some(fpr) = sig.issuer_fingerprint().first() {
        return hex::encode_upper(fpr.as_bytes());
    }
    sig.issuer_key_id()
        .first()
        .map(|id| hex::encode_upper(id.as_ref()))
        .unwrap_or_default()
}

fn fingerprint_hex(key: &impl KeyDetails) -> String {
    hex::encode_upper(key.fingerprint().as_bytes())
}

/// Refuses a key that is revoked, or expired at `now`; `subkey` is the index of the subkey
/// that made the signature, when it was not the primary key.
fn check_key_validity(
    key: &SignedPublicKey,
    subkey: Option<usize>,
    now: SystemTime,
) -> Result<(), SignatureRefusal> {
    let key_id = fingerprint_hex(&key.primary_key);
    let revoked = key
        .details
        .revocation_signatures
        .iter()
        .any(|sig| sig.verify_key(&key.primary_key).is_ok());
    if revoked {
        return Err(SignatureRefusal::RevokedKey { key_id });
    }
    // The newest valid self-signature on a user id carries the primary key's expiration.
    let self_sigs = key.details.users.iter().flat_map(|user| {
        user.signatures.iter().filter(|sig| {
            sig.verify_certification(&key.primary_key, pgp::types::Tag::UserId, &user.id)
                .is_ok()
        })
    });
    if expired(&key.primary_key, newest(self_sigs), now) {
        return Err(SignatureRefusal::ExpiredKey { key_id });
    }
    if let Some(sub) = subkey.and_then(|i| key.public_subkeys.get(i)) {
        let bindings = sub.signatures.iter().filter(|sig| {
            sig.verify_subkey_binding(&key.primary_key, &sub.key)
                .is_ok()
        });
        let binding = newest(bindings);
        if binding.is_none() {
            return Err(SignatureRefusal::BadSignature { key_id });
        }
        if expired(&sub.key, binding, now) {
            return Err(SignatureRefusal::ExpiredKey {
                key_id: fingerprint_hex(&sub.key),
            });
        }
    }
    Ok(())
}

fn newest<'a>(sigs: impl Iterator<Item = &'a Signature>) -> Option<&'a Signature> {
    sigs.max_by_key(|sig| sig.created().map(|t| t.as_secs()).unwrap_or(0))
}

fn expired(key: &impl VerifyingKey, binding: Option<&Signature>, now: SystemTime) -> bool {
    let Some(validity) = binding.and_then(Signature::key_expiration_time) else {
        return false;
    };
    if validity.as_secs() == 0 {
        return false;
    }
    let created = u64::from(key.created_at().as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(created + u64::from(validity.as_secs())) <= now
}
