//! Plain records as stored. Times are unix milliseconds; money is integer
//! minor units with its ISO 4217 code (see `crate::money`).

use crate::ids::{CaseId, DeviceId, PaymentMethodId, ShopperId, Sku, StoreId, VisitId};
use serde::{Deserialize, Serialize};

/// Unix time in milliseconds.
pub type Millis = i64;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Store {
    pub id: StoreId,
    pub name: String,
    pub address: String,
    pub vat_number: String,
    pub currency: String,
    /// `inclusive` (EU VAT: prices include tax) or `exclusive` (US sales tax).
    pub tax_mode: String,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Product {
    pub store_id: StoreId,
    pub sku: Sku,
    pub name: String,
    pub unit_weight_g: f64,
    /// One standard deviation of the unit weight, grams.
    pub weight_tolerance_g: f64,
    pub price_minor: i64,
    pub currency: String,
    pub tax_class: String,
    pub age_restricted: bool,
}

/// One product facing: a product that sits on a plate (`G.S.P`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Facing {
    pub store_id: StoreId,
    pub plate_id: String,
    pub sku: Sku,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Shopper {
    pub id: ShopperId,
    pub email: String,
    pub display_name: String,
    /// An argon2 PHC string, never a password.
    pub password_hash: String,
    pub loyalty_points: i64,
    pub created_at: Millis,
}

/// A saved payment method: the provider's token, brand and last four digits only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub shopper_id: ShopperId,
    pub provider: String,
    pub provider_token: String,
    pub brand: String,
    pub last4: String,
    pub is_default: bool,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Device {
    pub id: DeviceId,
    pub shopper_id: ShopperId,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
    pub label: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

/// Lifecycle of a visit; stored as its lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    Entered,
    Shopping,
    Exited,
    Review,
    Settled,
    Cancelled,
}

impl VisitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entered => "entered",
            Self::Shopping => "shopping",
            Self::Exited => "exited",
            Self::Review => "review",
            Self::Settled => "settled",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for VisitStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_owned()))
            .map_err(|_| format!("unknown visit status {s:?}"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Visit {
    pub id: VisitId,
    pub store_id: StoreId,
    pub shopper_id: ShopperId,
    pub device_id: Option<DeviceId>,
    pub party_size: i64,
    #[sqlx(try_from = "String")]
    pub status: VisitStatus,
    pub track_id: Option<String>,
    pub entered_at: Millis,
    pub exited_at: Option<Millis>,
    pub settled_at: Option<Millis>,
}

impl TryFrom<String> for VisitStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Kinds of cart-ledger entries; corrections come from staff review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CartEventKind {
    Pick,
    PutBack,
    CorrectionAdd,
    CorrectionRemove,
}

impl CartEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pick => "pick",
            Self::PutBack => "put_back",
            Self::CorrectionAdd => "correction_add",
            Self::CorrectionRemove => "correction_remove",
        }
    }
}

impl TryFrom<String> for CartEventKind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.clone()))
            .map_err(|_| format!("unknown cart event kind {s:?}"))
    }
}

/// One append-only entry of a visit's cart ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CartEvent {
    /// Assigned by the database; the order of the ledger.
    pub seq: i64,
    /// Supplied by the writer, unique: appending the same id twice is a no-op.
    pub id: String,
    pub store_id: StoreId,
    pub visit_id: Option<VisitId>,
    #[sqlx(try_from = "String")]
    pub kind: CartEventKind,
    pub sku: Sku,
    pub quantity: i64,
    pub confidence: f64,
    /// Which stage wrote it: `shelf`, `fusion`, `review`, ...
    pub source: String,
    pub evidence_ref: Option<String>,
    pub shopper_id: Option<ShopperId>,
    pub track_id: Option<String>,
    pub at: Millis,
    pub recorded_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Receipt {
    pub id: String,
    pub store_id: StoreId,
    /// Sequential per store, without gaps, starting at 1.
    pub receipt_no: i64,
    pub visit_id: VisitId,
    pub shopper_id: ShopperId,
    pub issued_at: Millis,
    pub currency: String,
    pub total_minor: i64,
    pub tax_minor: i64,
    /// The full receipt document (lines, taxes, seller), as JSON.
    pub body_json: String,
}

