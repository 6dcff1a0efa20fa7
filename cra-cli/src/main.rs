//! The `cra` binary: parse, set up logging, run, and print the error chain on failure.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cra_cli::Cli::parse();
    cra_cli::logging::init();
    match cra_cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line per cause, so that a user sees what failed and why.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::FAILURE
        }
    }
}
