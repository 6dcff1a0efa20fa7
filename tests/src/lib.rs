//! The harness the integration tests share.

pub mod agent;
pub mod app_image;
pub mod broker;
pub mod image;
pub mod logs;
pub mod osv;
pub mod process;
pub mod registry;
pub mod signing;
pub mod sigstore;
