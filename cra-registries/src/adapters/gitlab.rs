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

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret};
use http::HeaderName;
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, page_number, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result, CANNOT_LIST};

/// The largest page the REST API serves.
const MAX_PAGE: u32 = 100;

/// GitLab's listing.
pub struct GitLab {
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

#[derive(Deserialize)]
struct Repository {
    path: String,
}

impl GitLab {
    fn request(&self, url: Url) -> Request {
        Request::get(
            url,
            Auth::Header(HeaderName::from_static("private-token"), self.token.clone()),
        )
    }

    async fn page(&self, client: &Client, scope: &str, page: &PageRequest) -> Result<Page<String>> {
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
        let next = headers
            .get("x-next-page")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| page_number(Some(v)).map(|n| n.to_string()))
            .transpose()?;
        Ok(Page {
            items: items.into_iter().map(|r| r.path).collect(),
            next,
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
}

/// Builds the adapter; the base is `<registry host>/<group path>`.
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
