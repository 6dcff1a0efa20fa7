//! Registry credentials for `cra scan` and `cra list`: flags, `--password-stdin`, the
//! environment, and (for `scan`) the Docker client's `config.json` with its credential helpers.
//!
//! One set of variables serves both commands, the same ones `cra client` reads:
//! `CR_USERNAME`, `CR_PASSWORD` and `CR_TOKEN`.
//! `CRA_USERNAME` and `CRA_PASSWORD`, which `scan` read before, remain aliases.
//! A flag wins over its variable; a user name without a password (or the reverse) is an error
//! rather than an anonymous request.

mod docker_config;
mod helper;

use std::io::Read;

use cra_core::Secret;

pub use docker_config::DockerConfig;

use crate::exit::Status;

/// Registry credential flags shared by `cra scan` and `cra list`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CredentialArgs {
    /// Registry user name [env: CR_USERNAME, or its alias CRA_USERNAME].
    #[arg(long)]
    pub username: Option<String>,
    /// Registry password [env: CR_PASSWORD, or its alias CRA_PASSWORD]; prefer
    /// --password-stdin, since arguments are visible to other users of the machine.
    #[arg(long, value_parser = parse_secret, conflicts_with = "password_stdin")]
    pub password: Option<Secret>,
    /// Read the password from standard input (one line; a trailing newline is dropped).
    #[arg(long)]
    pub password_stdin: bool,
    /// A registry token, used as the password, and as the user name when none is given
    /// [env: CR_TOKEN].
    #[arg(long, value_parser = parse_secret, conflicts_with_all = ["password", "password_stdin"])]
    pub token: Option<Secret>,
}

fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

/// A user name and its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: Secret,
}

