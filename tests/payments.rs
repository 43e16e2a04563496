//! Payment flows through the public API on SQLite with the sandbox provider
//! (hold, settle below / at / above the hold, empty cart, declines, hold
//! expiry, retries, refunds, concurrent settles, resuming a pending step),
//! then the Stripe connector against a local fake Stripe that checks every
//! request, and Stripe webhook signature verification.

use hmac::{Hmac, KeyInit, Mac};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use walkout::config::Secret;
use walkout::db::*;
use walkout::ids::*;
use walkout::money::{Currency, Money};
use walkout::payments::*;

const HOLD: i64 = 5_000;
const HOLD_LIFETIME_MS: i64 = 3_600_000;

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR)
}

/// Counts the calls that reach the provider, per operation.
struct Counting {
    inner: Arc<dyn PaymentProvider>,
    calls: Mutex<HashMap<&'static str, usize>>,
}

impl Counting {
    fn count(&self, op: &'static str) -> usize {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }
    fn tick(&self, op: &'static str) {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
    }
}

#[async_trait::async_trait]
impl PaymentProvider for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn authorise(&self, r: &AuthoriseRequest) -> Result<Outcome, ProviderError> {
        self.tick("authorise");
        self.inner.authorise(r).await
    }
    async fn capture(&self, r: &CaptureRequest) -> Result<Outcome, ProviderError> {
        self.tick("capture");
        self.inner.capture(r).await
    }
    async fn cancel(&self, r: &CancelRequest) -> Result<Outcome, ProviderError> {
        self.tick("cancel");
        self.inner.cancel(r).await
    }
    async fn refund(&self, r: &RefundRequest) -> Result<Outcome, ProviderError> {
        self.tick("refund");
        self.inner.refund(r).await
    }
    async fn charge(&self, r: &ChargeRequest) -> Result<Outcome, ProviderError> {
        self.tick("charge");
        self.inner.charge(r).await
    }
}

struct World {
    store: Arc<SqlStore>,
    sandbox: Arc<SandboxProvider>,
    counting: Arc<Counting>,
    clock: Arc<ManualClock>,
    service: Arc<PaymentService>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/walkout.db", dir.path().display());
    let store = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap());
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let sandbox = SandboxProvider::open(dir.path().join("sandbox.db"), clock.clone()).await.unwrap();
    let sandbox = Arc::new(sandbox.with_hold_lifetime(HOLD_LIFETIME_MS));
    let counting = Arc::new(Counting { inner: sandbox.clone(), calls: Mutex::default() });
    let service = Arc::new(PaymentService::new(store.clone(), counting.clone(), clock.clone()));
    store
        .upsert_store(&Store {
            id: StoreId::from("store-1"),
            name: "Corner".into(),
            address: "1 Main St".into(),
            vat_number: "DE123".into(),
            currency: "EUR".into(),
            tax_mode: "inclusive".into(),
            created_at: 1,
        })
        .await
        .unwrap();
    World { store, sandbox, counting, clock, service, _dir: dir }
}

impl World {
    /// A shopper with one saved `provider` method, and a visit of theirs.
    async fn visit(&self, id: &str, provider: &str, token: &str) -> (VisitId, PaymentMethod) {
        let shopper = ShopperId::from(format!("shopper-{id}"));
        let s = Shopper {
            id: shopper.clone(),
            email: format!("{id}@example.com"),
            display_name: id.into(),
            password_hash: "x".into(),
            loyalty_points: 0,
            created_at: 1,
        };
        self.store.create_shopper(&s).await.unwrap();
        let method = PaymentMethod {
            id: PaymentMethodId::from(format!("pm-{id}")),
            shopper_id: shopper.clone(),
            provider: provider.into(),
            provider_token: token.into(),
            brand: "visa".into(),
            last4: "4242".into(),
            is_default: true,
            created_at: 1,
        };
        self.store.add_payment_method(&method).await.unwrap();
        let visit = Visit {
            id: VisitId::from(id),
            store_id: StoreId::from("store-1"),
            shopper_id: shopper,
            device_id: None,
            party_size: 1,
            status: VisitStatus::Entered,
            track_id: None,
            entered_at: 2,
            exited_at: None,
            settled_at: None,
        };
        self.store.create_visit(&visit).await.unwrap();
        (visit.id, method)
    }

