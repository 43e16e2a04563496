//! The HTTP surface through `walkout::http::app`, driven with `oneshot`
//! (no socket): health, metrics, and the error shape for unknown routes.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;
use walkout::db::{ConnectOptions, SqlStore};
use walkout::http::{AppState, app};
use walkout::telemetry::Metrics;

async fn state_with_store() -> (AppState, Arc<SqlStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/w.db", dir.path().display());
    let storage = Arc::new(SqlStore::connect(&ConnectOptions::new(url)).await.unwrap());
    let state = AppState::new(storage.clone(), Arc::new(Metrics::default()), storage.backend());
    (state, storage, dir)
}

async fn state() -> (AppState, tempfile::TempDir) {
    let (state, _, dir) = state_with_store().await;
    (state, dir)
}

async fn get(router: axum::Router, path: &str) -> (StatusCode, String) {
    let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn healthz_reports_the_database_and_schema() {
    let (state, _dir) = state().await;
    let (status, body) = get(app(state), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["database"], "sqlite");
    assert!(json["schema_version"].as_i64().unwrap() >= 1);
}

#[tokio::test]
async fn healthz_is_unavailable_when_the_database_is_gone() {
    let (state, storage, _dir) = state_with_store().await;
    // A closed pool fails every later query, as a lost database would.
    storage.close().await;
    let (status, body) = get(app(state), "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("\"code\":\"unavailable\""), "{body}");
    assert!(!body.contains("pool"), "internals are not sent: {body}");
}

#[tokio::test]
async fn metrics_count_requests_in_prometheus_text() {
    let (state, _dir) = state().await;
    let router = app(state);
    get(router.clone(), "/healthz").await;
    get(router.clone(), "/nowhere").await;
    let (status, body) = get(router, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("walkout_http_requests_total{route=\"/healthz\",status=\"200\"} 1"), "{body}");
    assert!(body.contains("route=\"unmatched\",status=\"404\""), "{body}");
}
