//! One integration test binary; each module is one area.
mod agent;
mod registries;
mod sbom;
mod scan;
