//! Reading the policy file, the `registries.d` directory and the keys a policy names.

use std::path::{Path, PathBuf};

use cra_core::policy::{KeySource, Policy, PolicyError, RegistriesD, RegistriesFile};

/// The largest policy, `registries.d` file or key file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;
/// The most files read from a `registries.d` directory.
const MAX_FILES: usize = 1000;

/// Why the trust configuration cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustConfigError {
    /// A file or directory cannot be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than cra reads.
    #[error("{} is larger than {MAX_FILE} bytes", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
    },
    /// The policy is invalid.
    #[error("invalid policy {}", path.display())]
    Policy {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: PolicyError,
    },
    /// A `registries.d` file is not valid YAML of its shape.
    #[error("invalid registries.d file {}", path.display())]
    Yaml {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_yaml_ng::Error,
    },
    /// The `registries.d` files conflict.
    #[error("invalid registries.d directory {}", path.display())]
    RegistriesD {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: PolicyError,
    },
    /// More files than cra reads.
    #[error("{} has more than {MAX_FILES} files", path.display())]
    TooManyFiles {
        /// The directory.
        path: PathBuf,
    },
}

pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, TrustConfigError> {
    use std::io::Read;
    let io = |source| TrustConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(TrustConfigError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}

/// Reads and parses a containers-policy.json.
pub(crate) fn policy(path: &Path) -> Result<Policy, TrustConfigError> {
    Policy::from_json(&read_bounded(path)?).map_err(|source| TrustConfigError::Policy {
        path: path.to_owned(),
        source,
    })
}

/// Reads every `*.yaml` file of a `registries.d` directory, in name order, and merges them.
pub(crate) fn registries_d(dir: &Path) -> Result<RegistriesD, TrustConfigError> {
    let io = |source| TrustConfigError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "yaml") && path.is_file() {
            paths.push(path);
        }
        if paths.len() > MAX_FILES {
            return Err(TrustConfigError::TooManyFiles {
                path: dir.to_owned(),
            });
        }
    }
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let bytes = read_bounded(&path)?;
        let parsed: Option<RegistriesFile> =
            serde_yaml_ng::from_slice(&bytes).map_err(|source| TrustConfigError::Yaml {
                path: path.clone(),
                source,
            })?;
        files.push((path.display().to_string(), parsed.unwrap_or_default()));
    }
    RegistriesD::merge(files).map_err(|source| TrustConfigError::RegistriesD {
        path: dir.to_owned(),
        source,
    })
}

/// Where containers tools look for `name` (`policy.json`, `registries.d`) when none is given:
/// `$HOME/.config/containers/<name>` if it exists, else `/etc/containers/<name>` if it does
/// (containers-policy.json(5), containers-registries.d(5)).
pub fn default_location(name: &str) -> Option<PathBuf> {
    let user =
        std::env::var_os("HOME").map(|home| Path::new(&home).join(".config/containers").join(name));
    user.into_iter()
        .chain([Path::new("/etc/containers").join(name)])
        .find(|p| p.exists())
}

/// The raw bytes of each key source (one element per file, or the inline data).
pub(crate) fn key_material(source: &KeySource) -> Result<Vec<Vec<u8>>, TrustConfigError> {
    match source {
        KeySource::Data(keys) => Ok(keys.clone()),
        KeySource::Paths(paths) => paths.iter().map(|p| read_bounded(p)).collect(),
    }
}
