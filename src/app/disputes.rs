//! Disputes: a shopper says "I did not take this" about a receipt line.
//! Small amounts (up to `payments.auto_refund_max_minor`) are refunded at
//! once, with a credit note that mirrors the disputed units; larger ones open
//! a review case for staff. The app sends a `request_id` per dispute, so a
//! double submit returns the first outcome instead of refunding twice; the
//! outcome and the credit note are kept in the audit log of the receipt.

use super::auth::Shopper;
use crate::checkout::{Receipt as ReceiptDoc, RefundItem, RefundRequest, refund_after};
use crate::db::{DbError, ReviewCase};
use crate::http::{ApiError, AppState};
use crate::ids::CaseId;
use crate::money::Money;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDispute {
    /// Chosen by the app, unique per dispute (a UUID): makes retries safe.
    pub request_id: String,
    /// The receipt line (`line_no` of the document).
    pub line_no: u32,
    pub quantity: u32,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DisputeOutcome {
    Refunded { amount_minor: i64, currency: String },
    Review { case_id: CaseId },
}

fn db(e: DbError) -> ApiError {
    ApiError::unavailable("database", e)
}

pub async fn dispute(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Path(receipt_id): Path<String>,
    Json(req): Json<NewDispute>,
) -> Result<Json<DisputeOutcome>, ApiError> {
    if req.request_id.is_empty() || req.request_id.len() > 64 || req.quantity == 0 {
        return Err(ApiError::bad_request("invalid_dispute", "give a request_id (1-64 chars) and a quantity >= 1"));
    }
    let receipt = match state.storage.get_receipt(&receipt_id).await.map_err(db)? {
        Some(r) if r.shopper_id == shopper => r,
        _ => return Err(ApiError::not_found("receipt")),
    };
    let subject = format!("receipt:{}", receipt.id);
    let history = state.storage.audit_for_subject(&subject).await.map_err(db)?;
    let detail =
        |e: &crate::db::AuditEntry| serde_json::from_str::<serde_json::Value>(&e.detail_json).unwrap_or_default();
    if let Some(done) = history
        .iter()
        .filter(|e| e.action == "dispute")
        .map(detail)
        .find(|d| d["request_id"] == req.request_id.as_str())
    {
        let outcome = serde_json::from_value(done["outcome"].clone()).map_err(ApiError::internal)?;
        return Ok(Json(outcome));
    }
    let sale: ReceiptDoc = serde_json::from_str(&receipt.body_json).map_err(ApiError::internal)?;
    let previous: Vec<ReceiptDoc> = history
        .iter()
        .filter(|e| e.action == "refund")
        .filter_map(|e| serde_json::from_value(detail(e)["credit_note"].clone()).ok())
        .collect();
    let now = crate::now_ms();
    let request = RefundRequest {
        number: sale.number,
        issued_at: chrono::DateTime::from_timestamp_millis(now).unwrap_or_default(),
        items: vec![RefundItem { line_no: req.line_no, quantity: req.quantity }],
    };
    let credit = refund_after(&sale, &previous, &request)
        .map_err(|e| ApiError::bad_request("invalid_dispute", e.to_string()))?;
    let amount = -credit.cart.total_gross_minor;
    let outcome = if amount <= state.auto_refund_max_minor {
        let payments = state.payments.as_ref().ok_or_else(|| ApiError::unavailable("payments", "not configured"))?;
        let seq = u32::try_from(previous.len() + 1).map_err(ApiError::internal)?;
        let refund = payments
            .refund(&receipt.visit_id, Money::from_minor(amount, credit.cart.currency), seq)
            .await
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, "refund_failed", e.to_string()))?;
        if !refund.is_complete() {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "refund_failed",
                "the payment provider refused the refund",
            ));
        }
        let note = json!({"request_id": req.request_id, "credit_note": credit});
        state.storage.append_audit(now, shopper.as_str(), "refund", &subject, &note.to_string()).await.map_err(db)?;
        DisputeOutcome::Refunded { amount_minor: amount, currency: credit.cart.currency.code().to_owned() }
    } else {
        let case_id = CaseId(format!("dispute-{}-{}", receipt.id, req.request_id));
        let reason = format!(
            "dispute: line {} x{}: {}",
            req.line_no,
            req.quantity,
            req.note.chars().take(500).collect::<String>()
        );
        let visit = state
            .storage
            .get_visit(&receipt.visit_id)
            .await
            .map_err(db)?
            .ok_or_else(|| ApiError::not_found("visit"))?;
        let case = ReviewCase::open(case_id.clone(), receipt.visit_id.clone(), visit.store_id, reason, now);
        match state.storage.open_review_case(&case).await {
            Ok(()) | Err(DbError::Conflict { .. }) => {}
            Err(e) => return Err(db(e)),
        }
        DisputeOutcome::Review { case_id }
    };
    let record =
        json!({"request_id": req.request_id, "line_no": req.line_no, "quantity": req.quantity, "outcome": outcome});
    state.storage.append_audit(now, shopper.as_str(), "dispute", &subject, &record.to_string()).await.map_err(db)?;
    tracing::info!(receipt = %receipt.id, ?outcome, "dispute handled");
    Ok(Json(outcome))
}
