//! `quay-cr`: Red Hat Quay and quay.io.
//!
//! Quay's token service answers the standard Bearer challenge (`/v2/auth`), robot accounts are
//! `<namespace>+<robot>`, and `_catalog` lists what the credentials can see, paginated with an
//! opaque `next_page` token inside the `Link` header, which the shared client follows verbatim.
//! A missing or private repository answers 401 after a successful token exchange; that surfaces
//! as "unauthorized", with the registry's message.
//! Tag metadata comes from the REST API
//! (`GET /api/v1/repository/<ns>/<repo>/tag/?onlyActiveTags=true&limit=&page=`), which takes an
//! OAuth application token as `Authorization: Bearer`; robot credentials cannot call it, and then
//! the tags come bare from the registry.

use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use url::Url;

use super::vendor::{
    api_root, api_url, bare_tags, page_number, rfc3339_from_millis, Adapter, Vendor,
};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// The largest page of the tag API.
const MAX_PAGE: u32 = 100;

/// Quay's listing and metadata.
pub(crate) struct Quay {
    api: Url,
    token: Secret,
}

impl std::fmt::Debug for Quay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quay")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    has_additional: bool,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    #[serde(default)]
    manifest_digest: Option<String>,
    #[serde(default)]
    start_ts: Option<i64>,
}

#[async_trait]
impl Vendor for Quay {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Quay
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let number = match &page.cursor {
            Some(c) if c.starts_with('/') => return bare_tags(client, repository, page).await,
            other => page_number(other.as_deref())?,
        };
        let size = page.size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let url = api_url(
            &self.api,
            &format!("repository/{repository}/tag/?onlyActiveTags=true&limit={size}&page={number}"),
        )?;
        let body: Tags = match client
            .get_json(&Request::get(url, Auth::Bearer(self.token.clone())))
            .await
        {
            Ok((body, _, _)) => body,
            // Robot and user credentials are for the registry only; fall back to bare tags.
            Err(Error::Unauthorized { .. } | Error::Forbidden { .. }) if page.cursor.is_none() => {
                return bare_tags(client, repository, page).await
            }
            Err(e) => return Err(e),
        };
        Ok(Page {
            items: body
                .tags
                .into_iter()
                .map(|t| TagInfo {
                    tag: t.name,
                    digest: t.manifest_digest.and_then(|d| d.parse().ok()),
                    last_pushed: t
                        .start_ts
                        .and_then(|s| rfc3339_from_millis(s.saturating_mul(1000))),
                })
                .collect(),
            next: body.has_additional.then(|| (number + 1).to_string()),
        })
    }
}

/// Builds the adapter; the REST API is `<origin>/api/v1` unless overridden.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::with_login(base, username, password, opts)?;
    let default = format!("{}api/v1", base.origin);
    let vendor = Quay {
        api: api_root(opts, &default)?,
        token: password.clone(),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
