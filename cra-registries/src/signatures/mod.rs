//! Signature verification against a containers policy: the IO side of [`cra_core::policy`].
//!
//! [`TrustConfig::load`] reads containers-policy.json and a `registries.d` directory;
//! [`TrustConfig::verify`] decides on one image by its reference and manifest digest.
//! GPG simple signing signatures are read from the lookaside store `registries.d` names
//! (`lookaside.rs`) and verified with rpgp (`gpg.rs`); sigstore signatures are read from the
//! registry's `sha256-<hex>.sig` attachments when `use-sigstore-attachments` is on (`sigstore.rs`)
//! and verified with ECDSA P-256/P-384/P-521, RSA or Ed25519 public keys through the RustCrypto
//! crates (`sigstore_key.rs`).
//! Every requirement of the most specific scope must be satisfied; a signature requirement is
//! satisfied by one signature that verifies under a trusted key, is for this manifest, and
//! claims an identity the `signedIdentity` rule accepts.
//! Anything that cannot be read or verified rejects the image; nothing is accepted by default.

mod gpg;
mod load;
mod lookaside;
mod sigstore;
mod sigstore_key;

use std::path::Path;
use std::time::SystemTime;

use cra_core::policy::payload::{self, PayloadKind};
use cra_core::policy::{
    AcceptedSignature, DockerIdentity, KeySource, Policy, RegistriesD, Rejection, Requirement,
    SignatureKind, SignatureRefusal, SignedIdentity, Verdict,
};
use cra_core::{Digest, Reference, Registry, RegistryError};

use crate::config::ConnectOptions;

pub use gpg::KeyringError;
pub use load::{default_location, TrustConfigError};
pub use lookaside::{LookasideError, MAX_SIGNATURES, MAX_SIGNATURE_SIZE};
pub use sigstore::KeyError;

/// A loaded policy and `registries.d` configuration.
#[derive(Debug, Clone)]
pub struct TrustConfig {
    policy: Policy,
    registries_d: RegistriesD,
    connect: ConnectOptions,
}

impl TrustConfig {
    /// Reads the policy and, when given, the `registries.d` directory (without it, no lookaside
    /// is configured and sigstore attachments are not read).
    pub fn load(
        policy: &Path,
        registries_d: Option<&Path>,
        connect: ConnectOptions,
    ) -> Result<TrustConfig, TrustConfigError> {
        let policy = load::policy(policy)?;
        let registries_d = match registries_d {
            Some(dir) => load::registries_d(dir)?,
            None => RegistriesD::default(),
        };
        Ok(TrustConfig {
            policy,
            registries_d,
            connect,
        })
    }

    /// A configuration from parsed parts.
    pub fn new(policy: Policy, registries_d: RegistriesD, connect: ConnectOptions) -> TrustConfig {
        TrustConfig {
            policy,
            registries_d,
            connect,
        }
    }

    /// Fetches the manifest `reference` names and decides on it: its digest and the verdict.
    pub async fn verify_reference(
        &self,
        registry: &dyn Registry,
        reference: &Reference,
    ) -> Result<(Digest, Verdict), RegistryError> {
        let manifest = registry
            .fetch_manifest(reference.repository(), &reference.manifest_reference())
            .await?;
        let verdict = self.verify(registry, reference, &manifest.digest).await;
        Ok((manifest.digest, verdict))
    }

    /// Decides on the image `reference` whose manifest (the one the reference names, an index
    /// for a multi-platform image) has `manifest_digest`; `registry` serves its repository.
    pub async fn verify(
        &self,
        registry: &dyn Registry,
        reference: &Reference,
        manifest_digest: &Digest,
    ) -> Verdict {
        let image = DockerIdentity::of(reference);
        let (scope, requirements) = self.policy.requirements_for(&image);
        let mut ctx = Context {
            config: self,
            registry,
            reference,
            image,
            digest: manifest_digest,
            gpg: None,
            sigstore: None,
        };
        let mut signatures = Vec::new();
        for requirement in requirements {
            match ctx.check(requirement).await {
                Ok(Some(accepted)) => signatures.push(accepted),
                Ok(None) => {}
                Err(reason) => return Verdict::Rejected { scope, reason },
            }
        }
        Verdict::Accepted { scope, signatures }
    }
}

/// The signatures of one image, read once for all requirements that need them.
struct Context<'a> {
    config: &'a TrustConfig,
    registry: &'a dyn Registry,
    reference: &'a Reference,
    image: DockerIdentity,
    digest: &'a Digest,
    gpg: Option<Vec<lookaside::Fetched>>,
    sigstore: Option<Vec<sigstore::Attachment>>,
}

