//! One adapter per registry type; each adds only auth, listing and quirks to the shared
//! [`distribution::Client`](crate::distribution::Client), through [`vendor::Vendor`].

pub mod acr;
pub mod artifactory;
pub mod digitalocean;
pub mod dockerhub;
#[cfg(feature = "ecr")]
pub mod ecr;
pub mod gar;
pub mod gcr;
pub mod generic;
pub mod github;
pub mod gitlab;
pub mod harbor;
pub mod nexus;
pub mod quay;
pub mod vendor;

pub use generic::Generic;
pub use vendor::{Adapter, Vendor};
