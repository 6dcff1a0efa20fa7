//! Image references: `host[:port]/path[:tag][@digest]`, with Docker Hub normalisation.
//!
//! Parsing follows the distribution reference grammar (through `oci_spec::distribution::Reference`):
//! a first path component with a `.` or `:`, or `localhost`, is the registry host; otherwise the
//! reference is on Docker Hub, and a one-component name gets the `library/` namespace.
//! A reference with neither tag nor digest gets the tag `latest`.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// The Docker Hub registry name that references normalise to.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not an image reference.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// The string does not follow the reference grammar.
    #[error("invalid image reference {input:?}")]
    Invalid {
        /// The rejected input.
        input: String,
        /// The parser's reason.
        #[source]
        source: oci_spec::distribution::ParseError,
    },
    /// The repository path has characters the distribution spec does not allow.
    #[error("invalid image reference {input:?}: repository names are lowercase")]
    Uppercase {
        /// The rejected input.
        input: String,
    },
    /// The digest part is not a valid digest.
    #[error("invalid digest in image reference {input:?}")]
    Digest {
        /// The rejected input.
        input: String,
        /// Why the digest is invalid.
        #[source]
        source: DigestError,
    },
}

impl Reference {
    /// A reference from its parts; `tag` defaults to `latest` when both tag and digest are absent.
    pub fn new(
        registry: impl Into<String>,
        repository: impl Into<String>,
        tag: Option<String>,
        digest: Option<Digest>,
    ) -> Self {
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Self {
            registry: registry.into(),
            repository: repository.into(),
            tag,
            digest,
        }
    }

    /// The registry host, with port if any (`docker.io`, `localhost:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`library/nginx`, `team/app/backend`).
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

    /// What to ask the registry for: the digest when present (it pins the content), else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parsed = oci_spec::distribution::Reference::from_str(s).map_err(|source| {
            ReferenceError::Invalid {
                input: s.to_owned(),
                source,
            }
        })?;
        if parsed.repository().chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase {
                input: s.to_owned(),
            });
        }
        let digest = parsed
            .digest()
            .map(Digest::from_str)
            .transpose()
            .map_err(|source| ReferenceError::Digest {
                input: s.to_owned(),
                source,
            })?;
        Ok(Reference::new(
            parsed.registry(),
            parsed.repository(),
            parsed.tag().map(str::to_owned),
            digest,
        ))
    }
}

impl fmt::Display for Reference {
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

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn normalises_and_prints() {
        let cases = [
            ("nginx", "docker.io/library/nginx:latest"),
            ("nginx:1.25", "docker.io/library/nginx:1.25"),
            ("user/app", "docker.io/user/app:latest"),
            (
                "index.docker.io/library/busybox",
                "docker.io/library/busybox:latest",
            ),
            (
                "localhost:5000/team/app/backend:v1",
                "localhost:5000/team/app/backend:v1",
            ),
            ("127.0.0.1:41234/deb:12", "127.0.0.1:41234/deb:12"),
        ];
        for (input, want) in cases {
            let r: Reference = input.parse().unwrap();
            assert_eq!(r.to_string(), want, "{input}");
        }
    }

    #[test]
    fn digest_and_tag() {
        let r: Reference = format!("registry.example:443/a/b:1.0@{D}").parse().unwrap();
        assert_eq!(r.registry(), "registry.example:443");
        assert_eq!(r.repository(), "a/b");
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.digest().map(|d| d.to_string()).as_deref(), Some(D));
        assert_eq!(r.manifest_reference(), D);
        let only_digest: Reference = format!("quay.io/x/y@{D}").parse().unwrap();
        assert_eq!(only_digest.tag(), None);
        assert_eq!(only_digest.to_string(), format!("quay.io/x/y@{D}"));
    }

    #[test]
    fn clear_errors() {
        for bad in ["", "UPPER/case", "a b", "x@sha256:abc", "host:port:bad/x"] {
            let err = bad.parse::<Reference>().unwrap_err();
            assert!(err.to_string().contains("image reference"), "{bad}: {err}");
        }
    }
}
