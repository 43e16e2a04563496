//! # walkout: a cashierless walk-out store
//!
//! A shopper scans an app QR code at the entry gate, takes products from
//! weight-sensing shelves under ceiling cameras, and walks out; walkout builds
//! each shopper's cart from the shelf and camera feeds, charges the linked
//! payment account at the exit, and sends the receipt. Visits it is unsure
//! about go to store staff before money moves. The map is `docs/DESIGN.md`.
//!
//! Modules that exist so far, by the layer they own:
//!
//! | module | owns |
//! | --- | --- |
//! | [`ids`] | newtype ids (`VisitId`, `Sku`, `PlateId`, ...) |
//! | [`money`] | `rust_decimal` amounts, ISO 4217 currencies, minor units |
//! | [`config`] | the typed configuration: TOML file, then `WALKOUT_*` variables |
//! | [`catalog`] | a store's products and planogram, loaded from `calibration/<store>/` |
//! | [`db`] | the [`db::Storage`] trait and its SQLite / PostgreSQL implementation |
//! | [`mqtt`] | the embedded broker, client options (TLS, credentials), a reconnecting subscriber |
//! | [`shelf`] | plate readings over MQTT -> change detection -> product inference -> stock |
//! | [`layout`] | store geometry, the camera model and projections, the AiFi importer, overlays |
//! | [`vision`] | ONNX models through ort, capture, floor projection, the multi-camera tracker |
//! | [`fusion`] | who took what: attribution, visit linking, the cart ledger, the review policy |
//! | [`sim`] | the seeded store simulator: shoppers, plate readings, pose observations, truth |
//! | [`visit`] | entry tokens, the reference client, the gate, the exit (review or charge) |
//! | [`checkout`] | pricing with `rust_decimal`: VAT / sales tax, promotions, loyalty, receipts, refunds |
//! | [`payments`] | the provider trait, sandbox and Stripe, idempotent hold / capture / refund |
//! | [`notify`] | receipt e-mail (SMTP or files), Web Push (VAPID, RFC 8291), the retrying outbox |
//! | [`app`] | the shopper accounts API, gate scans, disputes, Stripe webhooks, `/openapi.json` |
//! | [`review`] | the staff console: review queue and cases with evidence, live store, back office |
//! | [`bench`] | benchmarks and the accuracy scorer (`walkout bench ...`, JSON) |
//! | [`telemetry`] | `tracing` logs and the Prometheus metrics registry |
//! | [`http`] | the axum router ([`http::app`]), [`http::ApiError`], `/healthz`, `/metrics` |
//! | [`service`] | the long-running `serve` process and its graceful shutdown |
//! | [`demo`] | `walkout demo`: the embedded store, set up and reported |

pub mod app;
pub mod bench;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod db;
pub mod demo;
pub mod fusion;
pub mod http;
pub mod ids;
pub mod layout;
pub mod money;
pub mod mqtt;
pub mod notify;
pub mod payments;
pub mod review;
pub mod service;
pub mod shelf;
pub mod sim;
pub mod telemetry;
pub mod vision;
pub mod visit;

/// Current unix time in milliseconds (the storage layer's time unit).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn connect_options(config: &config::DatabaseConfig) -> db::ConnectOptions {
    db::ConnectOptions {
        url: config.url.expose().to_owned(),
        connect_timeout: std::time::Duration::from_secs(config.connect_timeout_s),
        max_connections: config.max_connections,
        schema: None,
    }
}

/// Opens the configured database and applies pending migrations.
pub async fn open_storage(config: &config::DatabaseConfig) -> Result<db::SqlStore, db::DbError> {
    db::SqlStore::connect(&connect_options(config)).await
}

/// `walkout migrate`: applies pending migrations; returns the backend, the
/// versions applied now and the schema version after.
pub async fn migrate(config: &config::DatabaseConfig) -> Result<(&'static str, Vec<i64>, i64), db::DbError> {
    let storage = db::SqlStore::connect_without_migrating(&connect_options(config)).await?;
    let applied = storage.migrate().await?;
    let version = db::Storage::schema_version(&storage).await?;
    storage.close().await;
    Ok((storage.backend(), applied, version))
}
