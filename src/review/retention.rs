//! Evidence retention: a background job (started by `serve`, also callable
//! directly) that deletes evidence files and rows older than
//! `review.retention_hours` (72 by default), and evidence of visits that
//! ended up charged without a review. Time comes from the injected clock,
//! so the deletion is tested by moving a clock, never by sleeping.

use super::evidence::{EvidenceError, EvidenceStore};
use crate::db::{Evidence, Millis, VisitStatus};
use crate::ids::{CaseId, VisitId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Rows read per round trip.
const BATCH: i64 = 500;

/// How long evidence is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub hours: u64,
}

impl Retention {
    pub fn period_ms(&self) -> Millis {
        (self.hours as i64).saturating_mul(3_600_000)
    }

    /// Evidence created before this is due for deletion at `now`.
    pub fn cutoff(&self, now: Millis) -> Millis {
        now.saturating_sub(self.period_ms())
    }

    pub fn is_expired(&self, created_at: Millis, now: Millis) -> bool {
        created_at < self.cutoff(now)
    }
}

/// What one run deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    /// Past the retention period.
    pub expired: usize,
    /// Of visits charged or cancelled without a review.
    pub unflagged: usize,
    /// Rows whose file was already gone.
    pub files_missing: usize,
}

/// Whether a visit's evidence may stay: the visit is still open or waits for
/// review, or a review case was opened for it.
async fn still_needed(store: &EvidenceStore, visit: &VisitId) -> Result<bool, EvidenceError> {
    let Some(v) = store.storage().get_visit(visit).await? else { return Ok(false) };
    if !matches!(v.status, VisitStatus::Settled | VisitStatus::Cancelled) {
        return Ok(true);
    }
    Ok(store.storage().get_review_case(&CaseId(format!("case-{visit}"))).await?.is_some())
}

async fn delete(store: &EvidenceStore, e: &Evidence, report: &mut PurgeReport) -> Result<(), EvidenceError> {
    if !store.delete(e).await? {
        report.files_missing += 1;
    }
    Ok(())
}

/// One run at `now`.
pub async fn purge(store: &EvidenceStore, retention: Retention, now: Millis) -> Result<PurgeReport, EvidenceError> {
    let mut report = PurgeReport::default();
    loop {
        let due = store.storage().evidence_created_before(retention.cutoff(now), BATCH).await?;
        for e in due.iter().filter(|e| retention.is_expired(e.created_at, now)) {
            delete(store, e, &mut report).await?;
            report.expired += 1;
        }
        if (due.len() as i64) < BATCH {
            break;
        }
    }
    let mut needed: BTreeMap<VisitId, bool> = BTreeMap::new();
    let all = store.storage().evidence_created_before(now.saturating_add(1), i64::MAX).await?;
    for e in &all {
        let keep = match needed.get(&e.visit_id) {
            Some(k) => *k,
            None => {
                let k = still_needed(store, &e.visit_id).await?;
                needed.insert(e.visit_id.clone(), k);
                k
            }
        };
        if !keep {
            delete(store, e, &mut report).await?;
            report.unflagged += 1;
        }
    }
    if report != PurgeReport::default() {
        tracing::info!(?report, "evidence retention");
    }
    Ok(report)
}

/// Runs [`purge`] every `interval` until `stop` turns true.
pub fn spawn(
    store: Arc<EvidenceStore>,
    retention: Retention,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = purge(&store, retention, store.now()).await {
                tracing::error!(error = %e, "evidence retention run failed; retrying at the next interval");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_due_exactly_after_the_period() {
        let r = Retention { hours: 72 };
        let created = 1_000_000;
        let period = 72 * 3_600_000;
        assert!(!r.is_expired(created, created + period - 1));
        assert!(!r.is_expired(created, created + period), "kept for the whole period");
        assert!(r.is_expired(created, created + period + 1));
        assert_eq!(r.cutoff(created + period), created);
        assert_eq!(Retention { hours: 1 }.period_ms(), 3_600_000);
    }
}
