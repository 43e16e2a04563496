//! Entry through the public HTTP API (`oneshot`, no socket): sign-up, login,
//! a payment method (never a card number), a device key, then the gate:
//! a fresh token opens a visit once; replayed, expired, forged, unknown-device
//! and revoked-device tokens are refused with distinct codes; two gate
//! processes sharing the database accept a token once.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use support::http::call;
use walkout::db::{ConnectOptions, SqlStore, Storage};
use walkout::http::{AppState, app};
use walkout::ids::{ShopperId, StoreId, TrackId, VisitId};
use walkout::telemetry::Metrics;
use walkout::visit::client::DeviceKey;
use walkout::visit::gate::{Gate, GateTracks, HoldRefused, PreAuthoriser};

/// Records holds; refuses accounts listed in `refuse`.
#[derive(Default)]
struct Holds {
    placed: Mutex<Vec<(VisitId, i64)>>,
    refuse: Mutex<Vec<ShopperId>>,
}

#[async_trait::async_trait]
impl PreAuthoriser for Holds {
    async fn hold(&self, visit: &VisitId, shopper: &ShopperId, party: i64) -> Result<(), HoldRefused> {
        if self.refuse.lock().unwrap().contains(shopper) {
            return Err(HoldRefused { code: "card_declined" });
        }
        self.placed.lock().unwrap().push((visit.clone(), party));
        Ok(())
    }
}

/// The vision tracker's stand-in: one track waits in the gate zone.
struct OneTrack;

#[async_trait::async_trait]
impl GateTracks for OneTrack {
    async fn track_at_gate(&self, _gate: &str, _at_ms: i64) -> Option<TrackId> {
        Some(TrackId::from("track-at-gate"))
    }
}

struct Shop {
    storage: Arc<SqlStore>,
    holds: Arc<Holds>,
    _dir: tempfile::TempDir,
}

impl Shop {
    async fn open() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/entry.db", dir.path().display());
        let storage = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap());
        let catalog = walkout::catalog::Catalog::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store"),
        )
        .unwrap();
        catalog.install(&*storage, 1).await.unwrap();
        Self { storage, holds: Arc::new(Holds::default()), _dir: dir }
    }

    /// One gate process: its own router and gate over the shared database.
    fn gate_process(&self) -> axum::Router {
        let gate = Gate {
            storage: self.storage.clone(),
            store: StoreId::from("demo-store"),
            payments: self.holds.clone(),
            tracks: Arc::new(OneTrack),
            skew_s: 5,
        };
        let mut state = AppState::new(self.storage.clone(), Arc::new(Metrics::default()), "sqlite");
        state.gate = Some(Arc::new(gate));
        app(state)
    }
}

struct Account {
    id: ShopperId,
    session: String,
    device_id: walkout::ids::DeviceId,
    key: DeviceKey,
}