/// A money-moving operation against the payment provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Payment {
    pub id: String,
    pub visit_id: VisitId,
    /// `authorise`, `capture`, `cancel` or `refund`.
    pub operation: String,
    /// Derived from (visit, operation[, sequence]); unique, so a retry finds the stored outcome.
    pub idempotency_key: String,
    pub provider: String,
    pub provider_ref: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    /// `pending`, `succeeded`, `failed` or `requires_action`.
    pub state: String,
    pub error_code: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct ReviewCase {
    pub id: CaseId,
    pub visit_id: VisitId,
    pub store_id: StoreId,
    pub reason: String,
    /// `open`, `claimed` or `decided`.
    pub status: String,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<Millis>,
    pub decided_by: Option<String>,
    pub decided_at: Option<Millis>,
    pub decision: Option<String>,
    pub comment: Option<String>,
    pub created_at: Millis,
}

impl ReviewCase {
    /// A new, open case (unclaimed, undecided).
    pub fn open(id: CaseId, visit_id: VisitId, store_id: StoreId, reason: String, created_at: Millis) -> Self {
        Self {
            id,
            visit_id,
            store_id,
            reason,
            status: "open".into(),
            claimed_by: None,
            claimed_at: None,
            decided_by: None,
            decided_at: None,
            decision: None,
            comment: None,
            created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail_json: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StockLevel {
    pub store_id: StoreId,
    pub plate_id: String,
    pub sku: Sku,
    pub quantity: i64,
    pub updated_at: Millis,
}

/// A shopper's login session; only a hash of the bearer token is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Session {
    /// Hex SHA-256 of the bearer token.
    pub token_hash: String,
    pub shopper_id: ShopperId,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// A message waiting to be sent (or sent): receipt e-mails and pushes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OutboxMessage {
    /// Chosen by the writer (e.g. `receipt-email:<receipt id>`): enqueueing twice is a no-op.
    pub id: String,
    /// `email` or `push`.
    pub kind: String,
    pub recipient: String,
    pub payload_json: String,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub sent_at: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
}

/// A browser's Web Push subscription (RFC 8030 endpoint, RFC 8291 keys, base64url).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct PushSubscription {
    pub endpoint: String,
    pub shopper_id: ShopperId,
    pub p256dh: String,
    pub auth: String,
    pub created_at: Millis,
}

/// A member of staff (`reviewer` or `manager`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Staff {
    pub id: crate::ids::StaffId,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub failed_logins: i64,
    pub locked_until: Option<Millis>,
    pub created_at: Millis,
}

/// A staff member's console login; the cookie holds the token, the database
/// only its SHA-256, with the CSRF synchroniser token every form must echo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct StaffSession {
    /// Hex SHA-256 of the cookie's token.
    pub token_hash: String,
    pub staff_id: crate::ids::StaffId,
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// One piece of evidence kept for a flagged visit: a file under the
/// configured evidence folder, about one event of the visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Evidence {
    pub id: String,
    pub visit_id: VisitId,
    /// The cart event (or shelf event) it documents.
    pub event_id: String,
    /// `snapshot` (JPEG crop), `weight_trace` (JSON samples) or `candidates` (JSON).
    pub kind: String,
    /// The camera or the plate it came from.
    pub source: String,
    /// Relative to the evidence folder.
    pub path: String,
    /// The time of the event it documents.
    pub at: Millis,
    pub created_at: Millis,
}

/// An audit log entry to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAudit {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail_json: String,
}

/// A reviewer's decision on a claimed case, written in one transaction: the
/// case is decided, its correcting cart events appended and its audit
/// entries written, or none of it happens.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewDecision {
    pub case_id: CaseId,
    /// The reviewer, who must hold the claim.
    pub staff: String,
    /// `approve`, `corrected`, ...
    pub decision: String,
    pub comment: String,
    pub at: Millis,
    pub corrections: Vec<super::NewCartEvent>,
    pub audit: Vec<NewAudit>,
}
