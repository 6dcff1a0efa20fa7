//! The `cra` binary: parse, set up logging, run, and print the error chain on failure.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

fn main() -> ExitCode {
    let cli = cra_cli::Cli::parse();
    cra_cli::logging::init();
    let result = cra_cli::runtime(&cli.command)
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(cra_cli::run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line per cause, so that a user sees what failed and why.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err}");
                // A cause whose text the line before already says (a registry error keeps the
                // adapter's error as its source, for callers that downcast) is not repeated.
                let mut previous = err.to_string();
                for cause in err.chain().skip(1) {
                    let text = cause.to_string();
                    if !previous.contains(&text) {
                        eprintln!("  caused by: {text}");
                    }
                    previous = text;
                }
            }
            ExitCode::FAILURE
        }
    }
}
