//! Streaming layer walk, package analyzers and output formats.

pub mod analyzers;
pub mod purl;
