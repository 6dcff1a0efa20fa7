//! `docker-hub`: Docker Hub.
//!
//! The registry is `registry-1.docker.io` (references say `docker.io`), with the Bearer flow
//! against `auth.docker.io`; it has no `_catalog`.
//! Listing uses the Hub API: a JWT from `POST /v2/auth/token` (`identifier`, `secret`: password
//! or access token), then `GET /v2/namespaces/<ns>/repositories?page_size=` following `next`.
//! The namespace is the base path (`docker.io/<ns>`) or else the username.
//! Tag metadata is `GET /v2/namespaces/<ns>/repositories/<repo>/tags`.
//! Single-segment names are official images under `library/`.
//! The registry's pull quota (`ratelimit-limit`, `ratelimit-remaining`,
//! `docker-ratelimit-source`) is read by the shared client on every response: a warning when it
//! runs low, and on the 429 of a used-up quota the limit, what remains and the window as the
//! delay; the Hub API's `X-Retry-After` (a Unix time) gives its own 429s their delay.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cra_core::{Page, PageRequest, Registry, RegistryKind, Secret, TagInfo};
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::vendor::{api_root, api_url, confined, segment, Adapter, Vendor};
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{validate_repository, Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result, CANNOT_LIST};

/// The Hub API.
const HUB_API: &str = "https://hub.docker.com";
/// Where the registry API lives.
const REGISTRY_HOST: &str = "registry-1.docker.io";
/// Hub JWTs live 10 minutes; we renew a little earlier.
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);
/// The largest page the Hub API serves.
const MAX_PAGE: u32 = 100;

/// Docker Hub's listing, metadata and naming quirk.
pub(crate) struct DockerHub {
    api: Url,
    namespace: Option<String>,
    username: String,
    password: Secret,
    jwt: Mutex<Option<(Secret, Instant)>>,
}

impl std::fmt::Debug for DockerHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerHub")
            .field("api", &self.api.as_str())
            .field("namespace", &self.namespace)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
struct Listing<T> {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    results: Vec<T>,
}

#[derive(Deserialize)]
struct Repository {
    name: String,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    tag_last_pushed: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
}

impl DockerHub {
    async fn jwt(&self, client: &Client) -> Result<Secret> {
        let mut cached = self.jwt.lock().await;
        if let Some((jwt, at)) = cached.as_ref() {
            if at.elapsed() < JWT_LIFETIME {
                return Ok(jwt.clone());
            }
        }
        let mut req = Request::get(api_url(&self.api, "v2/auth/token")?, Auth::None).json(
            &serde_json::json!({
                "identifier": self.username,
                "secret": self.password.expose(),
            }),
        );
        req.method = http::Method::POST;
        let (body, _, _): (TokenResponse, _, _) = client.get_json(&req).await?;
        let jwt = body
            .access_token
            .or(body.token)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| Error::protocol(req.what(), "login answer has no access_token"))?;
        *cached = Some((jwt.clone(), Instant::now()));
        Ok(jwt)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        client: &Client,
        url: Url,
    ) -> Result<Listing<T>> {
        let jwt = self.jwt(client).await?;
        let (body, _, _) = client
            .get_json(&Request::get(url, Auth::Bearer(jwt)))
            .await?;
        Ok(body)
    }

    fn url(&self, path: &str, page: &PageRequest) -> Result<Url> {
        match &page.cursor {
            Some(c) => confined(&self.api, c),
            None => api_url(
                &self.api,
                &format!(
                    "{path}?page_size={}",
                    page.size.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE)
                ),
            ),
        }
    }

    fn next(&self, next: Option<String>) -> Result<Option<String>> {
        next.filter(|n| !n.is_empty())
            .map(|n| confined(&self.api, &n).map(|u| u.to_string()))
            .transpose()
    }
}

/// The name the registry uses: `alpine` → `library/alpine`.
pub(crate) fn official(name: &str) -> Cow<'_, str> {
    if name.contains('/') {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("library/{name}"))
    }
}

#[async_trait]
impl Vendor for DockerHub {
    fn kind(&self) -> RegistryKind {
        RegistryKind::DockerHub
    }

    async fn validate(&self, client: &Client) -> Result<()> {
        self.jwt(client).await.map(drop)
    }

    async fn repositories(&self, client: &Client, page: &PageRequest) -> Result<Page<String>> {
        let namespace = self
            .namespace
            .as_deref()
            .ok_or_else(|| Error::Unsupported(CANNOT_LIST.to_owned()))?;
        let url = self.url(
            &format!("v2/namespaces/{}/repositories", segment(namespace)),
            page,
        )?;
        let body: Listing<Repository> = self.get(client, url).await?;
        Ok(Page {
            items: body
                .results
                .into_iter()
                .map(|r| format!("{namespace}/{}", r.name))
                .collect(),
            next: self.next(body.next)?,
        })
    }

    async fn tags_with_metadata(
        &self,
        client: &Client,
        repository: &str,
        page: &PageRequest,
    ) -> Result<Page<TagInfo>> {
        validate_repository(repository)?;
        let (ns, name) = repository
            .split_once('/')
            .unwrap_or(("library", repository));
        let url = self.url(
            &format!(
                "v2/namespaces/{}/repositories/{}/tags",
                segment(ns),
                segment(name)
            ),
            page,
        )?;
        let body: Listing<Tag> = self.get(client, url).await?;
        let items = body
            .results
            .into_iter()
            .map(|t| TagInfo {
                tag: t.name,
                digest: t.digest.and_then(|d| d.parse().ok()),
                last_pushed: t.tag_last_pushed.or(t.last_updated),
            })
            .collect();
        Ok(Page {
            items,
            next: self.next(body.next)?,
        })
    }

    fn repository<'a>(&self, name: &'a str) -> Cow<'a, str> {
        official(name)
    }
}

/// Builds the adapter; `docker.io`, `index.docker.io` and `registry-1.docker.io` all reach the
/// registry at `registry-1.docker.io`, other bases (mirrors, tests) are used as given.
pub(crate) fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let mut registry = base.clone();
    if matches!(
        base.host.as_str(),
        "docker.io" | "index.docker.io" | REGISTRY_HOST
    ) {
        registry.origin = Url::parse(&format!("https://{REGISTRY_HOST}/"))
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        registry.host = "docker.io".to_owned();
    }
    let client = Client::with_login(&registry, username, password, opts)?;
    let namespace = base
        .first_segment()
        .map(str::to_owned)
        .or_else(|| (!username.is_empty()).then(|| username.to_ascii_lowercase()));
    let vendor = DockerHub {
        api: api_root(opts, HUB_API)?,
        namespace,
        username: username.to_owned(),
        password: password.clone(),
        jwt: Mutex::new(None),
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_images_live_under_library() {
        assert_eq!(official("alpine"), "library/alpine");
        assert_eq!(official("acme/api"), "acme/api");
    }

    #[test]
    fn debug_hides_the_password() {
        let base = RegistryBase::parse("docker.io/acme", false).unwrap();
        let registry = build(
            &base,
            "me",
            &Secret::new("hunter2"),
            &ConnectOptions::default(),
        )
        .unwrap();
        assert_eq!(registry.host(), "docker.io");
        assert!(!format!("{registry:?}").contains("hunter2"));
    }
}
