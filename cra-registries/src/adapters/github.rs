//! `github-cr`: GitHub Container Registry (`ghcr.io`).
//!
//! The registry has no `_catalog`; listing uses the REST API with the password as a classic
//! personal access token (`read:packages`):
//! `GET /orgs/<owner>/packages?package_type=container&per_page=`, falling back to
//! `/users/<owner>/packages` when the owner is not an organisation, paginated by `Link`.
//! Tag metadata is the package versions list (`name` is the digest,
//! `metadata.container.tags` the tags).
//! Without an owner in the base (`ghcr.io/<owner>`) the registry cannot list.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, confined, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request};
use crate::distribution::{pagination, Client};
use crate::error::{Error, Result, CANNOT_LIST};

/// The REST API.
const GITHUB_API: &str = "https://api.github.com";
/// The largest page the REST API serves.
const MAX_PAGE: u32 = 100;

/// GitHub's listing and metadata.
pub(crate) struct GitHub {
    api: Url,
    owner: Option<String>,
    token: Secret,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("api", &self.api.as_str())
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Package {
    name: String,
}

#[derive(Deserialize)]
struct Version {
    name: String,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    metadata: Option<VersionMetadata>,
}

#[derive(Deserialize)]
struct VersionMetadata {
    #[serde(default)]
    container: Option<ContainerMetadata>,
}

#[derive(Deserialize)]
struct ContainerMetadata {
    #[serde(default)]
    tags: Vec<String>,
}

impl GitHub {
    fn request(&self, url: Url) -> Request {
        Request::get(url, Auth::Bearer(self.token.clone()))
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28",
            )
    }

    fn owner(&self) -> Result<&str> {
        self.owner
            .as_deref()
            .ok_or_else(|| Error::Unsupported(CANNOT_LIST.to_owned()))
    }

    fn first_url(&self, path: &str, query: &str, page: &PageRequest) -> Result<Url> {
        let size = page.size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        api_url(&self.api, &format!("{path}?{query}per_page={size}"))
    }

    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        client: &Client,
        url: Url,
    ) -> Result<(Vec<T>, Option<String>)> {
        let (items, headers, _): (Vec<T>, _, _) = client.get_json(&self.request(url)).await?;
        let next = headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link)
            .map(|n| confined(&self.api, n).map(|u| u.to_string()))
            .transpose()?;
        Ok((items, next))
    }

    /// The first page under `/orgs/<owner>/…`, or `/users/<owner>/…` when the owner is a user.
    async fn first_page<T: serde::de::DeserializeOwned>(
        &self,
        client: &Client,
        tail: &str,
        query: &str,
        page: &PageRequest,
    ) -> Result<(Vec<T>, Option<String>)> {
        let owner = segment(self.owner()?);
        let org = self.first_url(&format!("orgs/{owner}/{tail}"), query, page)?;
        match self.page(client, org).await {
            Err(Error::NotFound { .. }) => {
                let user = self.first_url(&format!("users/{owner}/{tail}"), query, page)?;
                self.page(client, user).await
            }
            other => other,
        }
    }
}

#[async_trait]
impl Vendor for GitHub {
    fn kind(&self) -> RegistryKind {
        RegistryKind::GitHub
    }

    async fn validate(&self, client: &Client) -> Result<()> {
        let url = api_url(&self.api, "user")?;
        client.send(&self.request(url)).await.map(drop)
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let owner = self.owner()?.to_owned();
        let (packages, next): (Vec<Package>, _) = match &page.cursor {
            Some(c) => self.page(client, confined(&self.api, c)?).await?,
            None => {
                self.first_page(client, "packages", "package_type=container&", page)
                    .await?
            }
        };
        Ok(Page {
            items: packages
                .into_iter()
                .map(|p| format!("{owner}/{}", p.name))
                .collect(),
            next,
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let owner = self.owner()?;
        let package = repository
            .strip_prefix(&format!("{owner}/"))
            .ok_or_else(|| Error::InvalidInput(format!("{repository} is not under {owner}/")))?;
        let (versions, next): (Vec<Version>, _) = match &page.cursor {
            Some(c) => self.page(client, confined(&self.api, c)?).await?,
            None => {
                let tail = format!("packages/container/{}/versions", segment(package));
                self.first_page(client, &tail, "state=active&", page)
                    .await?
            }
        };
        let items = versions
            .into_iter()
            .flat_map(|v| {
                let digest = v.name.parse().ok();
                let pushed = v.updated_at.or(v.created_at);
                let tags = v
                    .metadata
                    .and_then(|m| m.container)
                    .map(|c| c.tags)
                    .unwrap_or_default();
                tags.into_iter().map(move |tag| TagInfo {
                    tag,
                    digest: digest.clone(),
                    last_pushed: pushed.clone(),
                })
            })
            .collect();
        Ok(Page { items, next })
    }
}

/// Builds the adapter; the base is `ghcr.io/<owner>`.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::with_login(base, username, password, opts)?;
    let vendor = GitHub {
        api: api_root(opts, GITHUB_API)?,
        owner: base.first_segment().map(str::to_ascii_lowercase),
        token: password.clone(),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
