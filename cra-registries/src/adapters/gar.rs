//! `google-artifact-cr`: Google Artifact Registry (`<location>-docker.pkg.dev`).
//!
//! The same protocol and credentials as [`gcr`](super::gcr) (`_json_key` and the service-account
//! JSON); the base is `<location>-docker.pkg.dev/<project>/<repository>` and image names start
//! with `<project>/<repository>/`, which is what the listing keeps from `_catalog`.

use std::sync::Arc;

use cra_core::{Registry, RegistryKind, Secret};

use super::gcr::Google;
use super::vendor::Adapter;
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::Result;

/// Builds the adapter.
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
    let prefix = if base.path.is_empty() {
        String::new()
    } else {
        format!("{}/", base.path)
    };
    let vendor = Google {
        kind: RegistryKind::GoogleArtifact,
        prefix,
    };
    Ok(Arc::new(Adapter::new(client, vendor)))
}
