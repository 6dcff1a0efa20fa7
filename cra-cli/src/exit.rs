//! The exit status of `cra`, chosen from the typed errors in a failure's chain.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure |
//! | 2 | usage: bad flags, arguments, image reference, format or credentials |
//! | 3 | the image, tag, repository, archive or requested platform was not found |
//! | 4 | the registry refused the credentials (unauthorized or forbidden) |
//! | 5 | the registry could not be reached, failed or asked to slow down |
//! | 6 | the image or archive is invalid (malformed, corrupt layer, digest mismatch) |
//! | 7 | `--fail-on`: the scan worked and the image fails the severity or grade gate |
//! | 8 | the signature policy refused the image (`--policy`) |
//!
//! `cra scan-registry` scans every image first, then ends with 8 if any image was refused, else
//! 7 if any fails `--fail-on`, else 1 if any could not be scanned.

use std::process::ExitCode;

use cra_core::reference::ReferenceError;
use cra_core::UnknownKind;
use cra_core::{ErrorKind, RegistryError};
use cra_scan::vulns::policy::GateFailed;
use cra_scan::ScanError;

use cra_registries::signatures::TrustConfigError;

use crate::commands::scan::output::OutputError;
use crate::commands::scan::provenance::{LocalImage, PolicyRefused};
use crate::commands::scan_registry::outcome::{Cause, RunFailed};
use crate::credentials::CredentialError;

/// The exit statuses `cra` documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: the command did what it was asked.
    Success = 0,
    /// 1: a failure none of the other codes describes.
    Failure = 1,
    /// 2: the command line (or the credentials given) cannot be used.
    Usage = 2,
    /// 3: the image, tag, repository or archive does not exist.
    NotFound = 3,
    /// 4: the registry refused the credentials.
    AuthRefused = 4,
    /// 5: the registry could not be reached or failed.
    Unreachable = 5,
    /// 6: the image or archive is malformed.
    InvalidImage = 6,
    /// 7: the image fails the `--fail-on` gate.
    GateFailed = 7,
    /// 8: the signature policy refused the image.
    PolicyRefused = 8,
}

/// The table of exit codes, for `--help`.
pub const HELP: &str = "\
Exit status:
  0  success
  1  any other failure
  2  usage: bad flags, arguments, image reference, format or credentials
  3  image, tag, repository, archive or requested platform not found
  4  the registry refused the credentials
  5  the registry could not be reached, failed or asked to slow down
  6  invalid image or archive (malformed, corrupt layer, digest mismatch)
  7  --fail-on: the image has a finding of that severity, or that grade or worse
  8  the signature policy refused the image (--policy)";

impl Status {
    /// The status for a failed command: the outermost error in the chain that says one.
    pub fn of(error: &anyhow::Error) -> Status {
        error
            .chain()
            .find_map(|cause| {
                if cause.is::<GateFailed>() {
                    Some(Status::GateFailed)
                } else if cause.is::<PolicyRefused>() {
                    Some(Status::PolicyRefused)
                } else if cause.is::<LocalImage>() || cause.is::<TrustConfigError>() {
                    Some(Status::Usage)
                } else if let Some(e) = cause.downcast_ref::<RunFailed>() {
                    Some(match e.cause() {
                        Cause::Refused => Status::PolicyRefused,
                        Cause::Gate => Status::GateFailed,
                        Cause::Failed => Status::Failure,
                    })
                } else if let Some(e) = cause.downcast_ref::<ScanError>() {
                    scan_status(e)
                } else if let Some(e) = cause.downcast_ref::<RegistryError>() {
                    Some(registry_status(e.kind()))
                } else if let Some(e) = cause.downcast_ref::<CredentialError>() {
                    Some(e.status())
                } else if let Some(e) = cause.downcast_ref::<std::io::Error>() {
                    (e.kind() == std::io::ErrorKind::NotFound).then_some(Status::NotFound)
                } else if cause.is::<OutputError>()
                    || cause.is::<ReferenceError>()
                    || cause.is::<UnknownKind>()
                    || cause.is::<clap::Error>()
                {
                    Some(Status::Usage)
                } else {
                    None
                }
            })
            .unwrap_or(Status::Failure)
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status as u8)
    }
}

fn registry_status(kind: ErrorKind) -> Status {
    match kind {
        ErrorKind::NotFound => Status::NotFound,
        ErrorKind::Unauthorized | ErrorKind::Forbidden => Status::AuthRefused,
        ErrorKind::Unavailable | ErrorKind::RateLimited => Status::Unreachable,
        ErrorKind::InvalidInput => Status::Usage,
        ErrorKind::DigestMismatch => Status::InvalidImage,
        _ => Status::Failure,
    }
}

fn scan_status(error: &ScanError) -> Option<Status> {
    Some(match error {
        ScanError::Registry { source, .. } => registry_status(source.kind()),
        ScanError::NotFound { .. } | ScanError::PlatformUnavailable { .. } => Status::NotFound,
        ScanError::DigestMismatch { .. }
        | ScanError::SizeMismatch { .. }
        | ScanError::Layer { .. }
        | ScanError::Archive { .. }
        | ScanError::Metadata { .. }
        | ScanError::UnsupportedMediaType { .. } => Status::InvalidImage,
        ScanError::InvalidSource { .. } => Status::Usage,
        ScanError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Status::NotFound
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use anyhow::Context;

    fn status(error: impl Into<anyhow::Error>) -> Status {
        Status::of(&error.into())
    }

    #[test]
    fn registry_kinds_map_through_context() {
        let e = anyhow::Error::new(RegistryError::new(ErrorKind::Unauthorized, "fetching"))
            .context("cannot scan x");
        assert_eq!(Status::of(&e), Status::AuthRefused);
        let scan = ScanError::Registry {
            context: "fetching manifest".into(),
            source: RegistryError::new(ErrorKind::NotFound, "manifest unknown"),
        };
        assert_eq!(status(scan), Status::NotFound);
        assert_eq!(
            status(RegistryError::new(ErrorKind::Unavailable, "connect")),
            Status::Unreachable
        );
    }

    #[test]
    fn bad_images_and_usage() {
        let bad = ScanError::Archive {
            path: "x.tar".into(),
            reason: "no manifest.json".into(),
        };
        assert_eq!(status(bad), Status::InvalidImage);
        let reference = "UPPER/case:tag:"
            .parse::<cra_core::Reference>()
            .unwrap_err();
        assert_eq!(status(reference), Status::Usage);
        let missing = std::fs::read("/nonexistent/cra/archive.tar")
            .context("cannot read")
            .unwrap_err();
        assert_eq!(Status::of(&missing), Status::NotFound);
        assert_eq!(Status::of(&anyhow::anyhow!("other")), Status::Failure);
    }

    #[test]
    fn a_failed_gate_is_its_own_status() {
        let gate = GateFailed::Severity {
            min: cra_scan::vulns::severity::Severity::High,
            count: 2,
        };
        assert_eq!(status(gate), Status::GateFailed);
        assert_eq!(Status::GateFailed as u8, 7);
    }

    #[test]
    fn help_lists_every_status() {
        for code in 0..=8 {
            assert!(HELP.contains(&format!("\n  {code}  ")), "{code}");
        }
    }
}
