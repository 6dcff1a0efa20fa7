//! A plain distribution registry: everything through the shared client, listing by `_catalog`.

use async_trait::async_trait;
use cra_core::{
    BlobStream, Digest, FetchedManifest, Page, PageRequest, Registry, RegistryKind, Result,
};

use crate::distribution::Client;

/// A registry that speaks only the distribution API.
#[derive(Debug)]
pub struct Generic {
    kind: RegistryKind,
    client: Client,
}

impl Generic {
    /// Wraps `client`; `kind` is what [`Registry::kind`] reports.
    pub fn new(kind: RegistryKind, client: Client) -> Generic {
        Generic { kind, client }
    }

    /// The shared client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Registry for Generic {
    fn kind(&self) -> RegistryKind {
        self.kind
    }

    fn host(&self) -> &str {
        self.client.host()
    }

    async fn validate_credentials(&self) -> Result<()> {
        Ok(self.client.ping().await?)
    }

    async fn list_repositories(&self, page: &PageRequest) -> Result<Page<String>> {
        Ok(self.client.catalog(page).await?)
    }

    async fn list_tags(&self, repository: &str, page: &PageRequest) -> Result<Page<String>> {
        Ok(self.client.tags(repository, page).await?)
    }

    async fn fetch_manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest> {
        Ok(self.client.manifest(repository, reference).await?)
    }

    async fn fetch_blob(
        &self,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> Result<BlobStream> {
        Ok(self.client.blob(repository, digest, max_size).await?)
    }
}
