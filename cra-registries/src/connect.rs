//! The one `match` that turns credentials into a [`Registry`].

use std::sync::Arc;

use cra_core::{Registry, RegistryCredentials, RegistryError, RegistryKind, Secret};

use crate::adapters::Generic;
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::Error;

/// Connects to the registry that `creds` describe.
///
/// No request is sent yet; call [`Registry::validate_credentials`] to check the credentials.
pub async fn connect(
    creds: &RegistryCredentials,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>, RegistryError> {
    let (kind, registry_base, username, password) = match creds {
        RegistryCredentials::Ecr { .. } => {
            return Err(Error::Unsupported("ecr is not available in this build".into()).into())
        }
        RegistryCredentials::Basic {
            kind,
            registry_base,
            username,
            password,
        } => (*kind, registry_base, username, password),
    };
    let base = RegistryBase::parse(registry_base, opts.insecure_http)?;
    let client = Client::new(
        &base,
        "",
        Some(username.clone()),
        Some(password.clone()),
        opts,
    )?;
    let registry: Arc<dyn Registry> = match kind {
        RegistryKind::Nexus | RegistryKind::Distribution => Arc::new(Generic::new(kind, client)),
        other => {
            return Err(
                Error::Unsupported(format!("{other} is not available in this build")).into(),
            )
        }
    };
    Ok(registry)
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
    let client = Client::new(&base, "", username, password, opts)?;
    Ok(Arc::new(Generic::new(RegistryKind::Distribution, client)))
}
