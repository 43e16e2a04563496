//! The sandbox provider (the default): behaves like a card processor —
//! test tokens that approve, decline or want authentication, holds that
//! expire, captures never above the hold, refunds never above the capture —
//! and keeps its own ledger in its own SQLite file, keyed by idempotency key,
//! so a restarted process (or another one) gets the first outcome of a
//! repeated request and no money moves twice. Time comes from a [`Clock`].

mod ledger;

pub use ledger::Movement;

use ledger::{SCHEMA, authorise_in, cancel_in, capture_in, charge_in, refund_in};

use super::{
    AuthoriseRequest, CancelRequest, CaptureRequest, ChargeRequest, Clock, Outcome, PaymentProvider, ProviderError,
    RefundRequest,
};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How long a hold lives unless told otherwise: 7 days, like a card authorisation.
pub const DEFAULT_HOLD_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The sandbox's payment-method tokens and what they do; any other token is
/// rejected with `no_such_payment_method`.
pub const TEST_TOKENS: &[(&str, &str)] = &[
    ("tok_visa", "approved"),
    ("tok_mastercard", "approved"),
    ("tok_amex", "approved"),
    ("tok_chargeDeclined", "declined, code generic_decline"),
    ("tok_expiredCard", "declined, code expired_card"),
    ("tok_insufficientFunds", "insufficient funds"),
    ("tok_authenticationRequired", "authentication required (3-D Secure)"),
    ("tok_insufficientFundsOnCharge", "holds approved; off-session charges: insufficient funds"),
];

/// The issuer's answer for a token; `None` approves.
fn card_answer(token: &str, off_session_charge: bool) -> Option<Outcome> {
    let declined = |code: &str| Some(Outcome::Declined { code: code.into() });
    match token {
        "tok_visa" | "tok_mastercard" | "tok_amex" => None,
        "tok_insufficientFundsOnCharge" if !off_session_charge => None,
        "tok_insufficientFundsOnCharge" | "tok_insufficientFunds" => Some(Outcome::InsufficientFunds),
        "tok_chargeDeclined" => declined("generic_decline"),
        "tok_expiredCard" => declined("expired_card"),
        "tok_authenticationRequired" => Some(Outcome::AuthenticationRequired),
        _ => Some(rejected("no_such_payment_method")),
    }
}

fn rejected(code: &str) -> Outcome {
    Outcome::Rejected { code: code.into() }
}

