//! `ecr`: Amazon Elastic Container Registry.
//!
//! Credentials are a role: the default AWS credential chain assumes `roleArn` (with the
//! external id), ECR's `GetAuthorizationToken` turns that into a registry password, and the
//! registry takes it as Basic `AWS:<password>` (renewed before it expires).
//! Listing uses `DescribeRepositories`, tags `ListImages`, tag metadata `DescribeImages`; manifests
//! and blobs go through the shared distribution client.
//!
//! The registry host is `registryBase` when given, else `<account>.dkr.ecr.<region>.amazonaws.com`
//! from the role's account; the `proxyEndpoint` of the token answer is used only when neither
//! is known.
//! Giving `registryBase` (with `http://` for a loopback test registry) is also how tests pair an
//! AWS emulator, whose `proxyEndpoint` is unusable, with a real registry.

pub(crate) mod credentials;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_ecr::types::{DescribeImagesFilter, ImageIdentifier, ListImagesFilter, TagStatus};
use cra_core::{
    BlobStream, Digest, FetchedManifest, Page, PageRequest, Registry, RegistryKind, Secret, TagInfo,
};
use tokio::sync::Mutex;

use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::{Error, Result};
use credentials::{assumed_role_config, decode_token, sdk_error, valid_until};

/// The largest page the ECR API serves.
const MAX_PAGE: i32 = 1000;

/// An ECR registry reached through an assumed role.
pub(crate) struct Ecr {
    api: aws_sdk_ecr::Client,
    base: Option<RegistryBase>,
    host: String,
    opts: ConnectOptions,
    registry: Mutex<Option<(Arc<Client>, SystemTime)>>,
}

impl std::fmt::Debug for Ecr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ecr")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// The account id of an IAM role ARN (`arn:aws:iam::<account>:role/<name>`).
fn account_of(role_arn: &str) -> Option<&str> {
    let account = role_arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Connects: builds the assumed-role AWS configuration; no call is made yet.
pub(crate) async fn connect(
    role_arn: &str,
    region: &str,
    external_id: Option<&Secret>,
    registry_base: Option<&str>,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    if !role_arn.starts_with("arn:") {
        return Err(Error::InvalidInput(format!(
            "invalid role ARN {role_arn:?}"
        )));
    }
    let base = registry_base
        .map(|b| RegistryBase::parse(b, opts.insecure_http))
        .transpose()?;
    let host = match (&base, account_of(role_arn)) {
        (Some(b), _) => b.host.clone(),
        (None, Some(account)) => format!("{account}.dkr.ecr.{region}.amazonaws.com"),
        (None, None) => String::new(),
    };
    let config = assumed_role_config(
        role_arn,
        region,
        external_id,
        opts.aws_endpoint_url.as_deref(),
    )
    .await;
    Ok(Arc::new(Ecr {
        api: aws_sdk_ecr::Client::new(&config),
        base,
        host,
        opts: opts.clone(),
        registry: Mutex::new(None),
    }))
}

impl Ecr {
    /// The registry client with a current password.
    async fn client(&self) -> Result<Arc<Client>> {
        let mut cached = self.registry.lock().await;
        if let Some((client, until)) = cached.as_ref() {
            if SystemTime::now() < *until {
                return Ok(client.clone());
            }
        }
        let out = self
            .api
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| sdk_error("GetAuthorizationToken", e))?;
        let data = out
            .authorization_data()
            .first()
            .ok_or_else(|| Error::protocol("GetAuthorizationToken", "no authorization data"))?;
        let token = data
            .authorization_token()
            .ok_or_else(|| Error::protocol("GetAuthorizationToken", "no authorization token"))?;
        let (user, password) = decode_token(token)?;
        let base = match (&self.base, self.host.is_empty()) {
            (Some(b), _) => b.clone(),
            (None, false) => RegistryBase::parse(&self.host, false)?,
            (None, true) => {
                let endpoint = data
                    .proxy_endpoint()
                    .ok_or_else(|| Error::protocol("GetAuthorizationToken", "no proxy endpoint"))?;
                RegistryBase::parse(endpoint, false)?
            }
        };
        let client = Arc::new(Client::new(
            &base,
            "",
            Some(user),
            Some(password),
            &self.opts,
        )?);
        let expires = data
            .expires_at()
            .and_then(|t| SystemTime::try_from(*t).ok());
        *cached = Some((client.clone(), valid_until(expires, SystemTime::now())));
        Ok(client)
    }
}

