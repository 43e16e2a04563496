//! The whole visit through the public API, with the real components: sign up
//! and add a sandbox card over HTTP, register the phone's Ed25519 key, draw a
//! token, scan it at the gate (the sandbox provider places the hold), feed
//! picks to the ledger (until fusion lands), exit. The captured amount equals
//! the priced total; a real SMTP server (aiosmtpd) receives the receipt, and
//! a local push endpoint, holding the browser's keys, decrypts the push.
//! A second visit whose cart holds an age-restricted item goes to review
//! instead, and no money is captured for it.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use support::http::call;
use walkout::catalog::Catalog;
use walkout::config::NotifyConfig;
use walkout::db::{CartEventKind, ConnectOptions, NewCartEvent, PushSubscription, SqlStore, Storage};
use walkout::http::{AppState, app};
use walkout::ids::{ShopperId, Sku, StoreId, TrackId, VisitId};
use walkout::notify::{Notifier, OutboxWorker, SmtpMailer, VapidKey, WebPushSender, parse_mailbox};
use walkout::payments::{PaymentService, SandboxProvider, SystemClock};
use walkout::telemetry::Metrics;
use walkout::visit::client::DeviceKey;
use walkout::visit::exit::{Exit, ExitOutcome};
use walkout::visit::gate::{Gate, GateTracks};
use walkout::visit::hold::PaymentHolds;

struct TrackAtGate;

#[async_trait::async_trait]
impl GateTracks for TrackAtGate {
    async fn track_at_gate(&self, _gate: &str, _at_ms: i64) -> Option<TrackId> {
        Some(TrackId::from("track-1"))
    }
}

