//! [`SqlStore`]: the [`Storage`] implementation for SQLite and PostgreSQL.
//! The SQL is written once, in the dialect both accept (`$n` parameters,
//! `ON CONFLICT`, `RETURNING`); each statement runs on whichever pool the URL
//! chose. Schema differences live in the per-backend migrations.

use super::*;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the SQLite or the Postgres pool; the
/// body is the same text, compiled once per backend.
macro_rules! on_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

#[path = "sql_review.rs"]
mod sql_review;

/// How to connect; `schema` (Postgres only) isolates a run in its own schema.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub url: String,
    pub connect_timeout: Duration,
    pub max_connections: u32,
    pub schema: Option<String>,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), connect_timeout: Duration::from_secs(5), max_connections: 8, schema: None }
    }
}

#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: Pool,
}

/// The URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme_end + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Maps a driver error to a named-constraint error where it is one.
fn map_err(e: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &e {
        let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| sqlite_constraint_name(db.message()));
        match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => return DbError::Conflict { constraint },
            sqlx::error::ErrorKind::CheckViolation
            | sqlx::error::ErrorKind::ForeignKeyViolation
            | sqlx::error::ErrorKind::NotNullViolation => return DbError::Constraint { constraint },
            _ => {}
        }
    }
    DbError::Backend(e)
}

/// SQLite names CHECK constraints in its message but reports uniqueness as
/// `UNIQUE constraint failed: table.col[, table.col]`; map those to our names.
fn sqlite_constraint_name(message: &str) -> String {
    if let Some(named) = message.strip_prefix("CHECK constraint failed: ") {
        return named.trim().to_owned();
    }
    let cols = message.strip_prefix("UNIQUE constraint failed: ").unwrap_or(message).trim();
    let known = [
        ("shoppers.email", "shoppers_email_unique"),
        (
            "payment_methods.shopper_id, payment_methods.provider, payment_methods.provider_token",
            "payment_methods_token_unique",
        ),
        ("devices.public_key", "devices_public_key_unique"),
        ("used_entry_tokens.jti", "used_entry_tokens_pk"),
        ("cart_events.id", "cart_events_id_unique"),
        ("receipts.visit_id", "receipts_visit_unique"),
        ("receipts.store_id, receipts.receipt_no", "receipts_number_unique"),
        ("payments.idempotency_key", "payments_idempotency_key_unique"),
        ("products.store_id, products.sku", "products_pk"),
        ("facings.store_id, facings.plate_id, facings.sku", "facings_pk"),
        ("staff.username", "staff_username_unique"),
        ("staff_sessions.token_hash", "staff_sessions_pkey"),
        ("evidence.id", "evidence_pkey"),
    ];
    if message.starts_with("FOREIGN KEY constraint failed") {
        return "foreign_key".to_owned();
    }
    known.iter().find(|(c, _)| *c == cols).map(|(_, n)| (*n).to_owned()).unwrap_or_else(|| cols.to_owned())
}

impl SqlStore {
    /// Connects (within `connect_timeout`), then applies the migrations,
    /// refusing a database written by a newer schema.
    pub async fn connect(opts: &ConnectOptions) -> Result<Self, DbError> {
        let store = Self::connect_without_migrating(opts).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn connect_without_migrating(opts: &ConnectOptions) -> Result<Self, DbError> {
        let target = redact_url(&opts.url);
        let fail = |reason: String| DbError::Connect { target: target.clone(), reason };
        let connecting = async {
            if opts.url.starts_with("sqlite:") {
                let options = SqliteConnectOptions::from_str(&opts.url)
                    .map_err(|e| fail(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.connect_timeout)
                    .connect_with(options)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Pool::Sqlite(pool))
            } else if opts.url.starts_with("postgres://") || opts.url.starts_with("postgresql://") {
                let mut options = PgConnectOptions::from_str(&opts.url).map_err(|e| fail(e.to_string()))?;
                if let Some(schema) = &opts.schema {
                    options = options.options([("search_path", schema.as_str())]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.connect_timeout)
                    .connect_with(options)
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Pool::Postgres(pool))
            } else {
                Err(fail("the URL must start with sqlite:// or postgres://".into()))
            }
        };
        let pool = tokio::time::timeout(opts.connect_timeout, connecting)
            .await
            .map_err(|_| fail(format!("no answer within {} s", opts.connect_timeout.as_secs_f32())))??;
        Ok(Self { pool })
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        }
    }

