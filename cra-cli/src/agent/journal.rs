//! The scan journal: every accepted scan is on disk from its 202 until its outcome is in the
//! outbox, so that an agent killed without warning (SIGKILL, an out-of-memory kill, a node
//! failure) loses no accepted scan silently.
//!
//! A record is written with `fsync` before the 202 is sent, rewritten with one more attempt each
//! time the scan starts, and removed once the scan's result (or failure) is in the outbox.
//! Records live in `journal/` under the state directory, one file each, named so that they sort
//! in the order the scans were accepted.
//! On start the agent resumes what it finds (`agent/resume.rs`): a scan that started
//! [`MAX_ATTEMPTS`] times without finishing (one that kills the agent every time) is reported
//! failed instead of being run again.
//!
//! A record holds the scan's registry credentials, because re-running the scan needs them: the
//! files are readable by the agent's user only, and a record is removed as soon as the scan
//! ends, so credentials stay on disk only while a scan is queued or running, or after a crash
//! until the next start.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cra_core::{CredentialsError, RegistryCredentials};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::agent::outbox::store::{self, url_text, ResultRoute};

/// How many times a scan may start; a scan that was running when the agent died this many
/// times is reported failed (`scan_interrupted`) instead.
pub const MAX_ATTEMPTS: u32 = 3;

/// The journal's subdirectory of the state directory.
const DIR: &str = "journal";
/// The extension of record files.
const EXTENSION: &str = "job";

/// A scan's registry credentials in their wire form (base64 `CR_CREDENTIALS`); never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedCredentials(String);

impl SealedCredentials {
    /// The wire form of `credentials`.
    pub fn seal(credentials: &RegistryCredentials) -> Self {
        SealedCredentials(credentials.to_base64())
    }

    /// The credentials again.
    pub fn open(&self) -> Result<RegistryCredentials, CredentialsError> {
        RegistryCredentials::from_base64(&self.0)
    }
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// One accepted scan, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The job id.
    pub job_id: String,
    /// Where the result goes.
    pub route: ResultRoute,
    /// The image name as the agent parsed and printed it.
    pub image: String,
    /// The platform asked for, as the agent printed it.
    #[serde(default)]
    pub platform: Option<String>,
    /// Whether the request asked for vulnerability findings.
    #[serde(default)]
    pub vulns: bool,
    /// The registry credentials of the request.
    pub credentials: SealedCredentials,
    /// The callback base (it may hold user info: it is never logged).
    #[serde(with = "url_text")]
    pub base: Url,
    /// When the scan was accepted, in milliseconds since the Unix epoch.
    pub accepted_ms: u64,
    /// How many times the scan started.
    #[serde(default)]
    pub attempts: u32,
}

/// A record on disk: its file name and what it holds now.
#[derive(Debug, Clone)]
pub struct Ticket {
    name: String,
    /// The record as last written.
    pub record: Record,
}

/// A record file that could not be read back.
#[derive(Debug)]
pub struct Unreadable {
    /// The file name.
    pub name: String,
    /// Why.
    pub error: store::LoadError,
}

/// The journal directory; cheap to clone.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
    seq: Arc<AtomicU64>,
}

