//! Storage: one trait, [`Storage`], over everything the system keeps, with
//! one SQL implementation ([`SqlStore`]) that runs on SQLite (embedded
//! default, a file under `data/`) and on PostgreSQL (production). Each
//! backend has its own migrations under `migrations/<backend>/`, applied at
//! start and by `walkout migrate`. Constraint violations come back as
//! [`DbError::Conflict`] or [`DbError::Constraint`] with the constraint's name.

mod model;
mod sql;

pub use model::*;
pub use sql::{ConnectOptions, SqlStore};

use crate::ids::{CaseId, DeviceId, ShopperId, Sku, StoreId, VisitId};

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to the database at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error(
        "the database was written by a newer walkout (schema version {found}, this build knows up to {known}); \
         refusing to start: upgrade walkout or point it at another database"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("migration failed: {0}")]
    Migrate(String),
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// A uniqueness constraint (named) refused a duplicate.
    #[error("duplicate: constraint {constraint} refused the write")]
    Conflict { constraint: String },
    /// A check or foreign-key constraint (named) refused the write.
    #[error("constraint {constraint} refused the write")]
    Constraint { constraint: String },
    /// The row is not in the state the operation needs (e.g. a case already decided).
    #[error("{0}")]
    State(String),
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
}

/// A new cart-ledger entry; the database assigns `seq` and `recorded_at`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCartEvent {
    pub id: String,
    pub store_id: StoreId,
    pub visit_id: Option<VisitId>,
    pub kind: CartEventKind,
    pub sku: Sku,
    pub quantity: i64,
    pub confidence: f64,
    pub source: String,
    pub evidence_ref: Option<String>,
    pub shopper_id: Option<ShopperId>,
    pub track_id: Option<String>,
    pub at: Millis,
}

/// A receipt to issue; the database assigns the store's next number, and
/// the document (`body_json`) is rendered once that number is known.
#[derive(Clone, Debug, PartialEq)]
pub struct NewReceipt {
    pub id: String,
    pub store_id: StoreId,
    pub visit_id: VisitId,
    pub shopper_id: ShopperId,
    pub issued_at: Millis,
    pub currency: String,
    pub total_minor: i64,
    pub tax_minor: i64,
}

/// Renders a receipt's JSON document for its assigned number.
pub type RenderReceipt<'a> = &'a (dyn Fn(i64) -> String + Send + Sync);

/// The outcome of recording a payment operation under its idempotency key.
#[derive(Clone, Debug, PartialEq)]
pub enum PaymentRecord {
    /// First time this key was seen: the caller goes on to call the provider.
    Created(Payment),
    /// The key was seen before: this is the stored operation (a retry).
    Existing(Payment),
}

/// Everything walkout stores. Implemented by [`SqlStore`] for SQLite and
/// PostgreSQL; the conformance suite in `tests/storage.rs` runs on both.
#[async_trait::async_trait]
pub trait Storage: Send + Sync {
    /// Latest applied schema version.
    async fn schema_version(&self) -> Result<i64, DbError>;

    async fn upsert_store(&self, store: &Store) -> Result<(), DbError>;
    async fn get_store(&self, id: &StoreId) -> Result<Option<Store>, DbError>;

    async fn upsert_product(&self, product: &Product) -> Result<(), DbError>;
    async fn get_product(&self, store: &StoreId, sku: &Sku) -> Result<Option<Product>, DbError>;
    async fn list_products(&self, store: &StoreId) -> Result<Vec<Product>, DbError>;
    /// Replaces the store's whole planogram in one transaction.
    async fn replace_facings(&self, store: &StoreId, facings: &[Facing]) -> Result<(), DbError>;
    async fn list_facings(&self, store: &StoreId) -> Result<Vec<Facing>, DbError>;

    async fn create_shopper(&self, shopper: &Shopper) -> Result<(), DbError>;
    async fn get_shopper(&self, id: &ShopperId) -> Result<Option<Shopper>, DbError>;
    async fn shopper_by_email(&self, email: &str) -> Result<Option<Shopper>, DbError>;
    /// Adds (or with a negative delta redeems) points; never below zero. Returns the balance.
    async fn add_loyalty_points(&self, id: &ShopperId, delta: i64) -> Result<i64, DbError>;

