//! `cra db`: the local vulnerability database (`update`, `status`).
//!
//! `update` fetches `<mirror>/<Ecosystem>/all.zip` for each ecosystem (over HTTP(S), or from a
//! directory for air-gapped sites), streaming each archive to a temporary file next to the
//! database, then builds a new database from them and moves it into place. Any failure leaves the
//! old database as it was.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use cra_scan::vulns::db::{import, Database};
use futures_util::StreamExt;

/// The OSV bucket.
pub const DEFAULT_MIRROR: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The ecosystems updated when none is named: those cra finds packages of.
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "Debian",
    "Ubuntu",
    "Alpine",
    "Rocky Linux",
    "AlmaLinux",
    "Red Hat",
    "PyPI",
    "npm",
    "Maven",
    "Go",
    "crates.io",
    "RubyGems",
    "Packagist",
    "NuGet",
];

/// Arguments of `cra db`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
}

/// The `cra db` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Fetch OSV advisories and rebuild the local database.
    Update(UpdateArgs),
    /// Show what the local database holds and how old it is.
    Status(StatusArgs),
}

/// The database directory option, shared by the subcommands and `cra scan --vulns`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbDir {
    /// The database directory (default: `cra/db` under the user's cache directory).
    #[arg(long = "db-dir", env = "CRA_DB_DIR")]
    pub db_dir: Option<PathBuf>,
}

impl DbDir {
    /// The directory to use.
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.db_dir {
            Some(d) => Ok(d.clone()),
            None => Ok(dirs::cache_dir()
                .context("no cache directory for this user: set CRA_DB_DIR or --db-dir")?
                .join("cra")
                .join("db")),
        }
    }
}

/// Arguments of `cra db update`.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// Where the archives are: a base URL or a directory laid out as `<Ecosystem>/all.zip`.
    #[arg(long, env = "CRA_DB_MIRROR", default_value = DEFAULT_MIRROR)]
    pub mirror: String,
    /// Update only these ecosystems (repeat or separate with commas); the others keep their data.
    #[arg(long = "ecosystem", value_delimiter = ',')]
    pub ecosystems: Vec<String>,
    /// Give up when a download makes no progress for this many seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dir: DbDir,
}

/// How `cra db status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// Aligned columns.
    Table,
    /// One JSON document.
    Json,
}

/// Arguments of `cra db status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub dir: DbDir,
}

/// Runs `cra db`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        DbCommand::Update(a) => update(a).await,
        DbCommand::Status(a) => status(a),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where one ecosystem's archive is.
enum Source {
    Dir(PathBuf),
    Http(url::Url),
}

fn source_of(mirror: &str) -> anyhow::Result<Source> {
    if mirror.starts_with("http://") || mirror.starts_with("https://") {
        let mut url = url::Url::parse(mirror).with_context(|| format!("mirror {mirror}"))?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        return Ok(Source::Http(url));
    }
    let path = mirror.strip_prefix("file://").unwrap_or(mirror);
    Ok(Source::Dir(PathBuf::from(path)))
}

async fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let dir = args.dir.resolve()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let explicit = !args.ecosystems.is_empty();
    let ecosystems: Vec<String> = if explicit {
        args.ecosystems.clone()
    } else {
        DEFAULT_ECOSYSTEMS.iter().map(|e| (*e).to_owned()).collect()
    };
    for e in &ecosystems {
        if e.is_empty() || e.contains(['/', '\\']) || e.contains("..") {
            bail!("invalid ecosystem name {e:?}");
        }
    }
    let source = source_of(&args.mirror)?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(args.timeout))
        .read_timeout(Duration::from_secs(args.timeout))
        .build()
        .context("building the HTTP client")?;
    // Downloads live until the import is done, then are removed with their guards.
    let mut downloads = Vec::new();
    let mut archives = Vec::new();
    for ecosystem in &ecosystems {
        let fetched = match &source {
            Source::Dir(base) => {
                let path = base.join(ecosystem).join("all.zip");
                if !path.is_file() {
                    if explicit {
                        bail!("{} not found", path.display());
                    }
                    tracing::warn!(ecosystem, path = %path.display(), "no archive in the mirror; skipped");
                    continue;
                }
                Some((path.clone(), path.display().to_string(), None))
            }
            Source::Http(base) => {
                let url = base
                    .join(&format!(
                        "{}/all.zip",
                        percent_encoding::utf8_percent_encode(
                            ecosystem,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    ))
                    .with_context(|| format!("archive URL for {ecosystem}"))?;
                match download(&client, &url, &dir, explicit).await? {
                    Some(tmp) => Some((tmp.path().to_path_buf(), url.to_string(), Some(tmp))),
                    None => {
                        tracing::warn!(ecosystem, %url, "no archive in the mirror; skipped");
                        None
                    }
                }
            }
        };
        if let Some((path, origin, guard)) = fetched {
            archives.push(import::Archive {
                ecosystem: ecosystem.clone(),
                path,
                origin,
            });
            downloads.extend(guard);
        }
    }
    if archives.is_empty() {
        bail!("no advisory archive found at {}", args.mirror);
    }
    let now = now_rfc3339();
    let target = dir.clone();
    let imported = tokio::task::spawn_blocking(move || import::build(&target, &archives, &now))
        .await
        .context("the import task failed")??;
    drop(downloads);
    let mut out = std::io::stdout().lock();
    for i in imported {
        writeln!(
            out,
            "{:<12} {:>8} advisories ({} withdrawn left out, {} unreadable skipped), data as of {}",
            i.ecosystem,
            i.records,
            i.withdrawn,
            i.skipped,
            i.newest_modified.as_deref().unwrap_or("unknown")
        )?;
    }
    Ok(())
}

/// Streams `url` to a temporary file in `dir`; `None` on 404 when the ecosystem was not asked for.
async fn download(
    client: &reqwest::Client,
    url: &url::Url,
    dir: &Path,
    required: bool,
) -> anyhow::Result<Option<tempfile::NamedTempFile>> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("fetching {url}"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND && !required {
        return Ok(None);
    }
    if !response.status().is_success() {
        bail!("fetching {url}: HTTP {}", response.status());
    }
    let expected = response.content_length();
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .suffix(".zip")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut written: u64 = 0;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.with_context(|| format!("downloading {url}"))?;
        tmp.write_all(&chunk)
            .with_context(|| format!("writing {}", tmp.path().display()))?;
        written += chunk.len() as u64;
    }
    if let Some(len) = expected {
        if written != len {
            bail!("downloading {url}: got {written} of {len} bytes");
        }
    }
    tmp.flush()?;
    Ok(Some(tmp))
}

/// Matches a scan against the database in `dir`, grading at the current time.
pub fn match_report(
    dir: &DbDir,
    report: &cra_scan::ScanReport,
) -> anyhow::Result<cra_scan::vulns::VulnReport> {
    let dir = dir.resolve()?;
    let db = Database::open(&dir)?;
    Ok(cra_scan::vulns::match_inventory(
        &db,
        &report.inventory,
        time::OffsetDateTime::now_utc(),
    )?)
}

fn status(args: StatusArgs) -> anyhow::Result<()> {
    let dir = args.dir.resolve()?;
    let db = Database::open(&dir)?;
    let status = db.status()?;
    let mut out = std::io::stdout().lock();
    match args.format {
        StatusFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &status)?;
            writeln!(out)?;
        }
        StatusFormat::Table => {
            let now = time::OffsetDateTime::now_utc();
            writeln!(out, "database: {}", status.path.display())?;
            writeln!(
                out,
                "updated:  {}",
                status.updated_at.as_deref().unwrap_or("unknown")
            )?;
            writeln!(
                out,
                "{:<12} {:>8}  {:<25} {:>8}",
                "ECOSYSTEM", "RECORDS", "DATA AS OF", "AGE"
            )?;
            for s in &status.sources {
                let age = s
                    .newest_modified
                    .as_deref()
                    .and_then(|m| cra_scan::vulns::grade::age_days(m, now))
                    .map_or_else(|| "unknown".to_owned(), |d| format!("{d} days"));
                writeln!(
                    out,
                    "{:<12} {:>8}  {:<25} {:>8}",
                    s.ecosystem,
                    s.records,
                    s.newest_modified.as_deref().unwrap_or("unknown"),
                    age
                )?;
            }
        }
    }
    Ok(())
}