    /// A visit with a successful sandbox hold of [`HOLD`].
    async fn held(&self, id: &str, token: &str) -> VisitId {
        let (visit, method) = self.visit(id, "sandbox", token).await;
        let step = self.service.place_hold(&visit, &method, eur(HOLD)).await.unwrap();
        assert!(step.outcome.is_success(), "{step:?}");
        visit
    }

    /// `(kind, amount)` of each sandbox ledger entry for the visit.
    async fn ledger(&self, visit: &VisitId) -> Vec<(String, i64)> {
        let moves = self.sandbox.movements(visit.as_str()).await.unwrap();
        moves.into_iter().map(|m| (m.kind, m.amount_minor)).collect()
    }

    async fn row(&self, key: &str) -> Payment {
        self.store.payment_by_key(key).await.unwrap().unwrap_or_else(|| panic!("no payment {key}"))
    }
}

fn moves(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, a)| (k.to_string(), *a)).collect()
}

fn ops(s: &Settlement) -> Vec<(Operation, i64, bool)> {
    s.steps.iter().map(|st| (st.operation, st.amount.to_minor().unwrap(), st.outcome.is_success())).collect()
}

#[tokio::test]
async fn settles_below_at_and_above_the_hold() {
    let w = world().await;
    let below = w.held("v-below", "tok_visa").await;
    let s = w.service.settle(&below, eur(3_120)).await.unwrap();
    assert_eq!((ops(&s), s.collected, s.is_paid()), (vec![(Operation::Capture, 3_120, true)], eur(3_120), true));
    assert_eq!(w.ledger(&below).await, moves(&[("authorise", HOLD), ("capture", 3_120)]));

    let at = w.held("v-at", "tok_mastercard").await;
    let s = w.service.settle(&at, eur(HOLD)).await.unwrap();
    assert_eq!(ops(&s), vec![(Operation::Capture, HOLD, true)]);
    assert_eq!(w.ledger(&at).await, moves(&[("authorise", HOLD), ("capture", HOLD)]));

    let above = w.held("v-above", "tok_visa").await;
    let s = w.service.settle(&above, eur(7_350)).await.unwrap();
    assert_eq!(ops(&s), vec![(Operation::Capture, HOLD, true), (Operation::Charge, 2_350, true)]);
    assert!(s.is_paid() && s.collected == eur(7_350));
    assert_eq!(w.ledger(&above).await, moves(&[("authorise", HOLD), ("capture", HOLD), ("charge", 2_350)]));
    let charge = w.row("walkout:v-above:charge").await;
    assert_eq!(
        (charge.operation.as_str(), charge.state.as_str(), charge.amount_minor),
        ("capture", "succeeded", 2_350)
    );
    assert!(charge.provider_ref.unwrap().starts_with("sbx_ch_"));
    assert_eq!(w.store.payments_for_visit(&above).await.unwrap().len(), 3);
}

#[tokio::test]
async fn an_empty_cart_releases_the_hold() {
    let w = world().await;
    let visit = w.held("v-empty", "tok_visa").await;
    let s = w.service.settle(&visit, eur(0)).await.unwrap();
    assert_eq!(ops(&s), vec![(Operation::Cancel, HOLD, true)]);
    assert!(s.is_paid() && s.collected == eur(0));
    assert_eq!(w.ledger(&visit).await, moves(&[("authorise", HOLD), ("cancel", HOLD)]));
    assert_eq!(w.row("walkout:v-empty:cancel").await.state, "succeeded");
}

