//! `nexus-cr`: Sonatype Nexus Repository 3.
//!
//! A Docker repository is reached through its connector (`host:port`, listing by `_catalog`), or
//! by path (`host/repository/<name>`, whose distribution API lives under that path).
//! Nexus may challenge with an upper-case `BASIC` scheme; the shared challenge parser accepts it.

use std::sync::Arc;

use cra_core::{Registry, RegistryKind, Secret};

use super::generic;
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::Result;

/// Builds the adapter; a base path (`repository/<name>`) becomes the distribution API prefix.
pub fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let client = Client::new(
        base,
        &base.path,
        Some(username.to_owned()),
        Some(password.clone()),
        opts,
    )?;
    Ok(Arc::new(generic::new(RegistryKind::Nexus, client)))
}
