//! The outbox: [`Notifier::enqueue_receipt`] writes one message per e-mail
//! and per push subscription (ids derived from the receipt, so enqueueing
//! twice is a no-op) and never sends, so a slow mail relay can never hold up
//! a charge; [`OutboxWorker`] sends what is due, and on failure records the
//! error and the next attempt with exponential backoff, giving up after
//! [`RetryPolicy::max_attempts`].
//!
//! States, derived from the stored row ([`OutboxState`]): pending
//! (`sent_at` empty, `next_attempt_at` a time), sent (`sent_at` set) and
//! gave up (`next_attempt_at` = [`GAVE_UP`], never due again; `last_error`
//! says why).

use super::email::{Mailer, parse_mailbox, receipt_email};
use super::push::{PushOptions, PushOutcome, PushSender, PushTarget};
use super::{Clock, NotifyError};
use crate::checkout::{Receipt, ReceiptKind};
use crate::db::{Millis, OutboxMessage, PushSubscription, Storage};
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// `next_attempt_at` of a message the worker gave up on: never due.
pub const GAVE_UP: Millis = i64::MAX;

/// Where a stored message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sent,
    GaveUp,
}

impl OutboxState {
    pub fn of(message: &OutboxMessage) -> Self {
        match (message.sent_at, message.next_attempt_at) {
            (Some(_), _) => Self::Sent,
            (None, GAVE_UP) => Self::GaveUp,
            (None, _) => Self::Pending,
        }
    }
}

/// When to try again: `base`, doubling per failed attempt up to `max`; no
/// jitter, so tests can predict it. After `max_attempts` attempts the
/// message is given up (with the defaults: 15 attempts over about 8 hours).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(10), max: Duration::from_secs(3600), max_attempts: 15 }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failed attempt (1-based).
    pub fn delay(&self, failures: i64) -> Duration {
        let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// What a push notification carries, as JSON, to the app's service worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMessage {
    pub title: String,
    pub body: String,
    /// The app page that shows the receipt.
    pub url: String,
    /// The total, formatted with its currency (`6.27 EUR`).
    pub total: String,
}

impl PushMessage {
    pub fn for_receipt(receipt_id: &str, receipt: &Receipt) -> Self {
        let total = receipt.cart.total_gross().to_string();
        let (what, title) = match receipt.kind {
            ReceiptKind::Sale => ("Receipt", format!("Your receipt from {}", receipt.seller.name)),
            ReceiptKind::Refund { .. } => ("Refund", format!("Your refund from {}", receipt.seller.name)),
        };
        Self {
            title,
            body: format!("{what} no. {}: {total}", receipt.number),
            url: format!("/app/receipts/{receipt_id}"),
            total,
        }
    }
}

/// The stored payload of an e-mail message.
#[derive(Serialize, Deserialize)]
struct EmailJob {
    receipt_id: String,
    receipt: Receipt,
}

/// The stored payload of a push message (the endpoint is the recipient).
#[derive(Serialize, Deserialize)]
struct PushJob {
    p256dh: String,
    auth: String,
    options: PushOptions,
    message: PushMessage,
}

/// The outbox id of a receipt's e-mail.
pub fn email_id(receipt_id: &str) -> String {
    format!("receipt:{receipt_id}:email")
}

/// The outbox id of a receipt's push to one endpoint (a hash: endpoints are long and secret-ish).
pub fn push_id(receipt_id: &str, endpoint: &str) -> String {
    let digest = Sha256::digest(endpoint.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("receipt:{receipt_id}:push:{hex}")
}

/// What [`Notifier::enqueue_receipt`] did, by outbox id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    pub queued: Vec<String>,
    /// Already in the outbox from an earlier call.
    pub existing: Vec<String>,
}

/// Queues notifications; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    storage: Arc<dyn Storage>,
}

