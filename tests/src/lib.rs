//! The harness the integration tests share.
