//! Crash safety of settlement: the process dies after the provider has
//! captured and before the outcome is committed to the database; after a
//! restart, settling again captures nothing more, and the stored payment
//! ends `succeeded` for the cart total.
//!
//! Re-exec pattern: the parent test sets up a visit with a hold, then runs
//! this same test binary with `--exact crash_worker` and
//! `WALKOUT_PAYMENTS_CRASH_WORKER=<dir>`; the worker settles against the
//! SQLite database and the sandbox ledger in that folder with a
//! [`FaultHook`] that aborts the process right after the provider's capture
//! returns. The parent sees it die, then settles again in-process against
//! the same files.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use walkout::db::*;
use walkout::ids::*;
use walkout::money::{Currency, Money};
use walkout::payments::*;

const WORKER_ENV: &str = "WALKOUT_PAYMENTS_CRASH_WORKER";
const VISIT: &str = "v-crash";
const HOLD: i64 = 5_000;
const TOTAL: i64 = 4_321;
const CAPTURE_KEY: &str = "walkout:v-crash:capture";

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

async fn open(dir: &Path) -> (Arc<SqlStore>, Arc<SandboxProvider>) {
    let url = format!("sqlite://{}/walkout.db", dir.display());
    let store = SqlStore::connect(&ConnectOptions::new(url)).await.expect("store");
    let sandbox = SandboxProvider::open(dir.join("sandbox-ledger.db"), Arc::new(SystemClock)).await.expect("ledger");
    (Arc::new(store), Arc::new(sandbox))
}

/// A store, a shopper with `tok_visa`, a visit and its hold.
async fn seed(store: &Arc<SqlStore>, sandbox: &Arc<SandboxProvider>) {
    let shopper = ShopperId::from("shopper-crash");
    let at = 1;
    let s = Store {
        id: StoreId::from("store-1"),
        name: "Corner".into(),
        address: "1 Main St".into(),
        vat_number: "DE1".into(),
        currency: "EUR".into(),
        tax_mode: "inclusive".into(),
        created_at: at,
    };
    store.upsert_store(&s).await.unwrap();
    let sh = Shopper {
        id: shopper.clone(),
        email: "crash@example.com".into(),
        display_name: "Crash".into(),
        password_hash: "x".into(),
        loyalty_points: 0,
        created_at: at,
    };
    store.create_shopper(&sh).await.unwrap();
    let method = PaymentMethod {
        id: PaymentMethodId::from("pm-crash"),
        shopper_id: shopper.clone(),
        provider: "sandbox".into(),
        provider_token: "tok_visa".into(),
        brand: "visa".into(),
        last4: "4242".into(),
        is_default: true,
        created_at: at,
    };
    store.add_payment_method(&method).await.unwrap();
    let visit = Visit {
        id: VisitId::from(VISIT),
        store_id: s.id,
        shopper_id: shopper,
        device_id: None,
        party_size: 1,
        status: VisitStatus::Exited,
        track_id: None,
        entered_at: at,
        exited_at: Some(at),
        settled_at: None,
    };
    store.create_visit(&visit).await.unwrap();
    let service = PaymentService::new(store.clone(), sandbox.clone(), Arc::new(SystemClock));
    let hold = service.place_hold(&visit.id, &method, eur(HOLD)).await.unwrap();
    assert!(hold.outcome.is_success(), "{hold:?}");
}

/// Runs only in the child process (the variable names its folder).
#[tokio::test]
async fn crash_worker() {
    let Ok(dir) = std::env::var(WORKER_ENV) else { return };
    let (store, sandbox) = open(Path::new(&dir)).await;
    let abort_after_capture: FaultHook = Arc::new(|point, key| {
        if point == FaultPoint::AfterProviderCall && key == CAPTURE_KEY {
            eprintln!("crash worker: the provider captured under {key}; dying before the commit");
            std::process::abort();
        }
    });
    let service = PaymentService::new(store, sandbox, Arc::new(SystemClock)).with_fault_hook(abort_after_capture);
    let settled = service.settle(&VisitId::from(VISIT), eur(TOTAL)).await;
    panic!("the fault hook should have ended the process, settle returned {settled:?}");
}

#[tokio::test]
async fn a_crash_between_capture_and_commit_captures_exactly_once() {
    if std::env::var_os(WORKER_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let (store, sandbox) = open(dir.path()).await;
        seed(&store, &sandbox).await;
        store.close().await;
        sandbox.close().await;
    }

    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_worker", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, dir.path())
        .current_dir(dir.path()) // any core file lands in the temporary folder
        .output()
        .expect("spawn the crash worker");
    let log = format!("{}{}", String::from_utf8_lossy(&child.stdout), String::from_utf8_lossy(&child.stderr));
    assert!(!child.status.success(), "the worker must die, not finish: {log}");
    assert!(log.contains("dying before the commit"), "the worker died elsewhere: {log}");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.status.signal(), Some(6), "killed by SIGABRT: {log}");
    }

    // After the crash: the provider captured, the database still says pending.
    let (store, sandbox) = open(dir.path()).await;
    assert_eq!(store.payment_by_key(CAPTURE_KEY).await.unwrap().unwrap().state, "pending");
    let captures = |moves: Vec<Movement>| -> Vec<i64> {
        moves.into_iter().filter(|m| m.kind == "capture").map(|m| m.amount_minor).collect()
    };
    assert_eq!(captures(sandbox.movements(VISIT).await.unwrap()), vec![TOTAL]);

    // The restarted process settles again with the same key.
    let service = PaymentService::new(store.clone(), sandbox.clone(), Arc::new(SystemClock));
    let settled = service.settle(&VisitId::from(VISIT), eur(TOTAL)).await.unwrap();
    assert!(settled.is_paid() && settled.steps.len() == 1, "{settled:?}");
    assert!(!settled.steps[0].replayed, "the pending step was finished by asking the provider again");

    assert_eq!(captures(sandbox.movements(VISIT).await.unwrap()), vec![TOTAL], "exactly one capture");
    let row = store.payment_by_key(CAPTURE_KEY).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.amount_minor, row.operation.as_str()), ("succeeded", TOTAL, "capture"));
    assert!(row.provider_ref.unwrap().starts_with("sbx_hold_"));
    assert_eq!(store.payments_for_visit(&VisitId::from(VISIT)).await.unwrap().len(), 2, "the hold and one capture");

    // And from now on it is a plain retry.
    let again = service.settle(&VisitId::from(VISIT), eur(TOTAL)).await.unwrap();
    assert!(again.steps.iter().all(|s| s.replayed));
    assert_eq!(captures(sandbox.movements(VISIT).await.unwrap()).len(), 1);
}