impl Context<'_> {
    async fn check(
        &mut self,
        requirement: &Requirement,
    ) -> Result<Option<AcceptedSignature>, Rejection> {
        match requirement {
            Requirement::InsecureAcceptAnything => Ok(None),
            Requirement::Reject => Err(Rejection::Reject),
            Requirement::SignedBy {
                keys,
                signed_identity,
            } => self.signed_by(keys, signed_identity).await.map(Some),
            Requirement::SigstoreSigned {
                key,
                signed_identity,
            } => self.sigstore_signed(key, signed_identity).await.map(Some),
        }
    }

    async fn signed_by(
        &mut self,
        keys: &KeySource,
        rule: &SignedIdentity,
    ) -> Result<AcceptedSignature, Rejection> {
        let material = load::key_material(keys).map_err(keys_rejection)?;
        let keyring =
            gpg::Keyring::parse(material.iter().map(Vec::as_slice)).map_err(keys_rejection)?;
        if self.gpg.is_none() {
            let fetched = match self.config.registries_d.lookaside(&self.image) {
                Some(base) => {
                    lookaside::fetch_all(base, &self.image, self.digest, &self.config.connect)
                        .await
                        .map_err(unavailable)?
                }
                None => Vec::new(),
            };
            self.gpg = Some(fetched);
        }
        let signatures = self.gpg.as_deref().unwrap_or_default();
        if signatures.is_empty() {
            return Err(Rejection::Unsigned {
                requirement: "signedBy",
            });
        }
        let now = SystemTime::now();
        let mut refusals = Vec::new();
        for signature in signatures {
            let checked = signature.as_ref().map_err(Clone::clone).and_then(|bytes| {
                let verified = gpg::verify(&keyring, bytes, now)?;
                let claims = payload::parse(&verified.payload, PayloadKind::SimpleSigning)?;
                payload::check(&claims, self.digest, &self.image, rule)?;
                Ok(AcceptedSignature {
                    kind: SignatureKind::Gpg,
                    signer: verified.signer,
                    identity: claims.identity.to_string(),
                })
            });
            match checked {
                Ok(accepted) => return Ok(accepted),
                Err(refusal) => refusals.push(refusal),
            }
        }
        Err(Rejection::NoneAccepted {
            requirement: "signedBy",
            refusals,
        })
    }

    /// A signature by any of the requirement's keys (`keyPaths`, `keyDatas`) satisfies it.
    async fn sigstore_signed(
        &mut self,
        keys: &KeySource,
        rule: &SignedIdentity,
    ) -> Result<AcceptedSignature, Rejection> {
        let keys: Vec<sigstore::PublicKey> = load::key_material(keys)
            .map_err(keys_rejection)?
            .iter()
            .map(|pem| sigstore::PublicKey::parse(pem))
            .collect::<Result<_, _>>()
            .map_err(keys_rejection)?;
        if self.sigstore.is_none() {
            let fetched = if self
                .config
                .registries_d
                .use_sigstore_attachments(&self.image)
            {
                sigstore::fetch_all(self.registry, self.reference.repository(), self.digest)
                    .await
                    .map_err(unavailable)?
            } else {
                Vec::new()
            };
            self.sigstore = Some(fetched);
        }
        let signatures = self.sigstore.as_deref().unwrap_or_default();
        if signatures.is_empty() {
            return Err(Rejection::Unsigned {
                requirement: "sigstoreSigned",
            });
        }
        let mut refusals = Vec::new();
        for signature in signatures {
            let checked =
                signature
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|(payload_bytes, sig)| {
                        let key = verifying_key(&keys, payload_bytes, sig)?;
                        let claims = payload::parse(payload_bytes, PayloadKind::Sigstore)?;
                        payload::check(&claims, self.digest, &self.image, rule)?;
                        Ok(AcceptedSignature {
                            kind: SignatureKind::Sigstore,
                            signer: key.fingerprint().to_owned(),
                            identity: claims.identity.to_string(),
                        })
                    });
            match checked {
                Ok(accepted) => return Ok(accepted),
                Err(refusal) => refusals.push(refusal),
            }
        }
        Err(Rejection::NoneAccepted {
            requirement: "sigstoreSigned",
            refusals,
        })
    }
}

/// The first of `keys` under which `signature` verifies; else the first key's refusal.
fn verifying_key<'k>(
    keys: &'k [sigstore::PublicKey],
    payload: &[u8],
    signature: &str,
) -> Result<&'k sigstore::PublicKey, SignatureRefusal> {
    let mut first = None;
    for key in keys {
        match key.verify(payload, signature) {
            Ok(()) => return Ok(key),
            Err(refusal) => {
                first.get_or_insert(refusal);
            }
        }
    }
    Err(first.unwrap_or(SignatureRefusal::Malformed {
        reason: "the requirement has no key",
    }))
}

/// The error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn keys_rejection(e: impl std::error::Error) -> Rejection {
    Rejection::Keys { detail: chain(&e) }
}

fn unavailable(e: impl std::error::Error) -> Rejection {
    Rejection::Unavailable { detail: chain(&e) }
}
