//! `google-artifact-cr`: Google Artifact Registry (`<location>-docker.pkg.dev`).
//!
//! The registry protocol and credentials are those of [`gcr`](super::gcr): the user `_json_key`
//! and the service-account JSON key as password, sent as Basic to the registry's token realm.
//! The base is `<location>-docker.pkg.dev/<project>[/<repository>]` (a domain-scoped project
//! `example.com:proj` is written `example.com/proj`), and image names start with
//! `<project>/<repository>/`.
//!
//! `_catalog` on Artifact Registry stops near 1,000 entries, so repositories are listed through
//! the Artifact Registry REST API when the credentials allow it: an OAuth2 access token from the
//! key ([`oauth`]), then `dockerImages` of the base's repository, or of every Docker repository
//! of the project when the base names none, following `nextPageToken` ([`rest`]).
//! When the API refuses (403: the API is disabled, or the key lacks the permission), the listing
//! falls back to `_catalog` with a warning.
//! Tag metadata comes from the `tags/list` extension (digest and upload time per tag in one
//! call), which `dockerImages` cannot give for one image without walking the whole repository.

pub(crate) mod oauth;
pub(crate) mod rest;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

use self::oauth::AccessTokens;
use self::rest::{Cursor, DockerImages, Repositories, Target};
use super::gcr::Google;
use super::vendor::{api_root, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// The most pages of repositories read to walk a project.
const MAX_REPOSITORY_PAGES: usize = 100;

/// Artifact Registry: REST listing with a `_catalog` fallback, Google's tag metadata.
#[derive(Debug)]
pub(crate) struct ArtifactRegistry {
    google: Google,
    rest: Option<Rest>,
    /// Set once the API refused, so later listings go straight to `_catalog`.
    refused: AtomicBool,
}

/// What the REST listing needs.
#[derive(Debug)]
struct Rest {
    target: Target,
    /// The repository of the base, if it names one.
    repository: Option<String>,
    tokens: AccessTokens,
}

impl Rest {
    /// `GET url` with an access token; a refused token is renewed once.
    async fn get<T: DeserializeOwned>(&self, client: &Client, url: url::Url) -> Result<T> {
        let mut renewed = false;
        loop {
            let token = self.tokens.token(client).await?;
            let req = Request::get(url.clone(), Auth::Bearer(token));
            match client.get_json(&req).await {
                Ok((body, _, _)) => return Ok(body),
                Err(Error::Unauthorized { .. }) if !renewed && self.tokens.renewable() => {
                    self.tokens.forget().await;
                    renewed = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The Docker repositories to walk: the base's, or all of the project's, sorted.
    async fn repositories(&self, client: &Client) -> Result<Vec<String>> {
        if let Some(r) = &self.repository {
            return Ok(vec![r.clone()]);
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_REPOSITORY_PAGES {
            let url = self.target.repositories(rest::MAX_PAGE, token.as_deref())?;
            let page: Repositories = self.get(client, url).await?;
            out.extend(
                page.repositories
                    .iter()
                    .filter_map(rest::Repository::docker_id)
                    .map(str::to_owned),
            );
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if Some(&next) != token.as_ref() => token = Some(next),
                Some(_) => {
                    return Err(Error::protocol(
                        "artifact registry repositories",
                        "the next page token repeats",
                    ))
                }
                None => {
                    out.sort();
                    out.dedup();
                    return Ok(out);
                }
            }
        }
        Err(Error::protocol(
            "artifact registry repositories",
            "the listing did not end",
        ))
    }

    /// One page of image names, walking the repositories in order.
    async fn page(
        &self,
        client: &Client,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<String>> {
        let repositories = self.repositories(client).await?;
        let cursor = match page.cursor.as_deref() {
            Some(c) => Cursor::decode(c)?,
            None => match repositories.first() {
                Some(first) => Cursor {
                    repository: first.clone(),
                    ..Cursor::default()
                },
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    })
                }
            },
        };
        let position = repositories
            .iter()
            .position(|r| *r == cursor.repository)
            .ok_or_else(|| Error::InvalidInput("invalid page cursor".to_owned()))?;
        let size = page.size.unwrap_or(rest::MAX_PAGE);
        let url = self
            .target
            .images(&cursor.repository, size, cursor.token.as_deref())?;
        let body: DockerImages = self.get(client, url).await?;
        // One entry per digest: an image with several digests repeats, on this page or across
        // the page boundary (`last`).
        let mut seen: HashSet<String> = cursor.last.iter().cloned().collect();
        let mut items = Vec::new();
        for image in &body.docker_images {
            let Some(name) = image.repository_name(&self.target, &cursor.repository) else {
                debug!(image = %image.name, "skipping an image without a usable name");
                continue;
            };
            if name.starts_with(prefix) && seen.insert(name.clone()) {
                items.push(name);
            }
        }
        let last = items.last().cloned().or(cursor.last);
        let next = match body.next_page_token.filter(|t| !t.is_empty()) {
            Some(token) => Some(Cursor {
                repository: cursor.repository,
                token: Some(token),
                last,
            }),
            None => repositories.get(position + 1).map(|r| Cursor {
                repository: r.clone(),
                token: None,
                last: None,
            }),
        };
        Ok(Page {
            items,
            next: next.map(|c| c.encode()),
        })
    }
}

impl ArtifactRegistry {
    /// Lists through `_catalog` after the API refused, saying so once.
    fn fall_back(&self, e: &Error) {
        if !self.refused.swap(true, Ordering::Relaxed) {
            warn!(error = %e, "the Artifact Registry API refused the listing; falling back to /v2/_catalog, which may stop near 1,000 entries");
        }
    }
}

#[async_trait]
impl Vendor for ArtifactRegistry {
    fn kind(&self) -> RegistryKind {
        RegistryKind::GoogleArtifact
    }

    /// With REST credentials: the token exchange and a read of the repository (or of the
    /// project's repositories); when the API refuses, the registry's own check.
    async fn validate(&self, client: &Client) -> Result<()> {
        let Some(rest) = &self.rest else {
            return client.ping().await;
        };
        let url = match &rest.repository {
            Some(r) => rest.target.repository(r)?,
            None => rest.target.repositories(1, None)?,
        };
        match rest.get::<serde_json::Value>(client, url).await {
            Ok(_) => Ok(()),
            Err(e @ Error::Forbidden { .. }) => {
                self.fall_back(&e);
                client.ping().await
            }
            Err(e) => Err(e),
        }
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        // A first page goes to the REST API unless it refused before; later pages follow
        // whichever API gave the cursor.
        let use_rest = page
            .cursor
            .as_deref()
            .map_or_else(|| !self.refused.load(Ordering::Relaxed), Cursor::is_rest);
        let Some(rest) = self.rest.as_ref().filter(|_| use_rest) else {
            return self.google.repositories(client, page).await;
        };
        match rest.page(client, &self.google.prefix, page).await {
            Err(e @ Error::Forbidden { .. }) if page.cursor.is_none() => {
                self.fall_back(&e);
                self.google.repositories(client, page).await
            }
            other => other,
        }
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        self.google
            .tags_with_metadata(client, repository, page)
            .await
    }
}

/// Builds the adapter.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::with_login(base, username, password, opts)?;
    let prefix = if base.path.is_empty() {
        String::new()
    } else {
        format!("{}/", base.path)
    };
    let (project, repository) = rest::project_and_repository(&base.path);
    let location = opts
        .artifact_registry_location
        .as_deref()
        .or_else(|| rest::location_of(&base.host));
    let rest = match (
        project,
        location,
        AccessTokens::from_credentials(username, password),
    ) {
        (Some(project), Some(location), Some(tokens)) => Some(Rest {
            target: Target {
                api: api_root(opts, rest::API)?,
                project,
                location: location.to_owned(),
            },
            repository,
            tokens,
        }),
        _ => {
            debug!(base = %base.host, "no Artifact Registry REST listing for this base and these credentials; using /v2/_catalog");
            None
        }
    };
    let vendor = ArtifactRegistry {
        google: Google {
            kind: RegistryKind::GoogleArtifact,
            prefix,
        },
        rest,
        refused: AtomicBool::new(false),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let base = RegistryBase::parse("europe-west1-docker.pkg.dev/proj/repo", false).unwrap();
        let key = r#"{"client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}"#;
        let registry = build(
            &base,
            "_json_key",
            &Secret::new(key),
            &ConnectOptions::default(),
        )
        .unwrap();
        let shown = format!("{registry:?}");
        assert!(!shown.contains("AAAA"), "{shown}");
        assert!(shown.contains("europe-west1"), "{shown}");
    }
}
