//! The back office's reports, pure: derived from receipts (sales and
//! refunds), stock levels and the planogram, and review cases with their
//! audit entries. Each report is a list of rows that the page draws as a
//! table and a chart and exports as CSV. Money stays in integer minor units.

use crate::checkout::Receipt as ReceiptDoc;
use crate::db::{AuditEntry, Facing, Millis, Product, Receipt, ReviewCase, StockLevel};
use crate::money::{Currency, Money};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One line sold (or refunded: negative quantity and amount).
#[derive(Clone, Debug, PartialEq)]
pub struct SaleLine {
    pub at: Millis,
    pub receipt_no: i64,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub gross_minor: i64,
}

/// The lines of issued receipts; a document that does not parse is counted, not guessed.
pub fn sale_lines(receipts: &[Receipt]) -> (Vec<SaleLine>, usize) {
    let mut lines = Vec::new();
    let mut unreadable = 0;
    for r in receipts {
        let Ok(doc) = serde_json::from_str::<ReceiptDoc>(&r.body_json) else {
            unreadable += 1;
            continue;
        };
        lines.extend(doc_lines(&doc, r.issued_at));
    }
    (lines, unreadable)
}

fn doc_lines(doc: &ReceiptDoc, at: Millis) -> impl Iterator<Item = SaleLine> + '_ {
    doc.cart.lines.iter().map(move |l| SaleLine {
        at,
        receipt_no: doc.number,
        sku: l.sku.to_string(),
        name: l.name.clone(),
        quantity: l.quantity,
        unit_price_minor: l.unit_price_minor,
        gross_minor: l.gross_minor,
    })
}

/// The credit notes of refunds (audit entries `refund`, as disputes write them).
pub fn refund_lines(refunds: &[AuditEntry]) -> Vec<SaleLine> {
    refunds
        .iter()
        .filter_map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail_json).ok()?;
            let doc: ReceiptDoc = serde_json::from_value(detail.get("credit_note")?.clone()).ok()?;
            Some(doc_lines(&doc, e.at).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

/// Revenue and units in one hour (UTC).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HourRow {
    pub hour: String,
    pub units: i64,
    pub revenue_minor: i64,
}

/// Every hour of `[from, to)` with what was sold in it.
pub fn by_hour(lines: &[SaleLine], from: Millis, to: Millis) -> Vec<HourRow> {
    let hour_ms = 3_600_000;
    let first = from.div_euclid(hour_ms);
    let last = (to - 1).div_euclid(hour_ms);
    let mut rows: Vec<HourRow> = (first..=last.max(first))
        .map(|h| HourRow { hour: hour_label(h * hour_ms), units: 0, revenue_minor: 0 })
        .collect();
    for l in lines.iter().filter(|l| l.at >= from && l.at < to) {
        let row = &mut rows[(l.at.div_euclid(hour_ms) - first) as usize];
        row.units += l.quantity;
        row.revenue_minor += l.gross_minor;
    }
    rows
}

fn hour_label(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:00").to_string()).unwrap_or_default()
}

/// Units and revenue of one product.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductRow {
    pub sku: String,
    pub name: String,
    pub units: i64,
    pub revenue_minor: i64,
}

/// Products by revenue, highest first.
pub fn by_product(lines: &[SaleLine]) -> Vec<ProductRow> {
    let mut rows: BTreeMap<&str, ProductRow> = BTreeMap::new();
    for l in lines {
        let row = rows.entry(&l.sku).or_insert_with(|| ProductRow {
            sku: l.sku.clone(),
            name: l.name.clone(),
            units: 0,
            revenue_minor: 0,
        });
        row.units += l.quantity;
        row.revenue_minor += l.gross_minor;
    }
    let mut rows: Vec<ProductRow> = rows.into_values().collect();
    rows.sort_by(|a, b| b.revenue_minor.cmp(&a.revenue_minor).then_with(|| a.sku.cmp(&b.sku)));
    rows
}

/// A product's units on its own plates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StockRow {
    pub sku: String,
    pub name: String,
    pub home_plates: String,
    /// Empty when no plate of the product has been counted yet.
    pub on_shelf: Option<i64>,
    /// `ok`, `out_of_stock` or `not_counted`.
    pub status: &'static str,
}

/// Units of a product on a plate where it does not belong.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MisplacedRow {
    pub plate: String,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub home_plates: String,
}