#[tokio::test]
async fn declines_insufficient_funds_and_authentication_are_distinct_outcomes() {
    let w = world().await;
    let cases = [
        ("tok_chargeDeclined", Outcome::Declined { code: "generic_decline".into() }, "failed"),
        ("tok_expiredCard", Outcome::Declined { code: "expired_card".into() }, "failed"),
        ("tok_insufficientFunds", Outcome::InsufficientFunds, "failed"),
        ("tok_authenticationRequired", Outcome::AuthenticationRequired, "requires_action"),
    ];
    for (i, (token, want, state)) in cases.into_iter().enumerate() {
        let (visit, method) = w.visit(&format!("v-decl-{i}"), "sandbox", token).await;
        let step = w.service.place_hold(&visit, &method, eur(HOLD)).await.unwrap();
        assert_eq!(step.outcome, want, "{token}");
        assert_eq!(w.row(&format!("walkout:v-decl-{i}:authorise")).await.state, state);
        assert!(matches!(w.service.settle(&visit, eur(100)).await, Err(PaymentError::NoHold(_))));
        assert!(w.ledger(&visit).await.is_empty(), "no money moved for {token}");
    }
    // The hold goes through; the off-session charge of the excess does not.
    let visit = w.held("v-short", "tok_insufficientFundsOnCharge").await;
    let s = w.service.settle(&visit, eur(7_000)).await.unwrap();
    assert_eq!(s.steps[1].outcome, Outcome::InsufficientFunds);
    assert_eq!((s.collected, s.unpaid(), s.is_paid()), (eur(HOLD), eur(2_000), false));
    let (other, mut method) = w.visit("v-wrong", "sandbox", "tok_visa").await;
    method.provider = "stripe".into();
    assert!(matches!(w.service.place_hold(&other, &method, eur(1)).await, Err(PaymentError::WrongProvider { .. })));
}

#[tokio::test]
async fn an_expired_hold_is_charged_off_session_instead() {
    let w = world().await;
    let below = w.held("v-exp-below", "tok_visa").await;
    let above = w.held("v-exp-above", "tok_visa").await;
    let empty = w.held("v-exp-empty", "tok_visa").await;
    w.clock.advance(HOLD_LIFETIME_MS);
    let s = w.service.settle(&below, eur(3_000)).await.unwrap();
    assert_eq!(s.steps[0].outcome, Outcome::HoldExpired);
    assert_eq!((s.steps[1].operation, s.collected, s.is_paid()), (Operation::Charge, eur(3_000), true));
    assert_eq!(w.ledger(&below).await, moves(&[("authorise", HOLD), ("charge", 3_000)]));
    assert_eq!(w.row("walkout:v-exp-below:capture").await.error_code.as_deref(), Some("hold_expired"));
    let s = w.service.settle(&above, eur(8_000)).await.unwrap();
    assert_eq!(ops(&s), vec![(Operation::Capture, HOLD, false), (Operation::Charge, 8_000, true)]);
    let s = w.service.settle(&empty, eur(0)).await.unwrap();
    assert_eq!((s.steps[0].outcome.clone(), s.is_paid()), (Outcome::HoldExpired, true));
}

