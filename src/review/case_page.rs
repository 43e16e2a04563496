//! A case page: opening an open case claims it for the viewer (atomic: a
//! second reviewer sees who holds it and cannot decide). The page shows the
//! visit's ledger in order, each event with its confidence, the reviewer's
//! notes on corrections, and the evidence kept for it: hand crops (served by
//! [`evidence_file`]), the plate's weight trace drawn as an SVG chart, the
//! shelf's candidates. Below it, the cart now and the decision form.

use super::auth::Staffer;
use super::chart::{LineChart, line_chart};
use super::corrections::ledger_version;
use super::evidence::EvidenceError;
use super::office::time_label;
use super::pages::{CandidateRow, CartRow, CasePage, DecidedView, EvidenceView, TimelineEntry, html};
use super::queue::{kind_of, reasons_of};
use super::{Console, ConsoleError, decide};
use crate::checkout::{CartLine, price_cart};
use crate::db::{CartEvent, CartEventKind, DbError, Evidence, Millis, Product, ReviewCase, Visit, VisitStatus};
use crate::fusion::ledger;
use crate::ids::{CaseId, Sku};
use crate::money::Money;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// `14:05:09` (UTC) for event times.
fn clock_time(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%H:%M:%S").to_string()).unwrap_or_default()
}

fn kind_label(kind: CartEventKind) -> &'static str {
    match kind {
        CartEventKind::Pick => "pick",
        CartEventKind::PutBack => "put back",
        CartEventKind::CorrectionAdd => "staff added",
        CartEventKind::CorrectionRemove => "staff removed",
    }
}

/// A correction's note (`by rita, wrong quantity: "..."`), or the writer's evidence reference as it is.
fn note_of(e: &CartEvent) -> Option<String> {
    let raw = e.evidence_ref.as_deref()?;
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(v) if v["by"].is_string() => Some(format!(
            "by {}, {}: “{}”",
            v["by"].as_str().unwrap_or_default(),
            v["reason"].as_str().unwrap_or_default().replace('_', " "),
            v["comment"].as_str().unwrap_or_default()
        )),
        _ => Some(raw.to_owned()),
    }
}

/// Claims an open case for the viewer (audited); returns the case as it is now.
async fn claim_if_open(who: &Staffer, case: ReviewCase) -> Result<ReviewCase, ConsoleError> {
    if case.status != "open" {
        return Ok(case);
    }
    let c = &who.console;
    match c.storage.claim_review_case(&case.id, &who.staff.username, c.now()).await {
        Ok(claimed) => {
            let visit = claimed.visit_id.to_string();
            who.audit("review_claimed", &format!("case:{}", claimed.id), serde_json::json!({"visit": visit})).await?;
            Ok(claimed)
        }
        Err(DbError::State(_)) => Ok(c.storage.get_review_case(&case.id).await?.unwrap_or(case)),
        Err(e) => Err(e.into()),
    }
}

pub async fn page(who: Staffer, Path(id): Path<String>) -> Result<Response, ConsoleError> {
    let c = who.console.clone();
    let case = c.storage.get_review_case(&CaseId(id.clone())).await?;
    let case =
        case.filter(|k| k.store_id == c.store).ok_or_else(|| ConsoleError::NotFound(format!("Review case {id}")))?;
    let case = claim_if_open(&who, case).await?;
    let visit = c
        .storage
        .get_visit(&case.visit_id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("Visit {}", case.visit_id)))?;
    let events = c.storage.cart_events(&visit.id).await?;
    let products: BTreeMap<Sku, Product> =
        c.storage.list_products(&c.store).await?.into_iter().map(|p| (p.sku.clone(), p)).collect();
    let (timeline, other_evidence) = timeline(&c, &events, &products, &visit).await?;
    let cart = cart_rows(&c, &events, &products);
    let others = decide::movable_visits(&c, &visit).await?;
    let mut others_labelled = Vec::new();
    for v in others {
        others_labelled.push((v.id.to_string(), visit_label(&c, &v).await?));
    }
    let mine = case.claimed_by.as_deref() == Some(who.staff.username.as_str());
    let page = CasePage {
        frame: who.frame("queue"),
        csrf: who.session.csrf_token.clone(),
        case_id: case.id.to_string(),
        kind: kind_of(&case),
        reasons: reasons_of(&case),
        visit_id: visit.id.to_string(),
        shopper: shopper_name(&c, &visit).await?,
        entered: time_label(visit.entered_at),
        exited: visit.exited_at.map_or_else(|| "still in the store".into(), time_label),
        visit_status: visit.status.as_str().to_owned(),
        deciding: case.status == "claimed" && mine,
        is_dispute: kind_of(&case) == "dispute",
        claimed_by: (case.status == "claimed" && !mine).then(|| case.claimed_by.clone().unwrap_or_default()),
        decided: decided_view(&c, &case, &visit).await?,
        timeline,
        other_evidence,
        total: cart_total(&c, &events, &products),
        cart,
        version: ledger_version(&events),
        products: products.values().map(|p| (p.sku.to_string(), p.name.clone())).collect(),
        others: others_labelled,
    };
    Ok(html(&page))
}

