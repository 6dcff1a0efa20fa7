//! Image references: `host[:port]/path[:tag][@digest]`, with Docker Hub normalisation.
//!
//! Parsing follows the distribution reference grammar: a first path component with a `.` or `:`,
//! or `localhost`, is the registry host; otherwise the reference is on Docker Hub, and a
//! one-component name gets the `library/` namespace.
//! A reference with neither tag nor digest gets the tag `latest`.
//!
//! The grammar is checked by hand rather than by `oci_spec`'s reference regex: compiling that
//! regex takes some 20 MB of heap for a moment, a third of a scan's memory budget.

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
    #[error("invalid image reference {input:?}: {reason}")]
    Invalid {
        /// The rejected input.
        input: String,
        /// What is wrong.
        reason: &'static str,
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

/// The longest repository path the distribution spec allows.
const MAX_REPOSITORY_LEN: usize = 255;
/// The longest tag.
const MAX_TAG_LEN: usize = 128;

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| ReferenceError::Invalid {
            input: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(invalid("it is empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = Digest::from_str(d).map_err(|source| ReferenceError::Digest {
                    input: s.to_owned(),
                    source,
                })?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // A `:` after the last `/` starts the tag; one before it belongs to a port.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(invalid("the tag is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_host(first) {
                    return Err(invalid(
                        "the registry is not a host name with an optional port",
                    ));
                }
                (first, path)
            }
            _ => (DOCKER_HUB, name),
        };
        for component in path.split('/') {
            if !valid_path_component(component) {
                return Err(if valid_path_component(&component.to_ascii_lowercase()) {
                    ReferenceError::Uppercase {
                        input: s.to_owned(),
                    }
                } else {
                    invalid("a path component is not lowercase letters and digits joined by '.', '_', '__' or dashes")
                });
            }
        }
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if repository.len() > MAX_REPOSITORY_LEN {
            return Err(invalid("the repository name is longer than 255 characters"));
        }
        Ok(Reference::new(
            registry,
            repository,
            tag.map(str::to_owned),
            digest,
        ))
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    match tag.as_bytes() {
        [first, rest @ ..] => {
            tag.len() <= MAX_TAG_LEN
                && word(*first)
                && rest.iter().all(|&c| word(c) || c == b'.' || c == b'-')
        }
        [] => false,
    }
}

/// `host[:port]`, the host being dot-separated labels of letters, digits and inner dashes.
fn valid_host(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |label: &str| {
        let b = label.as_bytes();
        !b.is_empty()
            && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Lowercase letters and digits, in runs joined by `.`, `_`, `__` or one or more `-`.
fn valid_path_component(component: &str) -> bool {
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let ok = match &b[sep..i] {
            b"." | b"_" | b"__" => true,
            dashes => dashes.iter().all(|&c| c == b'-'),
        };
        if !ok {
            return false;
        }
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
        assert!(matches!(
            "team/App".parse::<Reference>(),
            Err(ReferenceError::Uppercase { .. })
        ));
    }

    #[test]
    fn the_distribution_grammar() {
        let long_tag = "t".repeat(128);
        let ok = [
            ("test.com:tag", "docker.io/library/test.com:tag"),
            ("test.com:5000", "docker.io/library/test.com:5000"),
            ("foo_bar.com:8080", "docker.io/library/foo_bar.com:8080"),
            (
                "lowercase:Uppercase",
                "docker.io/library/lowercase:Uppercase",
            ),
            ("a--b/c__d/e.f/g-h:x", "docker.io/a--b/c__d/e.f/g-h:x"),
            ("localhost/app", "localhost/app:latest"),
            (
                "Registry.Example:5000/a/b",
                "Registry.Example:5000/a/b:latest",
            ),
            ("docker.io/nginx", "docker.io/library/nginx:latest"),
            ("index.docker.io/team/app", "docker.io/team/app:latest"),
        ];
        for (input, want) in ok {
            let r: Reference = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), want, "{input}");
        }
        let r: Reference = format!("app:{long_tag}").parse().unwrap();
        assert_eq!(r.tag(), Some(long_tag.as_str()));
        let bad = [
            "-app".to_owned(),
            "app-".to_owned(),
            "a..b".to_owned(),
            "a___b".to_owned(),
            "a/".to_owned(),
            "/a".to_owned(),
            "a//b".to_owned(),
            "app:".to_owned(),
            "app:.tag".to_owned(),
            format!("app:{long_tag}t"),
            "exa_mple.com/app".to_owned(),
            "example.com:/app".to_owned(),
            "example.com:50a/app".to_owned(),
            "-example.com/app".to_owned(),
            format!("example.com/{}", "a".repeat(256)),
            format!("app@{D}x"),
            "app@md5:0123".to_owned(),
        ];
        for input in bad {
            assert!(input.parse::<Reference>().is_err(), "{input} was accepted");
        }
    }
}
