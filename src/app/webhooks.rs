//! `POST /webhooks/stripe`: Stripe's event notifications. The raw body is
//! verified against the `Stripe-Signature` header (HMAC-SHA256 with the
//! endpoint's secret, timestamp within tolerance) before anything is read;
//! a verified event is recorded in the audit log under its payment
//! reference. Money is never moved from here: captures and refunds are
//! driven by walkout itself, idempotently, and the events only confirm them.

use crate::http::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

pub async fn stripe(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<StatusCode, ApiError> {
    let verifier = state
        .stripe_webhooks
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("stripe webhooks", "no webhook secret set"))?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let event = verifier.verify(signature, &body, crate::now_ms() / 1000).map_err(|e| {
        tracing::warn!(error = %e, "stripe webhook refused");
        ApiError::bad_request("invalid_signature", e.to_string())
    })?;
    let reference = event.data.object["id"].as_str().unwrap_or("unknown").to_owned();
    let detail = serde_json::json!({"event": event.id, "type": event.kind, "created": event.created});
    state
        .storage
        .append_audit(crate::now_ms(), "stripe", &event.kind, &format!("stripe:{reference}"), &detail.to_string())
        .await
        .map_err(|e| ApiError::unavailable("database", e))?;
    tracing::info!(event = %event.id, kind = %event.kind, %reference, "stripe webhook recorded");
    Ok(StatusCode::OK)
}
