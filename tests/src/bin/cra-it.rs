//! The `cra` program, built inside this package so that the integration tests can run it as a
//! process (cargo builds a package's binaries for its tests and names them in
//! `CARGO_BIN_EXE_<name>`); it is the same `cra_cli::main` as the shipped binary.

fn main() -> std::process::ExitCode {
    cra_cli::main()
}
