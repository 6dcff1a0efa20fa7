//! Credentials against the real registry: `--password-stdin`, the variables, Docker credential
//! helpers; and the exit statuses of registry failures.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cra_tests::registry::{free_port, registry_available, Auth, RegistryServer};

use super::{cra, debian_image, run};

async fn registry_with_image() -> RegistryServer {
    let server = RegistryServer::start(Auth::htpasswd("alice", "s3cret")).await;
    let image = debian_image();
    server.push_gzipped("team/app", "v1", &image).await;
    server
}

#[tokio::test]
async fn password_stdin_variables_and_exit_statuses() {
    if !registry_available() {
        return;
    }
    let server = registry_with_image().await;
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let image = format!("{}/team/app:v1", server.host());
    let scan = |image: &str, extra: &[&str]| {
        let mut args = vec!["scan", image, "--insecure-http"];
        args.extend_from_slice(extra);
        cra(cwd, &args)
    };

    let got = run(
        scan(&image, &["--username", "alice", "--password-stdin"]),
        Some(b"s3cret\n"),
    );
    assert_eq!(got.code, Some(0), "{got:?}");
    assert!(got.stdout.contains("bash"), "{got:?}");

    let got = run(
        scan(&image, &["--username", "alice", "--password-stdin"]),
        Some(b"wrong\n"),
    );
    assert_eq!(got.code, Some(4), "{got:?}");
    assert!(!got.stderr.contains("wrong"), "{got:?}");

    for (user_var, password_var) in [
        ("CR_USERNAME", "CR_PASSWORD"),
        ("CRA_USERNAME", "CRA_PASSWORD"),
    ] {
        let mut command = scan(&image, &[]);
        command.env(user_var, "alice").env(password_var, "s3cret");
        let got = run(command, None);
        assert_eq!(got.code, Some(0), "{user_var}: {got:?}");
    }

    // Anonymous: refused.
    let got = run(scan(&image, &[]), None);
    assert_eq!(got.code, Some(4), "{got:?}");

    let missing = format!("{}/team/missing:v1", server.host());
    let got = run(
        scan(&missing, &["--username", "alice", "--password-stdin"]),
        Some(b"s3cret"),
    );
    assert_eq!(got.code, Some(3), "{got:?}");

    let unreachable = format!("127.0.0.1:{}/team/app:v1", free_port());
    let got = run(scan(&unreachable, &[]), None);
    assert_eq!(got.code, Some(5), "{got:?}");
}

/// Writes an executable `docker-credential-<name>` into `bin` running `script`.
fn helper(bin: &Path, name: &str, script: &str) {
    let path = bin.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write helper");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod helper");
}

#[tokio::test]
async fn docker_credential_helpers_are_run_as_docker_runs_them() {
    if !registry_available() {
        return;
    }
    let server = registry_with_image().await;
    let host = server.host();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let bin = cwd.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let asked = cwd.join("asked");
    // The stock helpers' protocol: `get`, the server on stdin, JSON on stdout; "not found"
    // with status 1 for a server they do not know.
    helper(
        &bin,
        "cratest",
        &format!(
            r#"[ "$1" = get ] || exit 3
read -r server
echo "$server" >> '{asked}'
if [ "$server" = '{host}' ]; then
  printf '{{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}}\n' "$server"
else
  echo "credentials not found in native keychain"; exit 1
fi"#,
            asked = asked.display(),
        ),
    );
    helper(
        &bin,
        "cranone",
        "echo 'credentials not found in native keychain'; exit 1",
    );
    helper(&bin, "crafail", "echo 'keychain is locked' >&2; exit 1");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let config_dir = cwd.join("docker");
    std::fs::create_dir(&config_dir).unwrap();
    let image = format!("{host}/team/app:v1");
    let scan_with = |config: serde_json::Value| {
        std::fs::write(config_dir.join("config.json"), config.to_string()).unwrap();
        let mut command = cra(cwd, &["scan", &image, "--insecure-http"]);
        command.env("PATH", &path).env("DOCKER_CONFIG", &config_dir);
        run(command, None)
    };

    let got = scan_with(serde_json::json!({"credHelpers": {host.clone(): "cratest"}}));
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(
        std::fs::read_to_string(&asked).unwrap(),
        format!("{host}\n")
    );

    let got = scan_with(serde_json::json!({"credsStore": "cratest"}));
    assert_eq!(got.code, Some(0), "{got:?}");

    // A credential helper for the host wins over the store.
    let got = scan_with(serde_json::json!({
        "credsStore": "crafail", "credHelpers": {host.clone(): "cratest"}
    }));
    assert_eq!(got.code, Some(0), "{got:?}");

    // A store with nothing for the host leaves the file's own entry.
    let auth = "YWxpY2U6czNjcmV0"; // alice:s3cret
    let got = scan_with(serde_json::json!({
        "credsStore": "cranone", "auths": {host.clone(): {"auth": auth}}
    }));
    assert_eq!(got.code, Some(0), "{got:?}");

    let got = scan_with(serde_json::json!({"credsStore": "crafail"}));
    assert_eq!(got.code, Some(1), "{got:?}");
    assert!(
        got.stderr
            .contains("docker-credential-crafail failed: keychain is locked"),
        "{got:?}"
    );

    let got = scan_with(serde_json::json!({"credsStore": "absent-helper"}));
    assert_eq!(got.code, Some(1), "{got:?}");
    assert!(
        got.stderr
            .contains("cannot run docker-credential-absent-helper"),
        "{got:?}"
    );
    assert_eq!(std::fs::read_to_string(&asked).unwrap().lines().count(), 3);
}

#[tokio::test]
async fn list_reads_the_same_credentials() {
    if !registry_available() {
        return;
    }
    let server = registry_with_image().await;
    let dir = tempfile::tempdir().unwrap();
    let base = server.base_url();
    let list = ["list", "--type", "nexus-cr", "--base", &base];
    let mut args = list.to_vec();
    args.extend(["--username", "alice", "--password-stdin"]);
    let got = run(cra(dir.path(), &args), Some(b"s3cret\n"));
    assert_eq!(got.code, Some(0), "{got:?}");
    assert_eq!(got.stdout, "team/app\n");
    let mut command = cra(dir.path(), &list);
    command
        .env("CR_USERNAME", "alice")
        .env("CR_PASSWORD", "nope");
    let got = run(command, None);
    assert_eq!(got.code, Some(4), "{got:?}");
    let mut command = cra(dir.path(), &list);
    command.env("CR_PASSWORD", "s3cret");
    let got = run(command, None);
    assert_eq!(got.code, Some(2), "{got:?}");
}
