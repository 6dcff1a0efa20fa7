//! Usage errors, help, completions and the manual page.

use super::{cra, debian_image, layout, run};

#[test]
fn usage_errors_exit_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let image = layout(cwd, &debian_image());
    let cases: [(&[&str], &str); 8] = [
        (&["scan"], "required"),
        (&["scan", &image, "--format", "bogus"], "unknown format"),
        (
            &["scan", &image, "-o", "syft-json"],
            "does not produce syft-json",
        ),
        (
            &["scan", &image, "-f", "spdx-tag-value"],
            "does not produce",
        ),
        (
            &["scan", &image, "-o", "cyclonedx-jsn"],
            "neither a format nor a file",
        ),
        (
            &["scan", &image, "--format", "json", "--format", "table"],
            "only one format can go to stdout",
        ),
        (
            &["scan", "127.0.0.1:9/team/app:1", "--password", "pw"],
            "without a user name",
        ),
        (
            &["list", "--type", "no-such-type", "--base", "127.0.0.1:9"],
            "unknown registry type",
        ),
    ];
    for (args, message) in cases {
        let got = run(cra(cwd, args), None);
        assert_eq!(got.code, Some(2), "{args:?}: {got:?}");
        assert!(got.stderr.contains(message), "{args:?}: {got:?}");
        assert!(
            !got.stderr.contains("pw\n") && !got.stderr.contains("\"pw\""),
            "{got:?}"
        );
    }
    // Neither the unknown format nor the mistyped one became a file.
    let names: Vec<_> = std::fs::read_dir(cwd)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["layout"], "{names:?}");
}

#[test]
fn half_a_credential_from_the_environment_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = cra(dir.path(), &["scan", "127.0.0.1:9/team/app:1"]);
    command.env("CR_USERNAME", "ci");
    let got = run(command, None);
    assert_eq!(got.code, Some(2), "{got:?}");
    assert!(got.stderr.contains("without a password"), "{got:?}");
    let mut command = cra(dir.path(), &["scan", "127.0.0.1:9/team/app:1"]);
    command.env("CRA_PASSWORD", "hunter2");
    let got = run(command, None);
    assert_eq!(got.code, Some(2), "{got:?}");
    assert!(!got.stderr.contains("hunter2"), "{got:?}");
}

#[test]
fn help_names_every_subcommand_and_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let got = run(cra(dir.path(), &["--help"]), None);
    assert_eq!(got.code, Some(0), "{got:?}");
    let summary = got.stdout.lines().next().unwrap_or("");
    for sub in [
        "scan",
        "list",
        "agent",
        "client",
        "server",
        "completions",
        "man",
    ] {
        assert!(
            summary.contains(&format!("`{sub}`")),
            "{sub} not in {summary:?}"
        );
        assert!(
            got.stdout.contains(&format!("\n  {sub} ")),
            "{sub}: {}",
            got.stdout
        );
    }
    assert!(got.stdout.contains("Exit status"), "{}", got.stdout);
    assert!(got.stdout.contains("-q, --quiet"), "{}", got.stdout);
    let got = run(cra(dir.path(), &["scan", "--help"]), None);
    assert_eq!(got.code, Some(0), "{got:?}");
    for text in [
        "--password-stdin",
        "CR_USERNAME",
        "FORMAT[=FILE]",
        "4  the registry refused",
    ] {
        assert!(got.stdout.contains(text), "{text}: {}", got.stdout);
    }
}

#[test]
fn completions_and_man_page() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let got = run(cra(dir.path(), &["completions", shell]), None);
        assert_eq!(got.code, Some(0), "{shell}: {got:?}");
        assert!(got.stdout.contains("password-stdin"), "{shell}");
    }
    let got = run(cra(dir.path(), &["completions", "tcsh"]), None);
    assert_eq!(got.code, Some(2), "{got:?}");
    let got = run(cra(dir.path(), &["man"]), None);
    assert_eq!(got.code, Some(0), "{got:?}");
    assert!(got.stdout.contains(".TH cra 1"), "{}", got.stdout);
    assert!(got.stdout.contains("completions"), "{}", got.stdout);
}
