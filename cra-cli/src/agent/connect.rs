//! How the agent turns the credentials of one request into a registry client.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Registry, RegistryCredentials, RegistryError};

/// Builds a registry client from the credentials a request carries; nothing is cached, so the
/// agent holds no credentials between requests.
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    /// A client for the registry the credentials name.
    async fn connect(
        &self,
        credentials: &RegistryCredentials,
    ) -> Result<Arc<dyn Registry>, RegistryError>;
}

/// The real connector: `cra_registries::connect` with the agent's CA bundle.
#[derive(Debug, Clone)]
pub struct Registries {
    options: cra_registries::ConnectOptions,
}

impl Registries {
    /// A connector trusting the settings' extra CA bundle.
    pub fn new(settings: &crate::agent::settings::Settings) -> Self {
        Registries {
            options: cra_registries::ConnectOptions {
                ca_bundle: settings.ca_bundle.clone(),
                user_agent: Some(concat!("cra-agent/", env!("CARGO_PKG_VERSION")).to_owned()),
                ..cra_registries::ConnectOptions::default()
            },
        }
    }
}

#[async_trait]
impl Connector for Registries {
    async fn connect(
        &self,
        credentials: &RegistryCredentials,
    ) -> Result<Arc<dyn Registry>, RegistryError> {
        cra_registries::connect(credentials, &self.options).await
    }
}
