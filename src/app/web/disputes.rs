//! `GET /api/v1/receipts/{id}/disputes`: what became of the shopper's
//! disputes on a receipt, so the app can show the refund or the review's
//! outcome. Read from the receipt's audit log (where [`crate::app::disputes`]
//! records every dispute) and, for reviews, the case's current state.

use crate::app::auth::Shopper;
use crate::app::disputes::DisputeOutcome;
use crate::db::AuditEntry;
use crate::http::{ApiError, AppState};
use crate::ids::CaseId;
use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

/// One dispute and where it stands.
#[derive(Debug, Serialize)]
pub struct DisputeView {
    pub request_id: String,
    pub line_no: u32,
    pub quantity: u32,
    /// When it was made, unix milliseconds.
    pub at: i64,
    pub outcome: OutcomeView,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OutcomeView {
    Refunded {
        amount_minor: i64,
        currency: String,
    },
    /// `status` is the case's: `open`, `claimed` or `decided` (then `decision` and `comment` say how).
    Review {
        case_id: CaseId,
        status: String,
        decision: Option<String>,
        comment: Option<String>,
    },
}

/// The record the dispute handler appends to the receipt's audit log.
#[derive(Deserialize)]
struct Recorded {
    request_id: String,
    line_no: u32,
    quantity: u32,
    outcome: DisputeOutcome,
}

/// The disputes in an audit history, oldest first; records that do not parse are skipped and logged.
fn recorded(history: &[AuditEntry]) -> Vec<(i64, Recorded)> {
    history
        .iter()
        .filter(|e| e.action == "dispute")
        .filter_map(|e| match serde_json::from_str::<Recorded>(&e.detail_json) {
            Ok(r) => Some((e.at, r)),
            Err(error) => {
                tracing::warn!(seq = e.seq, subject = %e.subject, %error, "unreadable dispute record skipped");
                None
            }
        })
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Path(receipt_id): Path<String>,
) -> Result<Json<Vec<DisputeView>>, ApiError> {
    let db = |e| ApiError::unavailable("database", e);
    let receipt = match state.storage.get_receipt(&receipt_id).await.map_err(db)? {
        Some(r) if r.shopper_id == shopper => r,
        _ => return Err(ApiError::not_found("receipt")),
    };
    let history = state.storage.audit_for_subject(&format!("receipt:{}", receipt.id)).await.map_err(db)?;
    let mut views = Vec::new();
    for (at, r) in recorded(&history) {
        let outcome = match r.outcome {
            DisputeOutcome::Refunded { amount_minor, currency } => OutcomeView::Refunded { amount_minor, currency },
            DisputeOutcome::Review { case_id } => {
                let case = state.storage.get_review_case(&case_id).await.map_err(db)?;
                OutcomeView::Review {
                    status: case.as_ref().map_or_else(|| "open".to_owned(), |c| c.status.clone()),
                    decision: case.as_ref().and_then(|c| c.decision.clone()),
                    comment: case.and_then(|c| c.comment),
                    case_id,
                }
            }
        };
        views.push(DisputeView { request_id: r.request_id, line_no: r.line_no, quantity: r.quantity, at, outcome });
    }
    Ok(Json(views))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, action: &str, detail: &str) -> AuditEntry {
        AuditEntry {
            seq,
            at: seq * 1000,
            actor: "s".into(),
            action: action.into(),
            subject: "receipt:r".into(),
            detail_json: detail.into(),
        }
    }

    #[test]
    fn only_readable_dispute_records_count() {
        let history = [
            entry(1, "refund", r#"{"request_id":"a","credit_note":{}}"#),
            entry(
                2,
                "dispute",
                r#"{"request_id":"a","line_no":2,"quantity":1,"outcome":{"outcome":"refunded","amount_minor":89,"currency":"EUR"}}"#,
            ),
            entry(3, "dispute", r#"{"request_id":"b","line_no":1}"#),
            entry(
                4,
                "dispute",
                r#"{"request_id":"c","line_no":1,"quantity":3,"outcome":{"outcome":"review","case_id":"dispute-r-c"}}"#,
            ),
        ];
        let got = recorded(&history);
        assert_eq!(
            got.iter().map(|(at, r)| (*at, r.request_id.as_str())).collect::<Vec<_>>(),
            [(2000, "a"), (4000, "c")]
        );
        assert_eq!(got[0].1.outcome, DisputeOutcome::Refunded { amount_minor: 89, currency: "EUR".into() });
        assert_eq!(got[1].1.outcome, DisputeOutcome::Review { case_id: CaseId::from("dispute-r-c") });
    }
}
