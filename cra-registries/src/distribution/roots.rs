//! Extra TLS roots besides the built-in Mozilla set: the `--ca-bundle` file, and the
//! `SSL_CERT_FILE` / `SSL_CERT_DIR` environment variables that OpenSSL, Go (and so syft) honour.
//!
//! A `--ca-bundle` that cannot be read is an error; an environment variable pointing at nothing
//! usable is only logged, because it belongs to the whole environment and not to cra.

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::error::{Error, Result};

/// PEM text that should hold certificates, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PemBundle {
    /// The file, for messages.
    pub(crate) origin: String,
    /// The PEM text.
    pub(crate) pem: Vec<u8>,
    /// Whether a bundle without a usable certificate is an error (the explicit CA bundle).
    pub(crate) required: bool,
}

/// `SSL_CERT_FILE` and `SSL_CERT_DIR` as the environment sets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvRoots {
    /// `SSL_CERT_FILE`: one PEM bundle.
    pub(crate) file: Option<PathBuf>,
    /// `SSL_CERT_DIR`: directories separated by `:`, every file of which may hold certificates.
    pub(crate) dirs: Vec<PathBuf>,
}

impl EnvRoots {
    /// Reads `SSL_CERT_FILE` and `SSL_CERT_DIR` from the process environment.
    pub(crate) fn from_env() -> EnvRoots {
        EnvRoots::from_values(
            std::env::var_os("SSL_CERT_FILE").map(PathBuf::from),
            std::env::var("SSL_CERT_DIR").ok().as_deref(),
        )
    }

    /// The roots named by the two values (empty values name nothing).
    pub(crate) fn from_values(file: Option<PathBuf>, dirs: Option<&str>) -> EnvRoots {
        EnvRoots {
            file: file.filter(|f| !f.as_os_str().is_empty()),
            dirs: dirs
                .unwrap_or_default()
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect(),
        }
    }
}

/// The PEM bundles to trust besides the built-in roots, the CA bundle first.
pub(crate) fn extra_roots(ca_bundle: Option<&Path>, env: &EnvRoots) -> Result<Vec<PemBundle>> {
    let mut out = Vec::new();
    if let Some(path) = ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            Error::InvalidInput(format!("cannot read CA bundle {}: {e}", path.display()))
        })?;
        out.push(PemBundle {
            origin: format!("CA bundle {}", path.display()),
            pem,
            required: true,
        });
    }
    if let Some(path) = &env.file {
        match std::fs::read(path) {
            Ok(pem) => out.push(PemBundle {
                origin: format!("SSL_CERT_FILE {}", path.display()),
                pem,
                required: false,
            }),
            Err(e) => {
                warn!(path = %path.display(), error = %e, "cannot read SSL_CERT_FILE; ignoring it")
            }
        }
    }
    for dir in &env.dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                warn!(path = %dir.display(), error = %e, "cannot read a directory of SSL_CERT_DIR; ignoring it");
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for file in files {
            // Directories hold other files too (hash links of the same certificates, READMEs);
            // only files with a PEM certificate count.
            let Ok(pem) = std::fs::read(&file) else {
                continue;
            };
            if holds_certificate(&pem) {
                out.push(PemBundle {
                    origin: format!("SSL_CERT_DIR file {}", file.display()),
                    pem,
                    required: false,
                });
            }
        }
    }
    Ok(out)
}

/// Whether PEM text has a certificate block.
fn holds_certificate(pem: &[u8]) -> bool {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    pem.windows(BEGIN.len()).any(|w| w == BEGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn environment_values_split_and_skip_empty() {
        let env = EnvRoots::from_values(Some(PathBuf::new()), Some("/a::/b"));
        assert_eq!(env.file, None);
        assert_eq!(env.dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(EnvRoots::from_values(None, None), EnvRoots::default());
    }

    #[test]
    fn reads_the_bundle_file_and_directories() {
        let dir = std::env::temp_dir().join(format!("cra-roots-{}", std::process::id()));
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let file = dir.join("bundle.pem");
        std::fs::write(&file, CERT).unwrap();
        std::fs::write(certs.join("b.pem"), CERT).unwrap();
        std::fs::write(certs.join("a.crt"), CERT).unwrap();
        std::fs::write(certs.join("README"), "not a certificate").unwrap();
        let env = EnvRoots::from_values(
            Some(file.clone()),
            Some(&format!(
                "{}:{}",
                certs.display(),
                dir.join("missing").display()
            )),
        );
        let got = extra_roots(Some(&file), &env).unwrap();
        let origins: Vec<&str> = got.iter().map(|b| b.origin.as_str()).collect();
        assert_eq!(origins.len(), 4, "{origins:?}");
        assert!(origins[0].starts_with("CA bundle") && got[0].required);
        assert!(origins[1].starts_with("SSL_CERT_FILE") && !got[1].required);
        assert!(origins[2].ends_with("a.crt") && origins[3].ends_with("b.pem"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_ca_bundle_is_an_error_but_a_missing_env_file_is_not() {
        let missing = Path::new("/nonexistent/cra/ca.pem");
        let err = extra_roots(Some(missing), &EnvRoots::default()).unwrap_err();
        assert!(err.to_string().contains("cannot read CA bundle"), "{err}");
        let env = EnvRoots::from_values(Some(missing.to_path_buf()), Some("/nonexistent/cra"));
        assert!(extra_roots(None, &env).unwrap().is_empty());
    }
}
