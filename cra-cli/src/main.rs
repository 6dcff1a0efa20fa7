//! The `cra` command.
fn main() {}