async fn sign_up_with_device(router: &axum::Router, email: &str) -> Account {
    let (status, body) = call(
        router,
        "POST",
        "/api/v1/accounts",
        None,
        json!({"email": email, "password": "a long enough password", "display_name": "Ada"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let session = body["token"].as_str().unwrap().to_owned();
    let id = ShopperId(body["shopper_id"].as_str().unwrap().to_owned());
    let (status, _) = call(
        router,
        "POST",
        "/api/v1/payment-methods",
        Some(&session),
        json!({"provider_token": "tok_visa", "brand": "Visa", "last4": "4242"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = DeviceKey::generate();
    let (status, body) = call(
        router,
        "POST",
        "/api/v1/devices",
        Some(&session),
        json!({"public_key": key.public_key_b64(), "label": "phone"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let device_id = walkout::ids::DeviceId(body["device_id"].as_str().unwrap().to_owned());
    Account { id, session, device_id, key }
}

fn now_s() -> i64 {
    walkout::now_ms() / 1000
}

async fn scan(router: &axum::Router, token: &str) -> (StatusCode, Value) {
    call(router, "POST", "/gates/north/scan", None, json!({"token": token})).await
}

#[tokio::test]
async fn accounts_sign_up_log_in_and_keep_card_data_out() {
    let shop = Shop::open().await;
    let router = shop.gate_process();
    let a = sign_up_with_device(&router, "Ada@Example.com").await;
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/accounts",
        None,
        json!({"email": "ada@example.com", "password": "another long password", "display_name": "Ada 2"}),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("email_taken")));
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/sessions",
        None,
        json!({"email": "ada@example.com", "password": "wrong password!"}),
    )
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    let (status, body) = call(
        &router,
        "POST",
        "/api/v1/sessions",
        None,
        json!({"email": "ada@example.com", "password": "a long enough password"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, me) = call(&router, "GET", "/api/v1/me", body["token"].as_str(), Value::Null).await;
    assert_eq!((status, me["shopper_id"].as_str()), (StatusCode::OK, Some(a.id.as_str())));
    // Card data is refused: a number-like token, an extra field, a long last4.
    for bad in [
        json!({"provider_token": "4242424242424242", "brand": "visa", "last4": "4242"}),
        json!({"provider_token": "tok_x", "brand": "visa", "last4": "4242", "card_number": "4242424242424242"}),
        json!({"provider_token": "tok_x", "brand": "visa", "last4": "424242"}),
    ] {
        let (status, _) = call(&router, "POST", "/api/v1/payment-methods", Some(&a.session), bad).await;
        assert!(status.is_client_error(), "{status}");
    }
    let (_, methods) = call(&router, "GET", "/api/v1/payment-methods", Some(&a.session), Value::Null).await;
    assert_eq!(methods.as_array().unwrap().len(), 1);
    assert_eq!(methods[0]["last4"], "4242");
    let (status, _) = call(&router, "GET", "/api/v1/me", Some("not-a-session"), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&router, "DELETE", "/api/v1/sessions", Some(&a.session), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&router, "GET", "/api/v1/me", Some(&a.session), Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a logged-out session is gone");
}

#[tokio::test]
async fn a_fresh_token_opens_one_visit_and_bad_tokens_get_distinct_codes() {
    let shop = Shop::open().await;
    let router = shop.gate_process();
    let a = sign_up_with_device(&router, "bea@example.com").await;
    let token = a.key.draw(&a.id, &a.device_id, now_s(), 2);
    let (status, body) = scan(&router, &token).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["party_size"].as_i64(), body["track_id"].as_str()), (Some(3), Some("track-at-gate")));
    let visit = shop.storage.get_visit(&VisitId(body["visit_id"].as_str().unwrap().to_owned())).await.unwrap().unwrap();
    assert_eq!((visit.shopper_id, visit.party_size), (a.id.clone(), 3));
    assert_eq!(shop.holds.placed.lock().unwrap().len(), 1);

    let expect = async |token: &str, status: StatusCode, code: &str| {
        let (s, body) = scan(&router, token).await;
        assert_eq!((s, body["error"]["code"].as_str()), (status, Some(code)), "{body}");
    };
    expect(&token, StatusCode::CONFLICT, "token_replayed").await;
    expect(&a.key.draw(&a.id, &a.device_id, now_s() - 120, 0), StatusCode::UNAUTHORIZED, "token_expired").await;
    expect(&a.key.draw(&a.id, &a.device_id, now_s() + 120, 0), StatusCode::UNAUTHORIZED, "token_not_yet_valid").await;
    expect(&DeviceKey::generate().draw(&a.id, &a.device_id, now_s(), 0), StatusCode::UNAUTHORIZED, "token_forged")
        .await;
    expect(
        &a.key.draw(&a.id, &walkout::ids::DeviceId::from("nope"), now_s(), 0),
        StatusCode::UNAUTHORIZED,
        "device_unknown",
    )
    .await;
    expect("hello", StatusCode::BAD_REQUEST, "token_malformed").await;
    let b = sign_up_with_device(&router, "cy@example.com").await;
    expect(&a.key.draw(&b.id, &a.device_id, now_s(), 0), StatusCode::UNAUTHORIZED, "token_forged").await;

    let (status, _) =
        call(&router, "DELETE", &format!("/api/v1/devices/{}", a.device_id), Some(&b.session), Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "one cannot revoke another account's device");
    let (status, _) =
        call(&router, "DELETE", &format!("/api/v1/devices/{}", a.device_id), Some(&a.session), Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    expect(&a.key.draw(&a.id, &a.device_id, now_s(), 0), StatusCode::FORBIDDEN, "device_revoked").await;

    shop.holds.refuse.lock().unwrap().push(b.id.clone());
    expect(&b.key.draw(&b.id, &b.device_id, now_s(), 0), StatusCode::PAYMENT_REQUIRED, "card_declined").await;
    assert_eq!(shop.holds.placed.lock().unwrap().len(), 1, "no other hold was placed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_gate_processes_accept_a_token_once() {
    let shop = Shop::open().await;
    let (north, south) = (shop.gate_process(), shop.gate_process());
    let a = sign_up_with_device(&north, "dee@example.com").await;
    let token = a.key.draw(&a.id, &a.device_id, now_s(), 0);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let router = if i % 2 == 0 { north.clone() } else { south.clone() };
            let token = token.clone();
            tokio::spawn(async move { scan(&router, &token).await.0 })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(status == StatusCode::CREATED || status == StatusCode::CONFLICT, "{status}");
        admitted += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(admitted, 1);
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let shop = Shop::open().await;
    let router = shop.gate_process();
    let (status, doc) = call(&router, "GET", "/openapi.json", None, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for walkout::app::openapi::Operation { method, path, .. } in walkout::app::openapi::OPERATIONS {
        assert!(doc["paths"][*path][*method].is_object(), "{method} {path} missing from the document");
        let concrete = path.replace("{id}", "x").replace("{gate}", "g");
        let (status, _) = call(&router, &method.to_uppercase(), &concrete, None, json!({})).await;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
    }
}
