//! A plain distribution registry: everything through the shared client, listing by `_catalog`.
//! It serves registries named by an image reference (`RegistryKind::Distribution`).

use async_trait::async_trait;
use cra_core::RegistryKind;

use super::vendor::{Adapter, Vendor};
use crate::distribution::Client;

/// Lists repositories with `/v2/_catalog`, the [`Vendor`] default.
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
}

/// A plain distribution registry.
pub type Generic = Adapter<Catalog>;

/// A plain distribution registry of `kind` over `client`.
pub fn new(kind: RegistryKind, client: Client) -> Generic {
    Adapter::new(client, Catalog { kind })
}
