//! The Docker client's `config.json`: `auths`, `credHelpers` and `credsStore`, looked up as
//! docker does.
//!
//! For a registry host, a `credHelpers` entry names the helper to ask; otherwise `credsStore`
//! names one for every registry; otherwise (or when the store has nothing for the host) the
//! `auths` entry is used.
//! Helpers are the `docker-credential-<name>` programs on `PATH` (see `helper.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use cra_core::Secret;
use serde::Deserialize;

use super::helper;
use super::{CredentialError, Env, Login};

/// The server address docker stores Docker Hub's credentials under.
const DOCKER_HUB_INDEX: &str = "https://index.docker.io/v1/";

/// The parts of `config.json` that hold credentials.
#[derive(Debug, Default, Deserialize)]
pub struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

/// One `auths` entry: `auth` is base64 of `user:password`.
#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
}

impl DockerConfig {
    /// The config of `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`; an
    /// empty config when the file does not exist.
    pub fn load(env: &dyn Env) -> Result<Self, CredentialError> {
        let Some(dir) = env
            .var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".docker")))
        else {
            return Ok(Self::default());
        };
        let path = dir.join("config.json");
        match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&bytes).map_err(|e| CredentialError::DockerConfig {
                path,
                source: e.into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(CredentialError::DockerConfig {
                path,
                source: e.into(),
            }),
        }
    }

    /// Parses the text of a `config.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The login for registry `host` (`docker.io` for Docker Hub), if the config has one.
    pub async fn login(&self, host: &str) -> Result<Option<Login>, CredentialError> {
        let keys = keys_for(host);
        let server = server_address(host);
        let helper_name = keys
            .iter()
            .find_map(|k| self.cred_helpers.get(k))
            .or(self.creds_store.as_ref());
        if let Some(name) = helper_name {
            match helper::get(name, &server).await {
                Ok(Some(login)) => return Ok(Some(login)),
                // A store without an entry for the host leaves the `auths` of the file.
                Ok(None) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let entry = keys.iter().find_map(|k| {
            self.auths
                .get(k)
                .or_else(|| self.auths.get(&format!("{k}/")))
        });
        Ok(entry.and_then(AuthEntry::login))
    }
}

impl AuthEntry {
    fn login(&self) -> Option<Login> {
        if let Some(encoded) = self.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (user, password) = decoded.split_once(':')?;
            return Some(Login {
                username: user.to_owned(),
                password: Secret::new(password),
            });
        }
        Some(Login {
            username: self.username.clone()?,
            password: self.password.clone()?,
        })
    }
}

/// The keys `host` may be stored under, as docker writes them.
fn keys_for(host: &str) -> Vec<String> {
    if host == cra_core::reference::DOCKER_HUB {
        vec![
            DOCKER_HUB_INDEX.into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![
            host.to_owned(),
            format!("https://{host}"),
            format!("http://{host}"),
        ]
    }
}

/// The server address docker hands a credential helper for `host`.
fn server_address(host: &str) -> String {
    if host == cra_core::reference::DOCKER_HUB {
        DOCKER_HUB_INDEX.to_owned()
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn auths_in_both_spellings() {
        let cfg = DockerConfig::parse(
            br#"{"auths":{"localhost:5000":{"auth":"dXNlcjpwYSQ6c3M="},
            "https://index.docker.io/v1/":{"username":"hub","password":"pw"}}}"#,
        )
        .unwrap();
        let login = cfg.login("localhost:5000").await.unwrap().unwrap();
        assert_eq!(login.username, "user");
        assert_eq!(login.password.expose(), "pa$:ss");
        let hub = cfg.login("docker.io").await.unwrap().unwrap();
        assert_eq!(hub.username, "hub");
        assert!(cfg.login("other:5000").await.unwrap().is_none());
    }

    #[test]
    fn helpers_parse() {
        let cfg = DockerConfig::parse(
            br#"{"auths":{},"credsStore":"desktop","credHelpers":{"gcr.io":"gcloud"}}"#,
        )
        .unwrap();
        assert_eq!(cfg.creds_store.as_deref(), Some("desktop"));
        assert_eq!(cfg.cred_helpers["gcr.io"], "gcloud");
        assert!(DockerConfig::parse(b"{\"auths\": 3}").is_err());
    }
}
