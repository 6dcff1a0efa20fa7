//! `harbor-cr`: Harbor 2.x.
//!
//! `_catalog` needs the system-level catalog permission, so listing uses the REST API
//! `GET /api/v2.0/projects/<project>/repositories?page=&page_size=` (or `/api/v2.0/repositories`
//! without a project), paginated by `Link`.
//! Tag metadata comes from `.../repositories/<name>/artifacts?with_tag=true`, where the name
//! without the project is URL-encoded twice (`a/b` → `a%252Fb`).
//! Both take Basic credentials (robot accounts `robot$…` included).

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{api_root, api_url, confined, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{Auth, Request};
use crate::distribution::{pagination, Client};
use crate::error::Result;

/// The largest page Harbor serves.
const MAX_PAGE: u32 = 100;

/// Harbor's listing and metadata.
#[derive(Debug)]
pub(crate) struct Harbor {
    api: Url,
    project: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    name: String,
}

#[derive(Deserialize)]
struct Artifact {
    digest: Option<String>,
    #[serde(default)]
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    #[serde(default)]
    push_time: Option<String>,
}

impl Harbor {
    fn next(&self, headers: &http::HeaderMap) -> Result<Option<String>> {
        let next = headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link);
        next.map(|n| confined(&self.api, n).map(|u| u.to_string()))
            .transpose()
    }

    fn page_url(&self, path: &str, page: &PageRequest, extra: &str) -> Result<Url> {
        match &page.cursor {
            Some(cursor) => confined(&self.api, cursor),
            None => {
                let size = page.size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
                api_url(&self.api, &format!("{path}?page=1&page_size={size}{extra}"))
            }
        }
    }

    fn repositories_path(&self) -> String {
        match &self.project {
            Some(p) => format!("projects/{}/repositories", segment(p)),
            None => "repositories".to_owned(),
        }
    }
}

#[async_trait]
impl Vendor for Harbor {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Harbor
    }

    async fn validate(&self, client: &Client) -> Result<()> {
        // `users/current` answers 412 for robot accounts; a one-item listing works for all.
        let page = PageRequest::first(Some(1));
        self.repositories(client, &page).await.map(drop)
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let url = self.page_url(&self.repositories_path(), page, "")?;
        let (items, headers, _): (Vec<Repository>, _, _) =
            client.get_json(&Request::get(url, Auth::Basic)).await?;
        Ok(Page {
            items: items.into_iter().map(|r| r.name).collect(),
            next: self.next(&headers)?,
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        crate::distribution::request::validate_repository(repository)?;
        let (project, name) = repository
            .split_once('/')
            .unwrap_or(("library", repository));
        let path = format!(
            "projects/{}/repositories/{}/artifacts",
            segment(project),
            segment(&segment(name))
        );
        let url = self.page_url(&path, page, "&with_tag=true&q=tags%3D*")?;
        let (artifacts, headers, _): (Vec<Artifact>, _, _) =
            client.get_json(&Request::get(url, Auth::Basic)).await?;
        let items = artifacts
            .into_iter()
            .flat_map(|a| {
                let digest = a.digest.and_then(|d| d.parse().ok());
                a.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |t| TagInfo {
                        tag: t.name,
                        digest: digest.clone(),
                        last_pushed: t.push_time,
                    })
            })
            .collect();
        Ok(Page {
            items,
            next: self.next(&headers)?,
        })
    }
}

/// Builds the adapter; the base is `host[/project]`, the REST API `https://host/api/v2.0`.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::with_login(base, username, password, opts)?;
    let default = format!("{}api/v2.0", base.origin);
    let vendor = Harbor {
        api: api_root(opts, &default)?,
        project: base.first_segment().map(str::to_owned),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
