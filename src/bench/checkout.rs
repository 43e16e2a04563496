//! `walkout bench checkout`: the money path on a real database (PostgreSQL
//! for the figures that matter). N shoppers enter through the gate (their
//! tokens' verification is timed), each takes three products, then all N
//! exit at once: exit -> price -> capture (sandbox provider) -> receipt
//! issued and handed to the outbox. Prints p50/p99 of both, in milliseconds.

use crate::catalog::Catalog;
use crate::db::{CartEventKind, ConnectOptions, NewCartEvent, PaymentMethod, Shopper, SqlStore, Storage};
use crate::ids::{DeviceId, PaymentMethodId, ShopperId, VisitId};
use crate::notify::Notifier;
use crate::payments::{PaymentService, SandboxProvider, SystemClock};
use crate::visit::client::DeviceKey;
use crate::visit::exit::{Exit, ExitOutcome};
use crate::visit::gate::{Gate, NoTracker};
use crate::visit::hold::PaymentHolds;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum CheckoutBenchError {
    #[error("database: {0}")]
    Db(#[from] crate::db::DbError),
    #[error("setup: {0}")]
    Setup(String),
}

#[derive(Debug, Serialize)]
pub struct CheckoutBenchReport {
    pub database: &'static str,
    pub build: &'static str,
    pub exits: usize,
    pub charged: usize,
    /// Exit -> capture -> receipt queued for the mailer, all exits started together.
    pub exit_p50_ms: f64,
    pub exit_p99_ms: f64,
    pub exit_wall_s: f64,
    /// Gate token verification (signature, device, times, single use), one at a time.
    pub gate_verify_p50_ms: f64,
    pub gate_verify_p99_ms: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn setup_err(e: impl std::fmt::Display) -> CheckoutBenchError {
    CheckoutBenchError::Setup(e.to_string())
}

/// Runs the benchmark on `database_url` in a schema of its own (Postgres;
/// dropped afterwards) or a fresh SQLite file; `calibration` is the store.
pub async fn run(
    database_url: &str,
    exits: usize,
    calibration: &Path,
) -> Result<CheckoutBenchReport, CheckoutBenchError> {
    let dir = tempfile::tempdir().map_err(setup_err)?;
    let (url, schema) = if database_url.starts_with("postgres") {
        let schema = format!("walkout_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(database_url).await.map_err(setup_err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.map_err(setup_err)?;
        admin.close().await;
        (database_url.to_owned(), Some(schema))
    } else {
        (format!("sqlite://{}/bench.db", dir.path().display()), None)
    };
    let opts = ConnectOptions { max_connections: 32, schema: schema.clone(), ..ConnectOptions::new(url) };
    let storage = Arc::new(SqlStore::connect(&opts).await?);
    let result = measure(storage.clone(), exits, calibration, dir.path()).await;
    storage.close().await;
    if let Some(schema) = schema {
        let admin = sqlx::PgPool::connect(database_url).await.map_err(setup_err)?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .map_err(setup_err)?;
    }
    result
}

/// The real gate (sandbox payment holds of 50.00 per person, no tracker)
/// and exit (sandbox capture, receipts queued) over `storage`, whose
/// catalogue is installed; the sandbox's own ledger lives under `scratch`.
/// Shared by this benchmark and the accuracy benchmark's store.
pub(crate) async fn sandbox_gate_and_exit(
    storage: Arc<SqlStore>,
    catalog: &Catalog,
    scratch: &Path,
    review_below_confidence: f64,
) -> Result<(Gate, Exit), CheckoutBenchError> {
    let rules = catalog.pricing.clone().ok_or_else(|| setup_err("the store has no pricing.toml"))?;
    let sandbox = SandboxProvider::open(scratch.join("sandbox.db"), Arc::new(SystemClock)).await.map_err(setup_err)?;
    let payments = Arc::new(PaymentService::new(storage.clone(), Arc::new(sandbox), Arc::new(SystemClock)));
    let holds = PaymentHolds {
        storage: storage.clone(),
        payments: payments.clone(),
        per_person_minor: 5_000,
        currency: catalog.currency,
    };
    let gate = Gate {
        storage: storage.clone(),
        store: catalog.store.id.clone(),
        payments: Arc::new(holds),
        tracks: Arc::new(NoTracker),
        skew_s: 5,
    };
    let exit = Exit {
        storage: storage.clone(),
        payments,
        notifier: Notifier::new(storage.clone()),
        rules,
        timezone: catalog.store.timezone.clone(),
        review_below_confidence,
    };
    Ok((gate, exit))
}

async fn measure(
    storage: Arc<SqlStore>,
    exits: usize,
    calibration: &Path,
    scratch: &Path,
) -> Result<CheckoutBenchReport, CheckoutBenchError> {
    let catalog = Catalog::load(calibration).map_err(setup_err)?;
    catalog.install(&*storage, crate::now_ms()).await?;
    let (gate, exit) = sandbox_gate_and_exit(storage.clone(), &catalog, scratch, 0.9).await?;
    let exit = Arc::new(exit);
    let products: Vec<_> = catalog.products.values().filter(|p| !p.age_restricted).map(|p| p.sku.clone()).collect();
    let (mut visits, mut verify_ms) = (Vec::new(), Vec::new());
    for i in 0..exits {
        let (shopper, device, key) = enrol(&*storage, i).await?;
        let now = crate::now_ms();
        // Timed: verification alone, on a token of its own.
        let probe = key.draw(&shopper, &device, now / 1000, 0);
        let started = Instant::now();
        gate.verify(&probe, now).await.map_err(setup_err)?;
        verify_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let visit = gate.scan("bench", &key.draw(&shopper, &device, now / 1000, 0), now).await.map_err(setup_err)?;
        for k in 0..3 {
            let sku = products[(i * 7 + k * 13) % products.len()].clone();
            let event = NewCartEvent {
                id: format!("{}-{k}", visit.id),
                store_id: catalog.store.id.clone(),
                visit_id: Some(visit.id.clone()),
                kind: CartEventKind::Pick,
                sku,
                quantity: 1,
                confidence: 0.99,
                source: "bench".into(),
                evidence_ref: None,
                shopper_id: None,
                track_id: None,
                at: now,
            };
            storage.append_cart_event(&event).await?;
        }
        visits.push(visit.id);
    }
    let started = Instant::now();
    let tasks: Vec<_> = visits.into_iter().map(|v| tokio::spawn(timed_exit(exit.clone(), v))).collect();
    let (mut exit_ms, mut charged) = (Vec::new(), 0);
    for t in tasks {
        let (ms, was_charged) = t.await.map_err(setup_err)??;
        exit_ms.push(ms);
        charged += usize::from(was_charged);
    }
    let exit_wall_s = started.elapsed().as_secs_f64();
    exit_ms.sort_by(f64::total_cmp);
    verify_ms.sort_by(f64::total_cmp);
    Ok(CheckoutBenchReport {
        database: storage.backend(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        exits,
        charged,
        exit_p50_ms: percentile(&exit_ms, 0.5),
        exit_p99_ms: percentile(&exit_ms, 0.99),
        exit_wall_s,
        gate_verify_p50_ms: percentile(&verify_ms, 0.5),
        gate_verify_p99_ms: percentile(&verify_ms, 0.99),
    })
}

async fn timed_exit(exit: Arc<Exit>, visit: VisitId) -> Result<(f64, bool), CheckoutBenchError> {
    let started = Instant::now();
    let outcome = exit.exit(&visit, crate::now_ms()).await.map_err(setup_err)?;
    Ok((started.elapsed().as_secs_f64() * 1000.0, matches!(outcome, ExitOutcome::Charged { .. })))
}

/// A shopper with a sandbox card and a registered phone key.
pub(crate) async fn enrol(
    storage: &dyn Storage,
    i: usize,
) -> Result<(ShopperId, DeviceId, DeviceKey), CheckoutBenchError> {
    let shopper = Shopper {
        id: ShopperId::random(),
        email: format!("bench-{i}-{}@walkout.invalid", uuid::Uuid::new_v4().simple()),
        display_name: format!("Bench {i}"),
        password_hash: "not used by the benchmark".into(),
        loyalty_points: 0,
        created_at: crate::now_ms(),
    };
    storage.create_shopper(&shopper).await?;
    let method = PaymentMethod {
        id: PaymentMethodId::random(),
        shopper_id: shopper.id.clone(),
        provider: "sandbox".into(),
        provider_token: "tok_visa".into(),
        brand: "visa".into(),
        last4: "4242".into(),
        is_default: true,
        created_at: crate::now_ms(),
    };
    storage.add_payment_method(&method).await?;
    let key = DeviceKey::generate();
    let device = crate::db::Device {
        id: DeviceId::random(),
        shopper_id: shopper.id.clone(),
        public_key: key.public_key().to_vec(),
        label: "bench".into(),
        created_at: crate::now_ms(),
        revoked_at: None,
    };
    storage.register_device(&device).await?;
    Ok((shopper.id, device.id, key))
}
