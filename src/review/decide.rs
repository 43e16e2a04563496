//! Deciding a case. The reviewer must hold the claim; the form must be for
//! the ledger as it is now (a stale page or a double submit is refused and
//! nothing changes). The corrections ([`super::corrections`]) become
//! correcting cart events, written with the decision and its audit entries
//! in one transaction; then the visit is priced from its ledger and charged
//! by the same exit as every visit, which issues the receipt and queues its
//! e-mail and push. Dispute cases are refunded or rejected
//! ([`super::dispute`]).

use super::auth::StaffForm;
use super::corrections::{Change, Context, DecisionForm, ledger_version, parse_form, plan};
use super::queue::{case_href, kind_of};
use super::{Console, ConsoleError};
use crate::db::{DbError, Millis, NewAudit, NewCartEvent, ReviewCase, ReviewDecision, Visit, VisitStatus};
use crate::fusion::ledger;
use crate::ids::{CaseId, VisitId};
use crate::visit::exit::ExitOutcome;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use std::collections::BTreeSet;

pub use super::dispute::dispute_outcome;

/// Visits in the store at the same time as `visit` that can still be
/// charged: where units another shopper took can move to.
pub async fn movable_visits(c: &Console, visit: &Visit) -> Result<Vec<Visit>, ConsoleError> {
    let until = visit.exited_at.unwrap_or_else(|| c.now());
    let mut found = Vec::new();
    for status in [VisitStatus::Entered, VisitStatus::Shopping, VisitStatus::Exited, VisitStatus::Review] {
        found.extend(c.storage.list_visits(&c.store, status).await?.into_iter().filter(|v| {
            v.id != visit.id && v.entered_at <= until && v.exited_at.is_none_or(|x| x >= visit.entered_at)
        }));
    }
    Ok(found)
}

/// The case, if the viewer may decide it now (claimed by them, or open and
/// claimed for them here); otherwise why not.
pub(super) async fn decidable(form: &StaffForm, id: &str) -> Result<ReviewCase, ConsoleError> {
    let (who, c) = (&form.who, &form.who.console);
    let case = c.storage.get_review_case(&CaseId(id.to_owned())).await?;
    let case =
        case.filter(|k| k.store_id == c.store).ok_or_else(|| ConsoleError::NotFound(format!("Review case {id}")))?;
    let me = who.staff.username.as_str();
    match case.status.as_str() {
        "decided" => Err(already_decided(&case)),
        "claimed" if case.claimed_by.as_deref() == Some(me) => Ok(case),
        "claimed" => Err(claimed_by_other(&case)),
        _ => match c.storage.claim_review_case(&case.id, me, c.now()).await {
            Ok(claimed) => Ok(claimed),
            Err(DbError::State(_)) => Err(refresh_conflict(c, &case.id).await),
            Err(e) => Err(e.into()),
        },
    }
}

fn already_decided(case: &ReviewCase) -> ConsoleError {
    let at = case.decided_at.map(super::office::time_label).unwrap_or_default();
    ConsoleError::conflict(
        "Already decided",
        format!(
            "This case was decided ({}) by {} at {at}. Nothing was changed.",
            case.decision.as_deref().unwrap_or("?"),
            case.decided_by.as_deref().unwrap_or("?")
        ),
    )
}

fn claimed_by_other(case: &ReviewCase) -> ConsoleError {
    let who = case.claimed_by.as_deref().unwrap_or("another reviewer");
    ConsoleError::conflict(
        format!("Being reviewed by {who}"),
        format!("Only {who}, who opened this case first, can decide it. Nothing was changed."),
    )
}

/// Why a write on the case was refused, from the case as it is now.
async fn refresh_conflict(c: &Console, id: &CaseId) -> ConsoleError {
    match c.storage.get_review_case(id).await {
        Ok(Some(case)) if case.status == "decided" => already_decided(&case),
        Ok(Some(case)) => claimed_by_other(&case),
        Ok(None) => ConsoleError::NotFound(format!("Review case {id}")),
        Err(e) => e.into(),
    }
}

pub async fn submit(Path(id): Path<String>, form: StaffForm) -> Result<Response, ConsoleError> {
    let case = decidable(&form, &id).await?;
    if kind_of(&case) == "dispute" {
        super::dispute::decide(&form, &case).await?;
    } else {
        decide_visit(&form, &case).await?;
    }
    Ok(Redirect::to(&case_href(case.id.as_str())).into_response())
}