impl Notifier {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }

    /// Queues the receipt's e-mail (when `email` is given) and one push per
    /// subscription, due at `now`. Checks the address before queueing
    /// anything. `receipt_id` is the stored receipt's id (the app's URL).
    pub async fn enqueue_receipt(
        &self,
        receipt_id: &str,
        receipt: &Receipt,
        email: Option<&str>,
        subscriptions: &[PushSubscription],
        now: Millis,
    ) -> Result<Enqueued, NotifyError> {
        let mut messages = Vec::new();
        if let Some(address) = email {
            let to = parse_mailbox(address)?;
            let job = EmailJob { receipt_id: receipt_id.to_owned(), receipt: receipt.clone() };
            messages.push(message(email_id(receipt_id), "email", to.to_string(), json(&job)?, now));
        }
        let push = PushMessage::for_receipt(receipt_id, receipt);
        for s in subscriptions {
            let job = PushJob {
                p256dh: s.p256dh.clone(),
                auth: s.auth.clone(),
                options: PushOptions::default(),
                message: push.clone(),
            };
            messages.push(message(push_id(receipt_id, &s.endpoint), "push", s.endpoint.clone(), json(&job)?, now));
        }
        let mut done = Enqueued::default();
        for m in messages {
            let list = if self.storage.enqueue_outbox(&m).await? { &mut done.queued } else { &mut done.existing };
            list.push(m.id);
        }
        Ok(done)
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, NotifyError> {
    serde_json::to_string(value).map_err(|e| NotifyError::Build(e.to_string()))
}

fn message(id: String, kind: &str, recipient: String, payload_json: String, now: Millis) -> OutboxMessage {
    OutboxMessage {
        id,
        kind: kind.to_owned(),
        recipient,
        payload_json,
        attempts: 0,
        next_attempt_at: now,
        sent_at: None,
        last_error: None,
        created_at: now,
    }
}

/// What one pass of the worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    pub sent: usize,
    pub retrying: usize,
    pub gave_up: usize,
}

impl RunReport {
    pub fn handled(&self) -> usize {
        self.sent + self.retrying + self.gave_up
    }
}

/// How one attempt ended.
enum Verdict {
    Sent,
    Retry { error: String, not_before: Option<Duration> },
    GiveUp { error: String },
}

impl From<NotifyError> for Verdict {
    fn from(e: NotifyError) -> Self {
        if e.is_permanent() {
            Verdict::GiveUp { error: e.to_string() }
        } else {
            Verdict::Retry { error: e.to_string(), not_before: None }
        }
    }
}

/// Sends due outbox messages.
pub struct OutboxWorker {
    storage: Arc<dyn Storage>,
    mailer: Arc<dyn Mailer>,
    push: Arc<dyn PushSender>,
    from: Mailbox,
    policy: RetryPolicy,
    /// Messages per pass, so one pass is bounded.
    batch: i64,
}

/// The longest one message may take before the attempt counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

