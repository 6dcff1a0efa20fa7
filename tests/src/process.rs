//! The `cra` binary as child processes on loopback, the way it is deployed: each role a process
//! of its own, configured by environment only, plus a round-robin TCP proxy standing in for a
//! Kubernetes Service in front of several agents.
//!
//! Every process is killed when its guard is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One sample of an agent's `/metrics` (a series without labels); `None` when it cannot be read.
pub async fn metric(addr: SocketAddr, series: &str) -> Option<u64> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .ok()?;
    let url = format!("http://{addr}/metrics");
    let text = http.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The `cra` binary: `CRA_BIN`, else the one cargo built next to this test binary
/// (the tests' own `cra-it`, else `cra`); `None`, with a message, when there is none.
#[allow(clippy::print_stderr)]
pub fn cra_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("CRA_BIN") {
        return Some(PathBuf::from(bin));
    }
    // The test binary is target/<profile>/deps/it-<hash>; cargo puts binaries in target/<profile>:
    // `cra-it`, the same program as `cra`, built afresh with the tests (a `cra` there may be stale).
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()));
    let bin = dir.and_then(|dir| {
        ["cra-it", "cra"]
            .into_iter()
            .map(|name| dir.join(name))
            .find(|bin| bin.is_file())
    });
    if bin.is_none() {
        // A skipped process test must say so in the test output.
        eprintln!("skipping: no cra binary next to the tests (run `cargo build -p cra-cli` or set CRA_BIN)");
    }
    bin
}

/// One `cra <role>` child process; killed on drop.
#[derive(Debug)]
pub struct CraProcess {
    child: Child,
    /// The role it runs (`agent`, `client`, `server`).
    pub role: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl CraProcess {
    /// Starts `cra <role>` with exactly `env` (plus `PATH`), its output in a scratch log file.
    pub fn start(bin: &Path, role: &str, env: &[(&str, String)]) -> CraProcess {
        let dir = tempfile::tempdir().expect("scratch dir");
        let log = dir.path().join(format!("{role}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(bin);
        command
            .arg(role)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("cra starts");
        CraProcess {
            child,
            role: role.to_owned(),
            log,
            _dir: dir,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM, as a container runtime stopping it does.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status();
    }

    /// Waits (at most `timeout`) for it to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills it at once, as a crash or an out-of-memory kill would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its resident set size in KiB, from `/proc` (Linux); `None` once it has exited.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Its peak resident set size in KiB (`VmHWM`); `None` once it has exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for CraProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A round-robin TCP proxy on loopback: each new connection goes to the next backend that
/// accepts it (a backend that refuses is skipped, as a Service skips an endpoint that is gone).
#[derive(Debug)]
pub struct RoundRobin {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Connections handed to each backend so far, in backend order.
    counts: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

impl RoundRobin {
    /// Starts in front of `backends` (loopback addresses only).
    pub async fn start(backends: Vec<SocketAddr>) -> RoundRobin {
        assert!(
            backends.iter().all(|b| b.ip().is_loopback()),
            "the proxy forwards to loopback only"
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let counts: Arc<Vec<AtomicUsize>> =
            Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let next = Arc::new(Mutex::new(0usize));
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let backends = backends.clone();
                let counts = shared.clone();
                let next = next.clone();
                tokio::spawn(async move {
                    let start = next
                        .lock()
                        .map(|mut n| {
                            let start = *n;
                            *n = (start + 1) % backends.len();
                            start
                        })
                        .unwrap_or(0);
                    for i in 0..backends.len() {
                        let index = (start + i) % backends.len();
                        let connect = tokio::net::TcpStream::connect(backends[index]);
                        let Ok(Ok(mut outbound)) =
                            tokio::time::timeout(Duration::from_secs(2), connect).await
                        else {
                            continue;
                        };
                        counts[index].fetch_add(1, Ordering::SeqCst);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                });
            }
        });
        RoundRobin { addr, counts, task }
    }

    /// Connections handed to each backend so far.
    pub fn counts(&self) -> Vec<usize> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .collect()
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}
