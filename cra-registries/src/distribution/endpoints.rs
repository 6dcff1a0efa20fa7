//! The distribution endpoints a [`Client`] serves: `GET /v2/`, `_catalog` and `tags/list` with
//! their pagination, manifests (verified against their digest) and blobs (streamed through a
//! digest and size check).
//! Requests are built in [`super::request`] and sent with [`Client::send`].

use cra_core::{BlobStream, Digest, FetchedManifest, Page, PageRequest};
use http::HeaderMap;
use serde::Deserialize;
use url::Url;

use super::blob::Verified;
use super::client::Client;
use super::manifest::{self, MAX_MANIFEST_BYTES};
use super::pagination;
use super::request::{self, redact};
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    fn next_cursor(
        &self,
        headers: &HeaderMap,
        url: &Url,
        current: Option<&str>,
    ) -> Result<Option<String>> {
        let Some(target) = headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link)
        else {
            return Ok(None);
        };
        let next = pagination::resolve_same_origin(url, target)?;
        let cursor = pagination::cursor_of(&next);
        if Some(cursor.as_str()) == current {
            return Err(Error::protocol(
                redact(url),
                "the next page is the same page",
            ));
        }
        Ok(Some(cursor))
    }

    fn cursor_url(&self, cursor: Option<&str>, path: &str) -> Result<Option<Url>> {
        let expected = format!("{}{path}", self.root().path());
        cursor
            .map(|c| pagination::url_of_cursor(self.root(), c, &expected))
            .transpose()
    }

    /// One page of `/v2/_catalog`.
    pub(crate) async fn catalog(&self, page: &PageRequest) -> Result<Page<String>> {
        let next = self.cursor_url(page.cursor.as_deref(), "v2/_catalog")?;
        let req = request::catalog(self.root(), page.size, next)?;
        let (body, headers, url): (Catalog, _, _) = self.get_json(&req).await?;
        Ok(Page {
            items: body.repositories.unwrap_or_default(),
            next: self.next_cursor(&headers, &url, page.cursor.as_deref())?,
        })
    }

    /// One page of `/v2/<repository>/tags/list`.
    pub(crate) async fn tags(&self, repository: &str, page: &PageRequest) -> Result<Page<String>> {
        request::validate_repository(repository)?;
        let next = self.cursor_url(
            page.cursor.as_deref(),
            &format!("v2/{repository}/tags/list"),
        )?;
        let req = request::tags(self.root(), repository, page.size, next)?;
        let (body, headers, url): (TagList, _, _) = self.get_json(&req).await?;
        Ok(Page {
            items: body.tags.unwrap_or_default(),
            next: self.next_cursor(&headers, &url, page.cursor.as_deref())?,
        })
    }

    /// `GET /v2/` with the registry's auth flow: proves the credentials where the registry
    /// demands them.
    pub(crate) async fn ping(&self) -> Result<()> {
        self.send(&request::ping(self.root())?).await.map(drop)
    }

    /// Fetches a manifest or index, verified against the digest when `reference` is one and
    /// against `Docker-Content-Digest` when the registry sends it.
    pub(crate) async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<FetchedManifest> {
        let req = request::manifest(self.root(), repository, reference, false)?;
        let what = req.what();
        let requested = reference.parse::<Digest>().ok();
        let resp = self.send(&req).await?;
        let content_type = header_str(resp.headers(), http::header::CONTENT_TYPE.as_str());
        let announced = header_str(resp.headers(), "docker-content-digest");
        let bytes = resp.bytes_limited(MAX_MANIFEST_BYTES, &what).await?;
        manifest::verify(
            &what,
            requested.as_ref(),
            announced.as_deref(),
            content_type.as_deref(),
            bytes,
        )
    }

    /// Streams a blob, verified against `digest` and capped at `max_size`.
    pub(crate) async fn blob(
        &self,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> Result<BlobStream> {
        let req = request::blob(self.root(), repository, digest)?;
        let what = req.what();
        let resp = self.send(&req).await?;
        if let (Some(limit), Some(len)) = (max_size, resp.content_length()) {
            if len > limit {
                return Err(Error::TooLarge { what, limit });
            }
        }
        let stream = resp.into_stream(what.clone());
        Ok(Box::pin(Verified::new(
            Box::pin(stream),
            digest.clone(),
            max_size,
            what,
        )))
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