impl Journal {
    /// Opens (creating it if needed) the journal under `state_dir`, and removes what an
    /// interrupted write left.
    pub fn open(state_dir: &Path) -> std::io::Result<Journal> {
        let dir = state_dir.join(DIR);
        store::prepare(&dir)?;
        Ok(Journal {
            dir,
            seq: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Writes `record` durably; the scan may be acknowledged once this returns.
    pub async fn record(&self, record: Record) -> std::io::Result<Ticket> {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let name = format!(
            "{:013}-{seq:08}-{}.{EXTENSION}",
            record.accepted_ms, record.job_id
        );
        let ticket = Ticket { name, record };
        self.write(&ticket).await?;
        Ok(ticket)
    }

    /// Records one more start of the scan.
    pub async fn started(&self, ticket: &mut Ticket) -> std::io::Result<()> {
        ticket.record.attempts = ticket.record.attempts.saturating_add(1);
        self.write(ticket).await
    }

    /// Removes the record: the scan's outcome is kept elsewhere, or it was never acknowledged.
    pub async fn remove(&self, ticket: &Ticket) -> std::io::Result<()> {
        let dir = self.dir.clone();
        let name = ticket.name.clone();
        blocking(move || store::remove(&dir, &name)).await
    }

    /// The records a previous run left, in the order their scans were accepted, and the files
    /// that could not be read.
    pub fn unfinished(&self) -> std::io::Result<(Vec<Ticket>, Vec<Unreadable>)> {
        let mut tickets = Vec::new();
        let mut unreadable = Vec::new();
        for (name, _) in store::list_with(&self.dir, EXTENSION)? {
            match load(&self.dir, &name) {
                Ok(record) => tickets.push(Ticket { name, record }),
                Err(error) => unreadable.push(Unreadable { name, error }),
            }
        }
        Ok((tickets, unreadable))
    }

    /// Removes a file [`Journal::unfinished`] could not read.
    pub fn discard(&self, unreadable: &Unreadable) -> std::io::Result<()> {
        store::remove(&self.dir, &unreadable.name)
    }

    async fn write(&self, ticket: &Ticket) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&ticket.record).map_err(std::io::Error::other)?;
        let dir = self.dir.clone();
        let name = ticket.name.clone();
        blocking(move || store::write_durably(&dir, &name, &bytes)).await
    }
}

fn load(dir: &Path, name: &str) -> Result<Record, store::LoadError> {
    let bytes = match std::fs::read(dir.join(name)) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(store::LoadError::Gone)
        }
        Err(err) => return Err(store::LoadError::Io(err)),
    };
    serde_json::from_slice(&bytes).map_err(store::LoadError::Damaged)
}

async fn blocking(f: impl FnOnce() -> std::io::Result<()> + Send + 'static) -> std::io::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|join| Err(std::io::Error::other(join)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cra_core::RegistryKind;

    fn record(job: &str, accepted_ms: u64) -> Record {
        Record {
            job_id: job.into(),
            route: ResultRoute::V2,
            image: "team/app:1".into(),
            platform: Some("linux/arm64".into()),
            vulns: false,
            credentials: SealedCredentials::seal(&RegistryCredentials::Basic {
                kind: RegistryKind::Harbor,
                registry_base: "registry.test".into(),
                username: "robot".into(),
                password: "s3cr3t".to_owned().into(),
            }),
            base: Url::parse("http://127.0.0.1:7341").unwrap(),
            accepted_ms,
            attempts: 0,
        }
    }

    #[tokio::test]
    async fn records_round_trip_in_acceptance_order_and_count_attempts() {
        let state = tempfile::tempdir().unwrap();
        let journal = Journal::open(state.path()).unwrap();
        let mut late = journal.record(record("b-2", 9)).await.unwrap();
        let early = journal.record(record("a-1", 5)).await.unwrap();
        journal.started(&mut late).await.unwrap();
        journal.started(&mut late).await.unwrap();

        // A new run over the same directory finds both, oldest first, as last written.
        let again = Journal::open(state.path()).unwrap();
        let (found, unreadable) = again.unfinished().unwrap();
        assert!(unreadable.is_empty());
        let found: Vec<&Record> = found.iter().map(|t| &t.record).collect();
        assert_eq!(found, [&early.record, &late.record]);
        assert_eq!(found[1].attempts, 2);
        let credentials = found[0].credentials.open().unwrap();
        assert_eq!(credentials.registry_base(), Some("registry.test"));

        journal.remove(&early).await.unwrap();
        journal.remove(&late).await.unwrap();
        assert!(again.unfinished().unwrap().0.is_empty());
    }

    #[tokio::test]
    async fn records_keep_credentials_private() {
        let state = tempfile::tempdir().unwrap();
        let journal = Journal::open(state.path()).unwrap();
        let ticket = journal.record(record("j", 1)).await.unwrap();
        assert!(!format!("{ticket:?}").contains("s3cr3t"));
        assert!(!format!("{ticket:?}").contains(&ticket.record.credentials.0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = state.path().join(DIR).join(&ticket.name);
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn damaged_records_are_reported_not_fatal() {
        let state = tempfile::tempdir().unwrap();
        let journal = Journal::open(state.path()).unwrap();
        std::fs::write(state.path().join(DIR).join("1-x.job"), b"{").unwrap();
        let (found, unreadable) = journal.unfinished().unwrap();
        assert!(found.is_empty());
        assert_eq!(unreadable.len(), 1);
        journal.discard(&unreadable[0]).unwrap();
        assert!(journal.unfinished().unwrap().1.is_empty());
    }
}
