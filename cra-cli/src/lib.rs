//! The cra command, as a library so tests can drive it in-process.
