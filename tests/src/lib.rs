//! The harness the integration tests share.

pub mod agent;
pub mod image;
pub mod registry;
