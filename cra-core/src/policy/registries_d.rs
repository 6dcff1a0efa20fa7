//! containers-registries.d: where signatures of an image are looked up.
//!
//! The YAML files are read by the IO side into [`RegistriesFile`]s and merged here.
//! As in containers/image, a scope may be configured once across all files, the most specific
//! scope that sets a value wins, and a section without a lookaside falls through to the next one.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::identity::DockerIdentity;
use super::{scope, PolicyError};
use crate::digest::Digest;

/// One configuration section (`default-docker`, or a value under `docker`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Section {
    /// The signature storage read from.
    pub lookaside: Option<String>,
    /// The storage written to; never read by cra.
    #[serde(rename = "lookaside-staging")]
    pub lookaside_staging: Option<String>,
    /// The legacy name of `lookaside`.
    pub sigstore: Option<String>,
    /// The legacy name of `lookaside-staging`.
    #[serde(rename = "sigstore-staging")]
    pub sigstore_staging: Option<String>,
    /// Whether sigstore attachments (`sha256-<hex>.sig` tags) are read.
    #[serde(rename = "use-sigstore-attachments")]
    pub use_sigstore_attachments: Option<bool>,
}

impl Section {
    /// The read location: `lookaside`, else the legacy `sigstore`.
    fn read_location(&self) -> Option<&str> {
        self.lookaside
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.sigstore.as_deref().filter(|s| !s.is_empty()))
    }
}

/// One YAML file of the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RegistriesFile {
    /// The section for every docker registry without a more specific one.
    #[serde(rename = "default-docker")]
    pub default_docker: Option<Section>,
    /// Sections per scope (host, namespace, repository, reference).
    pub docker: Option<BTreeMap<String, Section>>,
}

/// The merged configuration of a `registries.d` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesD {
    default_docker: Option<Section>,
    docker: BTreeMap<String, Section>,
}

impl RegistriesD {
    /// Merges files (named for errors); a scope or `default-docker` in two files is an error.
    pub fn merge(
        files: impl IntoIterator<Item = (String, RegistriesFile)>,
    ) -> Result<Self, PolicyError> {
        let mut out = Self::default();
        for (file, parsed) in files {
            if let Some(section) = parsed.default_docker {
                if out.default_docker.is_some() {
                    return Err(PolicyError::DuplicateSection {
                        scope: "default-docker".into(),
                        file,
                    });
                }
                out.default_docker = Some(section);
            }
            for (name, section) in parsed.docker.unwrap_or_default() {
                if !scope::valid(&name) {
                    return Err(PolicyError::Scope(name));
                }
                if out.docker.contains_key(&name) {
                    return Err(PolicyError::DuplicateSection { scope: name, file });
                }
                out.docker.insert(name, section);
            }
        }
        Ok(out)
    }

    fn sections<'a>(&'a self, image: &DockerIdentity) -> impl Iterator<Item = &'a Section> + 'a {
        let scoped: Vec<&Section> = scope::candidates(image)
            .iter()
            .filter_map(|c| self.docker.get(c))
            .collect();
        scoped.into_iter().chain(self.default_docker.iter())
    }

    /// The lookaside base URL for `image`, if any section sets one.
    pub fn lookaside(&self, image: &DockerIdentity) -> Option<&str> {
        self.sections(image).find_map(Section::read_location)
    }

    /// Whether sigstore attachments are read for `image` (off unless a section says so).
    pub fn use_sigstore_attachments(&self, image: &DockerIdentity) -> bool {
        self.sections(image)
            .find_map(|s| s.use_sigstore_attachments)
            .unwrap_or(false)
    }
}

/// The URL of the `index`th (from 1) signature of the manifest `digest` below a lookaside base:
/// `<base>/<repository path>@<algorithm>=<hex>/signature-<index>`.
pub fn lookaside_signature_url(
    base: &str,
    image: &DockerIdentity,
    digest: &Digest,
    index: usize,
) -> String {
    format!(
        "{}/{}@{}={}/signature-{index}",
        base.trim_end_matches('/'),
        image.repository(),
        digest.algorithm().as_str(),
        digest.hex()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DockerIdentity {
        s.parse().unwrap()
    }

    fn section(lookaside: Option<&str>, sigstore: Option<&str>, attach: Option<bool>) -> Section {
        Section {
            lookaside: lookaside.map(str::to_owned),
            sigstore: sigstore.map(str::to_owned),
            use_sigstore_attachments: attach,
            ..Section::default()
        }
    }

    #[test]
    fn the_most_specific_section_with_a_value_wins() {
        let a = RegistriesFile {
            default_docker: Some(section(Some("file:///d"), None, Some(false))),
            docker: None,
        };
        let b = RegistriesFile {
            default_docker: None,
            docker: Some(BTreeMap::from([
                (
                    "r.example:5000".into(),
                    section(None, Some("https://legacy"), None),
                ),
                (
                    "r.example:5000/team".into(),
                    section(None, None, Some(true)),
                ),
                (
                    "r.example:5000/team/app".into(),
                    section(Some("https://app"), None, None),
                ),
            ])),
        };
        let d = RegistriesD::merge([("a.yaml".into(), a), ("b.yaml".into(), b)]).unwrap();
        assert_eq!(
            d.lookaside(&id("r.example:5000/team/app:1")),
            Some("https://app")
        );
        assert_eq!(
            d.lookaside(&id("r.example:5000/team/x:1")),
            Some("https://legacy")
        );
        assert_eq!(d.lookaside(&id("other.example/x:1")), Some("file:///d"));
        assert!(d.use_sigstore_attachments(&id("r.example:5000/team/app:1")));
        assert!(!d.use_sigstore_attachments(&id("r.example:5000/x:1")));
        assert!(!RegistriesD::default().use_sigstore_attachments(&id("r.example/x:1")));
    }

    #[test]
    fn a_scope_in_two_files_is_refused() {
        let f = || RegistriesFile {
            default_docker: Some(Section::default()),
            docker: None,
        };
        let err = RegistriesD::merge([("a.yaml".into(), f()), ("b.yaml".into(), f())]);
        assert!(matches!(err, Err(PolicyError::DuplicateSection { .. })));
    }

    #[test]
    fn signature_urls_follow_the_lookaside_layout() {
        let digest: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert_eq!(
            lookaside_signature_url("file:///s/", &id("r.example:5000/team/app:1"), &digest, 2),
            format!("file:///s/team/app@sha256={}/signature-2", "ab".repeat(32))
        );
    }
}
