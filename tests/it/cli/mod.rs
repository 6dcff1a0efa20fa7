//! The `cra` binary run as a process: exit statuses, outputs, credentials and logging.

mod credentials;
mod list;
mod logging;
mod outputs;
mod usage;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cra_tests::image::{debian_os_release, dpkg_status, Compression, Deb, Entry, Image, Layer};

/// The `cra` binary this package builds for its tests.
pub(crate) const CRA: &str = env!("CARGO_BIN_EXE_cra-it");

/// A finished run.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code (`None` when a signal ended it).
    pub(crate) code: Option<i32>,
    /// Its stdout.
    pub(crate) stdout: String,
    /// Its stderr.
    pub(crate) stderr: String,
}

/// `cra` with `args`, in `cwd`, with none of the environment that would change what it does
/// (credentials, logging, the user's Docker config).
pub(crate) fn cra(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(CRA);
    command.args(args).current_dir(cwd);
    for var in [
        "CR_USERNAME",
        "CR_PASSWORD",
        "CR_TOKEN",
        "CR_TYPE",
        "CR_BASE",
        "CRA_USERNAME",
        "CRA_PASSWORD",
        "DEBUG",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "RUST_LOG",
        "NO_COLOR",
        "BROKER_CLIENT_URL",
    ] {
        command.env_remove(var);
    }
    command.env("DOCKER_CONFIG", cwd.join("no-docker-config"));
    command
}

/// Runs `command` with `stdin`, killing it after 60 s; output goes through files, so that a
/// chatty process cannot block on a full pipe.
pub(crate) fn run(mut command: Command, stdin: Option<&[u8]>) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    command
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    match stdin {
        Some(bytes) => {
            let in_path = dir.path().join("stdin");
            std::fs::write(&in_path, bytes).expect("stdin file");
            command.stdin(std::fs::File::open(&in_path).expect("stdin"));
        }
        None => {
            command.stdin(Stdio::null());
        }
    }
    let mut child = command.spawn().expect("cra starts");
    let status = wait(&mut child, Duration::from_secs(60));
    Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).expect("stdout"),
        stderr: std::fs::read_to_string(&err_path).expect("stderr"),
    }
}

/// Waits for `child` at most `timeout`, then kills it and fails the test.
pub(crate) fn wait(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cra did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A small Debian image: os-release and a dpkg status with two packages.
pub(crate) fn debian_image() -> Image {
    let status = dpkg_status(&[
        Deb::installed("base-files", "12.4+deb12u5"),
        Deb::installed("bash", "5.2.15-2+b7"),
    ]);
    Image::new(
        "amd64",
        vec![Layer::new(
            &[
                Entry::file("etc/os-release", debian_os_release("12", "bookworm")),
                Entry::file("var/lib/dpkg/status", status),
            ],
            Compression::Gzip,
        )],
    )
}

/// Writes `image` as an OCI layout under `dir` tagged `12`; returns the `oci:` source.
pub(crate) fn layout(dir: &Path, image: &Image) -> String {
    let path: PathBuf = dir.join("layout");
    cra_tests::image::write_oci_layout(&path, &[(image, Some("12"))], false);
    format!("oci:{}:12", path.display())
}
