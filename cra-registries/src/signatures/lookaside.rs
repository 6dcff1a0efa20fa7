//! Reading simple signing signatures from a lookaside store (`file://` or `http(s)://`).
//!
//! Signatures of a manifest are `signature-1`, `signature-2`, … below
//! `<lookaside>/<repository>@<algorithm>=<hex>/`; reading stops at the first one that does not
//! exist (a missing file or an HTTP 404), after at most [`MAX_SIGNATURES`].
//! Errors name a store by its URL without user info or query, which may hold credentials.

use std::path::PathBuf;

use cra_core::policy::registries_d::lookaside_signature_url;
use cra_core::policy::{DockerIdentity, SignatureRefusal};
use cra_core::Digest;
use http::StatusCode;
use tokio::io::AsyncReadExt;
use url::Url;

use crate::config::{ConnectOptions, RegistryBase};
use crate::distribution::request::{redact, Auth, Request};
use crate::distribution::transport::Transport;

/// The most signatures read for one manifest (as containers/image).
pub const MAX_SIGNATURES: usize = 128;
/// The largest signature read (as containers/image).
pub const MAX_SIGNATURE_SIZE: u64 = 4 * 1024 * 1024;

/// Why a lookaside store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LookasideError {
    /// The configured location is not a URL.
    #[error("lookaside {url:?} is not a URL")]
    Url {
        /// The location.
        url: String,
        /// Why.
        #[source]
        source: url::ParseError,
    },
    /// A scheme other than file, http and https.
    #[error("lookaside {0:?} is neither file://, http:// nor https://")]
    Scheme(String),
    /// A file could not be read.
    #[error("cannot read signature {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP request failed or the server answered an error other than 404.
    #[error("cannot read signature {url}")]
    Http {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: crate::Error,
    },
    /// More than [`MAX_SIGNATURES`] signatures.
    #[error("more than {MAX_SIGNATURES} signatures in the lookaside")]
    TooMany,
}

/// One signature as read: its bytes, or a refusal when it is larger than we read.
pub(crate) type Fetched = Result<Vec<u8>, SignatureRefusal>;

/// Reads every signature of `digest` for `image` from the lookaside at `base`.
pub(crate) async fn fetch_all(
    base: &str,
    image: &DockerIdentity,
    digest: &Digest,
    opts: &ConnectOptions,
) -> Result<Vec<Fetched>, LookasideError> {
    let parsed = Url::parse(base).map_err(|source| LookasideError::Url {
        url: base.to_owned(),
        source,
    })?;
    let store = match parsed.scheme() {
        "file" => Store::File,
        "http" | "https" => {
            let origin = format!("{}://{}", parsed.scheme(), authority(&parsed));
            let transport = RegistryBase::parse(&origin, false)
                .and_then(|b| Transport::new(&b, opts))
                .map_err(|source| LookasideError::Http {
                    url: redact(&parsed),
                    source,
                })?;
            Store::Http(transport)
        }
        _ => return Err(LookasideError::Scheme(redact(&parsed))),
    };
    let mut out = Vec::new();
    for index in 1..=MAX_SIGNATURES + 1 {
        let url = lookaside_signature_url(base, image, digest, index);
        let got = match &store {
            Store::File => read_file(&url).await?,
            Store::Http(transport) => read_http(transport, &url).await?,
        };
        match got {
            None => return Ok(out),
            Some(_) if index > MAX_SIGNATURES => return Err(LookasideError::TooMany),
            Some(sig) => out.push(sig),
        }
    }
    Err(LookasideError::TooMany)
}

enum Store {
    File,
    Http(Transport),
}

fn authority(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

async fn read_file(url: &str) -> Result<Option<Fetched>, LookasideError> {
    let parsed = Url::parse(url).map_err(|source| LookasideError::Url {
        url: url.to_owned(),
        source,
    })?;
    let path = parsed
        .to_file_path()
        .map_err(|()| LookasideError::Scheme(redact(&parsed)))?;
    let io = |source| LookasideError::Io {
        path: path.clone(),
        source,
    };
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_SIZE + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SIGNATURE_SIZE {
        return Ok(Some(Err(SignatureRefusal::TooLarge {
            limit: MAX_SIGNATURE_SIZE,
        })));
    }
    Ok(Some(Ok(bytes)))
}

async fn read_http(transport: &Transport, url: &str) -> Result<Option<Fetched>, LookasideError> {
    let parsed = Url::parse(url).map_err(|source| LookasideError::Url {
        url: url.to_owned(),
        source,
    })?;
    let shown = redact(&parsed);
    let http = |source| LookasideError::Http {
        url: shown.clone(),
        source,
    };
    let what = "lookaside signature";
    let response = transport
        .execute(&Request::get(parsed, Auth::None), None, what)
        .await
        .map_err(http)?;
    match response.status() {
        StatusCode::NOT_FOUND => Ok(None),
        status if status.is_success() => {
            match response.bytes_limited(MAX_SIGNATURE_SIZE, what).await {
                Ok(bytes) => Ok(Some(Ok(bytes.to_vec()))),
                Err(crate::Error::TooLarge { .. }) => Ok(Some(Err(SignatureRefusal::TooLarge {
                    limit: MAX_SIGNATURE_SIZE,
                }))),
                Err(e) => Err(http(e)),
            }
        }
        _ => Err(http(response.into_error(what.to_owned(), false).await)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_do_not_show_the_credentials_of_a_store() {
        let image = DockerIdentity::of(&"registry.test/team/app:v1".parse().unwrap());
        let digest = Digest::sha256_of(b"manifest");
        let err = fetch_all(
            "ftp://robot:s3cret@store.test/sigs?token=t0ken",
            &image,
            &digest,
            &ConnectOptions::default(),
        )
        .await
        .unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, LookasideError::Scheme(_)), "{shown}");
        assert!(shown.contains("store.test/sigs"), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "{shown}"
        );
    }
}
