//! cra-registries against the real CNCF registry on loopback, and stub servers for the faults,
//! auth flows and vendor APIs it cannot produce.
//! One file per concern of the shared client (distribution, transport, tokens, limits), and one per
//! vendor over the harness in `vendors.rs`.
//! The helpers here serve the concern files.

mod acr;
mod artifactory;
mod cli;
mod digitalocean;
mod distribution;
mod dockerhub;
mod ecr;
mod gar;
mod gcr;
mod github;
mod gitlab;
mod harbor;
mod limits;
mod nexus;
mod quay;
mod tokens;
mod transport;
mod vendors;

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use cra_core::{Digest, Registry};
use cra_registries::{generic, ConnectOptions};
use cra_tests::registry::RegistryServer;
use futures_util::StreamExt;

pub(super) fn open(server: &RegistryServer) -> Arc<dyn Registry> {
    let opts = ConnectOptions {
        ca_bundle: server.ca_bundle_path(),
        ..ConnectOptions::default()
    };
    generic(
        &server.base_url(),
        server.username(),
        server.password(),
        &opts,
    )
    .expect("connect to the loopback registry")
}

pub(super) async fn collect_blob(
    registry: &dyn Registry,
    repo: &str,
    digest: &Digest,
    max: Option<u64>,
) -> (Vec<u8>, Option<cra_core::RegistryError>) {
    // A blob the registry announces as too large fails before streaming; others fail in the stream.
    let mut stream = match registry.fetch_blob(repo, digest, max).await {
        Ok(stream) => stream,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut bytes = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(e) => {
                assert!(stream.next().await.is_none(), "nothing after an error");
                return (bytes, Some(e));
            }
        }
    }
    (bytes, None)
}

// Stub servers below replay what the distribution spec and the token spec describe
// (https://distribution.github.io/distribution/spec/api/ and .../spec/auth/token) for the
// behaviours the loopback registry cannot produce.

#[derive(Default)]
pub(super) struct Seen {
    pub(super) token_requests: AtomicUsize,
    pub(super) authorizations: Mutex<Vec<Option<String>>>,
}

pub(super) fn auth_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
