//! `gitlab-cr`: GitLab Container Registry.
//!
//! The registry's token realm (`/jwt/auth`, service `container_registry`) takes the user and a
//! personal, project, group or deploy token as Basic; `_catalog` is for instance admins only.
//! Listing uses the REST API with the token in `PRIVATE-TOKEN`:
//! `GET /api/v4/groups/<full path %2F-encoded>/registry/repositories?per_page=&page=`, falling back
//! to `/projects/<path>/registry/repositories` when the base names a project, paginated by
//! `X-Next-Page`.
//! The REST API is `https://gitlab.com/api/v4` for `registry.gitlab.com`, else the registry host's
//! `/api/v4` (override it when the instance lives elsewhere).
//! Deploy tokens cannot call the REST API; with them, name images explicitly.
//! Tag metadata comes from the REST API too: the repository's id from the listing above, then
//! `GET /projects/<project id>/registry/repositories/<id>/tags?per_page=&page=` for the names
//! (paginated by `X-Next-Page`) and `GET .../tags/<name>` for each tag's `digest` and
//! `created_at`.
//! When the token cannot call the REST API (deploy tokens), the tags come bare from the registry.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use http::HeaderName;
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, bare_tags, page_number, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result, CANNOT_LIST};

/// The largest page the REST API serves.
const MAX_PAGE: u32 = 100;

/// GitLab's listing.
pub(crate) struct GitLab {
    api: Url,
    path: Option<String>,
    token: Secret,
}

impl std::fmt::Debug for GitLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLab")
            .field("api", &self.api.as_str())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The most repository pages read to find a repository's id.
const MAX_LOOKUP_PAGES: u32 = 50;

#[derive(Deserialize)]
struct Repository {
    path: String,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default)]
    project_id: Option<u64>,
}

/// An entry of the tag list (`name`, `path`, `location`).
#[derive(Deserialize)]
struct TagName {
    name: String,
}

/// The tag detail (`name`, `digest`, `created_at`, `total_size`, ...).
#[derive(Deserialize)]
struct TagDetail {
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

/// The next page number in `X-Next-Page`, if any.
fn next_page(headers: &http::HeaderMap) -> Result<Option<u32>> {
    headers
        .get("x-next-page")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| page_number(Some(v)))
        .transpose()
}

impl GitLab {
    fn request(&self, url: Url) -> Request {
        Request::get(
            url,
            Auth::Header(HeaderName::from_static("private-token"), self.token.clone()),
        )
    }

    async fn page(&self, client: &Client, scope: &str, page: &PageRequest) -> Result<Page<String>> {
        let (items, next) = self.repositories_page(client, scope, page).await?;
        Ok(Page {
            items: items.into_iter().map(|r| r.path).collect(),
            next: next.map(|n| n.to_string()),
        })
    }

    async fn repositories_page(
        &self,
        client: &Client,
        scope: &str,
        page: &PageRequest,
    ) -> Result<(Vec<Repository>, Option<u32>)> {
        let path = self
            .path
            .as_deref()
            .ok_or_else(|| Error::Unsupported(CANNOT_LIST.to_owned()))?;
        let number = page_number(page.cursor.as_deref())?;
        let size = page.size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let url = api_url(
            &self.api,
            &format!(
                "{scope}/{}/registry/repositories?per_page={size}&page={number}",
                segment(path)
            ),
        )?;
        let (items, headers, _): (Vec<Repository>, _, _) =
            client.get_json(&self.request(url)).await?;
        Ok((items, next_page(&headers)?))
    }

