//! The signed payload of a simple signing or sigstore signature, and the checks on its claims.
//!
//! Both formats share one JSON shape (containers-signature(5)):
//! `{"critical": {"type": ..., "image": {"docker-manifest-digest": ...},
//! "identity": {"docker-reference": ...}}, "optional": {...}}`.
//! `critical` is read strictly: a field we do not know there refuses the signature.

use std::str::FromStr;

use serde::Deserialize;

use super::identity::{DockerIdentity, SignedIdentity};
use super::verdict::SignatureRefusal;
use crate::digest::Digest;

/// Which signature format a payload belongs to, by its `critical.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// GPG simple signing: `atomic container signature`.
    SimpleSigning,
    /// Sigstore (cosign): `cosign container image signature`.
    Sigstore,
}

impl PayloadKind {
    /// The `critical.type` value of this format.
    pub fn type_value(self) -> &'static str {
        match self {
            Self::SimpleSigning => "atomic container signature",
            Self::Sigstore => "cosign container image signature",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Untrusted {
    critical: Critical,
    #[allow(dead_code)]
    optional: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    image: Image,
    identity: Identity,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    #[serde(rename = "docker-reference")]
    reference: String,
}

/// What a verified payload claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The manifest digest the signature is for.
    pub manifest_digest: Digest,
    /// The identity the signer gave the image.
    pub identity: DockerIdentity,
}

/// Parses a payload whose signature was already verified.
pub fn parse(bytes: &[u8], kind: PayloadKind) -> Result<Claims, SignatureRefusal> {
    let untrusted: Untrusted =
        serde_json::from_slice(bytes).map_err(|_| SignatureRefusal::Payload {
            reason: "the payload is not a container signature document",
        })?;
    let critical = untrusted.critical;
    if critical.kind != kind.type_value() {
        return Err(SignatureRefusal::Payload {
            reason: "the payload's critical.type is not this signature format's",
        });
    }
    let manifest_digest =
        Digest::from_str(&critical.image.digest).map_err(|_| SignatureRefusal::Payload {
            reason: "the payload's docker-manifest-digest is not a digest",
        })?;
    let identity = DockerIdentity::from_str(&critical.identity.reference).map_err(|_| {
        SignatureRefusal::Payload {
            reason: "the payload's docker-reference is not an image reference",
        }
    })?;
    Ok(Claims {
        manifest_digest,
        identity,
    })
}

/// Checks verified claims against the image: the digest must be the manifest's, and the signed
/// identity must satisfy `rule` for `image`.
pub fn check(
    claims: &Claims,
    manifest_digest: &Digest,
    image: &DockerIdentity,
    rule: &SignedIdentity,
) -> Result<(), SignatureRefusal> {
    if &claims.manifest_digest != manifest_digest {
        return Err(SignatureRefusal::DigestMismatch {
            signed: claims.manifest_digest.clone(),
        });
    }
    if !rule.matches(image, &claims.identity) {
        return Err(SignatureRefusal::IdentityMismatch {
            signed: claims.identity.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, digest: &str, reference: &str) -> String {
        format!(
            r#"{{"critical":{{"type":"{kind}","image":{{"docker-manifest-digest":"{digest}"}},"identity":{{"docker-reference":"{reference}"}}}},"optional":{{"creator":"x","timestamp":1}}}}"#
        )
    }

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn claims_are_read_and_checked() {
        let d = digest('a');
        let payload = doc(
            "atomic container signature",
            &d.to_string(),
            "r.example/a:1",
        );
        let claims = parse(payload.as_bytes(), PayloadKind::SimpleSigning).unwrap();
        let image: DockerIdentity = "r.example/a:1".parse().unwrap();
        let rule = SignedIdentity::MatchRepoDigestOrExact;
        assert_eq!(check(&claims, &d, &image, &rule), Ok(()));
        assert!(matches!(
            check(&claims, &digest('b'), &image, &rule),
            Err(SignatureRefusal::DigestMismatch { .. })
        ));
        let other: DockerIdentity = "r.example/a:2".parse().unwrap();
        assert!(matches!(
            check(&claims, &d, &other, &rule),
            Err(SignatureRefusal::IdentityMismatch { .. })
        ));
    }

    #[test]
    fn the_wrong_type_or_an_unknown_critical_field_is_refused() {
        let d = digest('a').to_string();
        let cosign = doc("cosign container image signature", &d, "r.example/a");
        assert!(parse(cosign.as_bytes(), PayloadKind::Sigstore).is_ok());
        assert!(parse(cosign.as_bytes(), PayloadKind::SimpleSigning).is_err());
        let extra = cosign.replace(r#""type":"#, r#""new":1,"type":"#);
        assert!(parse(extra.as_bytes(), PayloadKind::Sigstore).is_err());
        assert!(parse(b"{}", PayloadKind::Sigstore).is_err());
        let bad_digest = doc(
            "cosign container image signature",
            "sha256:zz",
            "r.example/a",
        );
        assert!(parse(bad_digest.as_bytes(), PayloadKind::Sigstore).is_err());
    }
}
