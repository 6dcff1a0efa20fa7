//! Image identities as the containers policy compares them, and the `signedIdentity` rules.
//!
//! An identity is a fully expanded Docker reference: `host[:port]/path`, with a tag, a digest, or
//! neither (a signed identity may name only a repository; cosign signs that way).
//! Unlike [`Reference`], parsing adds no `latest` tag, because the rules tell "no tag" apart.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::digest::Digest;
use crate::reference::{Reference, ReferenceError};

use super::PolicyError;

/// A fully expanded Docker reference, as containers/image's `ParseNormalizedNamed` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DockerIdentity {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl DockerIdentity {
    /// The identity of a parsed image reference (which always has a tag or a digest).
    pub fn of(reference: &Reference) -> Self {
        Self {
            registry: reference.registry().to_owned(),
            repository: reference.repository().to_owned(),
            tag: reference.tag().map(str::to_owned),
            digest: reference.digest().cloned(),
        }
    }

    /// `host[:port]/path`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The registry host with its port, if any.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path below the host.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }
}

impl FromStr for DockerIdentity {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = Reference::from_str(s)?;
        let mut identity = Self::of(&parsed);
        // `Reference` adds `latest` to a bare name; an identity keeps it bare.
        let before_digest = s.split_once('@').map_or(s, |(name, _)| name);
        let has_tag = before_digest
            .rfind(':')
            .is_some_and(|i| !before_digest[i..].contains('/'));
        if !has_tag {
            identity.tag = None;
        }
        Ok(identity)
    }
}

impl fmt::Display for DockerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The `signedIdentity` of a `signedBy` or `sigstoreSigned` requirement, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SignedIdentity {
    /// The signed identity equals the image's exactly (both tagged or digested).
    MatchExact,
    /// Exact for a tagged image; the same repository for a digested one (the default).
    #[default]
    MatchRepoDigestOrExact,
    /// The same repository, any tag.
    MatchRepository,
    /// The signed identity equals this reference exactly.
    ExactReference(DockerIdentity),
    /// The signed identity is in this repository.
    ExactRepository(DockerIdentity),
    /// The image's `prefix` is replaced by `signed_prefix`, then `MatchRepoDigestOrExact`.
    RemapIdentity {
        /// A host, namespace or repository the image identity may start with.
        prefix: String,
        /// What replaces `prefix` before matching.
        signed_prefix: String,
    },
}

/// The JSON shape of a `signedIdentity` object.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub(super) enum RawSignedIdentity {
    #[serde(rename = "matchExact")]
    MatchExact {},
    #[serde(rename = "matchRepoDigestOrExact")]
    MatchRepoDigestOrExact {},
    #[serde(rename = "matchRepository")]
    MatchRepository {},
    #[serde(rename = "exactReference")]
    ExactReference {
        #[serde(rename = "dockerReference")]
        docker_reference: String,
    },
    #[serde(rename = "exactRepository")]
    ExactRepository {
        #[serde(rename = "dockerRepository")]
        docker_repository: String,
    },
    #[serde(rename = "remapIdentity")]
    RemapIdentity {
        prefix: String,
        #[serde(rename = "signedPrefix")]
        signed_prefix: String,
    },
}

impl TryFrom<RawSignedIdentity> for SignedIdentity {
    type Error = PolicyError;

    fn try_from(raw: RawSignedIdentity) -> Result<Self, PolicyError> {
        Ok(match raw {
            RawSignedIdentity::MatchExact {} => Self::MatchExact,
            RawSignedIdentity::MatchRepoDigestOrExact {} => Self::MatchRepoDigestOrExact,
            RawSignedIdentity::MatchRepository {} => Self::MatchRepository,
            RawSignedIdentity::ExactReference { docker_reference } => {
                let id = parse_identity(&docker_reference)?;
                if id.is_name_only() {
                    return Err(PolicyError::Identity {
                        value: docker_reference,
                        reason: "exactReference needs a tag or a digest",
                    });
                }
                Self::ExactReference(id)
            }
            RawSignedIdentity::ExactRepository { docker_repository } => {
                let id = parse_identity(&docker_repository)?;
                if !id.is_name_only() {
                    return Err(PolicyError::Identity {
                        value: docker_repository,
                        reason: "exactRepository takes a repository without tag or digest",
                    });
                }
                Self::ExactRepository(id)
            }
            RawSignedIdentity::RemapIdentity {
                prefix,
                signed_prefix,
            } => {
                validate_prefix(&prefix)?;
                validate_prefix(&signed_prefix)?;
                Self::RemapIdentity {
                    prefix,
                    signed_prefix,
                }
            }
        })
    }
}