/// Stock per product and misplaced items, from the stock book and the planogram.
pub fn stock_report(
    products: &[Product],
    facings: &[Facing],
    levels: &[StockLevel],
) -> (Vec<StockRow>, Vec<MisplacedRow>) {
    let mut home: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in facings {
        home.entry(f.sku.as_str()).or_default().insert(f.plate_id.as_str());
    }
    let homes = |sku: &str| home.get(sku).map(|p| p.iter().copied().collect::<Vec<_>>().join(" ")).unwrap_or_default();
    let name = |sku: &str| products.iter().find(|p| p.sku.as_str() == sku).map(|p| p.name.clone()).unwrap_or_default();
    let mut counted: BTreeMap<&str, i64> = BTreeMap::new();
    let mut misplaced = Vec::new();
    for l in levels {
        let at_home = home.get(l.sku.as_str()).is_some_and(|p| p.contains(l.plate_id.as_str()));
        if at_home {
            *counted.entry(l.sku.as_str()).or_default() += l.quantity;
        } else if l.quantity > 0 {
            misplaced.push(MisplacedRow {
                plate: l.plate_id.clone(),
                sku: l.sku.to_string(),
                name: name(l.sku.as_str()),
                quantity: l.quantity,
                home_plates: homes(l.sku.as_str()),
            });
        }
    }
    let stock = products
        .iter()
        .map(|p| {
            let on_shelf = counted.get(p.sku.as_str()).copied();
            let status = match on_shelf {
                None => "not_counted",
                Some(n) if n <= 0 => "out_of_stock",
                Some(_) => "ok",
            };
            StockRow {
                sku: p.sku.to_string(),
                name: p.name.clone(),
                home_plates: homes(p.sku.as_str()),
                on_shelf,
                status,
            }
        })
        .collect();
    (stock, misplaced)
}

/// A line charged at a unit price other than the catalogue's current one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Discrepancy {
    pub receipt_no: i64,
    pub issued_at: String,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub charged_unit_minor: i64,
    pub catalogue_unit_minor: i64,
    /// `quantity * (charged - catalogue)`: positive when the shopper paid more.
    pub difference_minor: i64,
}

pub fn price_discrepancies(lines: &[SaleLine], products: &[Product]) -> Vec<Discrepancy> {
    let price: BTreeMap<&str, i64> = products.iter().map(|p| (p.sku.as_str(), p.price_minor)).collect();
    lines
        .iter()
        .filter(|l| l.quantity > 0)
        .filter_map(|l| {
            let catalogue = *price.get(l.sku.as_str())?;
            (catalogue != l.unit_price_minor).then(|| Discrepancy {
                receipt_no: l.receipt_no,
                issued_at: time_label(l.at),
                sku: l.sku.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                charged_unit_minor: l.unit_price_minor,
                catalogue_unit_minor: catalogue,
                difference_minor: l.quantity * (l.unit_price_minor - catalogue),
            })
        })
        .collect()
}

/// `2026-11-30 14:05 UTC`.
pub fn time_label(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

/// An amount in minor units as a decimal string (`1234` EUR -> `12.34`).
pub fn decimal(minor: i64, currency: Currency) -> String {
    let m = Money::from_minor(minor, currency);
    format!("{:.*}", currency.exponent() as usize, m.amount)
}

/// Rows as CSV with a header line (minor-unit columns stay integers).
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Review figures for a period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReviewStats {
    pub visits_exited: usize,
    /// Visits sent to review at the exit.
    pub exit_reviews: usize,
    pub disputes: usize,
    /// `exit_reviews / visits_exited`.
    pub review_rate: f64,
    pub decided: usize,
    pub still_open: usize,
    pub median_minutes_to_decide: Option<f64>,
    pub p90_minutes_to_decide: Option<f64>,
    pub decisions: BTreeMap<String, usize>,
    pub corrections_by_reason: BTreeMap<String, usize>,
}

/// From the visits that exited, the cases opened and the decisions' audit entries.
pub fn review_stats(visits_exited: usize, cases: &[ReviewCase], decisions: &[AuditEntry]) -> ReviewStats {
    let disputes = cases.iter().filter(|c| c.reason.starts_with("dispute")).count();
    let exit_reviews = cases.len() - disputes;
    let mut minutes: Vec<f64> =
        cases.iter().filter_map(|c| c.decided_at.map(|d| (d - c.created_at) as f64 / 60_000.0)).collect();
    minutes.sort_by(f64::total_cmp);
    let quantile = |q: f64| (!minutes.is_empty()).then(|| minutes[((minutes.len() - 1) as f64 * q).round() as usize]);
    let median = match minutes.len() {
        0 => None,
        n if n % 2 == 0 => Some((minutes[n / 2 - 1] + minutes[n / 2]) / 2.0),
        n => Some(minutes[n / 2]),
    };
    let mut stats = ReviewStats {
        visits_exited,
        exit_reviews,
        disputes,
        review_rate: if visits_exited == 0 { 0.0 } else { exit_reviews as f64 / visits_exited as f64 },
        decided: minutes.len(),
        still_open: cases.iter().filter(|c| c.status != "decided").count(),
        median_minutes_to_decide: median,
        p90_minutes_to_decide: quantile(0.9),
        ..Default::default()
    };
    for c in cases.iter().filter_map(|c| c.decision.as_ref()) {
        *stats.decisions.entry(c.clone()).or_default() += 1;
    }
    for e in decisions {
        let detail: serde_json::Value = serde_json::from_str(&e.detail_json).unwrap_or_default();
        // One correction per corrected line, though it may take two ledger entries.
        let lines: BTreeSet<(u64, &str)> = detail["corrections"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, c)| Some((c["line"].as_u64().unwrap_or(i as u64), c["reason"].as_str()?)))
            .collect();
        for (_, reason) in lines {
            *stats.corrections_by_reason.entry(reason.to_owned()).or_default() += 1;
        }
    }
    stats
}

#[cfg(test)]
#[path = "office_tests.rs"]
mod tests;