impl OutboxWorker {
    pub fn new(storage: Arc<dyn Storage>, mailer: Arc<dyn Mailer>, push: Arc<dyn PushSender>, from: Mailbox) -> Self {
        Self { storage, mailer, push, from, policy: RetryPolicy::default(), batch: 50 }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// Sends the messages due at `now` (up to one batch), recording each outcome.
    pub async fn run_once(&self, now: Millis) -> Result<RunReport, NotifyError> {
        self.pass(now, None).await
    }

    async fn pass(&self, now: Millis, shutdown: Option<&watch::Receiver<bool>>) -> Result<RunReport, NotifyError> {
        let mut report = RunReport::default();
        for m in self.storage.due_outbox(now, self.batch).await? {
            if shutdown.is_some_and(|s| *s.borrow()) {
                break;
            }
            let verdict = match tokio::time::timeout(SEND_TIMEOUT, self.attempt(&m, now)).await {
                Ok(v) => v,
                Err(_) => {
                    Verdict::Retry { error: format!("timed out after {} s", SEND_TIMEOUT.as_secs()), not_before: None }
                }
            };
            self.record(&m, verdict, now, &mut report).await?;
        }
        Ok(report)
    }

    async fn attempt(&self, m: &OutboxMessage, now: Millis) -> Verdict {
        let result = match m.kind.as_str() {
            "email" => self.send_email(m).await,
            "push" => self.send_push(m, now).await,
            other => Err(NotifyError::Payload { id: m.id.clone(), reason: format!("unknown kind {other:?}") }),
        };
        result.unwrap_or_else(Verdict::from)
    }

    async fn send_email(&self, m: &OutboxMessage) -> Result<Verdict, NotifyError> {
        let job: EmailJob = serde_json::from_str(&m.payload_json)
            .map_err(|e| NotifyError::Payload { id: m.id.clone(), reason: e.to_string() })?;
        let to = parse_mailbox(&m.recipient)?;
        let email = receipt_email(&self.from, &to, &m.id, &job.receipt)?;
        self.mailer.send(&m.id, &email).await?;
        Ok(Verdict::Sent)
    }

    async fn send_push(&self, m: &OutboxMessage, now: Millis) -> Result<Verdict, NotifyError> {
        let job: PushJob = serde_json::from_str(&m.payload_json)
            .map_err(|e| NotifyError::Payload { id: m.id.clone(), reason: e.to_string() })?;
        let target = PushTarget { endpoint: m.recipient.clone(), p256dh: job.p256dh, auth: job.auth };
        let payload = serde_json::to_vec(&job.message).map_err(|e| NotifyError::Build(e.to_string()))?;
        Ok(match self.push.send(&target, &payload, &job.options, now).await? {
            PushOutcome::Delivered { .. } => Verdict::Sent,
            PushOutcome::Gone { status } => {
                self.storage.delete_push_subscription(&m.recipient).await?;
                Verdict::GiveUp { error: format!("subscription gone (HTTP {status}); deleted it") }
            }
            PushOutcome::Retry { status, retry_after } => {
                Verdict::Retry { error: format!("push service answered HTTP {status}"), not_before: retry_after }
            }
            PushOutcome::Rejected { status, reason } => {
                Verdict::GiveUp { error: format!("push service refused the message (HTTP {status}): {reason}") }
            }
        })
    }

    async fn record(
        &self,
        m: &OutboxMessage,
        verdict: Verdict,
        now: Millis,
        report: &mut RunReport,
    ) -> Result<(), NotifyError> {
        let attempt = m.attempts + 1;
        match verdict {
            Verdict::Sent => {
                self.storage.outbox_sent(&m.id, now).await?;
                tracing::info!(id = %m.id, kind = %m.kind, attempt, "notification sent");
                report.sent += 1;
            }
            Verdict::Retry { error, .. } if attempt >= self.policy.max_attempts => {
                let error = format!("gave up after {attempt} attempts: {error}");
                self.storage.outbox_failed(&m.id, &error, GAVE_UP).await?;
                tracing::error!(id = %m.id, kind = %m.kind, %error, "notification not sent");
                report.gave_up += 1;
            }
            Verdict::Retry { error, not_before } => {
                let wait = self.policy.delay(attempt).max(not_before.unwrap_or_default());
                let next = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
                self.storage.outbox_failed(&m.id, &error, next).await?;
                tracing::warn!(id = %m.id, kind = %m.kind, attempt, retry_in_s = wait.as_secs(), %error, "notification failed; will retry");
                report.retrying += 1;
            }
            Verdict::GiveUp { error } => {
                self.storage.outbox_failed(&m.id, &error, GAVE_UP).await?;
                tracing::error!(id = %m.id, kind = %m.kind, attempt, %error, "notification not sent");
                report.gave_up += 1;
            }
        }
        Ok(())
    }

    /// Runs passes every `interval` (at once again while a pass fills a whole
    /// batch) until `shutdown` turns true; a message in flight is finished first.
    pub async fn run(&self, clock: Arc<dyn Clock>, interval: Duration, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(mail = %self.mailer.describe(), "notification outbox worker started");
        while !*shutdown.borrow() {
            let full = match self.pass(clock.now_ms(), Some(&shutdown)).await {
                Ok(report) => report.handled() as i64 >= self.batch,
                Err(e) => {
                    tracing::error!(%e, "notification outbox pass failed");
                    false
                }
            };
            if !full {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() {
                            break; // the sender is gone: nobody can stop us any more, so stop now
                        }
                    }
                }
            }
        }
        tracing::info!("notification outbox worker stopped");
    }
}
