//! The `CR_*` settings of a broker client, and the [`RegistryCredentials`] they describe, with
//! the stock deployment's rules and messages: `CR_TYPE` picks the form (`ElasticCR` is ECR),
//! DigitalOcean takes its token as both user name and password, and ECR's external id is
//! optional.

use std::fmt;

use super::{CredentialsError, RegistryCredentials, Secret};
use crate::kind::RegistryKind;

/// The `CR_*` settings, each as given (empty counts as unset).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryVariables {
    /// `CR_TYPE`.
    pub kind: Option<String>,
    /// `CR_BASE`.
    pub base: Option<String>,
    /// `CR_USERNAME`.
    pub username: Option<String>,
    /// `CR_PASSWORD`.
    pub password: Option<Secret>,
    /// `CR_TOKEN` (DigitalOcean).
    pub token: Option<Secret>,
    /// `CR_ROLE_ARN` (ECR).
    pub role_arn: Option<String>,
    /// `CR_REGION` (ECR).
    pub region: Option<String>,
    /// `CR_EXTERNAL_ID` (ECR, optional).
    pub external_id: Option<Secret>,
}

impl fmt::Debug for RegistryVariables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryVariables")
            .field("kind", &self.kind)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn set_secret(value: &Option<Secret>) -> Option<&str> {
    value
        .as_ref()
        .map(|s| s.expose().trim())
        .filter(|v| !v.is_empty())
}

impl RegistryVariables {
    /// The credentials these settings describe.
    pub fn credentials(&self) -> Result<RegistryCredentials, CredentialsError> {
        let kind: RegistryKind = set(&self.kind).ok_or(CredentialsError::NoType)?.parse()?;
        let missing = |needs| CredentialsError::MissingVariables { kind, needs };
        if kind == RegistryKind::Ecr {
            let (Some(role_arn), Some(region)) = (set(&self.role_arn), set(&self.region)) else {
                return Err(missing("CR_ROLE_ARN and CR_REGION."));
            };
            return Ok(RegistryCredentials::Ecr {
                role_arn: role_arn.to_owned(),
                region: region.to_owned(),
                external_id: set_secret(&self.external_id).map(Secret::new),
                // As in the stock deployment, `CR_BASE` plays no part for ECR: the agent finds
                // the registry from the role's account and the region.
                registry_base: None,
            });
        }
        let (username, password) = if kind == RegistryKind::DigitalOcean {
            let token = set_secret(&self.token).ok_or_else(|| missing("CR_TOKEN."))?;
            (token.to_owned(), token.to_owned())
        } else {
            let (Some(username), Some(password)) =
                (set(&self.username), set_secret(&self.password))
            else {
                return Err(missing("CR_USERNAME,CR_PASSWORD."));
            };
            (username.to_owned(), password.to_owned())
        };
        let base = set(&self.base).ok_or_else(|| missing("CR_BASE."))?;
        Ok(RegistryCredentials::Basic {
            kind,
            registry_base: base.to_owned(),
            username,
            password: Secret::new(password),
        })
    }

    /// The settings that are set, by their variable name, for a broker's substitutions.
    pub fn by_name(&self) -> Vec<(&'static str, String)> {
        [
            ("CR_TYPE", set(&self.kind)),
            ("CR_BASE", set(&self.base)),
            ("CR_USERNAME", set(&self.username)),
            ("CR_PASSWORD", set_secret(&self.password)),
            ("CR_TOKEN", set_secret(&self.token)),
            ("CR_ROLE_ARN", set(&self.role_arn)),
            ("CR_REGION", set(&self.region)),
            ("CR_EXTERNAL_ID", set_secret(&self.external_id)),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?.to_owned())))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(kind: &str) -> RegistryVariables {
        RegistryVariables {
            kind: Some(kind.into()),
            base: Some("registry.example:5000".into()),
            username: Some("labuser".into()),
            password: Some(Secret::new("p@ss")),
            token: Some(Secret::new("dop_v1")),
            role_arn: Some("arn:aws:iam::1:role/r".into()),
            region: Some("eu-west-1".into()),
            external_id: Some(Secret::new("ext")),
        }
    }

    #[test]
    fn every_type_builds_credentials_the_agent_reads_back() {
        for kind in RegistryKind::ALL {
            let built = variables(kind.as_str()).credentials().unwrap();
            assert_eq!(built.kind(), kind);
            assert_eq!(
                RegistryCredentials::from_base64(&built.to_base64()).unwrap(),
                built
            );
        }
        assert_eq!(
            variables("ElasticCR").credentials().unwrap(),
            variables("ecr").credentials().unwrap()
        );
        let RegistryCredentials::Basic {
            username, password, ..
        } = variables("digitalocean-cr").credentials().unwrap()
        else {
            panic!("digitalocean is basic")
        };
        assert_eq!((username.as_str(), password.expose()), ("dop_v1", "dop_v1"));
    }

    #[test]
    fn ecr_takes_its_external_id_as_optional() {
        let mut ecr = variables("ecr");
        ecr.external_id = None;
        let built = ecr.credentials().unwrap();
        assert!(matches!(
            built,
            RegistryCredentials::Ecr {
                external_id: None,
                registry_base: None,
                ..
            }
        ));
        ecr.external_id = Some(Secret::new(""));
        assert_eq!(ecr.credentials().unwrap(), built);
    }

    #[test]
    fn missing_settings_give_the_stock_messages() {
        let message = |v: RegistryVariables| v.credentials().unwrap_err().to_string();
        let mut ecr = variables("ecr");
        ecr.region = None;
        assert_eq!(
            message(ecr),
            "ecr requires the following parameters: CR_ROLE_ARN and CR_REGION."
        );
        let mut doc = variables("digitalocean-cr");
        doc.token = Some(Secret::new(" "));
        assert_eq!(
            message(doc),
            "digitalocean-cr requires the following parameters: CR_TOKEN."
        );
        let mut acr = variables("acr");
        acr.password = None;
        assert_eq!(
            message(acr),
            "acr requires the following parameters: CR_USERNAME,CR_PASSWORD."
        );
        let mut harbor = variables("harbor-cr");
        harbor.base = None;
        assert_eq!(
            message(harbor),
            "harbor-cr requires the following parameters: CR_BASE."
        );
        assert!(message(variables("nope")).contains("unknown registry type \"nope\""));
        assert!(message(RegistryVariables::default()).starts_with("CR_TYPE is required"));
    }

    #[test]
    fn settings_by_name_and_debug_without_secrets() {
        let mut v = variables("acr");
        v.token = None;
        let names: Vec<&str> = v.by_name().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "CR_TYPE",
                "CR_BASE",
                "CR_USERNAME",
                "CR_PASSWORD",
                "CR_ROLE_ARN",
                "CR_REGION",
                "CR_EXTERNAL_ID"
            ]
        );
        let shown = format!("{v:?}");
        assert!(!shown.contains("p@ss") && !shown.contains("labuser") && !shown.contains("ext"));
    }
}