    async fn add_payment_method(&self, method: &PaymentMethod) -> Result<(), DbError>;
    async fn list_payment_methods(&self, shopper: &ShopperId) -> Result<Vec<PaymentMethod>, DbError>;

    async fn register_device(&self, device: &Device) -> Result<(), DbError>;
    async fn get_device(&self, id: &DeviceId) -> Result<Option<Device>, DbError>;
    /// Returns false when the device was already revoked.
    async fn revoke_device(&self, id: &DeviceId, at: Millis) -> Result<bool, DbError>;
    /// Marks an entry token id used. True the first time, false on any replay,
    /// also from another process sharing the database.
    async fn consume_entry_token(&self, jti: &str, device: &DeviceId, at: Millis) -> Result<bool, DbError>;

    async fn create_visit(&self, visit: &Visit) -> Result<(), DbError>;
    async fn get_visit(&self, id: &VisitId) -> Result<Option<Visit>, DbError>;
    /// Moves a visit to `status`, stamping `exited_at` / `settled_at` the first time.
    async fn set_visit_status(&self, id: &VisitId, status: VisitStatus, at: Millis) -> Result<Visit, DbError>;
    async fn bind_visit_track(&self, id: &VisitId, track: &str) -> Result<(), DbError>;
    async fn list_visits(&self, store: &StoreId, status: VisitStatus) -> Result<Vec<Visit>, DbError>;

    /// Appends to the ledger. Idempotent by `event.id`: a repeat returns the stored event.
    async fn append_cart_event(&self, event: &NewCartEvent) -> Result<CartEvent, DbError>;
    /// The visit's ledger in append order.
    async fn cart_events(&self, visit: &VisitId) -> Result<Vec<CartEvent>, DbError>;

    /// Issues the visit's receipt with the store's next sequential number,
    /// its document rendered by `render(number)` inside the same transaction.
    /// Idempotent per visit: a repeat returns the receipt already issued.
    async fn issue_receipt(&self, receipt: &NewReceipt, render: RenderReceipt<'_>) -> Result<Receipt, DbError>;
    async fn get_receipt(&self, id: &str) -> Result<Option<Receipt>, DbError>;
    async fn receipts_for_shopper(&self, shopper: &ShopperId) -> Result<Vec<Receipt>, DbError>;

    /// Records a payment operation before the provider is called.
    async fn begin_payment(&self, payment: &Payment) -> Result<PaymentRecord, DbError>;
    /// Stores the provider's outcome for the operation with this key.
    async fn finish_payment(
        &self,
        idempotency_key: &str,
        state: &str,
        provider_ref: Option<&str>,
        error_code: Option<&str>,
        at: Millis,
    ) -> Result<Payment, DbError>;
    async fn payment_by_key(&self, idempotency_key: &str) -> Result<Option<Payment>, DbError>;
    async fn payments_for_visit(&self, visit: &VisitId) -> Result<Vec<Payment>, DbError>;

    async fn open_review_case(&self, case: &ReviewCase) -> Result<(), DbError>;
    async fn get_review_case(&self, id: &CaseId) -> Result<Option<ReviewCase>, DbError>;
    /// Claims an open case for `staff`; only one reviewer can hold a case.
    async fn claim_review_case(&self, id: &CaseId, staff: &str, at: Millis) -> Result<ReviewCase, DbError>;
    /// Decides a case claimed by `staff`; a decided case cannot be decided again.
    async fn decide_review_case(
        &self,
        id: &CaseId,
        staff: &str,
        decision: &str,
        comment: &str,
        at: Millis,
    ) -> Result<ReviewCase, DbError>;
    /// Cases with this status, oldest first.
    async fn list_review_cases(&self, store: &StoreId, status: &str) -> Result<Vec<ReviewCase>, DbError>;

    async fn append_audit(
        &self,
        at: Millis,
        actor: &str,
        action: &str,
        subject: &str,
        detail_json: &str,
    ) -> Result<i64, DbError>;
    async fn audit_for_subject(&self, subject: &str) -> Result<Vec<AuditEntry>, DbError>;

    async fn create_session(&self, session: &Session) -> Result<(), DbError>;
    /// The session with this token hash if it has not expired at `now`.
    async fn live_session(&self, token_hash: &str, now: Millis) -> Result<Option<Session>, DbError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), DbError>;

