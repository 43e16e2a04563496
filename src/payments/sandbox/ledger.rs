//! The sandbox's ledger: its schema and each operation as SQL inside the
//! caller's transaction. A hold moves `held` -> `captured` | `cancelled` |
//! `expired`; a charge is `succeeded` at once; CHECK constraints keep
//! captures within the hold and refunds within the capture.

use super::{card_answer, rejected};
use crate::payments::{AuthoriseRequest, CancelRequest, CaptureRequest, ChargeRequest, Outcome, RefundRequest};
use sqlx::SqliteConnection;

pub(super) const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sandbox_requests (
        idempotency_key TEXT PRIMARY KEY,
        fingerprint     TEXT NOT NULL,
        outcome_json    TEXT NOT NULL,
        created_at      INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sandbox_payments (
        id               TEXT PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('hold', 'charge')),
        token            TEXT NOT NULL,
        reference        TEXT NOT NULL,
        currency         TEXT NOT NULL,
        authorised_minor INTEGER NOT NULL,
        captured_minor   INTEGER NOT NULL CHECK (captured_minor <= authorised_minor),
        refunded_minor   INTEGER NOT NULL CHECK (refunded_minor <= captured_minor),
        status           TEXT NOT NULL,
        expires_at       INTEGER,
        created_at       INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sandbox_movements (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL,
        payment_id      TEXT NOT NULL,
        amount_minor    INTEGER NOT NULL,
        currency        TEXT NOT NULL,
        reference       TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        at              INTEGER NOT NULL)",
];

/// One entry of the sandbox's append-only ledger: what money did.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Movement {
    pub seq: i64,
    /// `authorise`, `capture`, `cancel`, `charge` or `refund`.
    pub kind: String,
    /// The hold or charge it acted on (`sbx_hold_...`, `sbx_ch_...`).
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The merchant's reference (walkout sends the visit id).
    pub reference: String,
    pub idempotency_key: String,
    pub at: i64,
}

#[derive(sqlx::FromRow)]
struct Held {
    id: String,
    kind: String,
    reference: String,
    currency: String,
    authorised_minor: i64,
    captured_minor: i64,
    refunded_minor: i64,
    status: String,
    expires_at: Option<i64>,
}

pub(super) async fn authorise_in(
    c: &mut SqliteConnection,
    r: &AuthoriseRequest,
    hold_lifetime_ms: i64,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    if r.amount.minor <= 0 {
        return Ok(rejected("invalid_amount"));
    }
    if let Some(answer) = card_answer(&r.token, false) {
        return Ok(answer);
    }
    let id = format!("sbx_hold_{}", uuid::Uuid::new_v4().simple());
    let expires = now.saturating_add(hold_lifetime_ms);
    insert_payment(c, &id, "hold", &r.token, &r.reference, r.amount, 0, "held", Some(expires), now).await?;
    record(c, "authorise", &id, r.amount.minor, r.amount.currency.code(), &r.reference, &r.idempotency_key, now)
        .await?;
    Ok(Outcome::Succeeded { reference: id })
}

async fn load(c: &mut SqliteConnection, id: &str) -> Result<Option<Held>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM sandbox_payments WHERE id = ?").bind(id).fetch_optional(c).await
}

#[allow(clippy::too_many_arguments)]
async fn insert_payment(
    c: &mut SqliteConnection,
    id: &str,
    kind: &str,
    token: &str,
    reference: &str,
    amount: crate::payments::Amount,
    captured: i64,
    status: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sandbox_payments (id, kind, token, reference, currency, authorised_minor, captured_minor,
             refunded_minor, status, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
    )
    .bind(id)
    .bind(kind)
    .bind(token)
    .bind(reference)
    .bind(amount.currency.code())
    .bind(amount.minor)
    .bind(captured)
    .bind(status)
    .bind(expires_at)
    .bind(now)
    .execute(c)
    .await
    .map(drop)
}