fn parse_identity(value: &str) -> Result<DockerIdentity, PolicyError> {
    DockerIdentity::from_str(value).map_err(|source| PolicyError::Reference {
        value: value.to_owned(),
        source,
    })
}

/// A remap prefix is a host[:port], a namespace or a repository: no tag, no digest.
fn validate_prefix(prefix: &str) -> Result<(), PolicyError> {
    let bad = |reason| {
        Err(PolicyError::Identity {
            value: prefix.to_owned(),
            reason,
        })
    };
    if prefix.contains('/') {
        let id = parse_identity(prefix)?;
        if !id.is_name_only() || id.to_string() != prefix {
            return bad("a remapIdentity prefix is a fully expanded repository or namespace");
        }
        return Ok(());
    }
    let host_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    if prefix.is_empty() || !prefix.chars().all(host_chars) {
        return bad("a remapIdentity prefix is a host[:port], a namespace or a repository");
    }
    Ok(())
}

impl SignedIdentity {
    /// Whether a signature claiming `signed` satisfies this rule for an image known as `image`.
    pub fn matches(&self, image: &DockerIdentity, signed: &DockerIdentity) -> bool {
        match self {
            Self::MatchExact => exact(image, signed),
            Self::MatchRepoDigestOrExact => repo_digest_or_exact(image, signed),
            Self::MatchRepository => image.name() == signed.name(),
            Self::ExactReference(wanted) => exact(wanted, signed),
            Self::ExactRepository(wanted) => wanted.name() == signed.name(),
            Self::RemapIdentity {
                prefix,
                signed_prefix,
            } => match remap(image, prefix, signed_prefix) {
                Some(remapped) => repo_digest_or_exact(&remapped, signed),
                None => repo_digest_or_exact(image, signed),
            },
        }
    }
}

fn exact(a: &DockerIdentity, b: &DockerIdentity) -> bool {
    !a.is_name_only() && !b.is_name_only() && a.to_string() == b.to_string()
}

fn repo_digest_or_exact(image: &DockerIdentity, signed: &DockerIdentity) -> bool {
    if image.tag.is_some() {
        exact(image, signed)
    } else if image.digest.is_some() {
        image.name() == signed.name()
    } else {
        false
    }
}

