//! The harness the integration tests share.

pub mod registry;
pub mod agent;
