//! Image names as the platform sends them: `<repo>:<tag>`, `<repo>@<digest>` or `<repo>`, the
//! repository being a path inside the registry the credentials name (a leading registry host is
//! accepted when it is that registry's).
//!
//! Errors never repeat the rejected text: it is the caller's, and may carry anything.

use std::fmt;
use std::str::FromStr;

use cra_core::{Digest, Reference};

/// A repository path with a tag and/or digest, not yet tied to a registry host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// A registry host given in front of the repository, if any.
    pub host: Option<String>,
    /// The repository path (`team/app`).
    pub repository: String,
    /// The tag; `latest` is meant when both tag and digest are absent.
    pub tag: Option<String>,
    /// The digest, if any.
    pub digest: Option<Digest>,
}

/// Why a string is not an image name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageNameError {
    /// The string is empty.
    #[error("the image name is empty")]
    Empty,
    /// The repository path breaks the distribution grammar.
    #[error("invalid repository name: lowercase letters, digits and . _ - separators, in /-separated components, at most 255 characters")]
    Repository,
    /// The tag breaks the distribution grammar.
    #[error("invalid tag: up to 128 letters, digits, _ . -, not starting with . or -")]
    Tag,
    /// The digest is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("invalid digest in image name: sha256:<64 hex> or sha512:<128 hex> expected")]
    Digest,
    /// The image names a registry other than the one the credentials are for.
    #[error("the image names another registry than the credentials' {expected:?}")]
    OtherRegistry {
        /// The host of the credentials' registry.
        expected: String,
    },
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-", followed by an alphanumeric.
        let run = bytes[i..].iter().take_while(|b| !alnum(**b)).count();
        let sep = &c[i..i + run];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
        i += run;
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let bytes = t.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

fn looks_like_host(component: &str) -> bool {
    let (host, port) = match component.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (component, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    !host.is_empty() && port_ok && (host.contains('.') || port.is_some() || host == "localhost")
}

/// Docker Hub answers under several names.
fn same_host(a: &str, b: &str) -> bool {
    const HUB: [&str; 4] = [
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "registry.hub.docker.com",
    ];
    a.eq_ignore_ascii_case(b) || (HUB.contains(&a) && HUB.contains(&b))
}

impl FromStr for ImageName {
    type Err = ImageNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ImageNameError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (
                rest,
                Some(d.parse::<Digest>().map_err(|_| ImageNameError::Digest)?),
            ),
            None => (s, None),
        };
        // The tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(rest[i + 1..].to_owned()))
            }
            None => (rest, None),
        };
        if let Some(tag) = &tag {
            if !valid_tag(tag) {
                return Err(ImageNameError::Tag);
            }
        }
        let mut components: Vec<&str> = path.split('/').collect();
        let host = match components.as_slice() {
            [first, _, ..] if looks_like_host(first) => Some(components.remove(0).to_owned()),
            _ => None,
        };
        if path.is_empty() || path.len() > 255 || !components.iter().all(|c| valid_component(c)) {
            return Err(ImageNameError::Repository);
        }
        Ok(ImageName {
            host,
            repository: components.join("/"),
            tag,
            digest,
        })
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = &self.host {
            write!(f, "{host}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl ImageName {
    /// The full reference in the registry at `registry_host`.
    pub fn reference(&self, registry_host: &str) -> Result<Reference, ImageNameError> {
        if let Some(given) = &self.host {
            if !same_host(given, registry_host) {
                return Err(ImageNameError::OtherRegistry {
                    expected: registry_host.to_owned(),
                });
            }
        }
        Ok(Reference::new(
            registry_host,
            self.repository.clone(),
            self.tag.clone(),
            self.digest.clone(),
        ))
    }

    /// The tag or digest to ask the registry for.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

/// Checks a bare repository path (as in `/list/<repo>`).
pub fn parse_repository(s: &str) -> Result<String, ImageNameError> {
    let s = s.trim_matches('/');
    if s.is_empty() || s.len() > 255 || !s.split('/').all(valid_component) {
        return Err(ImageNameError::Repository);
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_the_accepted_forms() {
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
        let cases: [Case; 6] = [
            ("deb:12", None, "deb", Some("12"), false),
            (
                "team/app/backend:v1.2_rc-3",
                None,
                "team/app/backend",
                Some("v1.2_rc-3"),
                false,
            ),
            ("alpine", None, "alpine", None, false),
            (
                "127.0.0.1:5000/team/app:1",
                Some("127.0.0.1:5000"),
                "team/app",
                Some("1"),
                false,
            ),
            ("library/nginx@DIGEST", None, "library/nginx", None, true),
            (
                "x/a.b__c--d/e:t@DIGEST",
                None,
                "x/a.b__c--d/e",
                Some("t"),
                true,
            ),
        ];
        for (input, host, repo, tag, digest) in cases {
            let input = input.replace("DIGEST", D);
            let name: ImageName = input.parse().unwrap();
            assert_eq!(name.host.as_deref(), host, "{input}");
            assert_eq!(name.repository, repo, "{input}");
            assert_eq!(name.tag.as_deref(), tag, "{input}");
            assert_eq!(name.digest.is_some(), digest, "{input}");
            assert_eq!(name.to_string(), input);
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "UPPER:1",
            "a//b",
            "/a",
            "a/",
            "a:",
            "a:-x",
            "a:b/c",
            "a@sha256:1234",
            "a b",
            "-a",
            "a..b",
            "a_-b",
            "..",
            "../../etc",
        ] {
            assert!(
                bad.parse::<ImageName>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        let long_tag = format!("a:{}", "t".repeat(129));
        assert!(long_tag.parse::<ImageName>().is_err());
    }

    #[test]
    fn references_in_the_credentials_registry() {
        let name: ImageName = "team/app:1".parse().unwrap();
        let r = name.reference("127.0.0.1:5000").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/team/app:1");
        let latest: ImageName = "team/app".parse().unwrap();
        assert_eq!(latest.manifest_reference(), "latest");
        let other: ImageName = "quay.io/team/app:1".parse().unwrap();
        assert!(matches!(
            other.reference("127.0.0.1:5000"),
            Err(ImageNameError::OtherRegistry { .. })
        ));
        let hub: ImageName = "docker.io/library/nginx:1".parse().unwrap();
        assert!(hub.reference("registry-1.docker.io").is_ok());
    }

    #[test]
    fn repositories() {
        assert_eq!(parse_repository("team/app").unwrap(), "team/app");
        assert!(parse_repository("Team").is_err());
        assert!(parse_repository("").is_err());
        assert!(parse_repository("a/../b").is_err());
    }
}
