//! `digitalocean-cr`: DigitalOcean Container Registry.
//!
//! The API token is both username and password; the registry takes it as Basic at its token
//! realm, the REST API as `Authorization: Bearer`.
//! Listing: `GET /v2/registry/<registry>/repositoriesV2?per_page=&page_token=`, where the next
//! `page_token` is read from `links.pages.next`.
//! Tag metadata: `GET /v2/registry/<registry>/repositories/<name %2F-encoded>/tags?per_page=&page=`.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, page_number, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// The REST API.
const DO_API: &str = "https://api.digitalocean.com";
/// The largest page the REST API serves.
const MAX_PAGE: u32 = 200;

/// DigitalOcean's listing and metadata.
pub(crate) struct DigitalOcean {
    api: Url,
    registry: String,
    token: Secret,
}

impl std::fmt::Debug for DigitalOcean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigitalOcean")
            .field("api", &self.api.as_str())
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    pages: Option<Pages>,
}

#[derive(Deserialize)]
struct Pages {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Repositories {
    #[serde(default)]
    repositories: Vec<Repository>,
    #[serde(default)]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Repository {
    name: String,
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Tag {
    tag: String,
    #[serde(default)]
    manifest_digest: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
}

/// The value of `param` in the query of a `links.pages.next` URL.
fn query_param(next: Option<String>, param: &str) -> Option<String> {
    let url = Url::parse(&next?).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == param)
        .map(|(_, v)| v.into_owned())
}

impl DigitalOcean {
    fn size(page: &PageRequest) -> u32 {
        page.size.unwrap_or(100).clamp(1, MAX_PAGE)
    }
}

#[async_trait]
impl Vendor for DigitalOcean {
    fn kind(&self) -> RegistryKind {
        RegistryKind::DigitalOcean
    }

    async fn validate(&self, client: &Client) -> Result<()> {
        let url = api_url(&self.api, "v2/registry")?;
        client
            .send(&Request::get(url, Auth::Bearer(self.token.clone())))
            .await
            .map(drop)
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let mut url = api_url(
            &self.api,
            &format!("v2/registry/{}/repositoriesV2", segment(&self.registry)),
        )?;
        url.query_pairs_mut()
            .append_pair("per_page", &Self::size(page).to_string());
        if let Some(token) = &page.cursor {
            url.query_pairs_mut().append_pair("page_token", token);
        }
        let (body, _, _): (Repositories, _, _) = client
            .get_json(&Request::get(url, Auth::Bearer(self.token.clone())))
            .await?;
        Ok(Page {
            items: body.repositories.into_iter().map(|r| r.name).collect(),
            next: query_param(
                body.links.and_then(|l| l.pages).and_then(|p| p.next),
                "page_token",
            ),
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let number = page_number(page.cursor.as_deref())?;
        let path = format!(
            "v2/registry/{}/repositories/{}/tags?per_page={}&page={number}",
            segment(&self.registry),
            segment(repository),
            Self::size(page)
        );
        let url = api_url(&self.api, &path)?;
        let (body, _, _): (Tags, _, _) = client
            .get_json(&Request::get(url, Auth::Bearer(self.token.clone())))
            .await?;
        let next = query_param(
            body.links.and_then(|l| l.pages).and_then(|p| p.next),
            "page",
        );
        Ok(Page {
            items: body
                .tags
                .into_iter()
                .map(|t| TagInfo {
                    tag: t.tag,
                    digest: t.manifest_digest.and_then(|d| d.parse().ok()),
                    last_pushed: t.updated_at,
                })
                .collect(),
            next,
        })
    }
}

/// Builds the adapter; the base is `registry.digitalocean.com/<registry>`.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let registry = base.first_segment().map(str::to_owned).ok_or_else(|| {
        Error::InvalidInput(
            "digitalocean-cr base must be registry.digitalocean.com/<registry>".into(),
        )
    })?;
    // The product passes the token as both username and password; either one alone works too.
    let token = if password.is_empty() {
        Secret::new(username)
    } else {
        password.clone()
    };
    let user = if username.is_empty() {
        token.expose().to_owned()
    } else {
        username.to_owned()
    };
    let client = Client::new(base, "", Some(user), Some(token.clone()), opts)?;
    let vendor = DigitalOcean {
        api: api_root(opts, DO_API)?,
        registry,
        token,
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
