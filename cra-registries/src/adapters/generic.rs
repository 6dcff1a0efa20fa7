//! A plain distribution registry: everything through the shared client, listing by `_catalog`.
//! It serves registries named by an image reference (`RegistryKind::Distribution`).

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Registry, RegistryKind, Secret};

use super::vendor::{Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::Result;

/// Lists repositories with `/v2/_catalog`, the [`Vendor`] default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Catalog;

#[async_trait]
impl Vendor for Catalog {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Distribution
    }
}

/// Builds the adapter; credentials are optional.
pub(crate) fn build(
    base: &RegistryBase,
    username: Option<String>,
    password: Option<Secret>,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::new(base, "", username, password, opts)?;
    Ok(Arc::new(Adapter::new(client, Catalog)))
}
