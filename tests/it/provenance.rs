//! Signature verification against the containers policy, with skopeo as the oracle: images on
//! the real registry are signed by skopeo and gpg, and cra's accept/reject must equal skopeo's.
mod agent;
mod cli;
mod fixture;
mod gpg_matrix;
mod scan_registry;
mod sigstore_keys;
mod sigstore_matrix;
