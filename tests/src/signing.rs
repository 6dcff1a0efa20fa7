//! Real signing tools for the provenance tests: a throwaway GnuPG home, skopeo as signer and as
//! the policy oracle, and a loopback HTTP server for a lookaside directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::registry::StubServer;

/// Whether skopeo and gpg are installed; tests skip with a message otherwise.
#[allow(clippy::print_stderr)]
pub fn signing_tools_available() -> bool {
    for (tool, package) in [("skopeo", "skopeo"), ("gpg", "gnupg")] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            eprintln!("skipping: {tool} is not installed (apt-get install {package})");
            return false;
        }
    }
    true
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A GnuPG home in a temporary directory, with keys without passphrases.
#[derive(Debug)]
pub struct GpgHome {
    dir: tempfile::TempDir,
}

impl GpgHome {
    /// A fresh, empty home.
    pub fn new() -> GpgHome {
        let dir = tempfile::tempdir().expect("gnupg home");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
                .expect("chmod gnupg home");
        }
        GpgHome { dir }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `gpg --batch` in this home.
    pub fn gpg(&self) -> Command {
        let mut cmd = Command::new("gpg");
        cmd.env("GNUPGHOME", self.path()).arg("--batch");
        cmd
    }

    /// Generates a signing key (`algo` as gpg's quick-gen-key takes it, e.g. `ed25519`,
    /// `rsa2048`) and returns its fingerprint; `extra` goes before the arguments (e.g.
    /// `--faked-system-time`), `expire` is gpg's expiry (`never`, `1d`).
    pub fn generate(&self, uid: &str, algo: &str, expire: &str, extra: &[&str]) -> String {
        run_ok(self.gpg().args(extra).args([
            "--passphrase",
            "",
            "--quick-gen-key",
            uid,
            algo,
            "sign",
            expire,
        ]));
        let out = run_ok(self.gpg().args(["--with-colons", "--list-keys", uid]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_owned())
            })
            .expect("fingerprint of the new key")
    }

    /// Exports the public key `fpr` (binary) to `path`.
    pub fn export(&self, fpr: &str, path: &Path) {
        let out = run_ok(self.gpg().args(["--export", fpr]));
        assert!(!out.stdout.is_empty(), "gpg exported nothing for {fpr}");
        std::fs::write(path, out.stdout).expect("write exported key");
    }

    /// Signs `payload` as simple signing does (a compressed, signed OpenPGP message).
    pub fn sign(&self, fpr: &str, payload: &[u8], extra: &[&str]) -> Vec<u8> {
        let input = self.path().join("payload.json");
        std::fs::write(&input, payload).expect("write payload");
        let out = run_ok(
            self.gpg()
                .args(extra)
                .args(["--local-user", fpr, "--output", "-", "--sign"])
                .arg(&input),
        );
        out.stdout
    }

    /// The literal data of a signed message (the payload), without checking the signature.
    pub fn payload(&self, signature: &[u8]) -> Vec<u8> {
        let input = self.path().join("signature.bin");
        std::fs::write(&input, signature).expect("write signature");
        let out = run(self.gpg().args(["--output", "-", "--decrypt"]).arg(&input));
        assert!(!out.stdout.is_empty(), "no payload in the signature");
        out.stdout
    }

    /// Revokes `fpr` with the revocation certificate gpg made for it.
    pub fn revoke(&self, fpr: &str) {
        let cert = self
            .path()
            .join("openpgp-revocs.d")
            .join(format!("{fpr}.rev"));
        let text = std::fs::read_to_string(&cert).expect("revocation certificate");
        // gpg writes the certificate with a ':' before the armor line, so it is not used by mistake.
        let fixed = text.replacen(":-----BEGIN", "-----BEGIN", 1);
        let path = self.path().join("revoke.asc");
        std::fs::write(&path, fixed).expect("write revocation");
        run_ok(self.gpg().arg("--import").arg(&path));
    }
}

impl Default for GpgHome {
    fn default() -> Self {
        GpgHome::new()
    }
}

/// `skopeo` with this policy, `registries.d` and GnuPG home.
pub fn skopeo(policy: &Path, registries_d: &Path, gnupg: &Path) -> Command {
    let mut cmd = Command::new("skopeo");
    cmd.env("GNUPGHOME", gnupg)
        .arg("--policy")
        .arg(policy)
        .arg("--registries.d")
        .arg(registries_d);
    cmd
}

/// Copies `from` to `to` (both `docker://` on the loopback registry), signing with `sign`
/// (`--sign-by FPR`, `--sign-identity REF`, …).
pub fn skopeo_copy_signed(registries_d: &Path, gnupg: &Path, from: &str, to: &str, sign: &[&str]) {
    let dir = tempfile::tempdir().expect("policy dir");
    let policy = dir.path().join("accept.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .expect("write policy");
    run_ok(
        skopeo(&policy, registries_d, gnupg)
            .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
            .args(sign)
            .args([from, to]),
    );
}

/// The oracle: whether `skopeo copy` with this policy accepts `image` (a `docker://` source),
/// with its message when it refuses.
pub fn skopeo_accepts(policy: &Path, registries_d: &Path, image: &str) -> (bool, String) {
    let home = GpgHome::new();
    let out_dir = tempfile::tempdir().expect("copy target");
    let target = format!("dir:{}", out_dir.path().join("img").display());
    let out = run(skopeo(policy, registries_d, home.path())
        .args(["copy", "--src-tls-verify=false", image])
        .arg(&target));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A `registries.d` directory with one file, `default.yaml`, holding `yaml`.
pub fn registries_d(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("registries.d");
    std::fs::write(dir.path().join("default.yaml"), yaml).expect("write registries.d");
    dir
}

/// Serves the files below `root` over HTTP on loopback (404 for anything missing).
pub async fn serve_dir(root: PathBuf) -> StubServer {
    async fn file(
        State(root): State<PathBuf>,
        UrlPath(rest): UrlPath<String>,
    ) -> impl IntoResponse {
        if rest.split('/').any(|s| s == ".." || s.is_empty()) {
            return (StatusCode::BAD_REQUEST, Vec::new());
        }
        match std::fs::read(root.join(&rest)) {
            Ok(bytes) => (StatusCode::OK, bytes),
            Err(_) => (StatusCode::NOT_FOUND, Vec::new()),
        }
    }
    StubServer::spawn(
        axum::Router::new()
            .route("/{*rest}", get(file))
            .with_state(root),
    )
    .await
}
