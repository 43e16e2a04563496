//! `POST /webhooks/stripe` through the router: a correctly signed event is
//! recorded in the audit log; a tampered body, a wrong secret or a missing
//! signature is refused with `invalid_signature`, and nothing is recorded.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hmac::{KeyInit, Mac};
use std::sync::Arc;
use tower::ServiceExt;
use walkout::config::Secret;
use walkout::db::{ConnectOptions, SqlStore, Storage};
use walkout::http::{AppState, app};
use walkout::payments::WebhookVerifier;
use walkout::telemetry::Metrics;

fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

async fn post(router: &axum::Router, header: Option<String>, body: &str) -> StatusCode {
    let mut req = Request::post("/webhooks/stripe").header("content-type", "application/json");
    if let Some(h) = header {
        req = req.header("stripe-signature", h);
    }
    router.clone().oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap().status()
}

#[tokio::test]
async fn only_signed_stripe_events_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(
        SqlStore::connect(&ConnectOptions::new(format!("sqlite://{}/w.db", dir.path().display()))).await.unwrap(),
    );
    let mut state = AppState::new(storage.clone(), Arc::new(Metrics::default()), "sqlite");
    state.stripe_webhooks = Some(Arc::new(WebhookVerifier::new(Secret::new("whsec_test"))));
    let router = app(state);
    let body =
        r#"{"id":"evt_1","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_123"}}}"#;
    let now = walkout::now_ms() / 1000;
    assert_eq!(post(&router, Some(signature("whsec_test", now, body)), body).await, StatusCode::OK);
    let tampered = body.replace("pi_123", "pi_999");
    assert_eq!(post(&router, Some(signature("whsec_test", now, body)), &tampered).await, StatusCode::BAD_REQUEST);
    assert_eq!(post(&router, Some(signature("whsec_other", now, body)), body).await, StatusCode::BAD_REQUEST);
    assert_eq!(post(&router, Some(signature("whsec_test", now - 3_600, body)), body).await, StatusCode::BAD_REQUEST);
    assert_eq!(post(&router, None, body).await, StatusCode::BAD_REQUEST);
    let recorded = storage.audit_for_subject("stripe:pi_123").await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].action, "payment_intent.succeeded");
    assert!(storage.audit_for_subject("stripe:pi_999").await.unwrap().is_empty());
}