/// The image identity with `prefix` replaced, when it starts with `prefix` at a component
/// boundary; `None` when it does not (or the result does not parse, which never matches).
fn remap(image: &DockerIdentity, prefix: &str, signed_prefix: &str) -> Option<DockerIdentity> {
    let full = image.to_string();
    let rest = full.strip_prefix(prefix)?;
    if !(rest.is_empty() || rest.starts_with(['/', ':', '@'])) {
        return None;
    }
    // A host prefix is followed by a path; `host:tag` does not exist, so ':' only follows a path.
    DockerIdentity::from_str(&format!("{signed_prefix}{rest}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DockerIdentity {
        s.parse().unwrap()
    }

    #[test]
    fn parsing_keeps_a_bare_name_bare_and_expands_docker_hub() {
        assert_eq!(id("busybox").to_string(), "docker.io/library/busybox");
        assert!(id("busybox").is_name_only());
        assert_eq!(id("localhost:5000/a/b").to_string(), "localhost:5000/a/b");
        assert_eq!(id("localhost:5000/a/b:1").tag(), Some("1"));
        let digest = format!("sha256:{}", "a".repeat(64));
        let d = id(&format!("localhost:5000/a@{digest}"));
        assert!(d.tag().is_none());
        assert_eq!(d.digest().map(ToString::to_string), Some(digest));
    }

    #[test]
    fn match_repo_digest_or_exact_is_exact_for_tags_and_repository_for_digests() {
        let rule = SignedIdentity::MatchRepoDigestOrExact;
        let tagged = id("r.example/a/b:1");
        assert!(rule.matches(&tagged, &id("r.example/a/b:1")));
        assert!(!rule.matches(&tagged, &id("r.example/a/b:2")));
        assert!(!rule.matches(&tagged, &id("r.example/a/b")));
        let digested = id(&format!("r.example/a/b@sha256:{}", "1".repeat(64)));
        assert!(rule.matches(&digested, &id("r.example/a/b:anything")));
        assert!(!rule.matches(&digested, &id("r.example/a/c:anything")));
    }

    #[test]
    fn match_exact_refuses_a_digested_image_signed_with_a_tag() {
        let digested = id(&format!("r.example/a/b@sha256:{}", "1".repeat(64)));
        assert!(!SignedIdentity::MatchExact.matches(&digested, &id("r.example/a/b:1")));
        assert!(SignedIdentity::MatchExact.matches(&id("r.example/a:1"), &id("r.example/a:1")));
        assert!(!SignedIdentity::MatchExact.matches(&id("r.example/a:1"), &id("r.example/a")));
    }

    #[test]
    fn match_repository_and_exact_repository_ignore_tags() {
        assert!(SignedIdentity::MatchRepository.matches(&id("r.example/a:1"), &id("r.example/a")));
        assert!(!SignedIdentity::MatchRepository.matches(&id("r.example/a:1"), &id("r.example/b")));
        let rule = SignedIdentity::ExactRepository(id("vendor.example/p"));
        assert!(rule.matches(&id("mirror.example/p:1"), &id("vendor.example/p:7")));
        assert!(!rule.matches(&id("vendor.example/p:1"), &id("mirror.example/p:1")));
        let rule = SignedIdentity::ExactReference(id("vendor.example/p:7"));
        assert!(rule.matches(&id("mirror.example/x:1"), &id("vendor.example/p:7")));
        assert!(!rule.matches(&id("mirror.example/x:1"), &id("vendor.example/p:8")));
    }

    #[test]
    fn remap_identity_replaces_the_prefix_at_a_component_boundary_only() {
        let rule = SignedIdentity::RemapIdentity {
            prefix: "mirror.example:5000/vendor-mirror".into(),
            signed_prefix: "vendor.example".into(),
        };
        let image = id("mirror.example:5000/vendor-mirror/prod/img:latest");
        assert!(rule.matches(&image, &id("vendor.example/prod/img:latest")));
        assert!(!rule.matches(&image, &image));
        // `vendor-mirror2` does not start with the `vendor-mirror` component.
        let other = id("mirror.example:5000/vendor-mirror2/img:1");
        assert!(rule.matches(&other, &other));
        assert!(!rule.matches(&other, &id("vendor.example2/img:1")));
    }

    #[test]
    fn malformed_identity_rules_are_refused() {
        let raw = RawSignedIdentity::ExactReference {
            docker_reference: "r.example/a".into(),
        };
        assert!(matches!(
            SignedIdentity::try_from(raw),
            Err(PolicyError::Identity { .. })
        ));
        let raw = RawSignedIdentity::ExactRepository {
            docker_repository: "r.example/a:1".into(),
        };
        assert!(SignedIdentity::try_from(raw).is_err());
        for prefix in [
            "",
            "busybox/x",
            "r.example/a:tag",
            "r.example/a@sha256:00",
            "a b",
        ] {
            let raw = RawSignedIdentity::RemapIdentity {
                prefix: prefix.into(),
                signed_prefix: "r.example".into(),
            };
            assert!(SignedIdentity::try_from(raw).is_err(), "{prefix:?}");
        }
    }
}
