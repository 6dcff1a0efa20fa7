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
