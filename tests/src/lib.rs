//! The harness the integration tests share.

pub mod agent;
pub mod broker;
pub mod image;
pub mod logs;
pub mod osv;
pub mod registry;