    /// The newest migration this build knows.
    pub fn known_schema_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Applies pending migrations; returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i64>, DbError> {
        let before = self.schema_version().await?;
        let known = self.known_schema_version();
        if before > known {
            return Err(DbError::NewerSchema { found: before, known });
        }
        let run = on_pool!(self, pool => self.migrator().run(pool).await);
        run.map_err(|e| DbError::Migrate(e.to_string()))?;
        Ok(self.migrator().iter().map(|m| m.version).filter(|v| *v > before).collect())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

#[async_trait::async_trait]
impl Storage for SqlStore {
    async fn schema_version(&self) -> Result<i64, DbError> {
        // Before the first migration the bookkeeping table does not exist yet.
        let sql = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";
        let version: Result<Option<i64>, sqlx::Error> =
            on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await);
        match version {
            Ok(v) => Ok(v.unwrap_or(0)),
            Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => Ok(0),
            Err(e) => Err(map_err(e)),
        }
    }

    async fn upsert_store(&self, s: &Store) -> Result<(), DbError> {
        let sql = "INSERT INTO stores (id, name, address, vat_number, currency, tax_mode, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (id) DO UPDATE SET name = $2, address = $3, vat_number = $4, currency = $5, tax_mode = $6";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&s.id).bind(&s.name).bind(&s.address).bind(&s.vat_number).bind(&s.currency)
            .bind(&s.tax_mode).bind(s.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_store(&self, id: &StoreId) -> Result<Option<Store>, DbError> {
        let sql = "SELECT id, name, address, vat_number, currency, tax_mode, created_at FROM stores WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    async fn upsert_product(&self, p: &Product) -> Result<(), DbError> {
        let sql = "INSERT INTO products (store_id, sku, name, unit_weight_g, weight_tolerance_g, price_minor, currency, tax_class, age_restricted)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (store_id, sku) DO UPDATE SET name = $3, unit_weight_g = $4, weight_tolerance_g = $5,
                       price_minor = $6, currency = $7, tax_class = $8, age_restricted = $9";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&p.store_id).bind(&p.sku).bind(&p.name).bind(p.unit_weight_g).bind(p.weight_tolerance_g)
            .bind(p.price_minor).bind(&p.currency).bind(&p.tax_class).bind(p.age_restricted)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_product(&self, store: &StoreId, sku: &Sku) -> Result<Option<Product>, DbError> {
        let sql = "SELECT * FROM products WHERE store_id = $1 AND sku = $2";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).bind(sku).fetch_optional(pool).await).map_err(map_err)
    }

    async fn list_products(&self, store: &StoreId) -> Result<Vec<Product>, DbError> {
        let sql = "SELECT * FROM products WHERE store_id = $1 ORDER BY sku";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).fetch_all(pool).await).map_err(map_err)
    }

    async fn replace_facings(&self, store: &StoreId, facings: &[Facing]) -> Result<(), DbError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(map_err)?;
            sqlx::query("DELETE FROM facings WHERE store_id = $1").bind(store).execute(&mut *tx).await.map_err(map_err)?;
            for f in facings {
                if &f.store_id != store {
                    return Err(DbError::State(format!("facing of store {} given for store {store}", f.store_id)));
                }
                sqlx::query("INSERT INTO facings (store_id, plate_id, sku) VALUES ($1, $2, $3)")
                    .bind(store).bind(&f.plate_id).bind(&f.sku)
                    .execute(&mut *tx).await.map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)
        })
    }

    async fn list_facings(&self, store: &StoreId) -> Result<Vec<Facing>, DbError> {
        let sql = "SELECT store_id, plate_id, sku FROM facings WHERE store_id = $1 ORDER BY plate_id, sku";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).fetch_all(pool).await).map_err(map_err)
    }

    async fn create_shopper(&self, s: &Shopper) -> Result<(), DbError> {
        let sql = "INSERT INTO shoppers (id, email, display_name, password_hash, loyalty_points, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&s.id).bind(&s.email).bind(&s.display_name).bind(&s.password_hash).bind(s.loyalty_points).bind(s.created_at)
            .execute(pool).await.map(|_| ())).map_err(map_err)?;
        Ok(())
    }

    async fn get_shopper(&self, id: &ShopperId) -> Result<Option<Shopper>, DbError> {
        let sql = "SELECT * FROM shoppers WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    async fn shopper_by_email(&self, email: &str) -> Result<Option<Shopper>, DbError> {
        let sql = "SELECT * FROM shoppers WHERE email = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(email).fetch_optional(pool).await).map_err(map_err)
    }

    async fn add_loyalty_points(&self, id: &ShopperId, delta: i64) -> Result<i64, DbError> {
        let sql = "UPDATE shoppers SET loyalty_points = loyalty_points + $2 WHERE id = $1 RETURNING loyalty_points";
        let balance: Option<i64> =
            on_pool!(self, pool => sqlx::query_scalar(sql).bind(id).bind(delta).fetch_optional(pool).await)
                .map_err(map_err)?;
        balance.ok_or_else(|| DbError::NotFound { what: "shopper", id: id.to_string() })
    }

    async fn add_payment_method(&self, m: &PaymentMethod) -> Result<(), DbError> {
        let sql = "INSERT INTO payment_methods (id, shopper_id, provider, provider_token, brand, last4, is_default, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&m.id).bind(&m.shopper_id).bind(&m.provider).bind(&m.provider_token).bind(&m.brand)
            .bind(&m.last4).bind(m.is_default).bind(m.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn list_payment_methods(&self, shopper: &ShopperId) -> Result<Vec<PaymentMethod>, DbError> {
        let sql = "SELECT * FROM payment_methods WHERE shopper_id = $1 ORDER BY created_at, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(shopper).fetch_all(pool).await).map_err(map_err)
    }

    async fn register_device(&self, d: &Device) -> Result<(), DbError> {
        let sql = "INSERT INTO devices (id, shopper_id, public_key, label, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&d.id).bind(&d.shopper_id).bind(&d.public_key).bind(&d.label).bind(d.created_at).bind(d.revoked_at)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_device(&self, id: &DeviceId) -> Result<Option<Device>, DbError> {
        let sql = "SELECT * FROM devices WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    async fn revoke_device(&self, id: &DeviceId, at: Millis) -> Result<bool, DbError> {
        let sql = "UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        let done =
            on_pool!(self, pool => sqlx::query(sql).bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))
                .map_err(map_err)?;
        if done == 0 && self.get_device(id).await?.is_none() {
            return Err(DbError::NotFound { what: "device", id: id.to_string() });
        }
        Ok(done == 1)
    }

    async fn consume_entry_token(&self, jti: &str, device: &DeviceId, at: Millis) -> Result<bool, DbError> {
        let sql =
            "INSERT INTO used_entry_tokens (jti, device_id, used_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING";
        let inserted = on_pool!(self, pool => sqlx::query(sql).bind(jti).bind(device).bind(at).execute(pool).await
            .map(|r| r.rows_affected()))
        .map_err(map_err)?;
        Ok(inserted == 1)
    }

    async fn create_visit(&self, v: &Visit) -> Result<(), DbError> {
        let sql = "INSERT INTO visits (id, store_id, shopper_id, device_id, party_size, status, track_id, entered_at, exited_at, settled_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&v.id).bind(&v.store_id).bind(&v.shopper_id).bind(&v.device_id).bind(v.party_size)
            .bind(v.status.as_str()).bind(&v.track_id).bind(v.entered_at).bind(v.exited_at).bind(v.settled_at)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_visit(&self, id: &VisitId) -> Result<Option<Visit>, DbError> {
        let sql = "SELECT * FROM visits WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    async fn set_visit_status(&self, id: &VisitId, status: VisitStatus, at: Millis) -> Result<Visit, DbError> {
        let stamp_exit = matches!(status, VisitStatus::Exited | VisitStatus::Review | VisitStatus::Settled);
        let stamp_settle = matches!(status, VisitStatus::Settled | VisitStatus::Cancelled);
        let sql = "UPDATE visits SET status = $2,
                       exited_at = CASE WHEN $3 AND exited_at IS NULL THEN $5 ELSE exited_at END,
                       settled_at = CASE WHEN $4 AND settled_at IS NULL THEN $5 ELSE settled_at END
                   WHERE id = $1 RETURNING *";
        let visit: Option<Visit> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(status.as_str()).bind(stamp_exit).bind(stamp_settle).bind(at)
            .fetch_optional(pool).await)
        .map_err(map_err)?;
        visit.ok_or_else(|| DbError::NotFound { what: "visit", id: id.to_string() })
    }

    async fn bind_visit_track(&self, id: &VisitId, track: &str) -> Result<(), DbError> {
        let sql = "UPDATE visits SET track_id = $2 WHERE id = $1";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(track).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(map_err)?;
        if n == 0 {
            return Err(DbError::NotFound { what: "visit", id: id.to_string() });
        }
        Ok(())
    }

    async fn list_visits(&self, store: &StoreId, status: VisitStatus) -> Result<Vec<Visit>, DbError> {
        let sql = "SELECT * FROM visits WHERE store_id = $1 AND status = $2 ORDER BY entered_at, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).bind(status.as_str()).fetch_all(pool).await)
            .map_err(map_err)
    }

    async fn append_cart_event(&self, e: &NewCartEvent) -> Result<CartEvent, DbError> {
        let sql =
            "INSERT INTO cart_events (id, store_id, visit_id, kind, sku, quantity, confidence, source, evidence_ref,
                       shopper_id, track_id, at, recorded_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                   ON CONFLICT (id) DO NOTHING";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&e.id).bind(&e.store_id).bind(&e.visit_id).bind(e.kind.as_str()).bind(&e.sku).bind(e.quantity)
            .bind(e.confidence).bind(&e.source).bind(&e.evidence_ref).bind(&e.shopper_id).bind(&e.track_id)
            .bind(e.at).bind(now_ms())
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        let stored: CartEvent = on_pool!(self, pool => sqlx::query_as("SELECT * FROM cart_events WHERE id = $1")
            .bind(&e.id).fetch_one(pool).await)
        .map_err(map_err)?;
        if stored.visit_id != e.visit_id
            || stored.sku != e.sku
            || stored.kind != e.kind
            || stored.quantity != e.quantity
        {
            return Err(DbError::Conflict { constraint: "cart_events_id_unique".into() });
        }
        Ok(stored)
    }

    async fn cart_events(&self, visit: &VisitId) -> Result<Vec<CartEvent>, DbError> {
        let sql = "SELECT * FROM cart_events WHERE visit_id = $1 ORDER BY seq";
        on_pool!(self, pool => sqlx::query_as(sql).bind(visit).fetch_all(pool).await).map_err(map_err)
    }

    async fn issue_receipt(&self, r: &NewReceipt, render: RenderReceipt<'_>) -> Result<Receipt, DbError> {
        let existing = "SELECT * FROM receipts WHERE visit_id = $1";
        let found: Option<Receipt> =
            on_pool!(self, pool => sqlx::query_as(existing).bind(&r.visit_id).fetch_optional(pool).await)
                .map_err(map_err)?;
        if let Some(found) = found {
            return Ok(found);
        }
        // The counter update comes first so SQLite takes the write lock at once;
        // a failed insert rolls the number back, so numbers have no gaps.
        let attempt: Result<Receipt, DbError> = on_pool!(self, pool => async {
            let mut tx = pool.begin().await.map_err(map_err)?;
            let no: Option<i64> = sqlx::query_scalar(
                "UPDATE stores SET next_receipt_no = next_receipt_no + 1 WHERE id = $1 RETURNING next_receipt_no - 1")
                .bind(&r.store_id).fetch_optional(&mut *tx).await.map_err(map_err)?;
            let no = no.ok_or_else(|| DbError::NotFound { what: "store", id: r.store_id.to_string() })?;
            let receipt: Receipt = sqlx::query_as(
                "INSERT INTO receipts (id, store_id, receipt_no, visit_id, shopper_id, issued_at, currency, total_minor, tax_minor, body_json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *")
                .bind(&r.id).bind(&r.store_id).bind(no).bind(&r.visit_id).bind(&r.shopper_id).bind(r.issued_at)
                .bind(&r.currency).bind(r.total_minor).bind(r.tax_minor).bind(render(no))
                .fetch_one(&mut *tx).await.map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(receipt)
        }.await);
        match attempt {
            Err(DbError::Conflict { constraint }) if constraint == "receipts_visit_unique" => {
                let raced: Receipt =
                    on_pool!(self, pool => sqlx::query_as(existing).bind(&r.visit_id).fetch_one(pool).await)
                        .map_err(map_err)?;
                Ok(raced)
            }
            other => other,
        }
    }

    async fn get_receipt(&self, id: &str) -> Result<Option<Receipt>, DbError> {
        let sql = "SELECT * FROM receipts WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    async fn receipts_for_shopper(&self, shopper: &ShopperId) -> Result<Vec<Receipt>, DbError> {
        let sql = "SELECT * FROM receipts WHERE shopper_id = $1 ORDER BY issued_at DESC, receipt_no DESC";
        on_pool!(self, pool => sqlx::query_as(sql).bind(shopper).fetch_all(pool).await).map_err(map_err)
    }

    async fn begin_payment(&self, p: &Payment) -> Result<PaymentRecord, DbError> {
        let sql = "INSERT INTO payments (id, visit_id, operation, idempotency_key, provider, provider_ref, amount_minor, currency,
                       state, error_code, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                   ON CONFLICT (idempotency_key) DO NOTHING";
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(&p.id).bind(&p.visit_id).bind(&p.operation).bind(&p.idempotency_key).bind(&p.provider)
            .bind(&p.provider_ref).bind(p.amount_minor).bind(&p.currency).bind(&p.state).bind(&p.error_code)
            .bind(p.created_at).bind(p.updated_at)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        let stored = self
            .payment_by_key(&p.idempotency_key)
            .await?
            .ok_or_else(|| DbError::NotFound { what: "payment", id: p.idempotency_key.clone() })?;
        if inserted == 1 { Ok(PaymentRecord::Created(stored)) } else { Ok(PaymentRecord::Existing(stored)) }
    }

    async fn finish_payment(
        &self,
        key: &str,
        state: &str,
        provider_ref: Option<&str>,
        error_code: Option<&str>,
        at: Millis,
    ) -> Result<Payment, DbError> {
        let sql = "UPDATE payments SET state = $2, provider_ref = COALESCE($3, provider_ref), error_code = $4, updated_at = $5
                   WHERE idempotency_key = $1 RETURNING *";
        let p: Option<Payment> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(key).bind(state).bind(provider_ref).bind(error_code).bind(at)
            .fetch_optional(pool).await)
        .map_err(map_err)?;
        p.ok_or_else(|| DbError::NotFound { what: "payment", id: key.to_owned() })
    }

    async fn payment_by_key(&self, key: &str) -> Result<Option<Payment>, DbError> {
        let sql = "SELECT * FROM payments WHERE idempotency_key = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(key).fetch_optional(pool).await).map_err(map_err)
    }

    async fn payments_for_visit(&self, visit: &VisitId) -> Result<Vec<Payment>, DbError> {
        let sql = "SELECT * FROM payments WHERE visit_id = $1 ORDER BY created_at, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(visit).fetch_all(pool).await).map_err(map_err)
    }

    async fn open_review_case(&self, c: &ReviewCase) -> Result<(), DbError> {
        let sql =
            "INSERT INTO review_cases (id, visit_id, store_id, reason, status, claimed_by, claimed_at, decided_by,
                       decided_at, decision, comment, created_at)
                   VALUES ($1, $2, $3, $4, 'open', NULL, NULL, NULL, NULL, NULL, NULL, $5)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&c.id).bind(&c.visit_id).bind(&c.store_id).bind(&c.reason).bind(c.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)?;
        Ok(())
    }

    async fn get_review_case(&self, id: &CaseId) -> Result<Option<ReviewCase>, DbError> {
        let sql = "SELECT * FROM review_cases WHERE id = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await).map_err(map_err)
    }

    async fn claim_review_case(&self, id: &CaseId, staff: &str, at: Millis) -> Result<ReviewCase, DbError> {
        // Re-claiming one's own claim is allowed (a reload); another reviewer's is not.
        let sql = "UPDATE review_cases SET status = 'claimed', claimed_by = $2, claimed_at = $3
                   WHERE id = $1 AND (status = 'open' OR (status = 'claimed' AND claimed_by = $2)) RETURNING *";
        let claimed: Option<ReviewCase> = on_pool!(self, pool => sqlx::query_as(sql).bind(id).bind(staff).bind(at)
            .fetch_optional(pool).await)
        .map_err(map_err)?;
        match claimed {
            Some(c) => Ok(c),
            None => match self.get_review_case(id).await? {
                None => Err(DbError::NotFound { what: "review case", id: id.to_string() }),
                Some(c) if c.status == "decided" => Err(DbError::State(format!("review case {id} is already decided"))),
                Some(c) => Err(DbError::State(format!(
                    "review case {id} is being reviewed by {}",
                    c.claimed_by.unwrap_or_default()
                ))),
            },
        }
    }

    async fn decide_review_case(
        &self,
        id: &CaseId,
        staff: &str,
        decision: &str,
        comment: &str,
        at: Millis,
    ) -> Result<ReviewCase, DbError> {
        let sql =
            "UPDATE review_cases SET status = 'decided', decided_by = $2, decided_at = $3, decision = $4, comment = $5
                   WHERE id = $1 AND status = 'claimed' AND claimed_by = $2 RETURNING *";
        let decided: Option<ReviewCase> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(staff).bind(at).bind(decision).bind(comment)
            .fetch_optional(pool).await)
        .map_err(map_err)?;
        match decided {
            Some(c) => Ok(c),
            None => match self.get_review_case(id).await? {
                None => Err(DbError::NotFound { what: "review case", id: id.to_string() }),
                Some(c) if c.status == "decided" => Err(DbError::State(format!("review case {id} is already decided"))),
                Some(_) => Err(DbError::State(format!("review case {id} is not claimed by {staff}"))),
            },
        }
    }

    async fn list_review_cases(&self, store: &StoreId, status: &str) -> Result<Vec<ReviewCase>, DbError> {
        let sql = "SELECT * FROM review_cases WHERE store_id = $1 AND status = $2 ORDER BY created_at, id";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).bind(status).fetch_all(pool).await).map_err(map_err)
    }

    async fn append_audit(
        &self,
        at: Millis,
        actor: &str,
        action: &str,
        subject: &str,
        detail_json: &str,
    ) -> Result<i64, DbError> {
        let sql =
            "INSERT INTO audit_log (at, actor, action, subject, detail_json) VALUES ($1, $2, $3, $4, $5) RETURNING seq";
        on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(at).bind(actor).bind(action).bind(subject).bind(detail_json)
            .fetch_one(pool).await)
        .map_err(map_err)
    }

    async fn audit_for_subject(&self, subject: &str) -> Result<Vec<AuditEntry>, DbError> {
        let sql = "SELECT * FROM audit_log WHERE subject = $1 ORDER BY seq";
        on_pool!(self, pool => sqlx::query_as(sql).bind(subject).fetch_all(pool).await).map_err(map_err)
    }

    async fn create_session(&self, x: &Session) -> Result<(), DbError> {
        let sql = "INSERT INTO sessions (token_hash, shopper_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_pool!(self, pool => sqlx::query(sql).bind(&x.token_hash).bind(&x.shopper_id).bind(x.created_at).bind(x.expires_at)
            .execute(pool).await.map(|_| ())).map_err(map_err)
    }

    async fn live_session(&self, token_hash: &str, now: Millis) -> Result<Option<Session>, DbError> {
        let sql = "SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2";
        on_pool!(self, pool => sqlx::query_as(sql).bind(token_hash).bind(now).fetch_optional(pool).await)
            .map_err(map_err)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), DbError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    async fn enqueue_outbox(&self, m: &OutboxMessage) -> Result<bool, DbError> {
        let sql = "INSERT INTO outbox (id, kind, recipient, payload_json, attempts, next_attempt_at, sent_at, last_error, created_at)
                   VALUES ($1, $2, $3, $4, 0, $5, NULL, NULL, $6) ON CONFLICT (id) DO NOTHING";
        let n = on_pool!(self, pool => sqlx::query(sql)
            .bind(&m.id).bind(&m.kind).bind(&m.recipient).bind(&m.payload_json).bind(m.next_attempt_at).bind(m.created_at)
            .execute(pool).await.map(|r| r.rows_affected())).map_err(map_err)?;
        Ok(n == 1)
    }

    async fn get_outbox(&self, id: &str) -> Result<Option<OutboxMessage>, DbError> {
        on_pool!(self, pool => sqlx::query_as("SELECT * FROM outbox WHERE id = $1").bind(id).fetch_optional(pool).await)
            .map_err(map_err)
    }

    async fn due_outbox(&self, now: Millis, limit: i64) -> Result<Vec<OutboxMessage>, DbError> {
        let sql = "SELECT * FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1
                   ORDER BY next_attempt_at, created_at, id LIMIT $2";
        on_pool!(self, pool => sqlx::query_as(sql).bind(now).bind(limit).fetch_all(pool).await).map_err(map_err)
    }

    async fn outbox_sent(&self, id: &str, at: Millis) -> Result<(), DbError> {
        let sql = "UPDATE outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1";
        let n =
            on_pool!(self, pool => sqlx::query(sql).bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))
                .map_err(map_err)?;
        if n == 0 {
            return Err(DbError::NotFound { what: "outbox message", id: id.to_owned() });
        }
        Ok(())
    }

    async fn outbox_failed(&self, id: &str, error: &str, next_attempt_at: Millis) -> Result<(), DbError> {
        let sql = "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
                   WHERE id = $1 AND sent_at IS NULL";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(error).bind(next_attempt_at)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        if n == 0 {
            return Err(DbError::NotFound { what: "unsent outbox message", id: id.to_owned() });
        }
        Ok(())
    }

    async fn save_push_subscription(&self, p: &PushSubscription) -> Result<(), DbError> {
        let sql = "INSERT INTO push_subscriptions (endpoint, shopper_id, p256dh, auth, created_at) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (endpoint) DO UPDATE SET shopper_id = $2, p256dh = $3, auth = $4, created_at = $5";
        on_pool!(self, pool => sqlx::query(sql).bind(&p.endpoint).bind(&p.shopper_id).bind(&p.p256dh).bind(&p.auth)
            .bind(p.created_at).execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    async fn push_subscriptions(&self, shopper: &ShopperId) -> Result<Vec<PushSubscription>, DbError> {
        let sql = "SELECT * FROM push_subscriptions WHERE shopper_id = $1 ORDER BY created_at, endpoint";
        on_pool!(self, pool => sqlx::query_as(sql).bind(shopper).fetch_all(pool).await).map_err(map_err)
    }

    async fn delete_push_subscription(&self, endpoint: &str) -> Result<(), DbError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1").bind(endpoint)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    async fn create_staff(&self, x: &Staff) -> Result<(), DbError> {
        let sql = "INSERT INTO staff (id, username, password_hash, role, failed_logins, locked_until, created_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql).bind(&x.id).bind(&x.username).bind(&x.password_hash).bind(&x.role)
            .bind(x.failed_logins).bind(x.locked_until).bind(x.created_at)
            .execute(pool).await.map(|_| ()))
        .map_err(map_err)
    }

    async fn staff_by_username(&self, username: &str) -> Result<Option<Staff>, DbError> {
        let sql = "SELECT * FROM staff WHERE username = $1";
        on_pool!(self, pool => sqlx::query_as(sql).bind(username).fetch_optional(pool).await).map_err(map_err)
    }

    async fn set_staff_login_state(
        &self,
        id: &crate::ids::StaffId,
        failed_logins: i64,
        locked_until: Option<Millis>,
    ) -> Result<(), DbError> {
        let sql = "UPDATE staff SET failed_logins = $2, locked_until = $3 WHERE id = $1";
        let n = on_pool!(self, pool => sqlx::query(sql).bind(id).bind(failed_logins).bind(locked_until)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(map_err)?;
        if n == 0 {
            return Err(DbError::NotFound { what: "staff member", id: id.to_string() });
        }
        Ok(())
    }

    async fn adjust_stock(
        &self,
        store: &StoreId,
        plate: &str,
        sku: &Sku,
        delta: i64,
        at: Millis,
    ) -> Result<i64, DbError> {
        let sql = "INSERT INTO stock_levels (store_id, plate_id, sku, quantity, updated_at) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (store_id, plate_id, sku) DO UPDATE SET quantity = stock_levels.quantity + $4, updated_at = $5
                   RETURNING quantity";
        on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(store).bind(plate).bind(sku).bind(delta).bind(at)
            .fetch_one(pool).await)
        .map_err(map_err)
    }

    async fn stock_levels(&self, store: &StoreId) -> Result<Vec<StockLevel>, DbError> {
        let sql = "SELECT * FROM stock_levels WHERE store_id = $1 ORDER BY plate_id, sku";
        on_pool!(self, pool => sqlx::query_as(sql).bind(store).fetch_all(pool).await).map_err(map_err)
    }

    // The staff console's statements live in `sql_review.rs`.

    async fn get_staff(&self, id: &crate::ids::StaffId) -> Result<Option<Staff>, DbError> {
        self.review_get_staff(id).await
    }
    async fn create_staff_session(&self, session: &StaffSession) -> Result<(), DbError> {
        self.review_create_session(session).await
    }
    async fn staff_session(&self, token_hash: &str) -> Result<Option<StaffSession>, DbError> {
        self.review_session(token_hash).await
    }
    async fn delete_staff_session(&self, token_hash: &str) -> Result<(), DbError> {
        self.review_delete_session(token_hash).await
    }
    async fn decide_review(&self, decision: &ReviewDecision) -> Result<ReviewCase, DbError> {
        self.review_decide(decision).await
    }
    async fn review_cases_between(
        &self,
        store: &StoreId,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<ReviewCase>, DbError> {
        self.review_cases_in(store, from, to).await
    }
    async fn receipts_between(&self, store: &StoreId, from: Millis, to: Millis) -> Result<Vec<Receipt>, DbError> {
        self.review_receipts_between(store, from, to).await
    }
    async fn visits_exited_between(&self, store: &StoreId, from: Millis, to: Millis) -> Result<Vec<Visit>, DbError> {
        self.review_visits_exited_between(store, from, to).await
    }
    async fn audit_by_action(&self, action: &str, from: Millis, to: Millis) -> Result<Vec<AuditEntry>, DbError> {
        self.review_audit_by_action(action, from, to).await
    }
    async fn add_evidence(&self, evidence: &Evidence) -> Result<(), DbError> {
        self.review_add_evidence(evidence).await
    }
    async fn get_evidence(&self, id: &str) -> Result<Option<Evidence>, DbError> {
        self.review_get_evidence(id).await
    }
    async fn evidence_for_visit(&self, visit: &VisitId) -> Result<Vec<Evidence>, DbError> {
        self.review_evidence_for_visit(visit).await
    }
    async fn evidence_created_before(&self, cutoff: Millis, limit: i64) -> Result<Vec<Evidence>, DbError> {
        self.review_evidence_before(cutoff, limit).await
    }
    async fn delete_evidence(&self, id: &str) -> Result<bool, DbError> {
        self.review_delete_evidence(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_removed_from_urls_in_messages() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn sqlite_unique_messages_map_to_constraint_names() {
        assert_eq!(
            sqlite_constraint_name("UNIQUE constraint failed: payments.idempotency_key"),
            "payments_idempotency_key_unique"
        );
        assert_eq!(
            sqlite_constraint_name("CHECK constraint failed: visits_party_size_positive"),
            "visits_party_size_positive"
        );
    }
}