#[tokio::test]
async fn retries_return_the_stored_outcome_without_calling_the_provider() {
    let w = world().await;
    let (visit, method) = w.visit("v-retry", "sandbox", "tok_visa").await;
    let first = w.service.place_hold(&visit, &method, eur(HOLD)).await.unwrap();
    let again = w.service.place_hold(&visit, &method, eur(HOLD)).await.unwrap();
    assert_eq!((again.outcome.clone(), again.replayed, first.replayed), (first.outcome.clone(), true, false));
    let settled = w.service.settle(&visit, eur(7_350)).await.unwrap();
    // A restarted process: a new service over the same database.
    let restarted = PaymentService::new(w.store.clone(), w.counting.clone(), w.clock.clone());
    let replay = restarted.settle(&visit, eur(7_350)).await.unwrap();
    assert!(replay.steps.iter().all(|s| s.replayed));
    assert_eq!((replay.collected, ops(&replay)), (settled.collected, ops(&settled)));
    assert_eq!(replay.steps[1].outcome, settled.steps[1].outcome, "same charge reference");
    let r1 = w.service.refund(&visit, eur(500), 1).await.unwrap();
    let r2 = w.service.refund(&visit, eur(500), 1).await.unwrap();
    assert!(r2.steps[0].replayed && r1.steps[0].outcome == r2.steps[0].outcome);
    for (op, n) in [("authorise", 1), ("capture", 1), ("charge", 1), ("refund", 1)] {
        assert_eq!(w.counting.count(op), n, "{op}");
    }
    let other_total = w.service.settle(&visit, eur(9_000)).await;
    assert!(matches!(other_total, Err(PaymentError::KeyReuse { .. })), "{other_total:?}");
    assert!(matches!(
        w.service.settle(&visit, Money::from_minor(7_350, Currency::USD)).await,
        Err(PaymentError::CurrencyMismatch { .. })
    ));
    // A declined hold is a stored outcome too.
    let (declined, method) = w.visit("v-retry-decl", "sandbox", "tok_chargeDeclined").await;
    for _ in 0..3 {
        let step = w.service.place_hold(&declined, &method, eur(HOLD)).await.unwrap();
        assert_eq!(step.outcome, Outcome::Declined { code: "generic_decline".into() });
    }
    assert_eq!(w.counting.count("authorise"), 2);
}

