//! `cra scan`: scan one image from a registry or a local archive and print its packages.
//!
//! Images are registry references (`registry.example/app:1.2`, `localhost:5000/app@sha256:…`)
//! or local transports: `oci:<dir>[:tag]`, `oci-archive:<file>[:tag]`, `docker-archive:<file>`.
//! Registry credentials come from `--username` with `--password-stdin` (or `--password`), else
//! `CR_USERNAME`/`CR_PASSWORD`, else the Docker client's config and credential helpers
//! (see [`crate::credentials`]).
//! The report goes to one or more outputs (see [`output`]).

pub mod output;
mod progress;
pub mod provenance;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use cra_core::{Platform, Reference};
use cra_scan::analyzers::AnalyzerId;
use cra_scan::sbom::{self, Format};
use cra_scan::vulns::policy::FailOn;
use cra_scan::vulns::VulnReport;
use cra_scan::{ImageSource, Progress, ScanOptions, ScanReport, Scanner};

use self::output::{Output, OutputArg, OutputError};
use super::db::DbDir;
use crate::credentials::{CredentialArgs, DockerConfig, Login, ProcessEnv};

/// Arguments of `cra scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: a registry reference, or `oci:<dir>[:tag]`, `oci-archive:<file>[:tag]`,
    /// `docker-archive:<file>`.
    pub image: String,
    /// How to reach and authenticate to the registry.
    #[command(flatten)]
    pub registry: Box<RegistryArgs>,
    /// The platform to scan, os/arch[/variant]; an image without it is refused. Without this
    /// flag linux/amd64 is scanned, or an image's only platform, with a warning.
    #[arg(long)]
    pub platform: Option<Platform>,
    /// An output format, optionally with its file; repeat for several outputs. Formats: table,
    /// json (the snyk scan result), cyclonedx-json (cyclonedx, cdx), spdx-json (spdx), and
    /// sarif with --vulns.
    #[arg(short = 'f', long = "format", value_name = "FORMAT[=FILE]", value_parser = output::parse_output)]
    pub formats: Vec<Output>,
    /// The file of the format given without one (default: stdout); a format name here is read
    /// as --format, as syft does.
    #[arg(short = 'o', long, value_name = "FILE", value_parser = output::parse_output_arg)]
    pub output: Option<OutputArg>,
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
    /// Match the packages against the local vulnerability database (see `cra db update`):
    /// the table and json list the findings, cyclonedx-json adds its `vulnerabilities`.
    #[arg(long)]
    pub vulns: bool,
    /// With --vulns: exit with status 7 on a finding at least this severe (low, medium, high,
    /// critical), or on this grade or a worse one (A–F); the reports are written first.
    #[arg(long, requires = "vulns", value_name = "SEVERITY|GRADE")]
    pub fail_on: Option<FailOn>,
    /// The vulnerability database.
    #[command(flatten)]
    pub db: DbDir,
    /// The analysis cache.
    #[command(flatten)]
    pub cache: crate::cache::CacheArgs,
    /// Signature verification against a containers policy.
    #[command(flatten)]
    pub provenance: provenance::ProvenanceArgs,
    /// Draw no progress bar (set by the global `--quiet`).
    #[arg(skip)]
    pub quiet: bool,
}

