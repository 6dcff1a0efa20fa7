//! `artifactory-cr`: JFrog Artifactory and JFrog Container Registry.
//!
//! The "repository path" access method (`host/artifactory/api/docker/<repo>`) puts the
//! distribution API under that path; the subdomain and port methods (`<repo>.host`, `host:port`)
//! serve it at the root.
//! Listing is `_catalog` on that API (supported with `n`/`last` since Artifactory 5.4.6).
//! Tag metadata: the tags come from `tags/list`, then for each the Storage API
//! `GET /artifactory/api/storage/<repo>/<image>/<tag>/manifest.json` (or `list.manifest.json`
//! for a multi-arch tag) gives `checksums.sha256` (the manifest digest) and `lastModified`.
//! The repository key is known only with the repository-path method; otherwise, or when the
//! Storage API refuses the credentials, the tags come bare.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// Artifactory's listing and metadata.
#[derive(Debug)]
pub(crate) struct Artifactory {
    storage: Url,
    repo_key: Option<String>,
}

/// The Storage API's file info (`created`, `lastModified`, `lastUpdated`, `checksums`, ...).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileInfo {
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    checksums: Checksums,
}

#[derive(Deserialize, Default)]
struct Checksums {
    #[serde(default)]
    sha256: Option<String>,
}

impl Artifactory {
    /// The stored manifest's info for `tag`: `manifest.json`, else `list.manifest.json`.
    async fn info(
        &self,
        client: &Client,
        key: &str,
        repository: &str,
        tag: &str,
    ) -> Result<FileInfo> {
        let mut path = segment(key);
        for part in repository.split('/') {
            path.push('/');
            path.push_str(&segment(part));
        }
        path.push('/');
        path.push_str(&segment(tag));
        let single = api_url(&self.storage, &format!("{path}/manifest.json"))?;
        match client.get_json(&Request::get(single, Auth::Basic)).await {
            Ok((info, _, _)) => Ok(info),
            Err(Error::NotFound { .. }) => {
                let list = api_url(&self.storage, &format!("{path}/list.manifest.json"))?;
                client
                    .get_json(&Request::get(list, Auth::Basic))
                    .await
                    .map(|(info, _, _)| info)
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Vendor for Artifactory {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Artifactory
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        let tags = client.tags(repository, page).await?;
        let Some(key) = &self.repo_key else {
            return Ok(tags.map(TagInfo::bare));
        };
        let mut items = Vec::with_capacity(tags.items.len());
        let mut bare = false;
        for tag in tags.items {
            if bare {
                items.push(TagInfo::bare(tag));
                continue;
            }
            match self.info(client, key, repository, &tag).await {
                Ok(info) => items.push(TagInfo {
                    digest: info
                        .checksums
                        .sha256
                        .and_then(|h| format!("sha256:{h}").parse().ok()),
                    last_pushed: info.last_modified,
                    tag,
                }),
                // Without read access to the Storage API, the tags stay bare.
                Err(Error::Unauthorized { .. } | Error::Forbidden { .. }) => {
                    bare = true;
                    items.push(TagInfo::bare(tag));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Page {
            items,
            next: tags.next,
        })
    }
}

/// The path of the repository-path access method.
const API_DOCKER: &str = "artifactory/api/docker/";

/// The distribution API prefix for a base path: `artifactory/api/docker/<repo>` or nothing.
pub(crate) fn prefix(path: &str) -> Result<&str> {
    if path.is_empty() {
        return Ok("");
    }
    let rest = path.strip_prefix(API_DOCKER).unwrap_or_default();
    if rest.is_empty() || rest.contains('/') {
        return Err(Error::InvalidInput(format!(
            "artifactory-cr base path {path:?} is not {API_DOCKER}<repository>"
        )));
    }
    Ok(path)
}

/// Builds the adapter.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let prefix = prefix(&base.path)?;
    let client = Client::new(
        base,
        prefix,
        Some(username.to_owned()),
        Some(password.clone()),
        opts,
    )?;
    let vendor = Artifactory {
        storage: api_root(opts, &format!("{}artifactory/api/storage", base.origin))?,
        repo_key: prefix
            .strip_prefix(API_DOCKER)
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_path_method() {
        assert_eq!(prefix("").unwrap(), "");
        assert_eq!(
            prefix("artifactory/api/docker/docker-local").unwrap(),
            "artifactory/api/docker/docker-local"
        );
        assert!(prefix("artifactory/api/docker/").is_err());
        assert!(prefix("artifactory/api/docker/a/b").is_err());
        assert!(prefix("something/else").is_err());
    }
}