/// Why no credentials could be worked out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A password (from `--password`, `--password-stdin` or `CR_PASSWORD`) but no user name.
    #[error("a password was given without a user name; give --username (or CR_USERNAME) too")]
    PasswordWithoutUser,
    /// A user name but no password.
    #[error(
        "user name {0:?} was given without a password; give --password-stdin, --password or CR_PASSWORD too"
    )]
    UserWithoutPassword(String),
    /// `--password-stdin` read nothing.
    #[error("--password-stdin read an empty password")]
    EmptyStdinPassword,
    /// `--password-stdin` could not read standard input.
    #[error("cannot read the password from standard input")]
    ReadStdin(#[source] std::io::Error),
    /// The Docker config file could not be read or parsed.
    #[error("cannot read the Docker config {path}")]
    DockerConfig {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A credential helper failed.
    #[error(transparent)]
    Helper(#[from] helper::HelperError),
}

impl CredentialError {
    /// The exit status this error leads to.
    pub fn status(&self) -> Status {
        match self {
            CredentialError::PasswordWithoutUser
            | CredentialError::UserWithoutPassword(_)
            | CredentialError::EmptyStdinPassword => Status::Usage,
            _ => Status::Failure,
        }
    }
}

/// Where environment variables come from (the process, or a map in tests).
pub trait Env {
    /// The value of `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl CredentialArgs {
    /// The login the flags, standard input and environment give, or `None` for none at all.
    ///
    /// Each value comes from its flag, else its variable; `--password-stdin` reads `stdin`.
    pub fn resolve(
        &self,
        env: &dyn Env,
        stdin: &mut dyn Read,
    ) -> Result<Option<Login>, CredentialError> {
        let username = self
            .username
            .clone()
            .filter(|u| !u.is_empty())
            .or_else(|| env.var("CR_USERNAME"))
            .or_else(|| env.var("CRA_USERNAME"));
        let password = if self.password_stdin {
            Some(read_password(stdin)?)
        } else {
            self.password.clone().filter(|p| !p.is_empty())
        };
        let token = self.token.clone().filter(|t| !t.is_empty());
        let password = password.or_else(|| {
            // A flag of either kind wins over every variable.
            if token.is_some() {
                return None;
            }
            env.var("CR_PASSWORD")
                .or_else(|| env.var("CRA_PASSWORD"))
                .map(Secret::new)
        });
        let token = token.or_else(|| env.var("CR_TOKEN").map(Secret::new));
        match (username, password, token) {
            (None, None, None) => Ok(None),
            (Some(username), Some(password), _) => Ok(Some(Login { username, password })),
            (Some(username), None, Some(token)) => Ok(Some(Login {
                username,
                password: token,
            })),
            (None, None, Some(token)) => Ok(Some(Login {
                username: token.expose().to_owned(),
                password: token,
            })),
            (None, Some(_), _) => Err(CredentialError::PasswordWithoutUser),
            (Some(username), None, None) => Err(CredentialError::UserWithoutPassword(username)),
        }
    }
}

/// The first line of `stdin`, without its line ending.
fn read_password(stdin: &mut dyn Read) -> Result<Secret, CredentialError> {
    // A password is short; reading at most 64 KiB keeps a mistaken pipe from filling memory.
    let mut text = String::new();
    stdin
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(CredentialError::ReadStdin)?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(CredentialError::EmptyStdinPassword);
    }
    Ok(Secret::new(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, &'static str>);

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    fn env(pairs: &[(&'static str, &'static str)]) -> MapEnv {
        MapEnv(pairs.iter().copied().collect())
    }

    fn args(username: Option<&str>, password: Option<&str>, stdin: bool) -> CredentialArgs {
        CredentialArgs {
            username: username.map(str::to_owned),
            password: password.map(Secret::new),
            password_stdin: stdin,
            token: None,
        }
    }

    fn login(user: &str, password: &str) -> Option<Login> {
        Some(Login {
            username: user.into(),
            password: Secret::new(password),
        })
    }

    #[test]
    fn nothing_means_anonymous() {
        let got = args(None, None, false).resolve(&env(&[]), &mut &b""[..]);
        assert_eq!(got.unwrap(), None);
    }

    #[test]
    fn stdin_password_drops_the_line_ending_only() {
        let got = args(Some("ci"), None, true).resolve(&env(&[]), &mut &b" pa ss\r\nrest"[..]);
        assert_eq!(got.unwrap(), login("ci", " pa ss"));
        let empty = args(Some("ci"), None, true).resolve(&env(&[]), &mut &b"\n"[..]);
        assert!(matches!(empty, Err(CredentialError::EmptyStdinPassword)));
    }

    #[test]
    fn variables_and_their_aliases() {
        let e = env(&[("CR_USERNAME", "cr"), ("CR_PASSWORD", "crpw")]);
        let got = args(None, None, false).resolve(&e, &mut &b""[..]).unwrap();
        assert_eq!(got, login("cr", "crpw"));
        let e = env(&[("CRA_USERNAME", "old"), ("CRA_PASSWORD", "oldpw")]);
        let got = args(None, None, false).resolve(&e, &mut &b""[..]).unwrap();
        assert_eq!(got, login("old", "oldpw"));
        // A flag wins over its variable, and the other value still comes from the environment.
        let e = env(&[("CR_USERNAME", "cr"), ("CR_PASSWORD", "crpw")]);
        let got = args(Some("flag"), None, false).resolve(&e, &mut &b""[..]);
        assert_eq!(got.unwrap(), login("flag", "crpw"));
    }

    #[test]
    fn half_a_credential_is_an_error() {
        let got = args(None, Some("pw"), false).resolve(&env(&[]), &mut &b""[..]);
        assert!(matches!(got, Err(CredentialError::PasswordWithoutUser)));
        let got = args(None, None, true).resolve(&env(&[]), &mut &b"pw\n"[..]);
        assert!(matches!(got, Err(CredentialError::PasswordWithoutUser)));
        let got = args(Some("u"), None, false).resolve(&env(&[]), &mut &b""[..]);
        assert!(matches!(got, Err(CredentialError::UserWithoutPassword(u)) if u == "u"));
        let got = args(None, None, false).resolve(&env(&[("CR_PASSWORD", "x")]), &mut &b""[..]);
        assert!(matches!(got, Err(CredentialError::PasswordWithoutUser)));
    }

    #[test]
    fn a_token_alone_is_user_and_password() {
        let got = args(None, None, false).resolve(&env(&[("CR_TOKEN", "tok")]), &mut &b""[..]);
        assert_eq!(got.unwrap(), login("tok", "tok"));
        let mut a = args(Some("bot"), None, false);
        a.token = Some(Secret::new("tok"));
        let got = a.resolve(&env(&[("CR_PASSWORD", "ignored")]), &mut &b""[..]);
        assert_eq!(got.unwrap(), login("bot", "tok"));
    }

    #[test]
    fn errors_do_not_carry_the_password() {
        let err = args(None, Some("hunter2"), false)
            .resolve(&env(&[]), &mut &b""[..])
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }
}
