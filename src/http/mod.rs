//! HTTP: router assembly ([`app`]), the shared [`AppState`], one
//! [`ApiError`] with stable machine-readable codes, and the service's own
//! endpoints (`/healthz`, `/metrics`). Internals are logged, never sent.

mod error;

pub use error::ApiError;

use crate::db::Storage;
use crate::telemetry::{HttpLabels, Metrics};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub metrics: Arc<Metrics>,
    /// `sqlite` or `postgres`, for `/healthz`.
    pub backend: &'static str,
    /// The payment provider new payment methods belong to (`sandbox`, `stripe`).
    pub payment_provider: &'static str,
    /// The entry gate; `None` answers gate scans with 503.
    pub gate: Option<Arc<crate::visit::gate::Gate>>,
    /// VAPID public key (base64url) for the app's push subscriptions.
    pub vapid_public_key: Option<String>,
    /// Refunds for disputes; `None` answers them with 503.
    pub payments: Option<Arc<crate::payments::PaymentService>>,
    /// Disputes up to this amount (minor units) are refunded without review.
    pub auto_refund_max_minor: i64,
    /// Verifies Stripe's webhook signatures; `None` answers them with 503.
    pub stripe_webhooks: Option<Arc<crate::payments::WebhookVerifier>>,
    /// The staff console (`/console/`); `None` answers its pages with 503.
    pub console: Option<Arc<crate::review::Console>>,
}

impl AppState {
    /// Storage and metrics only: health, metrics and accounts work; gates answer 503.
    pub fn new(storage: Arc<dyn Storage>, metrics: Arc<Metrics>, backend: &'static str) -> Self {
        Self {
            storage,
            metrics,
            backend,
            payment_provider: "sandbox",
            gate: None,
            vapid_public_key: None,
            payments: None,
            auto_refund_max_minor: 0,
            stripe_webhooks: None,
            console: None,
        }
    }
}

/// The whole HTTP surface; tests drive it with `oneshot`, `serve` binds it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(crate::app::routes())
        .merge(crate::review::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state)
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    state.metrics.http_requests.get_or_create(&HttpLabels { route, status: response.status().as_u16() }).inc();
    response
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let schema = state.storage.schema_version().await.map_err(|e| ApiError::unavailable("database", e))?;
    Ok(Json(serde_json::json!({ "status": "ok", "database": state.backend, "schema_version": schema })))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(),
    )
}
