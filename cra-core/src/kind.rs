//! [`RegistryKind`]: the registry types, and the one table that spells their names.
//!
//! Every name the product knows (`CR_TYPE`, the `type` of `CR_CREDENTIALS`, serde, `cra list --type`)
//! comes from [`RegistryKind::as_str`], which reads the table below; parsing and the
//! unknown-type message read the same table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The twelve registry types, named as the product names them in `CR_TYPE`, plus
/// [`RegistryKind::Distribution`] for a registry named only by an image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegistryKind {
    /// JFrog Artifactory / JFrog Container Registry (`artifactory-cr`).
    Artifactory,
    /// Harbor 2.x (`harbor-cr`).
    Harbor,
    /// Azure Container Registry (`acr`).
    Acr,
    /// Google Container Registry (`gcr`).
    Gcr,
    /// Amazon Elastic Container Registry (`ecr`).
    Ecr,
    /// Google Artifact Registry (`google-artifact-cr`).
    GoogleArtifact,
    /// Docker Hub (`docker-hub`).
    DockerHub,
    /// Red Hat Quay / quay.io (`quay-cr`).
    Quay,
    /// Sonatype Nexus Repository 3 (`nexus-cr`).
    Nexus,
    /// GitHub Container Registry (`github-cr`).
    GitHub,
    /// DigitalOcean Container Registry (`digitalocean-cr`).
    DigitalOcean,
    /// GitLab Container Registry (`gitlab-cr`).
    GitLab,
    /// A plain OCI distribution registry named by an image reference (`cra scan host/repo:tag`);
    /// not one of the product's `CR_TYPE`s, so [`RegistryKind::ALL`] and `FromStr` leave it out
    /// (serde reads and writes it as `distribution`).
    Distribution,
}

/// The names, in declaration order of the enum (checked by a test), so that a kind indexes its row.
/// The first twelve rows are the product's types in its documented order.
const TABLE: [(RegistryKind, &str); 13] = [
    (RegistryKind::Artifactory, "artifactory-cr"),
    (RegistryKind::Harbor, "harbor-cr"),
    (RegistryKind::Acr, "acr"),
    (RegistryKind::Gcr, "gcr"),
    (RegistryKind::Ecr, "ecr"),
    (RegistryKind::GoogleArtifact, "google-artifact-cr"),
    (RegistryKind::DockerHub, "docker-hub"),
    (RegistryKind::Quay, "quay-cr"),
    (RegistryKind::Nexus, "nexus-cr"),
    (RegistryKind::GitHub, "github-cr"),
    (RegistryKind::DigitalOcean, "digitalocean-cr"),
    (RegistryKind::GitLab, "gitlab-cr"),
    (RegistryKind::Distribution, "distribution"),
];

/// Every name serde accepts, for its "expected one of" message.
const SERDE_NAMES: [&str; 13] = {
    let mut names = [""; 13];
    let mut i = 0;
    while i < TABLE.len() {
        names[i] = TABLE[i].1;
        i += 1;
    }
    names
};

/// The alias the stock entrypoint also accepts for ECR in `CR_TYPE`.
const ECR_ALIAS: &str = "ElasticCR";

impl RegistryKind {
    /// The product's twelve types, in its documented order.
    pub const ALL: [RegistryKind; 12] = {
        let mut all = [RegistryKind::Distribution; 12];
        let mut i = 0;
        while i < all.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    /// The product's name for the kind (`artifactory-cr`, `ecr`, …).
    pub fn as_str(self) -> &'static str {
        TABLE[self as usize].1
    }

    /// The product's twelve names, in its documented order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.into_iter().map(Self::as_str)
    }
}

impl fmt::Display for RegistryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of the twelve registry types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown registry type {name:?}; expected one of {}", RegistryKind::names().collect::<Vec<_>>().join(", "))]
pub struct UnknownKind {
    /// The name that was given.
    pub name: String,
}

impl FromStr for RegistryKind {
    type Err = UnknownKind;

    /// Parses one of the twelve product names, or `ElasticCR` for ECR as the stock entrypoint does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == ECR_ALIAS {
            return Ok(RegistryKind::Ecr);
        }
        RegistryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind { name: s.to_owned() })
    }
}

impl Serialize for RegistryKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegistryKind {
    /// Reads exactly the names [`Serialize`] writes (the twelve and `distribution`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        TABLE
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(kind, _)| *kind)
            .ok_or_else(|| serde::de::Error::unknown_variant(&name, &SERDE_NAMES))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_follow_the_enum() {
        for (i, (kind, _)) in TABLE.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{kind:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in RegistryKind::ALL {
            assert_eq!(kind.as_str().parse::<RegistryKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<RegistryKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            "ElasticCR".parse::<RegistryKind>().unwrap(),
            RegistryKind::Ecr
        );
        assert!("distribution".parse::<RegistryKind>().is_err());
        assert_eq!(RegistryKind::Distribution.to_string(), "distribution");
        assert_eq!(
            serde_json::from_str::<RegistryKind>("\"distribution\"").unwrap(),
            RegistryKind::Distribution
        );
    }

    #[test]
    fn serde_names_are_the_product_names() {
        let names: Vec<_> = RegistryKind::names().collect();
        assert_eq!(
            names,
            [
                "artifactory-cr",
                "harbor-cr",
                "acr",
                "gcr",
                "ecr",
                "google-artifact-cr",
                "docker-hub",
                "quay-cr",
                "nexus-cr",
                "github-cr",
                "digitalocean-cr",
                "gitlab-cr"
            ]
        );
        // serde keeps rejecting what it rejected before: the ECR alias and unknown names.
        for bad in ["\"ElasticCR\"", "\"dockerhub\"", "\"Harbor\""] {
            let err = serde_json::from_str::<RegistryKind>(bad).unwrap_err();
            assert!(err.to_string().contains("unknown variant"), "{bad}: {err}");
        }
    }

    #[test]
    fn unknown_name_lists_the_twelve() {
        let err = "dockerhub".parse::<RegistryKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown registry type \"dockerhub\"; expected one of artifactory-cr, harbor-cr, acr, gcr, ecr, google-artifact-cr, docker-hub, quay-cr, nexus-cr, github-cr, digitalocean-cr, gitlab-cr"
        );
    }
}