    /// Queues a message; a repeated id is a no-op (returns false).
    async fn enqueue_outbox(&self, message: &OutboxMessage) -> Result<bool, DbError>;
    async fn get_outbox(&self, id: &str) -> Result<Option<OutboxMessage>, DbError>;
    /// Unsent messages whose next attempt is due at `now`, oldest first.
    async fn due_outbox(&self, now: Millis, limit: i64) -> Result<Vec<OutboxMessage>, DbError>;
    async fn outbox_sent(&self, id: &str, at: Millis) -> Result<(), DbError>;
    /// Records a failed attempt and when to try again.
    async fn outbox_failed(&self, id: &str, error: &str, next_attempt_at: Millis) -> Result<(), DbError>;

    /// Saves (or refreshes) a push subscription, keyed by its endpoint.
    async fn save_push_subscription(&self, subscription: &PushSubscription) -> Result<(), DbError>;
    async fn push_subscriptions(&self, shopper: &ShopperId) -> Result<Vec<PushSubscription>, DbError>;
    async fn delete_push_subscription(&self, endpoint: &str) -> Result<(), DbError>;

    async fn create_staff(&self, staff: &Staff) -> Result<(), DbError>;
    async fn staff_by_username(&self, username: &str) -> Result<Option<Staff>, DbError>;
    /// Stores the outcome of a login attempt (failure count and lockout).
    async fn set_staff_login_state(
        &self,
        id: &crate::ids::StaffId,
        failed_logins: i64,
        locked_until: Option<Millis>,
    ) -> Result<(), DbError>;

    /// Adds `delta` units of `sku` on `plate`; returns the new quantity.
    async fn adjust_stock(
        &self,
        store: &StoreId,
        plate: &str,
        sku: &Sku,
        delta: i64,
        at: Millis,
    ) -> Result<i64, DbError>;
    async fn stock_levels(&self, store: &StoreId) -> Result<Vec<StockLevel>, DbError>;

    // The staff console (`crate::review`): sessions, decisions, evidence, reports.

    async fn get_staff(&self, id: &crate::ids::StaffId) -> Result<Option<Staff>, DbError>;
    async fn create_staff_session(&self, session: &StaffSession) -> Result<(), DbError>;
    /// The session with this token hash, expired or not: the console tells
    /// an expired login from a missing one.
    async fn staff_session(&self, token_hash: &str) -> Result<Option<StaffSession>, DbError>;
    async fn delete_staff_session(&self, token_hash: &str) -> Result<(), DbError>;
    /// Decides a case claimed by `decision.staff` and appends its correcting
    /// cart events and audit entries, all in one transaction. A case already
    /// decided, or claimed by someone else, is refused with [`DbError::State`]
    /// and nothing is written.
    async fn decide_review(&self, decision: &ReviewDecision) -> Result<ReviewCase, DbError>;
    /// The store's cases opened in `[from, to)`, any status, oldest first.
    async fn review_cases_between(&self, store: &StoreId, from: Millis, to: Millis)
    -> Result<Vec<ReviewCase>, DbError>;
    /// The store's receipts issued in `[from, to)`, in number order.
    async fn receipts_between(&self, store: &StoreId, from: Millis, to: Millis) -> Result<Vec<Receipt>, DbError>;
    /// The store's visits that exited in `[from, to)`.
    async fn visits_exited_between(&self, store: &StoreId, from: Millis, to: Millis) -> Result<Vec<Visit>, DbError>;
    /// Audit entries with this action in `[from, to)`, in order.
    async fn audit_by_action(&self, action: &str, from: Millis, to: Millis) -> Result<Vec<AuditEntry>, DbError>;
    async fn add_evidence(&self, evidence: &Evidence) -> Result<(), DbError>;
    async fn get_evidence(&self, id: &str) -> Result<Option<Evidence>, DbError>;
    /// A visit's evidence by event time.
    async fn evidence_for_visit(&self, visit: &VisitId) -> Result<Vec<Evidence>, DbError>;
    /// Evidence created before `cutoff` (oldest first, at most `limit`): what retention deletes.
    async fn evidence_created_before(&self, cutoff: Millis, limit: i64) -> Result<Vec<Evidence>, DbError>;
    /// Returns false when there was no such row.
    async fn delete_evidence(&self, id: &str) -> Result<bool, DbError>;
}