async fn decide_visit(form: &StaffForm, case: &ReviewCase) -> Result<(), ConsoleError> {
    let c = &form.who.console;
    let (visit, parsed, changes) = checked_plan(form, case).await?;
    let decided = decision_of(case, &visit, &form.who.staff.username, &parsed, &changes, c.now());
    match c.storage.decide_review(&decided).await {
        Ok(_) => {}
        Err(DbError::State(_)) => return Err(refresh_conflict(c, &case.id).await),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(case = %case.id, visit = %visit.id, decision = %decided.decision, corrections = changes.len(), "review decided");
    charge(form, case, &visit.id).await
}

/// The case's visit, the form and its corrections, if the visit waits for
/// review and the form was made from the ledger as it is now.
async fn checked_plan(form: &StaffForm, case: &ReviewCase) -> Result<(Visit, DecisionForm, Vec<Change>), ConsoleError> {
    let c = &form.who.console;
    let visit = c.storage.get_visit(&case.visit_id).await?;
    let visit = visit.ok_or_else(|| ConsoleError::NotFound(format!("Visit {}", case.visit_id)))?;
    if visit.status != VisitStatus::Review {
        return Err(ConsoleError::conflict(
            "The visit is not waiting for review",
            format!("Visit {} is {}; only a visit in review can be decided.", visit.id, visit.status.as_str()),
        ));
    }
    let events = c.storage.cart_events(&visit.id).await?;
    let parsed = parse_form(&form.fields).map_err(|e| ConsoleError::BadInput(e.0))?;
    if parsed.version != ledger_version(&events) {
        return Err(ConsoleError::conflict(
            "The cart changed",
            "The cart changed after you opened this page. Nothing was changed: open the case again and decide on what it shows now.",
        ));
    }
    let cart = ledger::cart(&events).items;
    let products: BTreeSet<_> = c.storage.list_products(&c.store).await?.into_iter().map(|p| p.sku).collect();
    let movable: BTreeSet<VisitId> = movable_visits(c, &visit).await?.into_iter().map(|v| v.id).collect();
    let changes = plan(&parsed, &Context { cart: &cart, products: &products, movable_to: &movable })
        .map_err(|e| ConsoleError::BadInput(e.0))?;
    Ok((visit, parsed, changes))
}

/// The decision as written: the correcting ledger entries (ids derived from
/// the case, so a retry cannot add them twice) and the audit entries.
fn decision_of(
    case: &ReviewCase,
    visit: &Visit,
    me: &str,
    form: &DecisionForm,
    changes: &[Change],
    now: Millis,
) -> ReviewDecision {
    let corrections = changes
        .iter()
        .enumerate()
        .map(|(n, ch)| NewCartEvent {
            id: format!("{}:correction:{n}", case.id),
            store_id: visit.store_id.clone(),
            visit_id: Some(ch.visit.clone().unwrap_or_else(|| visit.id.clone())),
            kind: ch.kind,
            sku: ch.sku.clone(),
            quantity: ch.quantity,
            confidence: 1.0,
            source: "review".into(),
            evidence_ref: Some(
                json!({"case": case.id, "by": me, "reason": ch.reason, "comment": form.comment}).to_string(),
            ),
            shopper_id: None,
            track_id: None,
            at: now,
        })
        .collect();
    let decision = if changes.is_empty() { "approved" } else { "corrected" };
    let listed: Vec<_> = changes
        .iter()
        .map(|ch| json!({"line": ch.line, "visit": ch.visit.as_ref().unwrap_or(&visit.id), "kind": ch.kind.as_str(), "sku": ch.sku, "quantity": ch.quantity, "reason": ch.reason}))
        .collect();
    let detail = json!({"visit": visit.id, "decision": decision, "comment": form.comment, "ledger_version": form.version, "corrections": listed});
    let entry = |action: &str, subject: String, detail: serde_json::Value| NewAudit {
        at: now,
        actor: me.to_owned(),
        action: action.into(),
        subject,
        detail_json: detail.to_string(),
    };
    let mut audit = vec![entry("review_decided", format!("case:{}", case.id), detail)];
    for ch in changes {
        if let Some(other) = &ch.visit {
            let detail = json!({"from_visit": visit.id, "case": case.id, "sku": ch.sku, "quantity": ch.quantity});
            audit.push(entry("review_moved_in", format!("visit:{other}"), detail));
        }
    }
    ReviewDecision {
        case_id: case.id.clone(),
        staff: me.to_owned(),
        decision: decision.into(),
        comment: form.comment.clone(),
        at: now,
        corrections,
        audit,
    }
}

/// Prices and charges a decided visit through the exit (idempotent).
async fn charge(form: &StaffForm, case: &ReviewCase, visit: &VisitId) -> Result<(), ConsoleError> {
    let (who, c) = (&form.who, &form.who.console);
    let subject = format!("case:{}", case.id);
    match c.exit.charge(visit, c.now()).await {
        Ok(ExitOutcome::Charged { receipt, .. }) => {
            let detail = json!({"visit": visit, "receipt_no": receipt.receipt_no, "total_minor": receipt.total_minor});
            who.audit("review_charged", &subject, detail).await
        }
        Ok(ExitOutcome::Review { reasons, .. }) => {
            who.audit("review_charge_failed", &subject, json!({"visit": visit, "reasons": reasons})).await?;
            Err(ConsoleError::Payment(format!(
                "The decision is saved, but the charge did not go through ({}). The case page offers to try again.",
                reasons.join("; ")
            )))
        }
        Err(e) => {
            tracing::error!(case = %case.id, %visit, error = %e, "charging a decided visit failed");
            who.audit("review_charge_failed", &subject, json!({"visit": visit, "error": e.to_string()})).await?;
            Err(ConsoleError::Payment(
                "The decision is saved, but charging failed. The case page offers to try again.".into(),
            ))
        }
    }
}

/// Tries the charge of a decided visit again (after a declined payment).
pub async fn retry_charge(Path(id): Path<String>, form: StaffForm) -> Result<Response, ConsoleError> {
    let c = &form.who.console;
    let case = c.storage.get_review_case(&CaseId(id.clone())).await?;
    let case =
        case.filter(|k| k.store_id == c.store).ok_or_else(|| ConsoleError::NotFound(format!("Review case {id}")))?;
    let visit = c
        .storage
        .get_visit(&case.visit_id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("Visit {}", case.visit_id)))?;
    if case.status != "decided" || visit.status != VisitStatus::Review || kind_of(&case) != "exit review" {
        return Err(ConsoleError::conflict(
            "Nothing to charge",
            "This case has no decided visit waiting for its charge.",
        ));
    }
    charge(&form, &case, &visit.id).await?;
    Ok(Redirect::to(&case_href(case.id.as_str())).into_response())
}