fn size(page: &PageRequest) -> i32 {
    page.size
        .map_or(MAX_PAGE, |s| i32::try_from(s).unwrap_or(MAX_PAGE))
        .clamp(1, MAX_PAGE)
}

#[async_trait]
impl Registry for Ecr {
    fn kind(&self) -> RegistryKind {
        RegistryKind::Ecr
    }

    fn host(&self) -> &str {
        &self.host
    }

    async fn validate_credentials(&self) -> cra_core::Result<()> {
        self.client().await?;
        self.api
            .describe_repositories()
            .max_results(1)
            .send()
            .await
            .map_err(|e| sdk_error("DescribeRepositories", e))?;
        Ok(())
    }

    async fn list_repositories(&self, page: &PageRequest) -> cra_core::Result<Page<String>> {
        let out = self
            .api
            .describe_repositories()
            .max_results(size(page))
            .set_next_token(page.cursor.clone())
            .send()
            .await
            .map_err(|e| sdk_error("DescribeRepositories", e))?;
        Ok(Page {
            items: out
                .repositories()
                .iter()
                .filter_map(|r| r.repository_name().map(str::to_owned))
                .collect(),
            next: out.next_token().map(str::to_owned),
        })
    }

    async fn list_tags(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> cra_core::Result<Page<String>> {
        let out = self
            .api
            .list_images()
            .repository_name(repository)
            .filter(
                ListImagesFilter::builder()
                    .tag_status(TagStatus::Tagged)
                    .build(),
            )
            .max_results(size(page))
            .set_next_token(page.cursor.clone())
            .send()
            .await
            .map_err(|e| sdk_error("ListImages", e))?;
        Ok(Page {
            items: out
                .image_ids()
                .iter()
                .filter_map(ImageIdentifier::image_tag)
                .map(str::to_owned)
                .collect(),
            next: out.next_token().map(str::to_owned),
        })
    }

    async fn list_tags_with_metadata(
        &self,
        repository: &str,
        page: &PageRequest,
    ) -> cra_core::Result<Page<TagInfo>> {
        let out = self
            .api
            .describe_images()
            .repository_name(repository)
            .filter(
                DescribeImagesFilter::builder()
                    .tag_status(TagStatus::Tagged)
                    .build(),
            )
            .max_results(size(page))
            .set_next_token(page.cursor.clone())
            .send()
            .await
            .map_err(|e| sdk_error("DescribeImages", e))?;
        let items = out
            .image_details()
            .iter()
            .flat_map(|d| {
                let digest: Option<Digest> = d.image_digest().and_then(|s| s.parse().ok());
                let pushed = d.image_pushed_at().and_then(|t| {
                    t.fmt(aws_sdk_ecr::primitives::DateTimeFormat::DateTime)
                        .ok()
                });
                d.image_tags().iter().map(move |tag| TagInfo {
                    tag: tag.clone(),
                    digest: digest.clone(),
                    last_pushed: pushed.clone(),
                })
            })
            .collect();
        Ok(Page {
            items,
            next: out.next_token().map(str::to_owned),
        })
    }

    async fn fetch_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> cra_core::Result<FetchedManifest> {
        Ok(self.client().await?.manifest(repository, reference).await?)
    }

    async fn fetch_blob(
        &self,
        repository: &str,
        digest: &Digest,
        max_size: Option<u64>,
    ) -> cra_core::Result<BlobStream> {
        Ok(self
            .client()
            .await?
            .blob(repository, digest, max_size)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_from_role_arn() {
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/cra"),
            Some("123456789012")
        );
        assert_eq!(account_of("arn:aws:iam::12:role/cra"), None);
        assert_eq!(account_of("nonsense"), None);
    }
}
