//! Web Push end to end through the outbox: a local push endpoint (axum on
//! 127.0.0.1:0) plays the browser and its push service. It holds the
//! subscription's private key and auth secret, verifies the VAPID JWT with
//! the key in the `Authorization` header, decrypts the `aes128gcm` body with
//! its own RFC 8291 code (plain HMAC-SHA256, not the module's HKDF; checked
//! against the RFC's worked example first) and checks the JSON payload. It
//! can also answer 410 (the subscription is deleted) or 503 (retried later).

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit, Nonce};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{NaiveDate, TimeZone, Utc};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use walkout::checkout::*;
use walkout::db::{ConnectOptions, PushSubscription, Shopper, SqlStore, Storage};
use walkout::ids::ShopperId;
use walkout::money::{Currency, Money};
use walkout::notify::{MemoryMailer, OutboxState, OutboxWorker, VapidKey, WebPushSender, parse_mailbox, push_id};

const SUBJECT: &str = "mailto:operations@walkout.test";

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn uncompressed(key: &PublicKey) -> Vec<u8> {
    p256::Sec1Point::from(key).as_bytes().to_vec()
}

/// The browser's side of RFC 8291 / RFC 8188 for one record, written out
/// with HMAC (HKDF-Expand of at most 32 octets is one HMAC over info || 0x01).
fn browser_decrypt(ua: &SecretKey, auth: &[u8], body: &[u8]) -> Result<Vec<u8>, String> {
    if body.len() < 86 + 17 {
        return Err("short body".into());
    }
    let (salt, rs, idlen) = (&body[..16], u32::from_be_bytes(body[16..20].try_into().unwrap()), body[20]);
    if rs != 4096 || idlen != 65 {
        return Err(format!("header: rs {rs}, idlen {idlen}"));
    }
    let as_key = PublicKey::from_sec1_bytes(&body[21..86]).map_err(|e| e.to_string())?;
    let ecdh = p256::ecdh::diffie_hellman(ua.to_nonzero_scalar(), as_key.as_affine());
    let prk_key = hmac_sha256(auth, &[ecdh.raw_secret_bytes().as_slice()]);
    let ikm = hmac_sha256(&prk_key, &[b"WebPush: info\0", &uncompressed(&ua.public_key()), &body[21..86], &[1]]);
    let prk = hmac_sha256(salt, &[&ikm]);
    let cek = hmac_sha256(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
    let nonce = hmac_sha256(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
    let cipher = Aes128Gcm::new_from_slice(&cek[..16]).unwrap();
    let nonce: [u8; 12] = nonce[..12].try_into().unwrap();
    let mut plain =
        cipher.decrypt(&Nonce::<Aes128Gcm>::from(nonce), &body[86..]).map_err(|_| "AES-GCM tag mismatch".to_owned())?;
    while plain.last() == Some(&0) {
        plain.pop();
    }
    match plain.pop() {
        Some(2) => Ok(plain),
        other => Err(format!("padding delimiter {other:?}")),
    }
}

#[test]
fn the_browser_side_decrypts_the_rfc_8291_example() {
    let ua = SecretKey::from_slice(&b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")).unwrap();
    let body = b64(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
    );
    let plain = browser_decrypt(&ua, &b64("BTBZMqHH6r4Tts7J_aSIgg"), &body).unwrap();
    assert_eq!(plain, b"When I grow up, I want to be a watermelon");
}

/// What the push endpoint got and checked.
#[derive(Debug)]
struct Delivery {
    path: String,
    ttl: String,
    urgency: String,
    payload: serde_json::Value,
}

/// The browser: its subscription keys, the VAPID key it was subscribed
/// with, the statuses to answer with (then 201), and what it received.
struct Browser {
    ua: SecretKey,
    auth: [u8; 16],
    application_server_key: String,
    origin: Mutex<String>,
    statuses: Mutex<VecDeque<u16>>,
    deliveries: Mutex<Vec<Delivery>>,
    problems: Mutex<Vec<String>>,
}

impl Browser {
    /// Checks the VAPID header: the key is the one subscribed with, the JWT
    /// verifies with it, and its claims are the endpoint's origin, a near
    /// expiry and the configured contact.
    fn check_vapid(&self, headers: &HeaderMap) -> Result<(), String> {
        let value = headers.get("authorization").ok_or("no Authorization")?.to_str().map_err(|e| e.to_string())?;
        let (t, k) = value.strip_prefix("vapid t=").and_then(|r| r.split_once(", k=")).ok_or("not `vapid t=, k=`")?;
        if k != self.application_server_key {
            return Err(format!("k={k} is not the applicationServerKey"));
        }
        let key = VerifyingKey::from_sec1_bytes(&b64(k)).map_err(|e| e.to_string())?;
        let (signed, signature) = t.rsplit_once('.').ok_or("JWT without signature")?;
        let signature = Signature::from_slice(&b64(signature)).map_err(|e| e.to_string())?;
        key.verify(signed.as_bytes(), &signature).map_err(|_| "JWT signature does not verify")?;
        let (header, claims) = signed.split_once('.').ok_or("JWT without claims")?;
        let header: serde_json::Value = serde_json::from_slice(&b64(header)).map_err(|e| e.to_string())?;
        let claims: serde_json::Value = serde_json::from_slice(&b64(claims)).map_err(|e| e.to_string())?;
        let now = Utc::now().timestamp();
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if header["alg"] != "ES256" || claims["sub"] != SUBJECT || claims["aud"] != *self.origin.lock().unwrap() {
            return Err(format!("JWT header {header} claims {claims}"));
        }
        if exp <= now || exp > now + 24 * 3600 {
            return Err(format!("exp {exp} not within 24 h of {now}"));
        }
        Ok(())
    }

    fn receive(&self, path: String, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if header("content-encoding").as_deref() != Some("aes128gcm") {
            return Err("Content-Encoding is not aes128gcm".into());
        }
        self.check_vapid(headers)?;
        let plain = browser_decrypt(&self.ua, &self.auth, body)?;
        let payload = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
        let ttl = header("ttl").ok_or("no TTL")?;
        let urgency = header("urgency").ok_or("no Urgency")?;
        self.deliveries.lock().unwrap().push(Delivery { path, ttl, urgency, payload });
        Ok(())
    }
}

async fn push_endpoint(
    State(browser): State<Arc<Browser>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if let Err(problem) = browser.receive(format!("/push/{id}"), &headers, &body) {
        browser.problems.lock().unwrap().push(problem);
        return StatusCode::BAD_REQUEST;
    }
    let status = browser.statuses.lock().unwrap().pop_front().unwrap_or(201);
    StatusCode::from_u16(status).unwrap()
}

/// A store with one shopper and one subscription pointing at a running push
/// endpoint, and a worker whose push sender is the real one.
struct Setup {
    storage: Arc<SqlStore>,
    worker: OutboxWorker,
    browser: Arc<Browser>,
    subscription: PushSubscription,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/walkout.db", dir.path().display());
    let storage = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap());
    let vapid = VapidKey::load_or_create(&dir.path().join("vapid.pem")).unwrap();
    let ua = SecretKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
    let browser = Arc::new(Browser {
        ua: ua.clone(),
        auth: rand::random(),
        application_server_key: vapid.public_key_b64().to_owned(),
        origin: Mutex::new(String::new()),
        statuses: Mutex::default(),
        deliveries: Mutex::default(),
        problems: Mutex::default(),
    });
    let app = axum::Router::new().route("/push/{id}", axum::routing::post(push_endpoint)).with_state(browser.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    *browser.origin.lock().unwrap() = origin.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let shopper = Shopper {
        id: ShopperId::from("ana"),
        email: "ana@example.com".into(),
        display_name: "Ana".into(),
        password_hash: "$argon2id$test".into(),
        loyalty_points: 0,
        created_at: 0,
    };
    storage.create_shopper(&shopper).await.unwrap();
    let subscription = PushSubscription {
        endpoint: format!("{origin}/push/sub-1"),
        shopper_id: shopper.id,
        p256dh: URL_SAFE_NO_PAD.encode(uncompressed(&ua.public_key())),
        auth: URL_SAFE_NO_PAD.encode(browser.auth),
        created_at: 0,
    };
    storage.save_push_subscription(&subscription).await.unwrap();

    let push = WebPushSender::new(vapid, SUBJECT).unwrap().allow_http(true);
    let from = parse_mailbox("receipts@walkout.test").unwrap();
    let worker = OutboxWorker::new(storage.clone(), Arc::new(MemoryMailer::default()), Arc::new(push), from);
    Setup { storage, worker, browser, subscription, _dir: dir }
}

fn receipt() -> Receipt {
    let rules = PricingRules {
        currency: Currency::EUR,
        tax_mode: TaxMode::Inclusive,
        tax_table: TaxTable::germany(),
        promotions: vec![],
        loyalty: None,
    };
    let cola = CartLine {
        sku: "DM-0005".into(),
        name: "Cola 1.5 l".into(),
        quantity: 2,
        unit_price: Money::parse("1.29", Currency::EUR).unwrap(),
        tax_class: "standard".into(),
    };
    let cart = price_cart(&rules, &[cola], NaiveDate::from_ymd_opt(2024, 5, 3).unwrap(), 0).unwrap();
    let seller =
        Seller { name: "Walkout Demo Market".into(), address: "Berlin".into(), vat_number: "DE123456789".into() };
    let visa = Some(PaymentSummary { brand: "VISA".into(), last4: "4242".into() });
    Receipt::sale(7, Utc.with_ymd_and_hms(2024, 5, 3, 10, 21, 7).unwrap(), "Europe/Berlin", seller, visa, cart)
}

async fn enqueue(s: &Setup, now: i64) -> String {
    let notifier = walkout::notify::Notifier::new(s.storage.clone());
    let done = notifier.enqueue_receipt("r-7", &receipt(), None, std::slice::from_ref(&s.subscription), now).await;
    assert_eq!(done.unwrap().queued, vec![push_id("r-7", &s.subscription.endpoint)]);
    push_id("r-7", &s.subscription.endpoint)
}

#[tokio::test]
async fn a_receipt_push_arrives_signed_and_decryptable() {
    let s = setup().await;
    let now = walkout::now_ms();
    let id = enqueue(&s, now).await;
    assert!(s.browser.deliveries.lock().unwrap().is_empty(), "enqueueing never sends");
    let report = s.worker.run_once(now).await.unwrap();
    assert_eq!(*s.browser.problems.lock().unwrap(), Vec::<String>::new());
    assert_eq!((report.sent, report.retrying, report.gave_up), (1, 0, 0));

    let d = {
        let mut deliveries = s.browser.deliveries.lock().unwrap();
        assert_eq!(deliveries.len(), 1);
        deliveries.remove(0)
    };
    assert_eq!((d.path.as_str(), d.ttl.as_str(), d.urgency.as_str()), ("/push/sub-1", "86400", "normal"));
    assert_eq!(
        d.payload,
        serde_json::json!({
            "title": "Your receipt from Walkout Demo Market",
            "body": "Receipt no. 7: 2.58 EUR",
            "url": "/app/receipts/r-7",
            "total": "2.58 EUR",
        })
    );
    let m = s.storage.get_outbox(&id).await.unwrap().unwrap();
    assert_eq!((OutboxState::of(&m), m.attempts), (OutboxState::Sent, 1));
}

#[tokio::test]
async fn a_gone_subscription_is_deleted_and_not_retried() {
    let s = setup().await;
    let now = walkout::now_ms();
    let id = enqueue(&s, now).await;
    s.browser.statuses.lock().unwrap().push_back(410);
    assert_eq!(s.worker.run_once(now).await.unwrap().gave_up, 1);
    assert_eq!(*s.browser.problems.lock().unwrap(), Vec::<String>::new());
    assert!(s.storage.push_subscriptions(&s.subscription.shopper_id).await.unwrap().is_empty());
    let m = s.storage.get_outbox(&id).await.unwrap().unwrap();
    assert_eq!(OutboxState::of(&m), OutboxState::GaveUp);
    assert!(m.last_error.unwrap().contains("HTTP 410"));
    assert_eq!(s.worker.run_once(now + 86_400_000).await.unwrap().handled(), 0);
}

#[tokio::test]
async fn an_unavailable_push_service_is_retried_after_the_backoff() {
    let s = setup().await;
    let now = walkout::now_ms();
    let id = enqueue(&s, now).await;
    s.browser.statuses.lock().unwrap().push_back(503);
    assert_eq!(s.worker.run_once(now).await.unwrap().retrying, 1);
    let m = s.storage.get_outbox(&id).await.unwrap().unwrap();
    assert_eq!((OutboxState::of(&m), m.attempts, m.next_attempt_at), (OutboxState::Pending, 1, now + 10_000));
    assert_eq!(m.last_error.as_deref(), Some("push service answered HTTP 503"));
    assert_eq!(s.storage.push_subscriptions(&s.subscription.shopper_id).await.unwrap().len(), 1);
    assert_eq!(s.worker.run_once(now + 9_999).await.unwrap().handled(), 0);

    assert_eq!(s.worker.run_once(now + 10_000).await.unwrap().sent, 1);
    assert_eq!(*s.browser.problems.lock().unwrap(), Vec::<String>::new());
    let deliveries = std::mem::take(&mut *s.browser.deliveries.lock().unwrap());
    assert_eq!(deliveries.len(), 2, "the 503 attempt and the successful one");
    assert_eq!(deliveries[0].payload, deliveries[1].payload);
    let m = s.storage.get_outbox(&id).await.unwrap().unwrap();
    assert_eq!((OutboxState::of(&m), m.attempts, m.last_error), (OutboxState::Sent, 2, None));
}
