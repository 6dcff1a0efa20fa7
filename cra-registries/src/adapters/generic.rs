//! A plain distribution registry: everything through the shared client, listing by `_catalog`.
//! It serves registries named by an image reference (`RegistryKind::Distribution`).

use async_trait::async_trait;
use cra_core::{Page, PageRequest, RegistryKind};

use super::vendor::{Adapter, Vendor};
use crate::distribution::Client;
use crate::error::Result;

/// Lists repositories with `/v2/_catalog`.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    /// What [`Vendor::kind`] reports.
    pub kind: RegistryKind,
}

#[async_trait]
impl Vendor for Catalog {
    fn kind(&self) -> RegistryKind {
        self.kind
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        client.catalog(page).await
    }
}

/// A plain distribution registry.
pub type Generic = Adapter<Catalog>;

/// A plain distribution registry of `kind` over `client`.
pub fn new(kind: RegistryKind, client: Client) -> Generic {
    Adapter::new(client, Catalog { kind })
}
