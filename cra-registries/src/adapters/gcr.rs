//! `gcr`: Google Container Registry (`gcr.io`, `us.gcr.io`, …).
//!
//! Credentials are the literal user `_json_key` and the service-account JSON as password, sent
//! as Basic to the registry's token realm; no Google SDK is needed.
//! `_catalog` lists every repository the key can see across projects, so the listing keeps only
//! names under the project of the base (`gcr.io/<project>`).
//! `tags/list` carries Google's `manifest` extension (digest, tags and upload time per image),
//! which is the tag metadata.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;

use super::vendor::{rfc3339_from_millis, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request;
use crate::distribution::{pagination, Client};
use crate::error::Result;

/// Google's listing filter and tag metadata, shared by `gcr` and `google-artifact-cr`.
#[derive(Debug)]
pub(crate) struct Google {
    /// The registry type reported.
    pub(crate) kind: RegistryKind,
    /// Names must start with this (`project/` or `project/repository/`); empty keeps all.
    pub(crate) prefix: String,
}

#[derive(Deserialize)]
struct GoogleTags {
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    manifest: Option<HashMap<String, GoogleImage>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GoogleImage {
    #[serde(default)]
    tag: Vec<String>,
    #[serde(default)]
    time_uploaded_ms: Option<String>,
}

#[async_trait]
impl Vendor for Google {
    fn kind(&self) -> RegistryKind {
        self.kind
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let got = client.catalog(page).await?;
        Ok(Page {
            items: got
                .items
                .into_iter()
                .filter(|r| r.starts_with(&self.prefix))
                .collect(),
            next: got.next,
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        request::validate_repository(repository)?;
        let next = match &page.cursor {
            Some(c) => Some(pagination::url_of_cursor(
                client.root(),
                c,
                &format!("{}v2/{repository}/tags/list", client.root().path()),
            )?),
            None => None,
        };
        let req = request::tags(client.root(), repository, page.size, next)?;
        let (body, headers, url): (GoogleTags, _, _) = client.get_json(&req).await?;
        let mut by_tag: HashMap<String, (String, Option<String>)> = HashMap::new();
        for (digest, image) in body.manifest.unwrap_or_default() {
            let uploaded = image
                .time_uploaded_ms
                .and_then(|ms| ms.parse::<i64>().ok())
                .and_then(rfc3339_from_millis);
            for tag in image.tag {
                by_tag.insert(tag, (digest.clone(), uploaded.clone()));
            }
        }
        let items = body
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|tag| {
                let meta = by_tag.remove(&tag);
                TagInfo {
                    digest: meta.as_ref().and_then(|(d, _)| d.parse().ok()),
                    last_pushed: meta.and_then(|(_, t)| t),
                    tag,
                }
            })
            .collect();
        let next = headers
            .get(http::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(pagination::next_link)
            .map(|n| pagination::resolve_same_origin(&url, n).map(|u| pagination::cursor_of(&u)))
            .transpose()?;
        Ok(Page { items, next })
    }
}

/// Builds the adapter; the base is `gcr.io/<project>`.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::with_login(base, username, password, opts)?;
    let prefix = base
        .first_segment()
        .map(|p| format!("{p}/"))
        .unwrap_or_default();
    Ok(Arc::new(Adapter::new(
        client,
        Google {
            kind: RegistryKind::Gcr,
            prefix,
        },
    )))
}
