//! Which platform of an image is scanned, the same rules for every transport.
//!
//! - An index (or an archive holding several images) is narrowed to the requested platform.
//!   Attestation manifests (`vnd.docker.reference.type: attestation-manifest`, platform
//!   `unknown/unknown`) are never candidates and never count as a platform.
//! - When the platform was not asked for explicitly and the image has exactly one platform,
//!   that platform is scanned, with a warning, whatever the default is.
//! - When it was asked for explicitly, an image of any other platform is refused with
//!   [`ScanError::PlatformUnavailable`].
//! - The platform finally checked is the one the image's config states, so a single-platform
//!   image (a manifest without an index, a `docker save` archive) follows the same rules.

use cra_core::manifest::is_attestation;
use cra_core::Platform;
use oci_spec::image::Descriptor;

use crate::error::ScanError;

/// The platform a scan wants, and whether it was asked for explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// The platform.
    pub(crate) platform: Platform,
    /// Refuse an image of another platform instead of scanning its only one.
    pub(crate) required: bool,
}

impl Wanted {
    /// Whether `found` is the wanted platform; a variant is compared only when both say one.
    pub(crate) fn accepts(&self, found: &Platform) -> bool {
        let wanted = &self.platform;
        found.os == wanted.os
            && found.architecture == wanted.architecture
            && (wanted.variant.is_none()
                || found.variant.is_none()
                || found.variant == wanted.variant)
    }

    /// Checks the platform the resolved image's config states: `Ok(None)` when it is the wanted
    /// one, a warning when it is not but was scanned anyway, an error when a platform was
    /// required.
    pub(crate) fn check(&self, found: &Platform) -> Result<Option<String>, ScanError> {
        if self.accepts(found) {
            return Ok(None);
        }
        if self.required {
            return Err(self.unavailable(vec![found.clone()]));
        }
        let warning = format!(
            "the image is for {found} only; scanned it instead of the default platform {}",
            self.platform
        );
        tracing::warn!("{warning}");
        Ok(Some(warning))
    }

    fn unavailable(&self, available: Vec<Platform>) -> ScanError {
        ScanError::PlatformUnavailable {
            requested: self.platform.clone(),
            available,
        }
    }

    /// Picks one of `candidates` (each with its platform when known, attestations already
    /// left out): the only one when it states no platform, else the first of the wanted
    /// platform, else, unless a platform is required, the first of the only platform there is.
    pub(crate) fn choose<T>(&self, candidates: Vec<(T, Option<Platform>)>) -> Result<T, ScanError> {
        if candidates.len() == 1 && candidates[0].1.is_none() {
            return candidates
                .into_iter()
                .next()
                .map(|(item, _)| item)
                .ok_or_else(|| self.unavailable(Vec::new()));
        }
        let mut available: Vec<Platform> = Vec::new();
        for p in candidates.iter().filter_map(|(_, p)| p.as_ref()) {
            if !available.contains(p) {
                available.push(p.clone());
            }
        }
        let position = candidates
            .iter()
            .position(|(_, p)| p.as_ref().is_some_and(|p| self.accepts(p)))
            .or_else(|| {
                // The image's only platform; the final check warns that it is not the default.
                (!self.required && available.len() == 1)
                    .then(|| candidates.iter().position(|(_, p)| p.is_some()))
                    .flatten()
            });
        match position {
            Some(i) => candidates
                .into_iter()
                .nth(i)
                .map(|(item, _)| item)
                .ok_or_else(|| self.unavailable(available)),
            None => Err(self.unavailable(available)),
        }
    }
}

/// The entries of an index that are images (or nested indexes), with their declared platforms;
/// attestation manifests are left out.
pub(crate) fn candidates(entries: &[Descriptor]) -> Vec<(Descriptor, Option<Platform>)> {
    entries
        .iter()
        .filter(|d| !is_attestation(d))
        .map(|d| (d.clone(), Platform::of_descriptor(d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    fn wanted(platform: &str, required: bool) -> Wanted {
        Wanted {
            platform: p(platform),
            required,
        }
    }

    #[test]
    fn the_wanted_platform_or_the_only_one_unless_required() {
        let two = || {
            vec![
                ("amd", Some(p("linux/amd64"))),
                ("arm", Some(p("linux/arm64"))),
            ]
        };
        assert_eq!(wanted("linux/amd64", false).choose(two()).unwrap(), "amd");
        assert_eq!(wanted("linux/arm64/v8", true).choose(two()).unwrap(), "arm");
        let err = wanted("linux/s390x", false).choose(two()).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("available: linux/amd64, linux/arm64/v8"),
            "{err}"
        );

        let only_arm = || {
            vec![
                ("arm", Some(p("linux/arm64"))),
                ("arm again", Some(p("linux/arm64/v8"))),
            ]
        };
        assert_eq!(
            wanted("linux/amd64", false).choose(only_arm()).unwrap(),
            "arm"
        );
        let err = wanted("linux/amd64", true).choose(only_arm()).unwrap_err();
        assert!(matches!(
            &err,
            ScanError::PlatformUnavailable { available, .. } if available == &[p("linux/arm64")]
        ));

        // One entry without a platform is taken; its config is checked afterwards.
        assert_eq!(
            wanted("linux/amd64", true)
                .choose(vec![("x", None)])
                .unwrap(),
            "x"
        );
        let none: Vec<(&str, Option<Platform>)> = Vec::new();
        assert!(wanted("linux/amd64", false).choose(none).is_err());
        let unknown = vec![("a", None), ("b", None)];
        assert!(wanted("linux/amd64", false).choose(unknown).is_err());
    }

    #[test]
    fn the_config_platform_is_checked() {
        let default = wanted("linux/amd64", false);
        assert_eq!(default.check(&p("linux/amd64")).unwrap(), None);
        let warning = default.check(&p("linux/arm64")).unwrap().unwrap();
        assert!(warning.contains("linux/arm64/v8 only"), "{warning}");
        assert!(wanted("linux/amd64", true)
            .check(&p("linux/arm64"))
            .is_err());
        // A variant is compared only when both sides state one.
        assert!(wanted("linux/arm", true)
            .check(&p("linux/arm/v7"))
            .unwrap()
            .is_none());
        assert!(wanted("linux/arm/v7", true)
            .check(&Platform::new("linux", "arm", None))
            .unwrap()
            .is_none());
        assert!(wanted("linux/arm/v6", true)
            .check(&p("linux/arm/v7"))
            .is_err());
    }
}
