//! Docker credential helpers: `docker-credential-<name> get`, with the server address on
//! stdin and `{"ServerURL", "Username", "Secret"}` on stdout, as docker runs them.

use std::process::Stdio;
use std::time::Duration;

use cra_core::text::escape_untrusted;
use cra_core::Secret;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::Login;

/// How long a helper may take; a desktop keychain may wait for the user to unlock it.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What the stock helpers print when they have nothing for the server.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// Why a credential helper gave no login.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelperError {
    /// The helper's name would make a path, not a program name.
    #[error("invalid credential helper name {0:?} in the Docker config")]
    InvalidName(String),
    /// The program could not be started (usually: it is not on `PATH`).
    #[error("cannot run {program} (named in the Docker config)")]
    Spawn {
        /// `docker-credential-<name>`.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The program did not finish in time.
    #[error("{program} did not answer within {} s", TIMEOUT.as_secs())]
    Timeout {
        /// `docker-credential-<name>`.
        program: String,
    },
    /// The program failed.
    #[error("{program} failed: {message}")]
    Failed {
        /// `docker-credential-<name>`.
        program: String,
        /// Its first line of output, escaped.
        message: String,
    },
    /// The program's answer is not the JSON the protocol defines.
    #[error("{program} answered something other than credentials JSON")]
    BadAnswer {
        /// `docker-credential-<name>`.
        program: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The helper holds an identity token, which is exchanged with a registry-specific OAuth
    /// flow that cra does not implement.
    #[error("{program} holds an identity token for this registry, which cra cannot use; give --username and --password-stdin")]
    IdentityToken {
        /// `docker-credential-<name>`.
        program: String,
    },
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: Secret,
}

/// Asks helper `name` for the credentials of `server`; `None` when it has none.
pub(super) async fn get(name: &str, server: &str) -> Result<Option<Login>, HelperError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        || name.starts_with('.')
    {
        return Err(HelperError::InvalidName(
            escape_untrusted(name).into_owned(),
        ));
    }
    let program = format!("docker-credential-{name}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| HelperError::Spawn {
            program: program.clone(),
            source,
        })?;
    let mut stdin = child.stdin.take();
    let run = async {
        if let Some(stdin) = stdin.as_mut() {
            // A helper that exits without reading its input makes this fail; its exit status
            // and output say more, so the write error is not reported.
            let _ = stdin.write_all(server.as_bytes()).await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    let output = match tokio::time::timeout(TIMEOUT, run).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(HelperError::Spawn { program, source }),
        Err(_) => return Err(HelperError::Timeout { program }),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if stdout.trim() == NOT_FOUND {
            return Ok(None);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stdout
            .lines()
            .chain(stderr.lines())
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        let message: String = first.chars().take(200).collect();
        return Err(HelperError::Failed {
            program,
            message: escape_untrusted(&message).into_owned(),
        });
    }
    let answer: Answer =
        serde_json::from_str(&stdout).map_err(|source| HelperError::BadAnswer {
            program: program.clone(),
            source,
        })?;
    if answer.username == "<token>" {
        return Err(HelperError::IdentityToken { program });
    }
    Ok(Some(Login {
        username: answer.username,
        password: answer.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_that_make_paths_are_refused() {
        for name in ["../evil", "a/b", "", ".hidden"] {
            let err = get(name, "localhost:5000").await.unwrap_err();
            assert!(matches!(err, HelperError::InvalidName(_)), "{name}: {err}");
        }
    }

    #[tokio::test]
    async fn a_missing_helper_is_named() {
        let err = get("cra-test-no-such-helper", "h").await.unwrap_err();
        assert!(
            err.to_string()
                .contains("docker-credential-cra-test-no-such-helper"),
            "{err}"
        );
    }
}
