//! `cra completions <shell>` and `cra man`: clap's own generators over the command definition,
//! so they cannot drift from it.

use std::io::Write;

use clap::CommandFactory;

use crate::Cli;

/// Arguments of `cra completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "cra", out);
}

/// Writes the manual page, in roff, to `out`.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_name_every_subcommand() {
        let mut out = Vec::new();
        completions(clap_complete::Shell::Bash, &mut out);
        let script = String::from_utf8(out).unwrap();
        for sub in Cli::command().get_subcommands() {
            assert!(script.contains(sub.get_name()), "{}", sub.get_name());
        }
        assert!(script.contains("--password-stdin"));
    }

    #[test]
    fn man_page_is_roff_with_the_exit_codes() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH cra"),
            "{page}"
        );
        assert!(page.contains("Exit status"), "{page}");
    }

    #[test]
    fn the_summary_names_every_subcommand() {
        let cli = Cli::command();
        let about = cli.get_about().map(|a| a.to_string()).unwrap_or_default();
        for sub in cli.get_subcommands() {
            assert!(
                about.contains(&format!("`{}`", sub.get_name())),
                "{} missing from {about:?}",
                sub.get_name()
            );
        }
        cli.debug_assert();
    }
}
