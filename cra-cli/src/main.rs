//! The `cra` binary; everything it does is in [`cra_cli::main`].

fn main() -> std::process::ExitCode {
    cra_cli::main()
}