/// Registry connection arguments of `cra scan`.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// The credentials.
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// A PEM bundle of extra CA certificates for the registry's TLS.
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Talk plain HTTP to a registry given without a scheme.
    #[arg(long)]
    pub insecure_http: bool,
}
/// Parses `123`, `64K`, `512M`, `2G`, `1T` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
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
    let outputs = output::plan(&args.formats, args.output.as_ref())?;
    if !args.vulns && outputs.iter().any(|o| o.format == Format::Sarif) {
        return Err(OutputError::NeedsVulns(Format::Sarif.to_string()).into());
    }
    let trust = provenance::Trust::from_args(&args.provenance, connect_options(&args))?;
    let source = source(&args).await?;
    let signature = match (&trust, &source) {
        (None, _) => None,
        (
            Some(trust),
            ImageSource::Registry {
                registry,
                reference,
            },
        ) => Some(
            trust
                .check(registry.as_ref(), reference, &args.image)
                .await?,
        ),
        (Some(_), _) => return Err(provenance::LocalImage.into()),
    };
    let mut defaults = ScanOptions::default();
    if let Some(max) = args.max_unpacked_size {
        defaults.max_unpacked_size = Some(max);
    }
    let scanner = Scanner::new(ScanOptions {
        platform: args.platform.clone().unwrap_or_default(),
        require_platform: args.platform.is_some(),
        max_image_size: args.max_image_size,
        analyzers: args.analyzers.clone(),
        layer_concurrency: args.layer_concurrency,
        cache: args.cache.open()?,
        ..defaults
    });
    let progress = (!args.quiet && std::io::stderr().is_terminal())
        .then(|| Arc::new(progress::Bar::new()) as Arc<dyn Progress>);
    let result = scanner.scan(&source, progress.clone()).await;
    drop(progress);
    let mut report = result.with_context(|| format!("cannot scan {}", args.image))?;
    report.signature = signature;
    let vulns = if args.vulns {
        Some(super::db::match_report(&args.db, &report)?)
    } else {
        None
    };
    for output in &outputs {
        write(&report, vulns.as_ref(), output)?;
    }
    if let (Some(vulns), Some(gate)) = (&vulns, args.fail_on) {
        gate.check(vulns)?;
    }
    Ok(())
}

/// Renders `report`, with its findings when there are any, to one output.
fn write(report: &ScanReport, vulns: Option<&VulnReport>, output: &Output) -> anyhow::Result<()> {
    let render = |out: &mut dyn Write| match vulns {
        Some(v) => cra_scan::vulns::output::render(report, v, output.format, out),
        None => sbom::render(report, output.format, out),
    };
    match &output.file {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            render(&mut out)?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            render(&mut out)?;
            out.flush().context("cannot write the report")?;
        }
    }
    Ok(())
}

async fn source(args: &Args) -> anyhow::Result<ImageSource> {
    if LOCAL_TRANSPORTS.iter().any(|t| args.image.starts_with(t)) {
        let source: ImageSource = args.image.parse()?;
        if let ImageSource::OciLayout { path, .. }
        | ImageSource::OciArchive { path, .. }
        | ImageSource::DockerArchive { path } = &source
        {
            // A path that is not there is "not found", not a malformed image.
            std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
        }
        return Ok(source);
    }
    let reference: Reference = args
        .image
        .parse()
        .with_context(|| format!("invalid image reference {:?}", args.image))?;
    let login = match args
        .registry
        .credentials
        .resolve(&ProcessEnv, &mut std::io::stdin().lock())?
    {
        Some(login) => Some(login),
        None => {
            DockerConfig::load(&ProcessEnv)?
                .login(reference.registry())
                .await?
        }
    };
    let registry = connect(&reference, login, args)?;
    Ok(ImageSource::Registry {
        registry,
        reference,
    })
}

fn connect(
    reference: &Reference,
    login: Option<Login>,
    args: &Args,
) -> anyhow::Result<Arc<dyn cra_core::Registry>> {
    let options = connect_options(args);
    let (username, password) = match login {
        Some(Login { username, password }) => (Some(username), Some(password)),
        None => (None, None),
    };
    cra_registries::generic(reference.registry(), username, password, &options)
        .with_context(|| format!("cannot connect to {}", reference.registry()))
}

fn connect_options(args: &Args) -> cra_registries::ConnectOptions {
    cra_registries::ConnectOptions {
        ca_bundle: args.registry.ca_bundle.clone(),
        insecure_http: args.registry.insecure_http,
        ..Default::default()
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
}
