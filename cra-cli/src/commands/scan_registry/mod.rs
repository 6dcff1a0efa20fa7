//! `cra scan-registry`: scan every image of a registry, or those the filters select, into a
//! directory of reports.
//!
//! The registry is reached through its adapter with the same flags and `CR_*` variables as
//! `cra list` ([`list::RegistryArgs`]); the adapters honour the registry's rate limits (a 429 is
//! retried after its `Retry-After`).
//! Repositories and tags are selected by globs and `--newest N` ([`select`]); images are scanned
//! `--concurrency` at a time, through the analysis cache, so layers shared between images are
//! walked once.
//!
//! `--output-dir` receives one report per image and format (file names from [`names`]), a
//! `summary.json`, and a state file that makes an interrupted run resumable: an image whose
//! manifest digest is the one already scanned, with its reports in place, is not scanned again.
//! A failure of one image is reported in the summary and counted; the command then ends with
//! status 1 after every other image was scanned (see [`outcome`] for the order of statuses).
//!
//! `--vulns` matches every image against the database `cra scan --vulns` uses, opened once for
//! the run ([`vulns`]): the reports carry the findings as `cra scan --vulns` writes them, the
//! summary the counts by severity, the grade and the unmatched packages, and `--fail-on` ends
//! the run with status 7 when an image fails it.
//! The state remembers whether an image was matched and against which database update, so an
//! image scanned without `--vulns`, or matched against older data, is scanned again.
//!
//! `--verify` and `--policy FILE [--registries.d DIR]` verify each image's signatures before it
//! is scanned, as `cra scan` does: the status goes into its reports and the summary
//! ([`signature`]).
//! With `--policy` alone, an image the policy rejects gets no report, is counted as refused,
//! and the run goes on; it ends with status 8.
//! Verification is redone on every run (signatures change without the manifest), and an
//! unchanged image whose status changed is scanned again so its reports say so.

pub mod names;
pub mod outcome;
pub mod select;
pub mod signature;
pub mod summary;
pub mod vulns;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use cra_core::{Platform, Reference, Registry, TagInfo};
use cra_scan::analyzers::AnalyzerId;
use cra_scan::sbom::{self, Format};
use cra_scan::vulns::policy::FailOn;
use cra_scan::vulns::VulnReport;
use cra_scan::{ImageSource, Rescan, ScanOptions, ScanReport, Scanner};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use super::db::DbDir;
use super::list;
use super::scan::output::{parse_format, OutputError};
use super::scan::provenance::{ProvenanceArgs, Trust};
use crate::cache::CacheArgs;
use outcome::RunFailed;
use select::Patterns;
use signature::SignatureSummary;
use summary::{Row, State, Status};
use vulns::{Matcher, VulnSummary};

/// Arguments of `cra scan-registry`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The registry.
    #[command(flatten)]
    pub registry: list::RegistryArgs,
    /// The directory for the reports, `summary.json` and the state that makes a run resumable.
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,
    /// A report format; repeat for several (table, json, cyclonedx-json, spdx-json, and sarif
    /// with --vulns; default json).
    #[arg(short = 'f', long = "format", value_name = "FORMAT", value_parser = parse_format)]
    pub formats: Vec<Format>,
    /// Scan only repositories matching this glob; repeat for several (`*` stays within a path
    /// segment, `**` crosses them).
    #[arg(long = "repository", value_name = "GLOB")]
    pub repositories: Vec<String>,
    /// Scan only tags matching this glob; repeat for several.
    #[arg(long = "tag", value_name = "GLOB")]
    pub tags: Vec<String>,
    /// Scan only the N most recently pushed matching tags of each repository (by push time
    /// where the registry reports it, else the last listed).
    #[arg(long, value_name = "N")]
    pub newest: Option<usize>,
    /// The platform to scan in multi-platform images, os/arch[/variant].
    #[arg(long, default_value = "linux/amd64")]
    pub platform: Platform,
    /// How many images to scan at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Analyzers to run, comma-separated; all by default.
    #[arg(long, value_delimiter = ',')]
    pub analyzers: Option<Vec<AnalyzerId>>,
    /// The analysis cache.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Match every image against the local vulnerability database (see `cra db update`): the
    /// reports carry the findings as `cra scan --vulns` writes them, the summary their counts
    /// and the grade.
    #[arg(long)]
    pub vulns: bool,
    /// With --vulns: exit with status 7 when an image has a finding at least this severe (low,
    /// medium, high, critical), or this grade or a worse one (A–F); every image is scanned and
    /// every report written first.
    #[arg(long, requires = "vulns", value_name = "SEVERITY|GRADE")]
    pub fail_on: Option<FailOn>,
    /// The vulnerability database.
    #[command(flatten)]
    pub db: DbDir,
    /// Signature verification against a containers policy; with --policy alone, an image the
    /// policy rejects gets no report and the run ends with status 8.
    #[command(flatten)]
    pub provenance: ProvenanceArgs,
    /// Draw no progress bar (set by the global `--quiet`).
    #[arg(skip)]
    pub quiet: bool,
}

