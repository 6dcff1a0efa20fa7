//! Registry access for cra: one shared OCI distribution client and an adapter per registry type.
//!
//! The public surface is small:
//! - [`connect()`] turns the product's credentials into an `Arc<dyn Registry>`, and [`generic()`]
//!   does the same for a plain distribution registry named in an image reference;
//! - [`ConnectOptions`] says how to reach registries (extra CA bundle, plain HTTP, overrides);
//! - [`Error`] is what the adapters fail with; at the [`Registry`](cra_core::Registry) boundary it
//!   becomes a [`cra_core::RegistryError`], whose kind says what failed and whose source is the
//!   [`Error`] itself (downcast it for the digests of a mismatch or the [`Quota`] of a 429).
//!
//! Everything else (the distribution client, its token session and transport, the adapters) is
//! internal, and no type of the HTTP library crosses this boundary.
//! TLS trusts the built-in Mozilla roots, the certificates in `SSL_CERT_FILE` and `SSL_CERT_DIR`,
//! and [`ConnectOptions::ca_bundle`].
//! A registry on the loopback (`localhost`, `127.0.0.0/8`, `::1`) written without a scheme is
//! tried over HTTPS first and then over plain HTTP, as docker does; any other registry is reached
//! over HTTPS unless [`ConnectOptions::insecure_http`] is set or its base says `http://`.
//!
//! ```no_run
//! use cra_core::Registry;
//! use cra_registries::{generic, ConnectOptions};
//!
//! # async fn demo() -> Result<(), cra_core::RegistryError> {
//! let registry = generic("registry.example:5000", None, None, &ConnectOptions::default())?;
//! for repository in registry.list_all_repositories().await? {
//!     let tags = registry.list_all_tags(&repository).await?;
//!     println!("{repository}: {}", tags.join(", "));
//! }
//! # Ok(())
//! # }
//! ```

mod adapters;
mod config;
mod connect;
mod distribution;
mod error;
pub mod signatures;

#[doc(inline)]
pub use config::ConnectOptions;
#[doc(inline)]
pub use connect::{connect, generic};
#[doc(inline)]
pub use distribution::ratelimit::Quota;
#[doc(inline)]
pub use error::{Error, TransportError};
