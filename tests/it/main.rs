//! One integration test binary; each module is one area.
mod agent;
mod broker;
mod cli;
mod deploy;
mod jars;
mod poetry;
mod provenance;
mod registries;
mod sbom;
mod scan;
mod soak;
mod vulns;