/// What is checked besides the packages: vulnerabilities and signatures.
struct Checks {
    matcher: Option<Matcher>,
    trust: Option<Trust>,
}

/// One image to scan.
struct Target {
    repository: String,
    tag: String,
}

impl Target {
    fn name(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

/// Runs `cra scan-registry`.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.output_dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let formats = if args.formats.is_empty() {
        vec![Format::Json]
    } else {
        args.formats.clone()
    };
    if !args.vulns && formats.contains(&Format::Sarif) {
        return Err(OutputError::NeedsVulns(Format::Sarif.to_string()).into());
    }
    let matcher = if args.vulns {
        Some(Matcher::open(&args.db)?)
    } else {
        None
    };
    let database = matcher.as_ref().map(|m| m.stamp().to_owned());
    let repo_globs = Patterns::new(&args.repositories).context("invalid --repository glob")?;
    let tag_globs = Patterns::new(&args.tags).context("invalid --tag glob")?;
    let checks = Arc::new(Checks {
        matcher,
        trust: Trust::from_args(&args.provenance, args.registry.connect_options())?,
    });
    let registry = args.registry.connect().await?;
    let scanner = Arc::new(Scanner::new(ScanOptions {
        platform: args.platform.clone(),
        analyzers: args.analyzers.clone(),
        cache: args.cache.open()?,
        ..ScanOptions::default()
    }));

    let mut rows = Vec::new();
    let targets = targets(
        registry.as_ref(),
        &repo_globs,
        &tag_globs,
        args.newest,
        args.concurrency,
        &mut rows,
    )
    .await?;
    let mut state = State::load(&dir);
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| bar(targets.len()));
    let formats = Arc::new(formats);
    let shared_dir = Arc::new(dir.clone());
    let jobs: Vec<(Target, Option<Row>)> = targets
        .into_iter()
        .map(|t| {
            let known = state.known(&dir, &t.name(), database.as_deref()).cloned();
            (t, known)
        })
        .collect();
    let mut results = futures_util::stream::iter(jobs)
        .map(|(target, known)| {
            scan_one(
                registry.clone(),
                scanner.clone(),
                target,
                known,
                shared_dir.clone(),
                formats.clone(),
                checks.clone(),
            )
        })
        .buffer_unordered(args.concurrency.max(1));
    while let Some(row) = results.next().await {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        let changed = match row.status {
            Status::Scanned | Status::Unchanged => {
                state.done.insert(row.image.clone(), row.clone());
                true
            }
            // A refused image has no report, also none a previous run wrote.
            Status::Refused => state.forget(&dir, &row.image),
            Status::Failed => false,
        };
        if changed {
            state
                .save(&dir)
                .with_context(|| format!("cannot write the state in {}", dir.display()))?;
        }
        rows.push(row);
    }
    drop(results);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    rows.sort_by(|a, b| a.image.cmp(&b.image));
    let mut gated = 0;
    for v in rows.iter_mut().filter_map(|r| r.vulns.as_mut()) {
        v.gate = args
            .fail_on
            .and_then(|gate| v.check(gate).err())
            .map(|e| e.to_string());
        gated += usize::from(v.gate.is_some());
    }
    summary::write_atomically(
        &dir,
        summary::SUMMARY_FILE,
        &serde_json::to_vec_pretty(&rows)?,
    )
    .with_context(|| format!("cannot write the summary in {}", dir.display()))?;
    if let Some(cache) = &scanner.options().cache {
        let stats = cache.stats();
        tracing::info!(
            layer_hits = stats.layer_hits,
            layer_misses = stats.layer_misses,
            hit_ratio = format!("{:.3}", stats.layer_hit_ratio()),
            "analysis cache: {} of {} layers found",
            stats.layer_hits,
            stats.layer_hits + stats.layer_misses
        );
    }
    let mut out = std::io::stdout().lock();
    summary::table(&rows, &mut out)?;
    out.flush()?;
    let failed = rows.iter().filter(|r| r.status == Status::Failed).count();
    let refused = rows.iter().filter(|r| r.status == Status::Refused).count();
    let verdict = RunFailed {
        total: rows.len(),
        refused,
        gate: args.fail_on.map(|gate| (gate, gated)),
        failed,
    };
    match verdict.of() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The images the filters select; a repository whose tags cannot be listed becomes a failed row.
