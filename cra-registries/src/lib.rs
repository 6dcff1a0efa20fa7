//! Registry access for cra: one shared OCI distribution client and an adapter per registry type.
//!
//! [`connect()`] turns the product's credentials into an `Arc<dyn Registry>`; [`generic()`] does the
//! same for a plain distribution registry named in an image reference.
//! Every adapter sends through [`distribution::Client`], which handles the token flow,
//! pagination, manifests, verified blob streams, retries and redirects.
//! Errors surface as [`cra_core::RegistryError`], whose kind says what failed.
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

pub mod adapters;
pub mod config;
pub mod connect;
pub mod distribution;
pub mod error;

#[doc(inline)]
pub use config::ConnectOptions;
#[doc(inline)]
pub use connect::{connect, generic};
#[doc(inline)]
pub use error::Error;
