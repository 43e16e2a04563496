//! Dispute cases (a shopper said "I did not take this" about a receipt line
//! worth more than the automatic refund limit): the reviewer refunds the
//! disputed units or rejects the dispute, with a comment. A refund is the
//! same credit note and idempotent provider refund the automatic path makes
//! (`app::disputes`), audited on the receipt so the shopper's app and the
//! back office see it; the decision and its audit are one transaction.

use super::auth::StaffForm;
use super::{Console, ConsoleError};
use crate::checkout::{Receipt as ReceiptDoc, RefundItem, RefundRequest, refund_after};
use crate::db::{AuditEntry, DbError, NewAudit, Receipt, ReviewCase, ReviewDecision};
use crate::money::Money;
use serde_json::{Value, json};

/// The receipt of the disputed visit and the shopper's dispute entry.
async fn disputed(c: &Console, case: &ReviewCase) -> Result<(Receipt, Value, Vec<AuditEntry>), ConsoleError> {
    let visit = c
        .storage
        .get_visit(&case.visit_id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("Visit {}", case.visit_id)))?;
    let receipts = c.storage.receipts_for_shopper(&visit.shopper_id).await?;
    let receipt = receipts
        .into_iter()
        .find(|r| r.visit_id == visit.id)
        .ok_or_else(|| ConsoleError::NotFound("The disputed receipt".into()))?;
    let history = c.storage.audit_for_subject(&format!("receipt:{}", receipt.id)).await?;
    let detail = |e: &AuditEntry| serde_json::from_str::<Value>(&e.detail_json).unwrap_or_default();
    let dispute = history
        .iter()
        .filter(|e| e.action == "dispute")
        .map(detail)
        .find(|d| d["outcome"]["case_id"] == case.id.as_str())
        .ok_or_else(|| ConsoleError::NotFound("The shopper's dispute".into()))?;
    Ok((receipt, dispute, history))
}

pub(super) async fn decide(form: &StaffForm, case: &ReviewCase) -> Result<(), ConsoleError> {
    let (who, c) = (&form.who, &form.who.console);
    let comment = form.field("comment").unwrap_or_default().trim().to_owned();
    if comment.is_empty() {
        return Err(ConsoleError::BadInput("a comment is required: say what you saw".into()));
    }
    let decision = match form.field("decision") {
        Some("refund") => "refund",
        Some("reject") => "reject",
        _ => return Err(ConsoleError::BadInput("choose to refund the disputed units or to reject the dispute".into())),
    };
    let (receipt, dispute, history) = disputed(c, case).await?;
    let (now, me) = (c.now(), who.staff.username.clone());
    let subject = format!("receipt:{}", receipt.id);
    let mut audit = Vec::new();
    let mut refunded_minor = 0;
    if decision == "refund" {
        let (note, amount) = refund(c, case, &receipt, &dispute, &history, now).await?;
        refunded_minor = amount;
        let detail = json!({"request_id": dispute["request_id"], "credit_note": note, "case": case.id});
        audit.push(NewAudit {
            at: now,
            actor: me.clone(),
            action: "refund".into(),
            subject,
            detail_json: detail.to_string(),
        });
    }
    let detail = json!({"visit": case.visit_id, "decision": decision, "comment": comment, "refund_minor": refunded_minor, "corrections": []});
    audit.push(NewAudit {
        at: now,
        actor: me.clone(),
        action: "review_decided".into(),
        subject: format!("case:{}", case.id),
        detail_json: detail.to_string(),
    });
    let decided = ReviewDecision {
        case_id: case.id.clone(),
        staff: me,
        decision: decision.into(),
        comment,
        at: now,
        corrections: vec![],
        audit,
    };
    match c.storage.decide_review(&decided).await {
        Ok(_) => Ok(()),
        Err(DbError::State(m)) => Err(ConsoleError::conflict("Already decided", m)),
        Err(e) => Err(e.into()),
    }
}

/// The credit note for the disputed units and the provider refund (idempotent by sequence).
async fn refund(
    c: &Console,
    case: &ReviewCase,
    receipt: &Receipt,
    dispute: &Value,
    history: &[AuditEntry],
    now: i64,
) -> Result<(ReceiptDoc, i64), ConsoleError> {
    let sale: ReceiptDoc = serde_json::from_str(&receipt.body_json).map_err(ConsoleError::internal)?;
    let previous: Vec<ReceiptDoc> = history
        .iter()
        .filter(|e| e.action == "refund")
        .filter_map(|e| serde_json::from_str::<Value>(&e.detail_json).ok())
        .filter_map(|d| serde_json::from_value(d["credit_note"].clone()).ok())
        .collect();
    let item = RefundItem {
        line_no: dispute["line_no"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        quantity: dispute["quantity"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
    };
    let request = RefundRequest {
        number: sale.number,
        issued_at: chrono::DateTime::from_timestamp_millis(now).unwrap_or_default(),
        items: vec![item],
    };
    let note =
        refund_after(&sale, &previous, &request).map_err(|e| ConsoleError::conflict("Cannot refund", e.to_string()))?;
    let amount = -note.cart.total_gross_minor;
    let seq = u32::try_from(previous.len() + 1).map_err(ConsoleError::internal)?;
    let done = c.exit.payments.refund(&case.visit_id, Money::from_minor(amount, note.cart.currency), seq).await;
    match done {
        Ok(r) if r.is_complete() => Ok((note, amount)),
        Ok(_) => Err(ConsoleError::Payment("The payment provider refused the refund; nothing was decided.".into())),
        Err(e) => {
            tracing::error!(case = %case.id, error = %e, "dispute refund failed");
            Err(ConsoleError::Payment("The refund failed; nothing was decided. Try again.".into()))
        }
    }
}

/// What a decided dispute did, for its case page.
pub async fn dispute_outcome(c: &Console, case: &ReviewCase) -> Result<String, ConsoleError> {
    let log = c.storage.audit_for_subject(&format!("case:{}", case.id)).await?;
    let refunded = log
        .iter()
        .filter(|e| e.action == "review_decided")
        .filter_map(|e| serde_json::from_str::<Value>(&e.detail_json).ok())
        .find_map(|d| d["refund_minor"].as_i64())
        .unwrap_or(0);
    Ok(match case.decision.as_deref() {
        Some("refund") => format!("Refunded {} to the shopper's card", Money::from_minor(refunded, c.currency)),
        Some("reject") => "Dispute rejected: nothing refunded".into(),
        other => format!("Decided: {}", other.unwrap_or("?")),
    })
}