async fn shopper_name(c: &Console, visit: &Visit) -> Result<String, ConsoleError> {
    let shopper = c.storage.get_shopper(&visit.shopper_id).await?;
    let party = if visit.party_size > 1 { format!(" (party of {})", visit.party_size) } else { String::new() };
    Ok(shopper.map_or_else(|| visit.shopper_id.to_string(), |s| s.display_name) + &party)
}

/// `a1b2c3d4 · Ana · 14:02–14:09` for the "move to" list.
async fn visit_label(c: &Console, v: &Visit) -> Result<String, ConsoleError> {
    let until = v.exited_at.map_or_else(|| "now".into(), clock_time);
    Ok(format!(
        "{} · {} · {}–{}",
        super::map::short_id(v.id.as_str()),
        shopper_name(c, v).await?,
        clock_time(v.entered_at),
        until
    ))
}

async fn timeline(
    c: &Console,
    events: &[CartEvent],
    products: &BTreeMap<Sku, Product>,
    visit: &Visit,
) -> Result<(Vec<TimelineEntry>, Vec<EvidenceView>), ConsoleError> {
    let mut by_event: BTreeMap<String, Vec<EvidenceView>> = BTreeMap::new();
    let mut kept = c.storage.evidence_for_visit(&visit.id).await?;
    kept.sort_by_key(|e| (e.at, kind_rank(&e.kind)));
    for e in kept {
        by_event.entry(e.event_id.clone()).or_default().push(evidence_view(c, &e).await);
    }
    let threshold = c.exit.review_below_confidence;
    let entries = events
        .iter()
        .map(|e| TimelineEntry {
            time: clock_time(e.at),
            kind: kind_label(e.kind).to_owned(),
            sku: e.sku.to_string(),
            name: products.get(&e.sku).map_or_else(|| "unknown product".into(), |p| p.name.clone()),
            quantity: e.quantity,
            confidence: format!("{:.0} %", e.confidence * 100.0),
            low: e.confidence < threshold,
            source: e.source.clone(),
            note: note_of(e),
            evidence: by_event.remove(&e.id).unwrap_or_default(),
        })
        .collect();
    Ok((entries, by_event.into_values().flatten().collect()))
}

/// Snapshots first, then weight traces, then the candidates.
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "snapshot" => 0,
        "weight_trace" => 1,
        _ => 2,
    }
}

async fn evidence_view(c: &Console, e: &Evidence) -> EvidenceView {
    let mut view = EvidenceView {
        kind: e.kind.replace('_', " "),
        source: e.source.clone(),
        time: clock_time(e.at),
        img: None,
        svg: None,
        candidates: Vec::new(),
        missing: false,
    };
    let loaded: Result<(), EvidenceError> = async {
        match e.kind.as_str() {
            "snapshot" => {
                c.evidence.read(e).await?;
                view.img = Some(format!("/console/evidence/{}", e.id));
            }
            "weight_trace" => view.svg = Some(trace_chart(&c.evidence.weight_trace(e).await?)),
            _ => {
                let rows = c.evidence.candidates(e).await?;
                view.candidates = rows
                    .into_iter()
                    .map(|r| CandidateRow {
                        name: r.name,
                        sku: r.sku.to_string(),
                        qty: r.qty,
                        p: format!("{:.0} %", r.p * 100.0),
                    })
                    .collect();
            }
        }
        Ok(())
    }
    .await;
    if let Err(err) = loaded {
        tracing::warn!(evidence = %e.id, error = %err, "evidence not shown");
        view.missing = true;
    }
    view
}