    /// The project id and repository id of `repository`, from the group or project listing.
    async fn locate(&self, client: &Client, repository: &str) -> Result<(u64, u64)> {
        let mut scope = "groups";
        let mut page = PageRequest::first(Some(MAX_PAGE));
        for _ in 0..MAX_LOOKUP_PAGES {
            let (items, next) = match self.repositories_page(client, scope, &page).await {
                Err(Error::NotFound { .. }) if scope == "groups" => {
                    scope = "projects";
                    page.cursor = None;
                    continue;
                }
                other => other?,
            };
            if let Some(r) = items.into_iter().find(|r| r.path == repository) {
                return match (r.project_id, r.id) {
                    (Some(project), Some(id)) => Ok((project, id)),
                    _ => Err(Error::Protocol {
                        what: format!("GitLab repository {repository}"),
                        reason: "the listing gives no id or project_id".to_owned(),
                    }),
                };
            }
            match next {
                Some(n) => page.cursor = Some(n.to_string()),
                None => break,
            }
        }
        Err(Error::NotFound {
            what: format!("GitLab repository {repository}"),
            detail: "not in the registry repositories of the configured path".to_owned(),
        })
    }

    async fn tag_page(
        &self,
        client: &Client,
        project: u64,
        id: u64,
        number: u32,
        size: u32,
    ) -> Result<Page<TagInfo>> {
        let tags = format!("projects/{project}/registry/repositories/{id}/tags");
        let url = api_url(&self.api, &format!("{tags}?per_page={size}&page={number}"))?;
        let (names, headers, _): (Vec<TagName>, _, _) = client.get_json(&self.request(url)).await?;
        let next = next_page(&headers)?;
        let mut items = Vec::with_capacity(names.len());
        for t in names {
            let url = api_url(&self.api, &format!("{tags}/{}", segment(&t.name)))?;
            let (detail, _, _): (TagDetail, _, _) = client.get_json(&self.request(url)).await?;
            items.push(TagInfo {
                tag: t.name,
                digest: detail.digest.and_then(|d| d.parse().ok()),
                last_pushed: detail.created_at,
            });
        }
        Ok(Page {
            items,
            next: next.map(|n| format!("{project}:{id}:{n}")),
        })
    }
}

#[async_trait]
impl Vendor for GitLab {
    fn kind(&self) -> RegistryKind {
        RegistryKind::GitLab
    }

    async fn validate(&self, client: &Client) -> Result<()> {
        let url = api_url(&self.api, "personal_access_tokens/self")?;
        client.send(&self.request(url)).await.map(drop)
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        match self.page(client, "groups", page).await {
            Err(Error::NotFound { .. }) => self.page(client, "projects", page).await,
            other => other,
        }
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let size = page.size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        // Cursors are `<project id>:<repository id>:<page>` here, a registry link when bare.
        if let Some(cursor) = &page.cursor {
            if cursor.starts_with('/') {
                return bare_tags(client, repository, page).await;
            }
            let bad = || Error::InvalidInput(format!("invalid page cursor {cursor:?}"));
            let mut parts = cursor.splitn(3, ':');
            let project: u64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let id: u64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
            let next = page_number(parts.next())?;
            return self.tag_page(client, project, id, next, size).await;
        }
        if self.path.is_none() {
            return bare_tags(client, repository, page).await;
        }
        // Deploy tokens are for the registry only, and an image named outside the configured
        // path is not in its listing; the registry then gives the tags bare.
        let (project, id) = match self.locate(client, repository).await {
            Ok(found) => found,
            Err(Error::Unauthorized { .. } | Error::Forbidden { .. } | Error::NotFound { .. }) => {
                return bare_tags(client, repository, page).await
            }
            Err(e) => return Err(e),
        };
        match self.tag_page(client, project, id, 1, size).await {
            Err(Error::Unauthorized { .. } | Error::Forbidden { .. }) => {
                bare_tags(client, repository, page).await
            }
            other => other,
        }
    }
}

/// Builds the adapter; the base is `<registry host>/<group path>`.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::with_login(base, username, password, opts)?;
    let default = if base.host == "registry.gitlab.com" {
        "https://gitlab.com/api/v4".to_owned()
    } else {
        format!("{}api/v4", base.origin)
    };
    let vendor = GitLab {
        api: api_root(opts, &default)?,
        path: (!base.path.is_empty()).then(|| base.path.clone()),
        token: password.clone(),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
