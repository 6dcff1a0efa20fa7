//! Resuming what an earlier run of the agent accepted and never finished (it was killed):
//! each scan in the journal runs again, in the order it was accepted, unless its outcome is in
//! the outbox already, or it started [`MAX_ATTEMPTS`] times (then it is reported failed, so that
//! an image that kills the agent ends as a failed scan instead of a crash loop).

use tracing::{info, warn};

use crate::agent::engine::{EngineError, FailureKind};
use crate::agent::journal::{Ticket, MAX_ATTEMPTS};
use crate::agent::scan::{enqueue, finish, Job};
use crate::agent::state::AppState;

/// Queues again, or reports failed, every scan the journal holds; called once before the agent
/// accepts requests.
pub(crate) async fn resume(state: &AppState) {
    let (tickets, unreadable) = match state.journal.unfinished() {
        Ok(found) => found,
        Err(err) => {
            warn!(error = %err, "cannot read the scan journal; nothing is resumed");
            return;
        }
    };
    for file in unreadable {
        // Without a readable record there is no job id or callback base to report to.
        warn!(error = %file.error, "dropping a scan journal record that cannot be read");
        if let Err(err) = state.journal.discard(&file) {
            warn!(error = %err, "cannot remove a damaged scan journal record");
        }
    }
    if !tickets.is_empty() {
        info!(
            scans = tickets.len(),
            "resuming the scans an earlier run accepted"
        );
    }
    for ticket in tickets {
        resume_one(state, ticket).await;
    }
}

async fn resume_one(state: &AppState, ticket: Ticket) {
    let job_id = ticket.record.job_id.clone();
    if state.outbox.holds_job(&job_id) {
        // The scan finished and its outcome was kept just before the crash.
        if let Err(err) = state.journal.remove(&ticket).await {
            warn!(job = %job_id, error = %err, "cannot remove a finished scan's journal record");
        }
        return;
    }
    let Some(claim) = state.claim_job(&job_id) else {
        // Two records of one job: the first one resumed stands for both.
        let _ = state.journal.remove(&ticket).await;
        return;
    };
    let attempts = ticket.record.attempts;
    if attempts >= MAX_ATTEMPTS {
        warn!(job = %job_id, attempts, "a scan stopped the agent every time it ran; reporting it failed");
        let failure = EngineError::new(
            FailureKind::Interrupted,
            format!("the agent stopped during this scan {attempts} times; it is not run again"),
        );
        finish(state, &ticket, &Err(failure)).await;
        return;
    }
    let job = match Job::resume(&ticket, &state.settings) {
        Some(job) => job,
        None => {
            let failure = EngineError::new(
                FailureKind::Internal,
                "the agent restarted and cannot resume this scan",
            );
            finish(state, &ticket, &Err(failure)).await;
            return;
        }
    };
    match enqueue(state, job, claim) {
        Ok(()) => {
            state.metrics.scan_resumed();
            info!(job = %job_id, attempts, "scan resumed");
        }
        Err(err) => {
            let failure = EngineError::new(
                FailureKind::Interrupted,
                format!("the agent restarted and cannot queue this scan again: {err}"),
            );
            finish(state, &ticket, &Err(failure)).await;
        }
    }
}