/// A push service endpoint on loopback that keeps what it receives.
async fn push_endpoint() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    let router = axum::Router::new().route(
        "/push/{id}",
        axum::routing::post(move |body: axum::body::Bytes| {
            let keep = keep.clone();
            async move {
                keep.lock().unwrap().push(body.to_vec());
                StatusCode::CREATED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push/phone-1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, received)
}

fn pick(visit: &VisitId, n: usize, sku: &str, quantity: i64, kind: CartEventKind) -> NewCartEvent {
    NewCartEvent {
        id: format!("{visit}-{n}"),
        store_id: StoreId::from("demo-store"),
        visit_id: Some(visit.clone()),
        kind,
        sku: Sku::from(sku),
        quantity,
        confidence: 0.99,
        source: "test".into(),
        evidence_ref: None,
        shopper_id: None,
        track_id: Some("track-1".into()),
        at: walkout::now_ms(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_from_sign_up_to_receipt_by_email_and_push() {
    let Some(python) = support::smtp::python_or_skip("a_visit_from_sign_up_to_receipt_by_email_and_push") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let smtp = support::smtp::SmtpServer::start(&python, support::smtp::free_port(), dir.path()).await;
    let smtp_port = smtp_port_of(&smtp);
    let storage = Arc::new(
        SqlStore::connect(&ConnectOptions::new(format!("sqlite://{}/w.db", dir.path().display()))).await.unwrap(),
    );
    let catalog =
        Catalog::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store")).unwrap();
    catalog.install(&*storage, 1).await.unwrap();
    let sandbox = Arc::new(SandboxProvider::open(dir.path().join("sandbox.db"), Arc::new(SystemClock)).await.unwrap());
    let payments = Arc::new(PaymentService::new(storage.clone(), sandbox.clone(), Arc::new(SystemClock)));
    let gate = Gate {
        storage: storage.clone(),
        store: StoreId::from("demo-store"),
        payments: Arc::new(PaymentHolds {
            storage: storage.clone(),
            payments: payments.clone(),
            per_person_minor: 5_000,
            currency: catalog.currency,
        }),
        tracks: Arc::new(TrackAtGate),
        skew_s: 5,
    };
    let mut state = AppState::new(storage.clone(), Arc::new(Metrics::default()), "sqlite");
    state.gate = Some(Arc::new(gate));
    state.payments = Some(payments.clone());
    state.auto_refund_max_minor = 100;
    let router = app(state);
    let notify_config = NotifyConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port,
        smtp_tls: "none".into(),
        from: "Walkout Demo Market <receipts@walkout.test>".into(),
        ..NotifyConfig::default()
    };
    let push = WebPushSender::new(VapidKey::generate(), "mailto:ops@walkout.test").unwrap().allow_http(true);
    let worker = OutboxWorker::new(
        storage.clone(),
        Arc::new(SmtpMailer::new(&notify_config).unwrap()),
        Arc::new(push),
        parse_mailbox(&notify_config.from).unwrap(),
    );
    let exit = Exit {
        storage: storage.clone(),
        payments: payments.clone(),
        notifier: Notifier::new(storage.clone()),
        rules: catalog.pricing.clone().unwrap(),
        timezone: "Europe/Berlin".into(),
        review_below_confidence: 0.9,
    };

    // The shopper: account, sandbox card, phone key, push subscription.
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/accounts",
        None,
        json!({"email": "ana@example.com", "password": "a long enough password", "display_name": "Ana"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let session = body["token"].as_str().unwrap().to_owned();
    let shopper = ShopperId(body["shopper_id"].as_str().unwrap().to_owned());
    let (status, _) = call(
        &router,
        "POST",
        "/api/v1/payment-methods",
        Some(&session),
        json!({"provider_token": "tok_visa", "brand": "visa", "last4": "4242"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = DeviceKey::generate();
    let (_, device) = call(
        &router,
        "POST",
        "/api/v1/devices",
        Some(&session),
        json!({"public_key": key.public_key_b64(), "label": "phone"}),
    )
    .await;
    let device = walkout::ids::DeviceId(device["device_id"].as_str().unwrap().to_owned());
    let browser_key = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let browser_public = browser_key.public_key();
    let auth = [9u8; 16];
    let (endpoint, pushes) = push_endpoint().await;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    storage
        .save_push_subscription(&PushSubscription {
            endpoint,
            shopper_id: shopper.clone(),
            p256dh: b64.encode(p256::Sec1Point::from(&browser_public).as_bytes()),
            auth: b64.encode(auth),
            created_at: 1,
        })
        .await
        .unwrap();

    // Entry: the gate verifies the token and the sandbox places the hold (1 person: 50.00).
    let token = key.draw(&shopper, &device, walkout::now_ms() / 1000, 0);
    let (status, admitted) = call(&router, "POST", "/gates/north/scan", None, json!({"token": token})).await;
    assert_eq!(status, StatusCode::CREATED, "{admitted}");
    let visit = VisitId(admitted["visit_id"].as_str().unwrap().to_owned());

    // Shopping: 4 cola cans (3 for 2 applies), a bottle of water, one can put back.
    for (n, (sku, qty, kind)) in [
        ("DM-0018", 4, CartEventKind::Pick),
        ("DM-0002", 1, CartEventKind::Pick),
        ("DM-0018", 1, CartEventKind::PutBack),
    ]
    .into_iter()
    .enumerate()
    {
        storage.append_cart_event(&pick(&visit, n, sku, qty, kind)).await.unwrap();
    }

    // Exit: priced, captured, receipt issued and queued.
    let ExitOutcome::Charged { receipt, document } = exit.exit(&visit, walkout::now_ms()).await.unwrap() else {
        panic!("the visit should be charged, not reviewed");
    };
    assert_eq!(
        document.cart.lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect::<Vec<_>>(),
        [("DM-0002", 1), ("DM-0018", 3)]
    );
    assert!(document.missing_fields().is_empty(), "{:?}", document.missing_fields());
    let movements = sandbox.movements(visit.as_str()).await.unwrap();
    let captured: i64 = movements.iter().filter(|m| m.kind == "capture").map(|m| m.amount_minor).sum();
    assert_eq!(captured, receipt.total_minor, "{movements:?}");
    assert_eq!(receipt.total_minor, document.cart.total_gross_minor);
    assert_eq!(storage.get_visit(&visit).await.unwrap().unwrap().status, walkout::db::VisitStatus::Settled);
    // A retried exit charges nothing more and returns the same receipt.
    let ExitOutcome::Charged { receipt: again, .. } = exit.exit(&visit, walkout::now_ms()).await.unwrap() else {
        panic!()
    };
    assert_eq!(again.id, receipt.id);
    let captures = sandbox.movements(visit.as_str()).await.unwrap().iter().filter(|m| m.kind == "capture").count();
    assert_eq!(captures, 1);

    // The outbox sends: the SMTP server gets the e-mail, the endpoint the encrypted push.
    let report = worker.run_once(walkout::now_ms()).await.unwrap();
    assert_eq!(report.handled(), 2, "{report:?}");
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let total = document.cart.total_gross().to_string();
    assert!(
        mails[0].contains("ana@example.com") && mails[0].contains(&format!("no. {}", receipt.receipt_no)),
        "{}",
        mails[0]
    );
    let body = pushes.lock().unwrap().pop().expect("a push arrived");
    let plain = walkout::notify::ece::decrypt(&body, &browser_key, &auth).unwrap();
    let message: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(message["total"], total);
    assert_eq!(message["url"], format!("/app/receipts/{}", receipt.id));

    // The receipts API lists it for the shopper.
    let (_, list) = call(&router, "GET", "/api/v1/receipts", Some(&session), Value::Null).await;
    assert_eq!(list[0]["total_minor"], receipt.total_minor);

    // Disputes: the water line (under 1.00) is refunded at once, and a retry
    // of the same dispute refunds nothing more; the cans (1.58) go to review.
    let water = document.cart.lines.iter().find(|l| l.sku.as_str() == "DM-0002").unwrap().line_no;
    let cans = document.cart.lines.iter().find(|l| l.sku.as_str() == "DM-0018").unwrap().line_no;
    let path = format!("/api/v1/receipts/{}/disputes", receipt.id);
    let water_dispute = json!({"request_id": "d-1", "line_no": water, "quantity": 1, "note": "I did not take this"});
    for _ in 0..2 {
        let (status, outcome) = call(&router, "POST", &path, Some(&session), water_dispute.clone()).await;
        assert_eq!((status, outcome["outcome"].as_str()), (StatusCode::OK, Some("refunded")), "{outcome}");
    }
    let refunds: Vec<_> =
        sandbox.movements(visit.as_str()).await.unwrap().into_iter().filter(|m| m.kind == "refund").collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let water_paid = document.cart.lines.iter().find(|l| l.line_no == water).unwrap().gross_minor;
    assert_eq!(refunds[0].amount_minor, water_paid);
    let (status, outcome) =
        call(&router, "POST", &path, Some(&session), json!({"request_id": "d-2", "line_no": cans, "quantity": 3}))
            .await;
    assert_eq!((status, outcome["outcome"].as_str()), (StatusCode::OK, Some("review")), "{outcome}");
    let (status, _) =
        call(&router, "POST", &path, Some(&session), json!({"request_id": "d-3", "line_no": water, "quantity": 1}))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the water was refunded already");

    // A second visit with beer goes to review: nothing is captured.
    let token = key.draw(&shopper, &device, walkout::now_ms() / 1000, 0);
    let (_, admitted) = call(&router, "POST", "/gates/north/scan", None, json!({"token": token})).await;
    let visit2 = VisitId(admitted["visit_id"].as_str().unwrap().to_owned());
    let beer = catalog.products.values().find(|p| p.age_restricted).unwrap().sku.clone();
    storage.append_cart_event(&pick(&visit2, 0, beer.as_str(), 1, CartEventKind::Pick)).await.unwrap();
    match exit.exit(&visit2, walkout::now_ms()).await.unwrap() {
        ExitOutcome::Review { reasons, .. } => {
            assert!(reasons.iter().any(|r| r.starts_with("age_restricted")), "{reasons:?}")
        }
        other => panic!("expected review, got {other:?}"),
    }
    assert!(sandbox.movements(visit2.as_str()).await.unwrap().iter().all(|m| m.kind != "capture"));
}

fn smtp_port_of(server: &support::smtp::SmtpServer) -> u16 {
    server.port
}
