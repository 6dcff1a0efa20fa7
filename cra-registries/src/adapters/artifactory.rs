//! `artifactory-cr`: JFrog Artifactory and JFrog Container Registry.
//!
//! The "repository path" access method (`host/artifactory/api/docker/<repo>`) puts the
//! distribution API under that path; the subdomain and port methods (`<repo>.host`, `host:port`)
//! serve it at the root.
//! Listing is `_catalog` on that API (supported with `n`/`last` since Artifactory 5.4.6).

use std::sync::Arc;

use cra_core::{Registry, RegistryKind, Secret};

use super::generic;
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// The path of the repository-path access method.
const API_DOCKER: &str = "artifactory/api/docker/";

/// The distribution API prefix for a base path: `artifactory/api/docker/<repo>` or nothing.
pub fn prefix(path: &str) -> Result<&str> {
    if path.is_empty() {
        return Ok("");
    }
    let rest = path.strip_prefix(API_DOCKER).unwrap_or_default();
    if rest.is_empty() || rest.contains('/') {
        return Err(Error::InvalidInput(format!(
            "artifactory-cr base path {path:?} is not {API_DOCKER}<repository>"
        )));
    }
    Ok(path)
}

/// Builds the adapter.
pub fn build(
    base: &RegistryBase,
    username: &str,
    password: &Secret,
    opts: &ConnectOptions,
) -> Result<Arc<dyn Registry>> {
    let prefix = prefix(&base.path)?;
    let client = Client::new(
        base,
        prefix,
        Some(username.to_owned()),
        Some(password.clone()),
        opts,
    )?;
    Ok(Arc::new(generic::new(RegistryKind::Artifactory, client)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_path_method() {
        assert_eq!(prefix("").unwrap(), "");
        assert_eq!(
            prefix("artifactory/api/docker/docker-local").unwrap(),
            "artifactory/api/docker/docker-local"
        );
        assert!(prefix("artifactory/api/docker/").is_err());
        assert!(prefix("artifactory/api/docker/a/b").is_err());
        assert!(prefix("something/else").is_err());
    }
}