/// The tags of `concurrency` repositories are listed at once: a warm rescan is mostly requests.
async fn targets(
    registry: &dyn Registry,
    repo_globs: &Patterns,
    tag_globs: &Patterns,
    newest: Option<usize>,
    concurrency: usize,
    failed: &mut Vec<Row>,
) -> anyhow::Result<Vec<Target>> {
    let repositories = registry
        .list_all_repositories()
        .await
        .context("cannot list repositories")?;
    let wanted: Vec<String> = repositories
        .into_iter()
        .filter(|r| repo_globs.matches(r))
        .collect();
    let listings: Vec<(String, anyhow::Result<Vec<TagInfo>>)> = futures_util::stream::iter(wanted)
        .map(|repository| async move {
            let listed = if newest.is_some() {
                list::all_tags_with_metadata(registry, &repository).await
            } else {
                registry
                    .list_all_tags(&repository)
                    .await
                    .map(|tags| tags.into_iter().map(TagInfo::bare).collect())
                    .with_context(|| format!("cannot list the tags of {repository}"))
            };
            (repository, listed)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut targets = Vec::new();
    for (repository, listed) in listings {
        match listed {
            Ok(listed) => targets.extend(select::tags(listed, tag_globs, newest).into_iter().map(
                |tag| Target {
                    repository: repository.clone(),
                    tag,
                },
            )),
            Err(e) => failed.push(Row::failed(repository, None, chain(&e))),
        }
    }
    Ok(targets)
}

async fn scan_one(
    registry: Arc<dyn Registry>,
    scanner: Arc<Scanner>,
    target: Target,
    known: Option<Row>,
    dir: Arc<PathBuf>,
    formats: Arc<Vec<Format>>,
    checks: Arc<Checks>,
) -> Row {
    let name = target.name();
    let reference: Reference = match format!("{}/{name}", registry.host()).parse() {
        Ok(r) => r,
        Err(e) => return Row::failed(name, None, format!("invalid image reference: {e}")),
    };
    let mut signature = None;
    if let Some(trust) = &checks.trust {
        match trust.verify(registry.as_ref(), &reference, &name).await {
            Ok((digest, verdict, status)) => {
                let summary = SignatureSummary::of(&verdict, trust.enforces());
                if summary.refuses() {
                    return Row::refused(name, digest, summary);
                }
                signature = Some((summary, status));
            }
            Err(e) => return Row::failed(name, None, chain(&e)),
        }
    }
    // Reports that state another signature status are written again.
    let signed = signature.as_ref().map(|(s, _)| s);
    let known = known.filter(|row| row.signature.as_ref() == signed);
    let source = ImageSource::Registry {
        registry,
        reference,
    };
    let previous = known.as_ref().and_then(|r| r.digest.as_ref());
    match scanner.scan_if_changed(&source, previous, None).await {
        Ok(Rescan::Unchanged(_)) => match known {
            Some(row) => Row {
                status: Status::Unchanged,
                ..row
            },
            None => Row::failed(name, None, "no previous result".into()),
        },
        Ok(Rescan::Scanned(mut report)) => {
            let (signature, status) = signature.unzip();
            report.signature = status;
            let stem = names::stem(&target.repository, &target.tag);
            let digest = report.image.manifest_digest.clone();
            let written = tokio::task::spawn_blocking(move || {
                let matcher = checks.matcher.as_ref();
                let vulns = match matcher {
                    Some(m) => Some(m.match_report(&report)?),
                    None => None,
                };
                let files = write_reports(&dir, &stem, &report, vulns.as_ref(), &formats)?;
                let summary = vulns
                    .as_ref()
                    .zip(matcher)
                    .map(|(v, m)| VulnSummary::of(v, m.stamp()));
                anyhow::Ok((report, files, summary))
            })
            .await;
            match written {
                Ok(Ok((report, files, vulns))) => Row {
                    signature,
                    ..Row::scanned(name, &report, files, vulns)
                },
                Ok(Err(e)) => Row::failed(name, Some(digest), chain(&e)),
                Err(e) => Row::failed(name, Some(digest), e.to_string()),
            }
        }
        Err(e) => Row::failed(name, None, chain(&anyhow::Error::new(e))),
    }
}

/// Writes one report per format, with the findings when there are any, each through a
/// temporary file; returns their names.
fn write_reports(
    dir: &Path,
    stem: &str,
    report: &ScanReport,
    vulns: Option<&VulnReport>,
    formats: &[Format],
) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::with_capacity(formats.len());
    for format in formats {
        let name = format!("{stem}.{}", extension(*format));
        let mut bytes = Vec::new();
        match vulns {
            Some(v) => cra_scan::vulns::output::render(report, v, *format, &mut bytes)?,
            None => sbom::render(report, *format, &mut bytes)?,
        }
        summary::write_atomically(dir, &name, &bytes)
            .with_context(|| format!("cannot write {}", dir.join(&name).display()))?;
        files.push(name);
    }
    Ok(files)
}

fn extension(format: Format) -> &'static str {
    match format {
        Format::Table => "txt",
        Format::Json => "json",
        Format::CycloneDx => "cdx.json",
        Format::Spdx => "spdx.json",
        Format::Sarif => "sarif",
    }
}

/// An error and its causes on one line.
fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

fn bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} images [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
