//! The domain model of cra, with no IO.
//!
//! - [`Reference`]: an image reference, `host[:port]/path[:tag][@digest]`, normalised.
//! - [`Digest`]: a validated `sha256:`/`sha512:` digest, and [`digest::Hasher`] to verify content.
//! - [`RegistryCredentials`]: the product's `CR_CREDENTIALS`, with secrets that never print.
//! - [`Registry`]: the async contract every registry adapter fulfils (in `cra-registries`),
//!   returning [`RegistryError`]s whose [`ErrorKind`] maps onto HTTP statuses.
//! - [`manifest`]: manifests, indexes, configs and platform selection over `oci-spec` types.
//! - [`Package`], [`Ecosystem`], [`OsRelease`]: what a scan reports.
//! - [`policy`]: containers-policy.json and registries.d, the image trust policy.
//! - [`text::escape_untrusted`]: untrusted text made safe for terminals and log lines.
//!
//! ```
//! use cra_core::{Digest, Reference, RegistryCredentials, RegistryKind};
//!
//! let r: Reference = "nginx".parse()?;
//! assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
//!
//! let d = Digest::sha256_of(b"");
//! assert!(d.to_string().starts_with("sha256:e3b0c442"));
//!
//! let creds = RegistryCredentials::Basic {
//!     kind: RegistryKind::Harbor,
//!     registry_base: "harbor.example".into(),
//!     username: "robot$ci".into(),
//!     password: "hunter2".to_owned().into(),
//! };
//! assert!(!format!("{creds:?}").contains("hunter2"));
//! let decoded = RegistryCredentials::from_base64(&creds.to_base64())?;
//! assert_eq!(decoded, creds);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod blob;
pub mod credentials;
pub mod digest;
pub mod error;
pub mod kind;
pub mod manifest;
pub mod package;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod text;

#[doc(inline)]
pub use blob::BlobStream;
#[doc(inline)]
pub use credentials::{CredentialsError, RegistryCredentials, RegistryVariables, Secret};
#[doc(inline)]
pub use digest::Digest;
#[doc(inline)]
pub use error::{ErrorKind, RegistryError, Result};
#[doc(inline)]
pub use kind::{RegistryKind, UnknownKind};
#[doc(inline)]
pub use manifest::{FetchedManifest, Manifest, Platform};
#[doc(inline)]
pub use package::{Ecosystem, Location, OsRelease, Package};
#[doc(inline)]
pub use reference::Reference;
#[doc(inline)]
pub use registry::{Page, PageRequest, Registry, TagInfo};
