//! One adapter per registry type; each adds only auth, listing and quirks to the shared
//! [`distribution::Client`](crate::distribution::Client), through [`vendor::Vendor`].

pub(crate) mod acr;
pub(crate) mod artifactory;
pub(crate) mod digitalocean;
pub(crate) mod dockerhub;
#[cfg(feature = "ecr")]
pub(crate) mod ecr;
pub(crate) mod gar;
pub(crate) mod gcr;
pub(crate) mod generic;
pub(crate) mod github;
pub(crate) mod gitlab;
pub(crate) mod harbor;
pub(crate) mod nexus;
pub(crate) mod quay;
pub(crate) mod vendor;
