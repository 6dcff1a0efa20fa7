//! `cra scan --policy FILE [--registries.d DIR]` and `cra scan --verify`: signature verification
//! against a containers policy before the scan (see `cra_registries::signatures`).
//!
//! `--policy` enforces: an image the policy rejects is not scanned, and the command fails with
//! [`PolicyRefused`] (exit status 8).
//! `--verify` only reports, also with `--policy`; without `--policy` it reads the policy where podman and skopeo do
//! (`$HOME/.config/containers/policy.json`, else `/etc/containers/policy.json`), and likewise
//! the `registries.d` directory.

use std::path::PathBuf;

use anyhow::Context;
use cra_core::policy::Verdict;
use cra_core::{Digest, Reference, Registry};
use cra_registries::signatures::{default_location, TrustConfig};
use cra_registries::ConnectOptions;
use cra_scan::signature::SignatureStatus;

/// Signature verification arguments of `cra scan`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProvenanceArgs {
    /// Refuse the image (exit status 8) unless this containers-policy.json accepts it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The containers-registries.d directory: lookaside stores and use-sigstore-attachments.
    #[arg(long = "registries.d", value_name = "DIR")]
    pub registries_d: Option<PathBuf>,
    /// Verify signatures and report the status without refusing the image (with the policy of
    /// --policy, else the system's).
    #[arg(long)]
    pub verify: bool,
}

/// The image was refused by the signature policy.
#[derive(Debug, thiserror::Error)]
#[error("the signature policy refuses {image}: {verdict}")]
pub struct PolicyRefused {
    /// The image as given.
    pub image: String,
    /// The decision.
    pub verdict: Verdict,
}

/// Signature verification was asked for an image that has no registry.
#[derive(Debug, thiserror::Error)]
#[error("signature verification (--policy, --verify) needs a registry image, not a local archive")]
pub struct LocalImage;

/// What to do about signatures, from the flags.
pub(crate) struct Trust {
    config: TrustConfig,
    enforce: bool,
}

impl Trust {
    /// `None` when neither `--policy` nor `--verify` is given.
    pub(crate) fn from_args(
        args: &ProvenanceArgs,
        connect: ConnectOptions,
    ) -> anyhow::Result<Option<Trust>> {
        let policy = match (&args.policy, args.verify) {
            (Some(path), _) => path.clone(),
            (None, true) => default_location("policy.json")
                .context("--verify without --policy needs a policy.json in ~/.config/containers or /etc/containers")?,
            (None, false) => return Ok(None),
        };
        let registries_d = args
            .registries_d
            .clone()
            .or_else(|| default_location("registries.d"));
        let config = TrustConfig::load(&policy, registries_d.as_deref(), connect)
            .with_context(|| format!("cannot load the signature policy {}", policy.display()))?;
        Ok(Some(Trust {
            config,
            enforce: !args.verify,
        }))
    }

    /// Verifies the image the reference names; fails with [`PolicyRefused`] when enforcing and
    /// the policy rejects it.
    pub(super) async fn check(
        &self,
        registry: &dyn Registry,
        reference: &Reference,
        image: &str,
    ) -> anyhow::Result<SignatureStatus> {
        let (_, verdict, status) = self.verify(registry, reference, image).await?;
        let summary = cra_core::text::escape_untrusted(&status.summary()).into_owned();
        if verdict.is_accepted() {
            tracing::info!(image = %image, "signature {summary}");
        } else if self.enforce {
            return Err(PolicyRefused {
                image: image.to_owned(),
                verdict,
            }
            .into());
        } else {
            tracing::warn!(image = %image, "signature {summary}");
        }
        Ok(status)
    }
}

impl Trust {
    /// Verifies the image the reference names and reports its manifest digest and the decision,
    /// enforcing nothing.
    pub(crate) async fn verify(
        &self,
        registry: &dyn Registry,
        reference: &Reference,
        image: &str,
    ) -> anyhow::Result<(Digest, Verdict, SignatureStatus)> {
        let (digest, verdict) = self
            .config
            .verify_reference(registry, reference)
            .await
            .with_context(|| format!("cannot fetch the manifest of {image}"))?;
        let status = SignatureStatus::of(&verdict, self.enforce);
        Ok((digest, verdict, status))
    }

    /// Whether a rejected image is refused (`--policy` without `--verify`).
    pub(crate) fn enforces(&self) -> bool {
        self.enforce
    }
}