#[tokio::test]
async fn refunds_are_idempotent_per_sequence_and_never_exceed_what_was_taken() {
    let w = world().await;
    let visit = w.held("v-refund", "tok_visa").await;
    w.service.settle(&visit, eur(7_350)).await.unwrap(); // 5000 captured + 2350 charged
    let r = w.service.refund(&visit, eur(1_000), 1).await.unwrap();
    assert!(r.is_complete() && r.steps.len() == 1);
    w.service.refund(&visit, eur(1_000), 1).await.unwrap();
    // 4500 = the 4000 left on the capture + 500 from the charge.
    let r = w.service.refund(&visit, eur(4_500), 2).await.unwrap();
    let parts: Vec<_> = r.steps.iter().map(|s| (s.idempotency_key.clone(), s.amount.to_minor().unwrap())).collect();
    assert_eq!(
        parts,
        vec![("walkout:v-refund:refund:2".into(), 4_000), ("walkout:v-refund:refund:2:charge".into(), 500)]
    );
    match w.service.refund(&visit, eur(2_000), 3).await {
        Err(PaymentError::RefundExceedsCaptured { requested, refundable }) => {
            assert_eq!((requested, refundable), (eur(2_000), eur(1_850)));
        }
        other => panic!("expected the cap, got {other:?}"),
    }
    assert!(w.service.refund(&visit, eur(1_850), 3).await.unwrap().is_complete());
    assert!(matches!(w.service.refund(&visit, eur(1), 4).await, Err(PaymentError::RefundExceedsCaptured { .. })));
    assert!(matches!(w.service.refund(&visit, eur(0), 5).await, Err(PaymentError::InvalidAmount { .. })));
    let refunds: i64 = w.ledger(&visit).await.iter().filter(|(k, _)| k == "refund").map(|(_, a)| a).sum();
    assert_eq!(refunds, 7_350, "everything taken was given back once");
    let nothing = w.held("v-refund-none", "tok_visa").await;
    assert!(matches!(w.service.refund(&nothing, eur(1), 1).await, Err(PaymentError::RefundExceedsCaptured { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_settles_of_one_visit_capture_once() {
    let w = world().await;
    let visit = w.held("v-race", "tok_visa").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (service, visit) = (w.service.clone(), visit.clone());
            tokio::spawn(async move { service.settle(&visit, eur(4_200)).await.unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().collected, eur(4_200));
    }
    assert_eq!(w.counting.count("capture"), 1, "one service serialises the visit");
    assert_eq!(w.ledger(&visit).await, moves(&[("authorise", HOLD), ("capture", 4_200)]));

    // Eight services (as if eight processes) share the database and the provider.
    let visit = w.held("v-race-2", "tok_visa").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let service = PaymentService::new(w.store.clone(), w.counting.clone(), w.clock.clone());
            let visit = visit.clone();
            tokio::spawn(async move { service.settle(&visit, eur(6_000)).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        let s = t.await.unwrap();
        outcomes.push(s.steps.iter().map(|s| s.outcome.clone()).collect::<Vec<_>>());
    }
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "every caller sees the same outcome: {outcomes:?}");
    assert_eq!(w.ledger(&visit).await, moves(&[("authorise", HOLD), ("capture", HOLD), ("charge", 1_000)]));
}

#[tokio::test]
async fn a_pending_step_is_finished_with_the_same_key() {
    let w = world().await;
    let visit = w.held("v-pending", "tok_visa").await;
    let hold = w.row("walkout:v-pending:authorise").await;
    // A crashed attempt: the row was begun and the provider captured, nothing was finished.
    let key = "walkout:v-pending:capture";
    let amount = Amount::new(2_000, Currency::EUR);
    let hold_ref = hold.provider_ref.clone().unwrap();
    let request = CaptureRequest { idempotency_key: key.into(), hold_ref, amount, reference: "v-pending".into() };
    assert!(w.sandbox.capture(&request).await.unwrap().is_success());
    let pending = Payment {
        id: "p-crashed".into(),
        operation: "capture".into(),
        idempotency_key: key.into(),
        provider_ref: None,
        amount_minor: 2_000,
        state: "pending".into(),
        error_code: None,
        ..hold
    };
    assert!(matches!(w.store.begin_payment(&pending).await.unwrap(), PaymentRecord::Created(_)));
    let s = w.service.settle(&visit, eur(2_000)).await.unwrap();
    assert!(s.is_paid() && !s.steps[0].replayed);
    assert_eq!(w.row(key).await.state, "succeeded");
    assert_eq!(w.ledger(&visit).await, moves(&[("authorise", HOLD), ("capture", 2_000)]));
}

// ---- Stripe -------------------------------------------------------------------------------------------------------

mod fake_stripe {
    use axum::Json;
    use axum::extract::{Form, State};
    use axum::http::{HeaderMap, StatusCode, Uri};
    use serde_json::{Value, json};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    pub const SECRET: &str = "sk_test_walkout";

    /// One request as the fake saw it.
    #[derive(Clone, Debug)]
    pub struct Seen {
        pub path: String,
        pub key: String,
        pub form: HashMap<String, String>,
    }

    #[derive(Default)]
    pub struct Fake {
        pub seen: Mutex<Vec<Seen>>,
        /// Stripe's idempotency: the first answer per key, replayed.
        answers: Mutex<HashMap<String, (u16, Value)>>,
        flaked: Mutex<Vec<String>>,
    }

    fn card_error(code: &str, decline: Option<&str>) -> (u16, Value) {
        (402, json!({"error": {"type": "card_error", "code": code, "decline_code": decline, "message": "declined"}}))
    }

    fn intent(form: &HashMap<String, String>) -> (u16, Value) {
        let manual = form.get("capture_method").map(String::as_str) == Some("manual");
        let amount: i64 = form["amount"].parse().unwrap();
        match form["payment_method"].as_str() {
            "pm_card_chargeDeclined" => card_error("card_declined", Some("generic_decline")),
            "pm_card_insufficientFunds" => card_error("card_declined", Some("insufficient_funds")),
            "pm_card_authenticationRequired" => card_error("authentication_required", Some("authentication_required")),
            _ => {
                let id = format!("pi_{}", uuid::Uuid::new_v4().simple());
                let (status, received) = if manual { ("requires_capture", 0) } else { ("succeeded", amount) };
                (
                    200,
                    json!({"id": id, "object": "payment_intent", "status": status, "amount": amount, "amount_received": received}),
                )
            }
        }
    }

    fn answer(path: &str, form: &HashMap<String, String>) -> (u16, Value) {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["v1", "payment_intents"] => intent(form),
            ["v1", "payment_intents", "pi_expired", "capture"] => {
                (400, json!({"error": {"type": "invalid_request_error", "code": "charge_expired_for_capture"}}))
            }
            ["v1", "payment_intents", id, "capture"] => {
                let amount: i64 = form["amount_to_capture"].parse().unwrap();
                (200, json!({"id": id, "object": "payment_intent", "status": "succeeded", "amount_received": amount}))
            }
            ["v1", "payment_intents", id, "cancel"] => {
                (200, json!({"id": id, "object": "payment_intent", "status": "canceled"}))
            }
            ["v1", "refunds"] => {
                let id = format!("re_{}", uuid::Uuid::new_v4().simple());
                (
                    200,
                    json!({"id": id, "object": "refund", "status": "succeeded", "amount": form["amount"].parse::<i64>().unwrap()}),
                )
            }
            _ => (404, json!({"error": {"type": "invalid_request_error", "code": "resource_missing"}})),
        }
    }

    async fn handle(
        State(fake): State<Arc<Fake>>,
        uri: Uri,
        headers: HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> (StatusCode, Json<Value>) {
        let reply = |(status, body): (u16, Value)| (StatusCode::from_u16(status).unwrap(), Json(body));
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SECRET}")) {
            return reply((401, json!({"error": {"type": "authentication_error", "message": "Invalid API Key"}})));
        }
        let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned) else {
            return reply((
                400,
                json!({"error": {"type": "invalid_request_error", "code": "missing_idempotency_key"}}),
            ));
        };
        let path = uri.path().to_owned();
        fake.seen.lock().unwrap().push(Seen { path: path.clone(), key: key.clone(), form: form.clone() });
        if form.get("payment_method").map(String::as_str) == Some("pm_card_flaky") {
            let mut flaked = fake.flaked.lock().unwrap();
            if !flaked.contains(&key) {
                flaked.push(key);
                return reply((500, json!({"error": {"type": "api_error", "message": "try again"}})));
            }
        }
        let mut answers = fake.answers.lock().unwrap();
        reply(answers.entry(key).or_insert_with(|| answer(&path, &form)).clone())
    }

    /// Serves the fake on 127.0.0.1:0; returns its base URL.
    pub async fn start() -> (String, Arc<Fake>) {
        let fake = Arc::new(Fake::default());
        let app = axum::Router::new().fallback(handle).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, fake)
    }
}

fn stripe(base: &str, secret: &str) -> StripeProvider {
    StripeProvider::new(Secret::new(secret), base).unwrap().with_retries(3, Duration::ZERO)
}

fn hold_request(key: &str, token: &str, minor: i64) -> AuthoriseRequest {
    AuthoriseRequest {
        idempotency_key: key.into(),
        token: token.into(),
        amount: Amount::new(minor, Currency::EUR),
        reference: "v-s".into(),
    }
}

#[tokio::test]
async fn stripe_connector_speaks_payment_intents_with_idempotency_keys() {
    let (base, fake) = fake_stripe::start().await;
    let p = stripe(&base, fake_stripe::SECRET);
    let held = p.authorise(&hold_request("walkout:v-s:authorise", "pm_card_visa", 5_000)).await.unwrap();
    let pi = held.reference().unwrap().to_owned();
    assert!(pi.starts_with("pi_"));
    let again = p.authorise(&hold_request("walkout:v-s:authorise", "pm_card_visa", 5_000)).await.unwrap();
    assert_eq!(again, held, "Stripe replays the answer for the same key");
    let amount = Amount::new(3_120, Currency::EUR);
    let capture = CaptureRequest {
        idempotency_key: "walkout:v-s:capture".into(),
        hold_ref: pi.clone(),
        amount,
        reference: "v-s".into(),
    };
    assert_eq!(p.capture(&capture).await.unwrap(), Outcome::Succeeded { reference: pi.clone() });
    let refund = RefundRequest {
        idempotency_key: "walkout:v-s:refund:1".into(),
        payment_ref: pi.clone(),
        amount: Amount::new(120, Currency::EUR),
        reference: "v-s".into(),
    };
    assert!(p.refund(&refund).await.unwrap().reference().unwrap().starts_with("re_"));
    let cancel = CancelRequest {
        idempotency_key: "walkout:v-c:cancel".into(),
        hold_ref: "pi_other".into(),
        reference: "v-c".into(),
    };
    assert!(p.cancel(&cancel).await.unwrap().is_success());
    let charge = ChargeRequest {
        idempotency_key: "walkout:v-s:charge".into(),
        token: "pm_card_visa".into(),
        amount: Amount::new(999, Currency::EUR),
        reference: "v-s".into(),
    };
    assert!(p.charge(&charge).await.unwrap().is_success());
    let expired = CaptureRequest {
        hold_ref: "pi_expired".into(),
        idempotency_key: "walkout:v-x:capture".into(),
        ..capture.clone()
    };
    assert_eq!(p.capture(&expired).await.unwrap(), Outcome::HoldExpired);

    let seen = fake.seen.lock().unwrap().clone();
    let form = |i: usize, k: &str| seen[i].form.get(k).cloned().unwrap_or_default();
    assert_eq!(seen[0].path, "/v1/payment_intents");
    for (k, v) in [
        ("amount", "5000"),
        ("currency", "eur"),
        ("capture_method", "manual"),
        ("confirm", "true"),
        ("off_session", "true"),
        ("payment_method", "pm_card_visa"),
        ("metadata[walkout_visit]", "v-s"),
    ] {
        assert_eq!(form(0, k), v, "{k}");
    }
    assert_eq!(seen[1].key, seen[0].key);
    assert_eq!(
        (seen[2].path.clone(), form(2, "amount_to_capture")),
        (format!("/v1/payment_intents/{pi}/capture"), "3120".into())
    );
    assert_eq!(
        (seen[3].path.as_str(), form(3, "payment_intent"), form(3, "amount")),
        ("/v1/refunds", pi.clone(), "120".into())
    );
    assert_eq!(seen[4].path, "/v1/payment_intents/pi_other/cancel");
    assert_eq!(
        (seen[5].path.as_str(), form(5, "capture_method"), form(5, "off_session")),
        ("/v1/payment_intents", String::new(), "true".into())
    );
    let keys: Vec<_> = seen.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys[2..6], ["walkout:v-s:capture", "walkout:v-s:refund:1", "walkout:v-c:cancel", "walkout:v-s:charge"]);
}

