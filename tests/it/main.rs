//! One integration test binary; each module is one area.
mod registries;
mod agent;
mod sbom;