#[allow(clippy::too_many_arguments)]
async fn record(
    c: &mut SqliteConnection,
    kind: &str,
    payment_id: &str,
    amount_minor: i64,
    currency: &str,
    reference: &str,
    key: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sandbox_movements (kind, payment_id, amount_minor, currency, reference, idempotency_key, at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(kind)
    .bind(payment_id)
    .bind(amount_minor)
    .bind(currency)
    .bind(reference)
    .bind(key)
    .bind(now)
    .execute(c)
    .await
    .map(drop)
}

async fn set_hold(c: &mut SqliteConnection, id: &str, status: &str, captured: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sandbox_payments SET status = ?, captured_minor = ? WHERE id = ?")
        .bind(status)
        .bind(captured)
        .bind(id)
        .execute(c)
        .await
        .map(drop)
}

/// The hold, if it can still be captured or released; else the outcome that says why not.
async fn live_hold(c: &mut SqliteConnection, hold_ref: &str, now: i64) -> Result<Result<Held, Outcome>, sqlx::Error> {
    let Some(hold) = load(c, hold_ref).await?.filter(|h| h.kind == "hold") else {
        return Ok(Err(rejected("no_such_payment")));
    };
    Ok(match hold.status.as_str() {
        "captured" => Err(rejected("already_captured")),
        "cancelled" => Err(rejected("hold_cancelled")),
        "expired" => Err(Outcome::HoldExpired),
        _ if hold.expires_at.is_some_and(|at| now >= at) => {
            set_hold(c, &hold.id, "expired", 0).await?;
            Err(Outcome::HoldExpired)
        }
        _ => Ok(hold),
    })
}

pub(super) async fn capture_in(c: &mut SqliteConnection, r: &CaptureRequest, now: i64) -> Result<Outcome, sqlx::Error> {
    let hold = match live_hold(c, &r.hold_ref, now).await? {
        Ok(hold) => hold,
        Err(outcome) => return Ok(outcome),
    };
    if hold.currency != r.amount.currency.code() {
        return Ok(rejected("currency_mismatch"));
    }
    if r.amount.minor <= 0 {
        return Ok(rejected("invalid_amount"));
    }
    if r.amount.minor > hold.authorised_minor {
        return Ok(rejected("amount_exceeds_hold"));
    }
    set_hold(c, &hold.id, "captured", r.amount.minor).await?;
    record(c, "capture", &hold.id, r.amount.minor, &hold.currency, &hold.reference, &r.idempotency_key, now).await?;
    Ok(Outcome::Succeeded { reference: hold.id })
}

pub(super) async fn cancel_in(c: &mut SqliteConnection, r: &CancelRequest, now: i64) -> Result<Outcome, sqlx::Error> {
    let hold = match live_hold(c, &r.hold_ref, now).await? {
        Ok(hold) => hold,
        Err(outcome) => return Ok(outcome),
    };
    set_hold(c, &hold.id, "cancelled", 0).await?;
    record(c, "cancel", &hold.id, hold.authorised_minor, &hold.currency, &hold.reference, &r.idempotency_key, now)
        .await?;
    Ok(Outcome::Succeeded { reference: hold.id })
}

pub(super) async fn refund_in(c: &mut SqliteConnection, r: &RefundRequest, now: i64) -> Result<Outcome, sqlx::Error> {
    let Some(paid) = load(c, &r.payment_ref).await? else {
        return Ok(rejected("no_such_payment"));
    };
    if !matches!(paid.status.as_str(), "captured" | "succeeded") {
        return Ok(rejected("not_captured"));
    }
    if paid.currency != r.amount.currency.code() {
        return Ok(rejected("currency_mismatch"));
    }
    if r.amount.minor <= 0 {
        return Ok(rejected("invalid_amount"));
    }
    if paid.refunded_minor + r.amount.minor > paid.captured_minor {
        return Ok(rejected("amount_exceeds_capture"));
    }
    sqlx::query("UPDATE sandbox_payments SET refunded_minor = refunded_minor + ? WHERE id = ?")
        .bind(r.amount.minor)
        .bind(&paid.id)
        .execute(&mut *c)
        .await?;
    record(c, "refund", &paid.id, r.amount.minor, &paid.currency, &paid.reference, &r.idempotency_key, now).await?;
    Ok(Outcome::Succeeded { reference: format!("sbx_re_{}", uuid::Uuid::new_v4().simple()) })
}

pub(super) async fn charge_in(c: &mut SqliteConnection, r: &ChargeRequest, now: i64) -> Result<Outcome, sqlx::Error> {
    if r.amount.minor <= 0 {
        return Ok(rejected("invalid_amount"));
    }
    if let Some(answer) = card_answer(&r.token, true) {
        return Ok(answer);
    }
    let id = format!("sbx_ch_{}", uuid::Uuid::new_v4().simple());
    insert_payment(c, &id, "charge", &r.token, &r.reference, r.amount, r.amount.minor, "succeeded", None, now).await?;
    record(c, "charge", &id, r.amount.minor, r.amount.currency.code(), &r.reference, &r.idempotency_key, now).await?;
    Ok(Outcome::Succeeded { reference: id })
}
