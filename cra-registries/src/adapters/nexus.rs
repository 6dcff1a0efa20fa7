//! `nexus-cr`: Sonatype Nexus Repository 3.
//!
//! A Docker repository is reached through its connector (`host:port`, listing by `_catalog`), or
//! by path (`host/repository/<name>`, whose distribution API lives under that path).
//! Nexus may challenge with an upper-case `BASIC` scheme; the shared challenge parser accepts it.
//! Tag metadata comes from the search API with Basic credentials,
//! `GET /service/rest/v1/search?repository=<name>&format=docker&name=<image>`, paginated by
//! `continuationToken`: each component's `version` is a tag, its first asset's
//! `checksum.sha256` the manifest digest and `lastModified` (or `blobCreated`) the push time.
//! The repository parameter is sent only when the base names it (`repository/<name>`).
//! When the search API refuses the credentials or is not there, the tags come bare from the
//! registry.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, bare_tags, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// Marks a search API cursor (bare registry cursors are links, starting with `/`).
const TOKEN_CURSOR: &str = "c:";

/// Nexus's listing and metadata.
#[derive(Debug)]
pub(crate) struct Nexus {
    api: Url,
    repository: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Search {
    #[serde(default)]
    items: Vec<Component>,
    #[serde(default)]
    continuation_token: Option<String>,
}

#[derive(Deserialize)]
struct Component {
    name: String,
    version: String,
    #[serde(default)]
    assets: Vec<Asset>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Asset {
    #[serde(default)]
    checksum: Checksum,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    blob_created: Option<String>,
}

#[derive(Deserialize, Default)]
struct Checksum {
    #[serde(default)]
    sha256: Option<String>,
}

#[async_trait]
impl Vendor for Nexus {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Nexus
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let token = match &page.cursor {
            None => None,
            Some(c) => match c.strip_prefix(TOKEN_CURSOR) {
                Some(t) => Some(t.to_owned()),
                None => return bare_tags(client, repository, page).await,
            },
        };
        let mut url = api_url(&self.api, "search")?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(r) = &self.repository {
                query.append_pair("repository", r);
            }
            query
                .append_pair("format", "docker")
                .append_pair("name", repository);
            if let Some(t) = &token {
                query.append_pair("continuationToken", t);
            }
        }
        let body: Search =
            match client.get_json(&Request::get(url, Auth::Basic)).await {
                Ok((body, _, _)) => body,
                // No search privilege, or no REST API at this address: the registry lists bare tags.
                Err(
                    Error::Unauthorized { .. } | Error::Forbidden { .. } | Error::NotFound { .. },
                ) if token.is_none() => return bare_tags(client, repository, page).await,
                Err(e) => return Err(e),
            };
        let items = body
            .items
            .into_iter()
            .filter(|c| c.name == repository)
            .map(|c| {
                let asset = c.assets.into_iter().next();
                let (digest, last_pushed) = match asset {
                    Some(a) => (
                        a.checksum
                            .sha256
                            .and_then(|h| format!("sha256:{h}").parse().ok()),
                        a.last_modified.or(a.blob_created),
                    ),
                    None => (None, None),
                };
                TagInfo {
                    tag: c.version,
                    digest,
                    last_pushed,
                }
            })
            .collect();
        Ok(Page {
            items,
            next: body
                .continuation_token
                .filter(|t| !t.is_empty())
                .map(|t| format!("{TOKEN_CURSOR}{t}")),
        })
    }
}

/// Builds the adapter; a base path (`repository/<name>`) becomes the distribution API prefix.
/// The search API is `<origin>/service/rest/v1` unless overridden.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::new(
        base,
        &base.path,
        Some(username.to_owned()),
        Some(password.clone()),
        opts,
    )?;
    let default = format!("{}service/rest/v1", base.origin);
    let vendor = Nexus {
        api: api_root(opts, &default)?,
        repository: base
            .path
            .strip_prefix("repository/")
            .map(|r| r.trim_end_matches('/').to_owned())
            .filter(|r| !r.is_empty() && !r.contains('/')),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