enum Op<'a> {
    Authorise(&'a AuthoriseRequest),
    Capture(&'a CaptureRequest),
    Cancel(&'a CancelRequest),
    Refund(&'a RefundRequest),
    Charge(&'a ChargeRequest),
}

impl Op<'_> {
    fn key(&self) -> &str {
        match self {
            Op::Authorise(r) => &r.idempotency_key,
            Op::Capture(r) => &r.idempotency_key,
            Op::Cancel(r) => &r.idempotency_key,
            Op::Refund(r) => &r.idempotency_key,
            Op::Charge(r) => &r.idempotency_key,
        }
    }

    /// What the request asked, to refuse a key reused for something else.
    fn fingerprint(&self) -> String {
        match self {
            Op::Authorise(r) => {
                format!("authorise|{}|{}|{}|{}", r.token, r.amount.minor, r.amount.currency, r.reference)
            }
            Op::Capture(r) => format!("capture|{}|{}|{}", r.hold_ref, r.amount.minor, r.amount.currency),
            Op::Cancel(r) => format!("cancel|{}", r.hold_ref),
            Op::Refund(r) => format!("refund|{}|{}|{}", r.payment_ref, r.amount.minor, r.amount.currency),
            Op::Charge(r) => format!("charge|{}|{}|{}|{}", r.token, r.amount.minor, r.amount.currency, r.reference),
        }
    }
}

/// The sandbox card processor over its own SQLite ledger.
pub struct SandboxProvider {
    pool: SqlitePool,
    clock: Arc<dyn Clock>,
    hold_lifetime_ms: i64,
    /// Serialises requests in this process; `BEGIN IMMEDIATE` does it across processes.
    gate: tokio::sync::Mutex<()>,
}

impl SandboxProvider {
    /// Opens (creating when missing) the ledger file at `path`.
    pub async fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, ProviderError> {
        let path = path.as_ref();
        let path = path.to_str().and_then(|s| s.strip_prefix("sqlite://")).map(Path::new).unwrap_or(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                ProviderError::Config(format!("payments.sandbox_ledger: cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        for statement in SCHEMA {
            sqlx::query(*statement).execute(&pool).await?;
        }
        Ok(Self { pool, clock, hold_lifetime_ms: DEFAULT_HOLD_LIFETIME_MS, gate: tokio::sync::Mutex::new(()) })
    }

    /// Holds lapse this long after they are placed.
    pub fn with_hold_lifetime(mut self, ms: i64) -> Self {
        self.hold_lifetime_ms = ms;
        self
    }

    /// The ledger entries carrying this merchant reference (a visit id), in order.
    pub async fn movements(&self, reference: &str) -> Result<Vec<Movement>, ProviderError> {
        let sql = "SELECT * FROM sandbox_movements WHERE reference = ? ORDER BY seq";
        Ok(sqlx::query_as(sql).bind(reference).fetch_all(&self.pool).await?)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs `op` once per idempotency key: a repeated key returns the stored outcome.
    async fn execute(&self, op: Op<'_>) -> Result<Outcome, ProviderError> {
        let (key, fingerprint) = (op.key().to_owned(), op.fingerprint());
        let _gate = self.gate.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let seen: Option<(String, String)> =
            sqlx::query_as("SELECT fingerprint, outcome_json FROM sandbox_requests WHERE idempotency_key = ?")
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((stored, json)) = seen {
            tx.rollback().await?;
            if stored != fingerprint {
                return Err(ProviderError::KeyReuse { key });
            }
            return serde_json::from_str(&json).map_err(|e| ProviderError::Protocol(format!("stored outcome: {e}")));
        }
        let now = self.clock.now_ms();
        let outcome = match op {
            Op::Authorise(r) => authorise_in(&mut tx, r, self.hold_lifetime_ms, now).await?,
            Op::Capture(r) => capture_in(&mut tx, r, now).await?,
            Op::Cancel(r) => cancel_in(&mut tx, r, now).await?,
            Op::Refund(r) => refund_in(&mut tx, r, now).await?,
            Op::Charge(r) => charge_in(&mut tx, r, now).await?,
        };
        let json = serde_json::to_string(&outcome).expect("outcomes serialise");
        sqlx::query(
            "INSERT INTO sandbox_requests (idempotency_key, fingerprint, outcome_json, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&key)
        .bind(&fingerprint)
        .bind(json)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

#[async_trait::async_trait]
impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &str {
        "sandbox"
    }
    async fn authorise(&self, request: &AuthoriseRequest) -> Result<Outcome, ProviderError> {
        self.execute(Op::Authorise(request)).await
    }
    async fn capture(&self, request: &CaptureRequest) -> Result<Outcome, ProviderError> {
        self.execute(Op::Capture(request)).await
    }
    async fn cancel(&self, request: &CancelRequest) -> Result<Outcome, ProviderError> {
        self.execute(Op::Cancel(request)).await
    }
    async fn refund(&self, request: &RefundRequest) -> Result<Outcome, ProviderError> {
        self.execute(Op::Refund(request)).await
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<Outcome, ProviderError> {
        self.execute(Op::Charge(request)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use crate::payments::{Amount, ManualClock};

    fn eur(minor: i64) -> Amount {
        Amount::new(minor, Currency::EUR)
    }

    async fn open(dir: &Path, clock: Arc<ManualClock>) -> SandboxProvider {
        SandboxProvider::open(dir.join("ledger.db"), clock).await.unwrap().with_hold_lifetime(60_000)
    }

    fn hold(key: &str, token: &str, minor: i64) -> AuthoriseRequest {
        AuthoriseRequest { idempotency_key: key.into(), token: token.into(), amount: eur(minor), reference: "v".into() }
    }

    fn capture(key: &str, hold_ref: &str, minor: i64) -> CaptureRequest {
        CaptureRequest {
            idempotency_key: key.into(),
            hold_ref: hold_ref.into(),
            amount: eur(minor),
            reference: "v".into(),
        }
    }

    #[test]
    fn every_documented_token_has_a_behaviour() {
        for (token, _) in TEST_TOKENS {
            assert_ne!(card_answer(token, false), Some(rejected("no_such_payment_method")), "{token}");
        }
        assert_eq!(card_answer("tok_insufficientFundsOnCharge", true), Some(Outcome::InsufficientFunds));
        assert_eq!(card_answer("4242424242424242", false), Some(rejected("no_such_payment_method")));
    }

    #[tokio::test]
    async fn captures_stay_within_the_hold_and_refunds_within_the_capture() {
        let dir = tempfile::tempdir().unwrap();
        let p = open(dir.path(), Arc::new(ManualClock::new(0))).await;
        let h = p.authorise(&hold("a", "tok_visa", 1_000)).await.unwrap().reference().unwrap().to_owned();
        assert_eq!(p.capture(&capture("c1", &h, 1_001)).await.unwrap(), rejected("amount_exceeds_hold"));
        assert!(p.capture(&capture("c2", &h, 800)).await.unwrap().is_success());
        assert_eq!(p.capture(&capture("c3", &h, 100)).await.unwrap(), rejected("already_captured"));
        let refund = |key: &str, minor| RefundRequest {
            idempotency_key: key.into(),
            payment_ref: h.clone(),
            amount: eur(minor),
            reference: "v".into(),
        };
        assert!(p.refund(&refund("r1", 500)).await.unwrap().is_success());
        assert_eq!(p.refund(&refund("r2", 301)).await.unwrap(), rejected("amount_exceeds_capture"));
        assert!(p.refund(&refund("r3", 300)).await.unwrap().is_success());
        let kinds: Vec<_> = p.movements("v").await.unwrap().into_iter().map(|m| (m.kind, m.amount_minor)).collect();
        let expected = [("authorise", 1_000), ("capture", 800), ("refund", 500), ("refund", 300)];
        assert_eq!(kinds, expected.map(|(k, a)| (k.to_owned(), a)));
    }

    #[tokio::test]
    async fn holds_expire_on_the_injected_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_000));
        let p = open(dir.path(), clock.clone()).await;
        let h = p.authorise(&hold("a", "tok_visa", 1_000)).await.unwrap().reference().unwrap().to_owned();
        clock.advance(60_000);
        assert_eq!(p.capture(&capture("c", &h, 500)).await.unwrap(), Outcome::HoldExpired);
        let cancel = CancelRequest { idempotency_key: "x".into(), hold_ref: h, reference: "v".into() };
        assert_eq!(p.cancel(&cancel).await.unwrap(), Outcome::HoldExpired);
    }

    #[tokio::test]
    async fn a_repeated_key_returns_the_first_outcome_also_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(0));
        let p = open(dir.path(), clock.clone()).await;
        let first = p.authorise(&hold("a", "tok_visa", 1_000)).await.unwrap();
        assert_eq!(p.authorise(&hold("a", "tok_visa", 1_000)).await.unwrap(), first);
        let declined = p.authorise(&hold("d", "tok_chargeDeclined", 1_000)).await.unwrap();
        p.close().await;
        let p = open(dir.path(), clock).await;
        assert_eq!(p.authorise(&hold("a", "tok_visa", 1_000)).await.unwrap(), first);
        assert_eq!(p.authorise(&hold("d", "tok_chargeDeclined", 1_000)).await.unwrap(), declined);
        assert!(matches!(p.authorise(&hold("a", "tok_visa", 2_000)).await, Err(ProviderError::KeyReuse { .. })));
        assert_eq!(p.movements("v").await.unwrap().len(), 1, "one hold placed, whatever the retries");
    }
}