/// A weight trace as a chart: seconds from the event, grams.
pub fn trace_chart(trace: &super::evidence::WeightTrace) -> String {
    line_chart(&LineChart {
        title: format!("Plate {} weight around the event", trace.plate),
        x_label: "seconds from the event".into(),
        y_label: "grams".into(),
        points: trace.samples.iter().map(|(t, g)| ((t - trace.at) as f64 / 1000.0, *g)).collect(),
        markers: vec![(0.0, "event".into())],
        width: 420.0,
        height: 220.0,
    })
}

fn cart_rows(c: &Console, events: &[CartEvent], products: &BTreeMap<Sku, Product>) -> Vec<CartRow> {
    let all: Vec<(String, String)> = products.values().map(|p| (p.sku.to_string(), p.name.clone())).collect();
    ledger::cart(events)
        .items
        .iter()
        .enumerate()
        .map(|(index, (sku, held))| {
            let own = (sku.to_string(), products.get(sku).map_or_else(|| "unknown product".into(), |p| p.name.clone()));
            let mut product_options = vec![own.clone()];
            product_options.extend(all.iter().filter(|o| o.0 != own.0).cloned());
            CartRow {
                index,
                sku: sku.to_string(),
                name: own.1,
                held: *held,
                unit_price: products
                    .get(sku)
                    .map_or_else(String::new, |p| Money::from_minor(p.price_minor, c.currency).to_string()),
                product_options,
            }
        })
        .collect()
}

/// The cart priced as the exit would price it today.
fn cart_total(c: &Console, events: &[CartEvent], products: &BTreeMap<Sku, Product>) -> String {
    let lines: Option<Vec<CartLine>> = ledger::cart(events)
        .items
        .iter()
        .map(|(sku, n)| CartLine::from_product(products.get(sku)?, u32::try_from(*n).ok()?).ok())
        .collect();
    let today = chrono::DateTime::from_timestamp_millis(c.now()).unwrap_or_default().date_naive();
    match lines.map(|l| price_cart(&c.exit.rules, &l, today, 0)) {
        Some(Ok(priced)) => priced.total_gross().to_string(),
        _ => "(cannot be priced)".into(),
    }
}

async fn decided_view(c: &Console, case: &ReviewCase, visit: &Visit) -> Result<Option<DecidedView>, ConsoleError> {
    if case.status != "decided" {
        return Ok(None);
    }
    let receipt = c.storage.receipts_for_shopper(&visit.shopper_id).await?.into_iter().find(|r| r.visit_id == visit.id);
    let (outcome, retry_charge) = match (&receipt, visit.status) {
        (Some(r), _) if kind_of(case) == "exit review" => (
            format!(
                "Charged {} · receipt no. {} sent to the shopper",
                Money::from_minor(r.total_minor, c.currency),
                r.receipt_no
            ),
            false,
        ),
        (_, VisitStatus::Review) => ("Not charged yet: the payment did not go through.".into(), true),
        _ => (decide::dispute_outcome(c, case).await?, false),
    };
    Ok(Some(DecidedView {
        by: case.decided_by.clone().unwrap_or_default(),
        at: case.decided_at.map(time_label).unwrap_or_default(),
        decision: case.decision.clone().unwrap_or_default(),
        comment: case.comment.clone().unwrap_or_default(),
        outcome,
        retry_charge,
    }))
}

/// A snapshot's JPEG, for signed-in staff only, never cached.
pub async fn evidence_file(who: Staffer, Path(id): Path<String>) -> Result<Response, ConsoleError> {
    let c = &who.console;
    let not_found =
        || ConsoleError::NotFound("This evidence (it may have been deleted after the retention period)".into());
    let e = c.storage.get_evidence(&id).await?.filter(|e| e.kind == "snapshot").ok_or_else(not_found)?;
    let bytes = c.evidence.read(&e).await.map_err(|_| not_found())?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
