//! A whole demo store for flow tests, with the real parts: SQLite storage
//! with the demo catalogue installed, the sandbox payment provider, the
//! gate (holds at entry), the exit (price, charge, receipt) and the outbox
//! worker with an in-memory mailer and push service. Shoppers enter the
//! real way: an account with a sandbox card, a registered phone key, a
//! signed entry token scanned at the gate.

use std::sync::Arc;
use walkout::catalog::Catalog;
use walkout::db::{
    CartEventKind, ConnectOptions, Device, NewCartEvent, PaymentMethod, PushSubscription, Shopper, SqlStore, Storage,
};
use walkout::http::AppState;
use walkout::ids::{DeviceId, PaymentMethodId, ShopperId, Sku, StoreId, VisitId};
use walkout::notify::{MemoryMailer, MemoryPush, Notifier, OutboxWorker, parse_mailbox};
use walkout::payments::{PaymentService, SandboxProvider, SystemClock};
use walkout::telemetry::Metrics;
use walkout::visit::client::DeviceKey;
use walkout::visit::exit::Exit;
use walkout::visit::gate::{Gate, NoTracker};
use walkout::visit::hold::PaymentHolds;

pub const STORE: &str = "demo-store";

pub struct DemoStore {
    pub storage: Arc<SqlStore>,
    pub catalog: Catalog,
    pub sandbox: Arc<SandboxProvider>,
    pub payments: Arc<PaymentService>,
    pub gate: Arc<Gate>,
    pub exit: Arc<Exit>,
    pub mailer: Arc<MemoryMailer>,
    pub push: Arc<MemoryPush>,
    pub worker: OutboxWorker,
    pub dir: tempfile::TempDir,
}

impl DemoStore {
    pub async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db", dir.path().display());
        let storage = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap());
        let catalog =
            Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store")).unwrap();
        catalog.install(&*storage, 1).await.unwrap();
        let sandbox =
            Arc::new(SandboxProvider::open(dir.path().join("sandbox.db"), Arc::new(SystemClock)).await.unwrap());
        let payments = Arc::new(PaymentService::new(storage.clone(), sandbox.clone(), Arc::new(SystemClock)));
        let holds = PaymentHolds {
            storage: storage.clone(),
            payments: payments.clone(),
            per_person_minor: 5_000,
            currency: catalog.currency,
        };
        let gate = Gate {
            storage: storage.clone(),
            store: StoreId::from(STORE),
            payments: Arc::new(holds),
            tracks: Arc::new(NoTracker),
            skew_s: 5,
        };
        let exit = Exit {
            storage: storage.clone(),
            payments: payments.clone(),
            notifier: Notifier::new(storage.clone()),
            rules: catalog.pricing.clone().unwrap(),
            timezone: "Europe/Berlin".into(),
            review_below_confidence: 0.9,
        };
        let (mailer, push) = (Arc::new(MemoryMailer::default()), Arc::new(MemoryPush::default()));
        let from = parse_mailbox("receipts@walkout.test").unwrap();
        let worker = OutboxWorker::new(storage.clone(), mailer.clone(), push.clone(), from);
        Self {
            storage,
            catalog,
            sandbox,
            payments,
            gate: Arc::new(gate),
            exit: Arc::new(exit),
            mailer,
            push,
            worker,
            dir,
        }
    }

    /// The router's state with the gate and payments (no console).
    pub fn state(&self) -> AppState {
        let mut state = AppState::new(self.storage.clone(), Arc::new(Metrics::default()), "sqlite");
        state.gate = Some(self.gate.clone());
        state.payments = Some(self.payments.clone());
        state.auto_refund_max_minor = 100;
        state
    }

    /// A shopper with a sandbox card, a phone and a push subscription, scanned in at the gate now.
    pub async fn shopper_enters(&self, email: &str, name: &str) -> (ShopperId, VisitId) {
        self.shopper_enters_at(email, name, walkout::now_ms()).await
    }

    /// [`DemoStore::shopper_enters`] at `now` (the token is drawn then too).
    pub async fn shopper_enters_at(&self, email: &str, name: &str, now: i64) -> (ShopperId, VisitId) {
        let s = &self.storage;
        let shopper = ShopperId(uuid::Uuid::new_v4().to_string());
        let account = Shopper {
            id: shopper.clone(),
            email: email.into(),
            display_name: name.into(),
            password_hash: walkout::app::auth::hash_password("a long enough password").unwrap(),
            loyalty_points: 0,
            created_at: now,
        };
        s.create_shopper(&account).await.unwrap();
        let card = PaymentMethod {
            id: PaymentMethodId(uuid::Uuid::new_v4().to_string()),
            shopper_id: shopper.clone(),
            provider: "sandbox".into(),
            provider_token: "tok_visa".into(),
            brand: "visa".into(),
            last4: "4242".into(),
            is_default: true,
            created_at: now,
        };
        s.add_payment_method(&card).await.unwrap();
        let key = DeviceKey::generate();
        let device = DeviceId(uuid::Uuid::new_v4().to_string());
        let phone = Device {
            id: device.clone(),
            shopper_id: shopper.clone(),
            public_key: key.public_key().to_vec(),
            label: "phone".into(),
            created_at: now,
            revoked_at: None,
        };
        s.register_device(&phone).await.unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let browser_key = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let subscription = PushSubscription {
            endpoint: format!("https://push.example/{shopper}"),
            shopper_id: shopper.clone(),
            p256dh: b64.encode(p256::Sec1Point::from(&browser_key.public_key()).as_bytes()),
            auth: b64.encode([9u8; 16]),
            created_at: now,
        };
        s.save_push_subscription(&subscription).await.unwrap();
        let token = key.draw(&shopper, &device, now / 1000, 0);
        let visit = self.gate.scan("north", &token, now).await.unwrap();
        (shopper, visit.id)
    }

    /// Appends a ledger entry for `visit` now; returns its id.
    pub async fn event(
        &self,
        visit: &VisitId,
        n: usize,
        kind: CartEventKind,
        sku: &str,
        quantity: i64,
        confidence: f64,
    ) -> String {
        self.event_at(visit, n, (kind, sku, quantity), confidence, walkout::now_ms()).await
    }

    /// [`DemoStore::event`] at `at`: `(kind, sku, quantity)`.
    pub async fn event_at(
        &self,
        visit: &VisitId,
        n: usize,
        what: (CartEventKind, &str, i64),
        confidence: f64,
        at: i64,
    ) -> String {
        let (kind, sku, quantity) = what;
        let event = NewCartEvent {
            id: format!("{visit}:{n}"),
            store_id: StoreId::from(STORE),
            visit_id: Some(visit.clone()),
            kind,
            sku: Sku::from(sku),
            quantity,
            confidence,
            source: "fusion".into(),
            evidence_ref: Some(format!("shelf event {n}")),
            shopper_id: None,
            track_id: Some("track-1".into()),
            at,
        };
        self.storage.append_cart_event(&event).await.unwrap().id
    }

    /// What the catalogue and pricing rules charge for these units today (minor units).
    pub fn price_of(&self, items: &[(&str, u32)]) -> i64 {
        use walkout::checkout::{CartLine, price_cart};
        let lines: Vec<CartLine> = items
            .iter()
            .map(|(sku, n)| CartLine::from_product(&self.catalog.products[&Sku::from(*sku)], *n).unwrap())
            .collect();
        let today = chrono::Utc::now().date_naive();
        price_cart(self.catalog.pricing.as_ref().unwrap(), &lines, today, 0).unwrap().total_gross_minor
    }
}
