//! `acr`: Azure Container Registry.
//!
//! The token service (`/oauth2/token`) answers the standard Bearer challenge and returns
//! `access_token`; admin users, repository-scoped tokens and service principals all log in with
//! Basic credentials there.
//! Listing uses `GET /acr/v1/_catalog?n=` (scope `registry:catalog:*`), and tag metadata
//! `GET /acr/v1/<name>/_tags?n=` (scope `repository:<name>:metadata_read`), both paginated by
//! `Link` like the distribution API.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{api_url, confined, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request, CATALOG_SCOPE};
use crate::distribution::{pagination, Client};
use crate::error::Result;

/// ACR's listing and metadata.
#[derive(Debug)]
pub struct Acr {
    root: Url,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tag {
    name: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    last_update_time: Option<String>,
    #[serde(default)]
    created_time: Option<String>,
}

impl Acr {
    fn url(&self, path: &str, page: &PageRequest) -> Result<Url> {
        match &page.cursor {
            Some(cursor) => confined(&self.root, cursor),
            None => api_url(
                &self.root,
                &format!("{path}?n={}", page.size.unwrap_or(100).clamp(1, 1000)),
            ),
        }
    }

    fn next(&self, headers: &http::HeaderMap) -> Result<Option<String>> {
        headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link)
            .map(|n| confined(&self.root, n).map(|u| pagination::cursor_of(&u)))
            .transpose()
    }
}

#[async_trait]
impl Vendor for Acr {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Acr
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let url = self.url("acr/v1/_catalog", page)?;
        let req = Request::get(url, Auth::Registry(vec![CATALOG_SCOPE.to_owned()]));
        let (body, headers, _): (Catalog, _, _) = client.get_json(&req).await?;
        Ok(Page {
            items: body.repositories.unwrap_or_default(),
            next: self.next(&headers)?,
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let url = self.url(&format!("acr/v1/{repository}/_tags"), page)?;
        let scope = format!("repository:{repository}:metadata_read");
        let (body, headers, _): (Tags, _, _) = client
            .get_json(&Request::get(url, Auth::Registry(vec![scope])))
            .await?;
        let items = body
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| TagInfo {
                tag: t.name,
                digest: t.digest.and_then(|d| d.parse().ok()),
                last_pushed: t.last_update_time.or(t.created_time),
            })
            .collect();
        Ok(Page {
            items,
            next: self.next(&headers)?,
        })
    }
}

/// Builds the adapter; the base is `<name>.azurecr.io`.
pub fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::new(
        base,
        "",
        Some(username.to_owned()),
        Some(password.clone()),
        opts,
    )?;
    let root = client.root().clone();
    Ok(Arc::new(Adapter::new(client, Acr { root })))
}
