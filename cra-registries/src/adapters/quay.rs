//! `quay-cr`: Red Hat Quay and quay.io.
//!
//! Quay's token service answers the standard Bearer challenge (`/v2/auth`), robot accounts are
//! `<namespace>+<robot>`, and `_catalog` lists what the credentials can see, paginated with an
//! opaque `next_page` token inside the `Link` header, which the shared client follows verbatim.
//! A missing or private repository answers 401 after a successful token exchange; that surfaces
//! as "unauthorized", with the registry's message.

use std::sync::Arc;

use cra_core::{Registry, RegistryKind, Secret};

use super::generic;
use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::Client;
use crate::error::Result;

/// Builds the adapter; the base path (the namespace) only narrows what users name.
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
    Ok(Arc::new(generic::new(RegistryKind::Quay, client)))
}
