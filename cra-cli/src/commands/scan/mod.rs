//! `cra scan`: scan one image from a registry or a local archive and print its packages.
//!
//! Images are registry references (`registry.example/app:1.2`, `localhost:5000/app@sha256:…`)
//! or local transports: `oci:<dir>[:tag]`, `oci-archive:<file>[:tag]`, `docker-archive:<file>`.
//! Registry credentials come from `--username`/`--password`, else from the `auths` of
//! `~/.docker/config.json` (`$DOCKER_CONFIG/config.json`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use base64::Engine;
use cra_core::{Digest, Platform, Reference, Secret};
use cra_scan::analyzers::AnalyzerId;
use cra_scan::sbom::{self, Format};
use cra_scan::{ImageSource, Progress, ScanOptions, Scanner};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `cra scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a registry reference, or `oci:<dir>[:tag]`, `oci-archive:<file>[:tag]`,
    /// `docker-archive:<file>`.
    pub image: String,
    /// How to reach and authenticate to the registry.
    #[command(flatten)]
    pub registry: Box<RegistryArgs>,
    /// The platform to scan in a multi-platform image, os/arch[/variant].
    #[arg(long, default_value = "linux/amd64")]
    pub platform: Platform,
    /// Output format: table, json (snyk scan result), cyclonedx or spdx.
    #[arg(long, default_value = "table")]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Analyzers to run, comma-separated (os, dpkg, apk, rpm, python, npm, …); all by default.
    #[arg(long, value_delimiter = ',')]
    pub analyzers: Option<Vec<AnalyzerId>>,
    /// Refuse images whose blobs total more than this (bytes, or with a K/M/G/T suffix).
    #[arg(long, value_parser = parse_size)]
    pub max_image_size: Option<u64>,
    /// Refuse images whose layers unpack to more than this (bytes, or with a K/M/G/T suffix).
    #[arg(long, value_parser = parse_size)]
    pub max_unpacked_size: Option<u64>,
    /// How many layers to fetch and walk at once.
    #[arg(long, default_value_t = 3)]
    pub layer_concurrency: usize,
}

/// Registry connection arguments of `cra scan`.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Registry user name.
    #[arg(long, env = "CRA_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "CRA_PASSWORD", hide_env_values = true, value_parser = parse_secret)]
    pub password: Option<Secret>,
    /// A PEM bundle of extra CA certificates for the registry's TLS.
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Talk plain HTTP to a registry given without a scheme.
    #[arg(long)]
    pub insecure_http: bool,
}

fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

/// Parses `123`, `64K`, `512M`, `2G`, `1T` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid size {s:?}; expected a number with an optional K/M/G/T"))?;
    let shift = match unit
        .trim_end_matches(['B', 'b', 'i'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("invalid size unit in {s:?}")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

const LOCAL_TRANSPORTS: [&str; 3] = ["oci:", "oci-archive:", "docker-archive:"];

/// Runs `cra scan`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let source = source(&args)?;
    let mut defaults = ScanOptions::default();
    if let Some(max) = args.max_unpacked_size {
        defaults.max_unpacked_size = Some(max);
    }
    let scanner = Scanner::new(ScanOptions {
        platform: args.platform.clone(),
        max_image_size: args.max_image_size,
        analyzers: args.analyzers.clone(),
        layer_concurrency: args.layer_concurrency,
        ..defaults
    });
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| Arc::new(Bar::new()) as Arc<dyn Progress>);
    let result = scanner.scan(&source, progress.clone()).await;
    drop(progress);
    let report = result.with_context(|| format!("cannot scan {}", args.image))?;
    match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            sbom::render(&report, args.format, &mut out)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            sbom::render(&report, args.format, &mut out)?;
            out.flush().context("cannot write the report")?;
        }
    }
    Ok(())
}

fn source(args: &Args) -> anyhow::Result<ImageSource> {
    if LOCAL_TRANSPORTS.iter().any(|t| args.image.starts_with(t)) {
        return Ok(args.image.parse()?);
    }
    let reference: Reference = args
        .image
        .parse()
        .with_context(|| format!("invalid image reference {:?}", args.image))?;
    let (username, password) = match (&args.registry.username, &args.registry.password) {
        (Some(u), p) => (Some(u.clone()), p.clone()),
        (None, _) => docker_config_auth(reference.registry()).unwrap_or_default(),
    };
    let registry = connect(&reference, username, password, args)?;
    Ok(ImageSource::Registry {
        registry,
        reference,
    })
}

fn connect(
    reference: &Reference,
    username: Option<String>,
    password: Option<Secret>,
    args: &Args,
) -> anyhow::Result<Arc<dyn cra_core::Registry>> {
    let options = cra_registries::ConnectOptions {
        ca_bundle: args.registry.ca_bundle.clone(),
        insecure_http: args.registry.insecure_http,
        ..Default::default()
    };
    cra_registries::generic(reference.registry(), username, password, &options)
        .with_context(|| format!("cannot connect to {}", reference.registry()))
}

/// Credentials for `host` from the Docker client's config, if it has them.
fn docker_config_auth(host: &str) -> Option<(Option<String>, Option<Secret>)> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))?;
    let text = std::fs::read(dir.join("config.json")).ok()?;
    auth_from_config(&text, host)
}

fn auth_from_config(config: &[u8], host: &str) -> Option<(Option<String>, Option<Secret>)> {
    let config: serde_json::Value = serde_json::from_slice(config).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let keys: Vec<String> = if host == cra_core::reference::DOCKER_HUB {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![
            host.to_owned(),
            format!("https://{host}"),
            format!("http://{host}"),
        ]
    };
    let entry = keys
        .iter()
        .find_map(|k| auths.get(k).or_else(|| auths.get(&format!("{k}/"))))?;
    if let Some(encoded) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, pass) = decoded.split_once(':')?;
        return Some((Some(user.to_owned()), Some(Secret::new(pass))));
    }
    let user = entry.get("username").and_then(|u| u.as_str())?;
    let pass = entry.get("password").and_then(|p| p.as_str())?;
    Some((Some(user.to_owned()), Some(Secret::new(pass))))
}

/// A progress bar on stderr over the bytes of all layers.
struct Bar {
    bar: ProgressBar,
    done: AtomicUsize,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} layers {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message("0 done");
        Self {
            bar,
            done: AtomicUsize::new(0),
        }
    }
}

impl Progress for Bar {
    fn layer_started(&self, _index: usize, _digest: &Digest, size: u64) {
        self.bar.inc_length(size);
    }

    fn bytes(&self, _index: usize, n: u64) {
        self.bar.inc(n);
    }

    fn layer_done(&self, _index: usize) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{n} done"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("3MiB"), Ok(3 << 20));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
    }

    #[test]
    fn docker_config_auths() {
        let cfg = br#"{"auths":{"localhost:5000":{"auth":"dXNlcjpwYSQ6c3M="},
            "https://index.docker.io/v1/":{"username":"hub","password":"pw"}}}"#;
        let (u, p) = auth_from_config(cfg, "localhost:5000").unwrap();
        assert_eq!(u.as_deref(), Some("user"));
        assert_eq!(p.unwrap().expose(), "pa$:ss");
        let (u, _) = auth_from_config(cfg, "docker.io").unwrap();
        assert_eq!(u.as_deref(), Some("hub"));
        assert!(auth_from_config(cfg, "other:5000").is_none());
    }
}
