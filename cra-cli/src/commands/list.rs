//! `cra list`: the repositories of a registry, or the tags of one repository.
//!
//! Settings come from flags or the same `CR_*` variables the broker client reads; credentials
//! are read as `cra scan` reads them (see [`crate::credentials`]).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use cra_core::text::escape_untrusted;
use cra_core::{PageRequest, Registry, RegistryCredentials, RegistryKind, Secret, TagInfo};
use cra_registries::ConnectOptions;

use crate::credentials::{CredentialArgs, Env, Login, ProcessEnv};

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per item (tags with metadata as aligned columns), control characters escaped.
    Table,
    /// One JSON document.
    Json,
}

fn secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

/// How to reach a registry through its adapter: the flags, or the `CR_*` variables the broker
/// client reads. `cra scan-registry` takes the same.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// The registry type (artifactory-cr, harbor-cr, acr, gcr, ecr, google-artifact-cr, docker-hub,
    /// quay-cr, nexus-cr, github-cr, digitalocean-cr, gitlab-cr).
    #[arg(long = "type", env = "CR_TYPE")]
    pub kind: RegistryKind,
    /// The registry base (`host[:port][/path]`, optionally with `https://` or `http://`).
    #[arg(long, env = "CR_BASE")]
    pub base: Option<String>,
    /// The credentials (not used for ecr).
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// ECR: the role to assume.
    #[arg(long, env = "CR_ROLE_ARN")]
    pub role_arn: Option<String>,
    /// ECR: the AWS region.
    #[arg(long, env = "CR_REGION")]
    pub region: Option<String>,
    /// ECR: the external id of the role.
    #[arg(long, env = "CR_EXTERNAL_ID", hide_env_values = true, value_parser = secret)]
    pub external_id: Option<Secret>,
    /// An extra PEM CA bundle to trust.
    #[arg(long, env = "CR_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
    /// Allow plain HTTP for a base without scheme.
    #[arg(long)]
    pub insecure_http: bool,
}

/// Arguments of `cra list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry.
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// With a repository: print each tag's digest and push time where the registry has them.
    #[arg(long)]
    pub with_metadata: bool,
    /// The output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// List the tags of this repository instead of the repositories.
    pub repository: Option<String>,
}

impl RegistryArgs {
    fn credentials(&self, env: &dyn Env) -> anyhow::Result<RegistryCredentials> {
        let kind = self.kind;
        if kind == RegistryKind::Ecr {
            return Ok(RegistryCredentials::Ecr {
                role_arn: self
                    .role_arn
                    .clone()
                    .context("ecr needs --role-arn (CR_ROLE_ARN)")?,
                region: self
                    .region
                    .clone()
                    .context("ecr needs --region (CR_REGION)")?,
                external_id: self.external_id.clone(),
                registry_base: self.base.clone(),
            });
        }
        let login = self
            .credentials
            .resolve(env, &mut std::io::stdin().lock())?;
        let (username, password) = match login {
            Some(Login { username, password }) => (username, password),
            None => (String::new(), Secret::default()),
        };
        Ok(RegistryCredentials::Basic {
            kind,
            registry_base: self.base.clone().context("--base (CR_BASE) is required")?,
            username,
            password,
        })
    }

    /// The TLS and transport options these arguments give.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            ca_bundle: self.ca_bundle.clone(),
            insecure_http: self.insecure_http,
            ..ConnectOptions::default()
        }
    }

    /// The registry client these arguments describe.
    pub async fn connect(&self) -> anyhow::Result<Arc<dyn Registry>> {
        let creds = self.credentials(&ProcessEnv)?;
        cra_registries::connect(&creds, &self.connect_options())
            .await
            .context("cannot set up the registry client")
    }
}

/// Runs `cra list`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let registry = args.registry.connect().await?;
    let mut out = std::io::stdout().lock();
    match &args.repository {
        None => {
            let repositories = registry
                .list_all_repositories()
                .await
                .context("cannot list repositories")?;
            match args.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "repositories": repositories })
                )?,
                Format::Table => {
                    for r in repositories {
                        writeln!(out, "{}", escape_untrusted(&r))?;
                    }
                }
            }
        }
        Some(repository) if args.with_metadata => {
            let tags = all_tags_with_metadata(registry.as_ref(), repository).await?;
            match args.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "repository": repository, "tags": tags })
                )?,
                Format::Table => {
                    for t in tags {
                        let digest = t
                            .digest
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "-".into());
                        let pushed = t.last_pushed.unwrap_or_else(|| "-".into());
                        writeln!(
                            out,
                            "{}\t{digest}\t{}",
                            escape_untrusted(&t.tag),
                            escape_untrusted(&pushed)
                        )?;
                    }
                }
            }
        }
        Some(repository) => {
            let tags = registry
                .list_all_tags(repository)
                .await
                .with_context(|| format!("cannot list the tags of {repository}"))?;
            match args.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "repository": repository, "tags": tags })
                )?,
                Format::Table => {
                    for t in tags {
                        writeln!(out, "{}", escape_untrusted(&t))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Every tag of `repository` with the metadata the registry has, following pages to the end.
pub(crate) async fn all_tags_with_metadata(
    registry: &dyn Registry,
    repository: &str,
) -> anyhow::Result<Vec<TagInfo>> {
    let mut all = Vec::new();
    let mut page = PageRequest::default();
    for _ in 0..cra_core::registry::MAX_PAGES {
        let got = registry
            .list_tags_with_metadata(repository, &page)
            .await
            .with_context(|| format!("cannot list the tags of {repository}"))?;
        all.extend(got.items);
        match got.next {
            Some(next) if Some(&next) != page.cursor.as_ref() => page.cursor = Some(next),
            Some(_) => anyhow::bail!("the tag listing of {repository} repeats the same page"),
            None => return Ok(all),
        }
    }
    anyhow::bail!("the tag listing of {repository} did not end")
}
