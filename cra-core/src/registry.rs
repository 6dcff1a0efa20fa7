//! The [`Registry`] trait every adapter implements.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::blob::BlobStream;
use crate::digest::Digest;
use crate::error::{ErrorKind, RegistryError, Result};
use crate::kind::RegistryKind;
use crate::manifest::FetchedManifest;

/// Which page of a listing to fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The page size to ask for; the registry may return fewer.
    pub size: Option<u32>,
    /// The opaque cursor from the previous [`Page::next`]; `None` for the first page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page with the given size.
    pub fn first(size: Option<u32>) -> Self {
        Self { size, cursor: None }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The cursor of the next page, `None` on the last one.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// A tag with the metadata the registry exposes for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    /// The tag.
    pub tag: String,
    /// The manifest digest the tag points to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// When the tag was last pushed, RFC 3339, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_pushed: Option<String>,
}

impl TagInfo {
    /// A tag without metadata.
    pub fn bare(tag: impl Into<String>) -> Self {
        Self {
            tag: tag.into(),
            digest: None,
            last_pushed: None,
        }
    }
}

/// The most pages a `list_all_*` helper follows before giving up, so that a registry that
/// returns the same cursor forever cannot make us loop.
pub const MAX_PAGES: usize = 100_000;

/// A container registry: credentials check, listing, manifests and blobs.
///
/// Implementations live in `cra-registries`; this crate only names the contract.
/// Every method returns a [`RegistryError`] whose [`ErrorKind`] says what failed.
#[async_trait]
pub trait Registry: Send + Sync + fmt::Debug {
    /// The registry type.
    fn kind(&self) -> RegistryKind;

    /// The registry host (with port) as written in image references.
    fn host(&self) -> &str;

    /// Checks the credentials with one cheap call.
    async fn validate_credentials(&self) -> Result<()>;

    /// One page of repository names.
    async fn list_repositories(&self, page: &PageRequest) -> Result<Page<String>>;

    /// One page of the tags of `repository`.
    async fn list_tags(&self, repository: &str, page: &PageRequest) -> Result<Page<String>>;

    /// One page of tags with metadata; registries without a metadata API return bare tags.
    async fn list_tags_with_metadata(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        let tags = self.list_tags(repository, page).await?;
        Ok(Page {
            items: tags.items.into_iter().map(TagInfo::bare).collect(),
            next: tags.next,
        })
    }

    /// The manifest or index that `reference` (a tag or a digest) names, verified against the
    /// digest when `reference` is one.
    async fn fetch_manifest(&self, repository: &str, reference: &str) -> Result<FetchedManifest>;

    /// Streams a blob; the stream ends with a [`ErrorKind::DigestMismatch`] error if the content
    /// does not hash to `digest`, and with [`ErrorKind::TooLarge`] past `max_size` bytes.
    async fn fetch_blob(
        &self,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> Result<BlobStream>;

    /// Every repository, following pages to the end.
    async fn list_all_repositories(&self) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut page = PageRequest::default();
        for _ in 0..MAX_PAGES {
            let got = self.list_repositories(&page).await?;
            all.extend(got.items);
            match got.next {
                Some(next) if Some(&next) != page.cursor.as_ref() => page.cursor = Some(next),
                Some(_) => {
                    return Err(RegistryError::new(
                        ErrorKind::Protocol,
                        "repository listing returned the same page cursor twice",
                    ))
                }
                None => return Ok(all),
            }
        }
        Err(RegistryError::new(
            ErrorKind::Protocol,
            "repository listing did not end",
        ))
    }

    /// Every tag of `repository`, following pages to the end.
    async fn list_all_tags(&self, repository: &str) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut page = PageRequest::default();
        for _ in 0..MAX_PAGES {
            let got = self.list_tags(repository, &page).await?;
            all.extend(got.items);
            match got.next {
                Some(next) if Some(&next) != page.cursor.as_ref() => page.cursor = Some(next),
                Some(_) => {
                    return Err(RegistryError::new(
                        ErrorKind::Protocol,
                        "tag listing returned the same page cursor twice",
                    ))
                }
                None => return Ok(all),
            }
        }
        Err(RegistryError::new(
            ErrorKind::Protocol,
            "tag listing did not end",
        ))
    }
}
