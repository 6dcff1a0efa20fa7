//! What an adapter supplies ([`Vendor`]) and the [`Adapter`] that turns it into a [`Registry`]:
//! listing, metadata, credential checks and name quirks come from the vendor, manifests and
//! blobs always from the shared distribution client.

use std::borrow::Cow;

use async_trait::async_trait;
use cra_core::{
    BlobStream, Digest, FetchedManifest, Page, PageRequest, Registry, RegistryKind, TagInfo,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::config::ConnectOptions;
use crate::distribution::Client;
use crate::error::{Error, Result};

/// The registry-specific part of an adapter.
#[async_trait]
pub(crate) trait Vendor: Send + Sync + std::fmt::Debug + 'static {
    /// The registry type.
    fn kind(&self) -> RegistryKind;

    /// Checks the credentials with one cheap, authenticated call.
    async fn validate(&self, client: &Client) -> Result<()> {
        client.ping().await
    }

    /// One page of repository names; the distribution `_catalog` unless the vendor knows better.
    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        client.catalog(page).await
    }

    /// One page of tags; the distribution `tags/list` unless the vendor knows better.
    async fn tags(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<String>> {
        client.tags(repository, page).await
    }

    /// One page of tags with metadata; bare tags unless the vendor has a metadata API.
    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        Ok(self
            .tags(client, repository, page)
            .await?
            .map(TagInfo::bare))
    }

    /// The repository name as the registry spells it (Docker Hub's `library/` prefix).
    fn repository<'a>(&self, name: &'a str) -> Cow<'a, str> {
        Cow::Borrowed(name)
    }
}

/// The tags of `tags/list`, without metadata: what a vendor falls back to when its own API
/// cannot say more.
pub(super) async fn bare_tags(
    client: &Client,
    repository: &str,
    page: &PageRequest,
) -> Result<Page<TagInfo>> {
    Ok(client.tags(repository, page).await?.map(TagInfo::bare))
}

/// A [`Registry`] made of the shared client and a [`Vendor`].
#[derive(Debug)]
pub(crate) struct Adapter<V> {
    client: Client,
    vendor: V,
}

impl<V: Vendor> Adapter<V> {
    /// Combines `client` and `vendor`.
    pub(crate) fn new(client: Client, vendor: V) -> Adapter<V> {
        Adapter { client, vendor }
    }
}

#[async_trait]
impl<V: Vendor> Registry for Adapter<V> {
    fn kind(&self) -> RegistryKind {
        self.vendor.kind()
    }

    fn host(&self) -> &str {
        self.client.host()
    }

    async fn validate_credentials(&self) -> cra_core::Result<()> {
        Ok(self.vendor.validate(&self.client).await?)
    }

    async fn list_repositories(&self, page: &PageRequest) -> cra_core::Result<Page<String>> {
        Ok(self.vendor.repositories(&self.client, page).await?)
    }

    async fn list_tags(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> cra_core::Result<Page<String>> {
        let repository = self.vendor.repository(repository);
        Ok(self.vendor.tags(&self.client, &repository, page).await?)
    }

    async fn list_tags_with_metadata(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> cra_core::Result<Page<TagInfo>> {
        let repository = self.vendor.repository(repository);
        Ok(self
            .vendor
            .tags_with_metadata(&self.client, &repository, page)
            .await?)
    }

    async fn fetch_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> cra_core::Result<FetchedManifest> {
        let repository = self.vendor.repository(repository);
        Ok(self.client.manifest(&repository, reference).await?)
    }

    async fn fetch_blob(
        &self,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> cra_core::Result<BlobStream> {
        let repository = self.vendor.repository(repository);
        Ok(self.client.blob(&repository, digest, max_size).await?)
    }
}

/// Characters escaped in one path segment of a vendor REST URL: everything but unreserved
/// characters, so `/` becomes `%2F`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `s` as one URL path segment (`team/api` → `team%2Fapi`).
pub(crate) fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The vendor REST API root: the override from [`ConnectOptions::api_base_override`], else
/// `default`; always ends with `/`.
pub(crate) fn api_root(opts: &ConnectOptions, default: &str) -> Result<Url> {
    let raw = opts.api_base_override.as_deref().unwrap_or(default);
    let with_slash = if raw.ends_with('/') {
        raw.to_owned()
    } else {
        format!("{raw}/")
    };
    Url::parse(&with_slash)
        .map_err(|e| Error::InvalidInput(format!("invalid API base {raw:?}: {e}")))
}

/// Joins a relative path to an API root.
pub(crate) fn api_url(root: &Url, path: &str) -> Result<Url> {
    root.join(path.trim_start_matches('/'))
        .map_err(|e| Error::InvalidInput(format!("cannot build an API URL from {path:?}: {e}")))
}

/// Checks that a next-page URL (a vendor `next` link or a caller's cursor) stays under `root`,
/// and returns it parsed.
pub(crate) fn confined(root: &Url, next: &str) -> Result<Url> {
    let url = root
        .join(next)
        .map_err(|_| Error::InvalidInput(format!("invalid page cursor {next:?}")))?;
    if url.origin() != root.origin() || !url.path().starts_with(root.path()) {
        return Err(Error::InvalidInput(format!(
            "page cursor {} leaves the API at {}",
            crate::distribution::request::redact(&url),
            root
        )));
    }
    Ok(url)
}

/// Parses a numeric page cursor (1-based), defaulting to the first page.
pub(crate) fn page_number(cursor: Option<&str>) -> Result<u32> {
    match cursor {
        None => Ok(1),
        Some(c) => c
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| Error::InvalidInput(format!("invalid page cursor {c:?}"))),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time in milliseconds; `None` when it is outside the calendar's
/// range (a vendor's value is untrusted).
pub(crate) fn rfc3339_from_millis(ms: i64) -> Option<String> {
    let when = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()?;
    when.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_roots() {
        assert_eq!(segment("team/api v2"), "team%2Fapi%20v2");
        assert_eq!(segment("a-b_c.d~e"), "a-b_c.d~e");
        let opts = ConnectOptions::default();
        assert_eq!(
            api_root(&opts, "https://api.example").unwrap().as_str(),
            "https://api.example/"
        );
        let opts = ConnectOptions {
            api_base_override: Some("http://127.0.0.1:9/api/v4".into()),
            ..ConnectOptions::default()
        };
        let root = api_root(&opts, "https://gitlab.com/api/v4").unwrap();
        assert_eq!(
            api_url(&root, "/groups/x").unwrap().as_str(),
            "http://127.0.0.1:9/api/v4/groups/x"
        );
    }

    #[test]
    fn cursors_stay_under_the_api() {
        let root = Url::parse("https://hub.example/v2/").unwrap();
        assert!(confined(
            &root,
            "https://hub.example/v2/namespaces/x/repositories?page=2"
        )
        .is_ok());
        for bad in [
            "https://evil.example/v2/x",
            "http://hub.example/v2/x",
            "https://hub.example/other",
        ] {
            assert!(confined(&root, bad).is_err(), "{bad}");
        }
        assert_eq!(page_number(None).unwrap(), 1);
        assert_eq!(page_number(Some("3")).unwrap(), 3);
        assert!(page_number(Some("0")).is_err());
        assert!(page_number(Some("x")).is_err());
    }

    #[test]
    fn formats_epoch_millis() {
        let f = |ms| rfc3339_from_millis(ms).unwrap_or_default();
        assert_eq!(f(0), "1970-01-01T00:00:00Z");
        assert_eq!(f(1_760_000_100_999), "2025-10-09T08:55:00Z");
        assert_eq!(f(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_millis(i64::MAX), None);
    }
}
