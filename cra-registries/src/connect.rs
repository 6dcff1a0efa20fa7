//! The one `match` that turns credentials into a [`Registry`].

use std::sync::Arc;

use cra_core::{Registry, RegistryCredentials, RegistryError, RegistryKind, Secret};

use crate::adapters::{
    acr, artifactory, digitalocean, dockerhub, gar, gcr, generic as plain, github, gitlab, harbor,
    nexus, quay,
};
use crate::config::{ConnectOptions, RegistryBase};
use crate::error::{Error, Result};

/// Connects to the registry that `creds` describe.
///
/// Only ECR makes a call here (none, in fact: its role is assumed lazily); call
/// [`Registry::validate_credentials`] to check the credentials.
pub async fn connect(
    creds: &RegistryCredentials,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>, RegistryError> {
    Ok(match creds {
        RegistryCredentials::Ecr {
            role_arn,
            region,
            external_id,
            registry_base,
        } => {
            connect_ecr(
                role_arn,
                region,
                external_id.as_ref(),
                registry_base.as_deref(),
                opts,
            )
            .await?
        }
        RegistryCredentials::Basic {
            kind,
            registry_base,
            username,
            password,
        } => {
            let base = RegistryBase::parse(registry_base, opts.insecure_http)?;
            match kind {
                RegistryKind::Artifactory => artifactory::build(&base, username, password, opts)?,
                RegistryKind::Harbor => harbor::build(&base, username, password, opts)?,
                RegistryKind::Acr => acr::build(&base, username, password, opts)?,
                RegistryKind::Gcr => gcr::build(&base, username, password, opts)?,
                RegistryKind::GoogleArtifact => gar::build(&base, username, password, opts)?,
                RegistryKind::DockerHub => dockerhub::build(&base, username, password, opts)?,
                RegistryKind::Quay => quay::build(&base, username, password, opts)?,
                RegistryKind::Nexus => nexus::build(&base, username, password, opts)?,
                RegistryKind::GitHub => github::build(&base, username, password, opts)?,
                RegistryKind::DigitalOcean => digitalocean::build(&base, username, password, opts)?,
                RegistryKind::GitLab => gitlab::build(&base, username, password, opts)?,
                RegistryKind::Distribution => {
                    plain::build(&base, Some(username.clone()), Some(password.clone()), opts)?
                }
                RegistryKind::Ecr => {
                    return Err(Error::InvalidInput(
                        "ecr credentials need roleArn and extra.region".into(),
                    )
                    .into())
                }
            }
        }
    })
}

#[cfg(feature = "ecr")]
async fn connect_ecr(
    role_arn: &str,
    region: &str,
    external_id: Option<&Secret>,
    registry_base: Option<&str>,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    crate::adapters::ecr::connect(role_arn, region, external_id, registry_base, opts).await
}

#[cfg(not(feature = "ecr"))]
async fn connect_ecr(
    _role_arn: &str,
    _region: &str,
    _external_id: Option<&Secret>,
    _registry_base: Option<&str>,
    _opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    Err(Error::Unsupported(
        "this build has no ecr support (cargo feature `ecr`)".into(),
    ))
}

/// A plain distribution registry for `cra scan host/repo:tag`; `base` is `host[:port]` or
/// `http(s)://host[:port]`.
pub fn generic(
    base: &str,
    username: Option<String>,
    password: Option<Secret>,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>, RegistryError> {
    let base = RegistryBase::parse(base, opts.insecure_http)?;
    Ok(plain::build(&base, username, password, opts)?)
}
