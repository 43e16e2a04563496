//! Notifications: receipt e-mail (SMTP through `lettre`, text + HTML, or
//! `.eml` files in a folder when no relay is set), Web Push (VAPID, RFC 8292;
//! payload encryption, RFC 8291) and an outbox in storage that retries with
//! backoff. See `docs/notify.md`.
//!
//! The flow: checkout calls [`Notifier::enqueue_receipt`], which only writes
//! outbox rows; [`OutboxWorker`] (run by `serve`) sends them through a
//! [`Mailer`] and a [`PushSender`]. Each of those two is a trait with a real
//! implementation ([`SmtpMailer`] / [`FolderMailer`], [`WebPushSender`]) and
//! a fake for tests ([`MemoryMailer`], [`MemoryPush`]).
//!
//! | file | owns |
//! | --- | --- |
//! | `email.rs` | the `multipart/alternative` receipt message, [`Mailer`] and its implementations |
//! | `html.rs` | the HTML rendering of a receipt |
//! | `push.rs` | [`PushSender`], [`WebPushSender`], [`PushOutcome`] |
//! | `ece.rs` | RFC 8291 / RFC 8188 `aes128gcm` encryption and decryption (pure) |
//! | `vapid.rs` | the VAPID key file and the ES256 JWT |
//! | `outbox.rs` | ids, payloads, [`Notifier`], [`OutboxWorker`], backoff |

pub mod ece;
mod email;
mod html;
mod outbox;
mod push;
#[cfg(test)]
mod tests_outbox;
mod vapid;

pub use email::{FolderMailer, Mailer, MemoryMailer, SmtpMailer, SmtpTls, parse_mailbox, receipt_email, subject};
pub use html::{escape, render_html};
pub use outbox::{
    Enqueued, GAVE_UP, Notifier, OutboxState, OutboxWorker, PushMessage, RetryPolicy, RunReport, email_id, push_id,
};
pub use push::{MemoryPush, PushOptions, PushOutcome, PushSender, PushTarget, Urgency, WebPushSender};
pub use vapid::{TOKEN_LIFETIME_S, VapidKey, audience};

use crate::config::NotifyConfig;
use crate::db::{DbError, Millis, Storage};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a notification could not be queued, built or sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notify config key `{key}`: {reason}")]
    Config { key: &'static str, reason: String },
    #[error("invalid e-mail address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("cannot build the message: {0}")]
    Build(String),
    /// `permanent`: the relay refused this recipient for good (5.5.x).
    #[error("SMTP: {reason}")]
    Smtp { permanent: bool, reason: String },
    #[error("cannot write {path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("VAPID key file {path}: {reason}")]
    VapidKey { path: PathBuf, reason: String },
    #[error("invalid push subscription: {0}")]
    Subscription(String),
    #[error("push payload of {size} bytes is over the {max}-byte limit")]
    PayloadTooLarge { size: usize, max: usize },
    #[error("encryption failed: {0}")]
    Crypto(String),
    #[error("cannot decrypt the push message: {0}")]
    Decrypt(String),
    /// The push service could not be reached (only the origin is named: the
    /// rest of an endpoint is a capability).
    #[error("push service {origin}: {reason}")]
    Http { origin: String, reason: String },
    #[error("outbox message {id}: {reason}")]
    Payload { id: String, reason: String },
    #[error(transparent)]
    Storage(#[from] DbError),
}

impl NotifyError {
    /// Whether retrying the same message can never succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Smtp { permanent, .. } => *permanent,
            Self::Address { .. }
            | Self::Build(_)
            | Self::Subscription(_)
            | Self::PayloadTooLarge { .. }
            | Self::Crypto(_)
            | Self::Payload { .. } => true,
            _ => false,
        }
    }
}

/// An error and its sources on one line (`a: b: c`), so a stored
/// `last_error` says "connection refused", not only "network error".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// The time source of the worker loop (tests pass times to `run_once` instead).
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> Millis;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        crate::now_ms()
    }
}

/// Everything `serve` needs, built from `[notify]`.
pub struct NotifyParts {
    pub notifier: Notifier,
    pub worker: OutboxWorker,
    /// The VAPID public key (base64url) the app subscribes with (`applicationServerKey`).
    pub vapid_public_key: String,
}

/// Builds the notifier and its worker from the configuration: an SMTP relay
/// when `smtp_host` is set, else `.eml` files in `outbox_dir`; the VAPID key
/// from `vapid_key_file` (created when missing). Blocking file I/O: call at start.
pub fn from_config(config: &NotifyConfig, storage: Arc<dyn Storage>) -> Result<NotifyParts, NotifyError> {
    let from =
        parse_mailbox(&config.from).map_err(|e| NotifyError::Config { key: "notify.from", reason: e.to_string() })?;
    let mailer: Arc<dyn Mailer> = if config.smtp_host.trim().is_empty() {
        Arc::new(FolderMailer::new(&config.outbox_dir))
    } else {
        Arc::new(SmtpMailer::new(config)?)
    };
    let key = VapidKey::load_or_create(Path::new(&config.vapid_key_file))?;
    let vapid_public_key = key.public_key_b64().to_owned();
    let push = Arc::new(WebPushSender::new(key, config.vapid_subject.clone())?);
    Ok(NotifyParts {
        notifier: Notifier::new(storage.clone()),
        worker: OutboxWorker::new(storage, mailer, push, from),
        vapid_public_key,
    })
}