#[tokio::test]
async fn stripe_declines_map_to_outcomes_and_transient_failures_retry_with_the_same_key() {
    let (base, fake) = fake_stripe::start().await;
    let p = stripe(&base, fake_stripe::SECRET);
    let cases = [
        ("pm_card_chargeDeclined", Outcome::Declined { code: "generic_decline".into() }),
        ("pm_card_insufficientFunds", Outcome::InsufficientFunds),
        ("pm_card_authenticationRequired", Outcome::AuthenticationRequired),
    ];
    for (token, want) in cases {
        assert_eq!(p.authorise(&hold_request(&format!("k-{token}"), token, 5_000)).await.unwrap(), want, "{token}");
    }
    let flaky = p.authorise(&hold_request("walkout:v-flaky:authorise", "pm_card_flaky", 5_000)).await.unwrap();
    assert!(flaky.is_success());
    let tries: Vec<_> = fake
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.form.get("payment_method").map(String::as_str) == Some("pm_card_flaky"))
        .map(|s| s.key.clone())
        .collect();
    assert_eq!(tries, ["walkout:v-flaky:authorise", "walkout:v-flaky:authorise"], "retried once, same key");
    let wrong = stripe(&base, "sk_test_wrong");
    assert!(matches!(wrong.authorise(&hold_request("k-auth", "pm_card_visa", 1)).await, Err(ProviderError::Auth(_))));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // dropped: nobody listens
    let down = stripe(&format!("http://{closed}"), fake_stripe::SECRET);
    assert!(matches!(
        down.authorise(&hold_request("k-down", "pm_card_visa", 1)).await,
        Err(ProviderError::Unavailable(_))
    ));
}

#[tokio::test]
async fn payment_service_settles_through_stripe() {
    let (base, fake) = fake_stripe::start().await;
    let w = world().await;
    let service = PaymentService::new(w.store.clone(), Arc::new(stripe(&base, fake_stripe::SECRET)), w.clock.clone());
    let (visit, method) = w.visit("v-stripe", "stripe", "cus_42:pm_card_visa").await;
    assert!(service.place_hold(&visit, &method, eur(HOLD)).await.unwrap().outcome.is_success());
    let s = service.settle(&visit, eur(7_350)).await.unwrap();
    assert_eq!(ops(&s), vec![(Operation::Capture, HOLD, true), (Operation::Charge, 2_350, true)]);
    assert!(service.settle(&visit, eur(7_350)).await.unwrap().steps.iter().all(|s| s.replayed));
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "hold, capture, charge; the retry stayed local");
    assert_eq!(
        (seen[0].form["customer"].as_str(), seen[0].form["payment_method"].as_str()),
        ("cus_42", "pm_card_visa")
    );
    assert_eq!(seen[2].form["amount"], "2350");
    assert_eq!(w.row("walkout:v-stripe:capture").await.provider, "stripe");
}

// ---- webhooks -----------------------------------------------------------------------------------------------------

fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

#[test]
fn webhook_signatures_are_verified() {
    let now = 1_700_000_000;
    let body =
        br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_1"}}}"#;
    let v = WebhookVerifier::new(Secret::new("whsec_test"));
    let event = v.verify(Some(&sign("whsec_test", now - 10, body)), body, now).unwrap();
    assert_eq!(
        (event.id.as_str(), event.kind.as_str(), &event.data.object["id"]),
        ("evt_1", "payment_intent.succeeded", &serde_json::json!("pi_1"))
    );
    let tampered = String::from_utf8_lossy(body).replace("pi_1", "pi_2");
    let signed = sign("whsec_test", now, body);
    assert_eq!(v.verify(Some(&signed), tampered.as_bytes(), now), Err(WebhookError::SignatureMismatch));
    assert_eq!(v.verify(Some(&sign("whsec_other", now, body)), body, now), Err(WebhookError::SignatureMismatch));
    let old = v.verify(Some(&sign("whsec_test", now - 301, body)), body, now);
    assert_eq!(old, Err(WebhookError::OutsideTolerance { age_s: 301, tolerance_s: DEFAULT_TOLERANCE_S }));
    assert!(v.clone().with_tolerance(600).verify(Some(&sign("whsec_test", now - 301, body)), body, now).is_ok());
    assert_eq!(v.verify(None, body, now), Err(WebhookError::MissingSignature));
    assert!(matches!(v.verify(Some("garbage"), body, now), Err(WebhookError::MalformedHeader(_))));
    // A rotated secret: two v1 signatures, one of them ours.
    let ours = sign("whsec_test", now, body).split_once(",v1=").unwrap().1.to_owned();
    let rotated = format!("{},v1={ours}", sign("whsec_old", now, body));
    assert!(v.verify(Some(&rotated), body, now).is_ok());
}
