//! The back office (managers only): for a period of whole UTC days, sales by
//! hour and by product (refunds taken off), stock with out-of-stock and
//! misplaced items, price discrepancies and review statistics, each drawn as
//! a bar chart with its table, and each table as CSV
//! (`/console/office/csv/<report>.csv?from=&to=`).

use super::auth::Manager;
use super::chart::{Bar, BarChart, bar_chart};
use super::office::{self as o, decimal, to_csv};
use super::pages::{OfficePage, Report, html};
use super::{Console, ConsoleError};
use crate::db::Millis;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

/// The longest period one page covers (days).
const MAX_DAYS: i64 = 92;

#[derive(Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The period asked for: whole UTC days, `from` to `to` inclusive; today by default.
pub fn period(q: &PeriodQuery, now: Millis) -> Result<(NaiveDate, NaiveDate, Millis, Millis), ConsoleError> {
    let today = chrono::DateTime::from_timestamp_millis(now).unwrap_or_default().date_naive();
    let day = |s: &Option<String>, name: &str| match s.as_deref().filter(|s| !s.is_empty()) {
        None => Ok(today),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| ConsoleError::BadInput(format!("{name}: give a date as YYYY-MM-DD, not {s:?}"))),
    };
    let (from, to) = (day(&q.from, "from")?, day(&q.to, "to")?);
    if to < from {
        return Err(ConsoleError::BadInput("the period ends before it starts".into()));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ConsoleError::BadInput(format!("a period is at most {MAX_DAYS} days")));
    }
    let ms = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis();
    Ok((from, to, ms(from), ms(to) + 86_400_000))
}

/// Every report of a period, computed once.
struct Figures {
    hours: Vec<o::HourRow>,
    products: Vec<o::ProductRow>,
    stock: Vec<o::StockRow>,
    misplaced: Vec<o::MisplacedRow>,
    discrepancies: Vec<o::Discrepancy>,
    stats: o::ReviewStats,
    receipts: usize,
}

async fn figures(c: &Console, from: Millis, to: Millis) -> Result<Figures, ConsoleError> {
    let receipts = c.storage.receipts_between(&c.store, from, to).await?;
    let (sales, unreadable) = o::sale_lines(&receipts);
    if unreadable > 0 {
        tracing::warn!(unreadable, "back office: receipts whose document does not parse were left out");
    }
    let mut lines = sales.clone();
    lines.extend(o::refund_lines(&c.storage.audit_by_action("refund", from, to).await?));
    let products = c.storage.list_products(&c.store).await?;
    let (stock, misplaced) =
        o::stock_report(&products, &c.storage.list_facings(&c.store).await?, &c.storage.stock_levels(&c.store).await?);
    let exited = c.storage.visits_exited_between(&c.store, from, to).await?.len();
    let cases = c.storage.review_cases_between(&c.store, from, to).await?;
    let decisions = c.storage.audit_by_action("review_decided", from, to).await?;
    Ok(Figures {
        hours: o::by_hour(&lines, from, to),
        products: o::by_product(&lines),
        stock,
        misplaced,
        discrepancies: o::price_discrepancies(&sales, &products),
        stats: o::review_stats(exited, &cases, &decisions),
        receipts: receipts.len(),
    })
}

fn chart(title: &str, y_label: &str, bars: Vec<Bar>) -> String {
    bar_chart(&BarChart { title: title.into(), y_label: y_label.into(), bars, width: 760.0, height: 240.0 })
}

fn money_bar(c: &Console, label: String, minor: i64) -> Bar {
    Bar {
        label,
        value: minor as f64 / 10f64.powi(c.currency.exponent() as i32),
        text: format!("{} {}", decimal(minor, c.currency), c.currency),
    }
}

/// Draws the reports of one period's figures.
struct Reports<'a> {
    c: &'a Console,
    f: &'a Figures,
    /// `from=...&to=...`, for the CSV links.
    query: &'a str,
}

impl Reports<'_> {
    fn all(&self) -> Vec<Report> {
        vec![
            self.sales_by_hour(),
            self.sales_by_product(),
            self.stock(),
            self.misplaced(),
            self.discrepancies(),
            self.review(),
        ]
    }

    fn report(&self, id: &'static str, title: &str, svg: String, header: &[&str], rows: Vec<Vec<String>>) -> Report {
        Report {
            id,
            title: title.into(),
            svg,
            csv: format!("/console/office/csv/{id}.csv?{}", self.query),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
            empty: String::new(),
        }
    }

    fn sales_by_hour(&self) -> Report {
        let (c, hours) = (self.c, &self.f.hours);
        // `02` for one day; `30 02h` (day and hour) when the period is longer.
        let label = |h: &o::HourRow| match hours.len() {
            ..=24 => h.hour.get(11..13).unwrap_or_default().to_owned(),
            _ => format!("{} {}h", h.hour.get(8..10).unwrap_or_default(), h.hour.get(11..13).unwrap_or_default()),
        };
        let bars = hours.iter().map(|h| money_bar(c, label(h), h.revenue_minor)).collect();
        let rows = hours
            .iter()
            .filter(|h| h.units != 0 || h.revenue_minor != 0)
            .map(|h| vec![h.hour.clone(), h.units.to_string(), decimal(h.revenue_minor, c.currency)])
            .collect();
        let svg = chart("Revenue by hour", c.currency.code(), bars);
        let r = self.report("sales-by-hour", "Revenue by hour (UTC)", svg, &["hour", "units", "revenue"], rows);
        Report { empty: "No sales in this period.".into(), ..r }
    }

    fn sales_by_product(&self) -> Report {
        let (c, products) = (self.c, &self.f.products);
        let bars = products.iter().take(12).map(|p| money_bar(c, p.sku.clone(), p.revenue_minor)).collect();
        let rows = products
            .iter()
            .map(|p| vec![p.sku.clone(), p.name.clone(), p.units.to_string(), decimal(p.revenue_minor, c.currency)])
            .collect();
        let svg = chart("Revenue by product (top 12)", c.currency.code(), bars);
        let header = ["sku", "product", "units", "revenue"];
        let r = self.report("sales-by-product", "Items sold by product", svg, &header, rows);
        Report { empty: "No sales in this period.".into(), ..r }
    }

    fn stock(&self) -> Report {
        let stock = &self.f.stock;
        let bars = stock
            .iter()
            .filter_map(|s| {
                Some(Bar { label: s.sku.clone(), value: s.on_shelf? as f64, text: format!("{} units", s.on_shelf?) })
            })
            .collect();
        let rows = stock
            .iter()
            .map(|s| {
                let on_shelf = s.on_shelf.map_or("—".into(), |n| n.to_string());
                vec![s.sku.clone(), s.name.clone(), s.home_plates.clone(), on_shelf, s.status.replace('_', " ")]
            })
            .collect();
        let svg = chart("Units on their own plates", "units", bars);
        let header = ["sku", "product", "plates", "on shelf", "status"];
        Report {
            empty: "No products.".into(),
            ..self.report("stock", "Stock on the shelves (now)", svg, &header, rows)
        }
    }

    fn misplaced(&self) -> Report {
        let misplaced = &self.f.misplaced;
        let bars = misplaced
            .iter()
            .map(|m| Bar {
                label: m.plate.clone(),
                value: m.quantity as f64,
                text: format!("{} x {}", m.quantity, m.sku),
            })
            .collect();
        let rows = misplaced
            .iter()
            .map(|m| {
                vec![m.plate.clone(), m.sku.clone(), m.name.clone(), m.quantity.to_string(), m.home_plates.clone()]
            })
            .collect();
        let svg = chart("Misplaced units by plate", "units", bars);
        let header = ["plate", "sku", "product", "units", "belongs on"];
        let r = self.report("misplaced", "Misplaced items (now)", svg, &header, rows);
        Report { empty: "Nothing is on the wrong plate.".into(), ..r }
    }

    fn discrepancies(&self) -> Report {
        let (c, gaps) = (self.c, &self.f.discrepancies);
        let money = |minor| decimal(minor, c.currency);
        let bars =
            gaps.iter().map(|d| money_bar(c, format!("#{} {}", d.receipt_no, d.sku), d.difference_minor)).collect();
        let rows = gaps
            .iter()
            .map(|d| {
                let (no, units) = (d.receipt_no.to_string(), d.quantity.to_string());
                let (charged, listed, gap) =
                    (money(d.charged_unit_minor), money(d.catalogue_unit_minor), money(d.difference_minor));
                vec![no, d.issued_at.clone(), d.sku.clone(), d.name.clone(), units, charged, listed, gap]
            })
            .collect();
        let svg = chart("Charged minus catalogue price", c.currency.code(), bars);
        let header = ["receipt", "issued", "sku", "product", "units", "charged", "catalogue", "difference"];
        let r = self.report("price-discrepancies", "Price discrepancies", svg, &header, rows);
        Report { empty: "Every line was charged at the catalogue's current price.".into(), ..r }
    }

    fn review(&self) -> Report {
        let bars = (self.f.stats.corrections_by_reason.iter())
            .map(|(r, n)| Bar { label: r.replace('_', " "), value: *n as f64, text: n.to_string() })
            .collect();
        let svg = chart("Corrections by reason", "corrections", bars);
        self.report("review", "Review statistics", svg, &["figure", "value"], stats_rows(&self.f.stats))
    }
}

fn stats_rows(s: &o::ReviewStats) -> Vec<Vec<String>> {
    let minutes = |m: Option<f64>| m.map_or("—".into(), |m| format!("{m:.1} min"));
    let mut rows = vec![
        vec!["visits exited".into(), s.visits_exited.to_string()],
        vec!["sent to review at the exit".into(), s.exit_reviews.to_string()],
        vec!["review rate".into(), format!("{:.1} %", s.review_rate * 100.0)],
        vec!["disputes".into(), s.disputes.to_string()],
        vec!["decided".into(), s.decided.to_string()],
        vec!["still open".into(), s.still_open.to_string()],
        vec!["median time to decide".into(), minutes(s.median_minutes_to_decide)],
        vec!["90th percentile time to decide".into(), minutes(s.p90_minutes_to_decide)],
    ];
    rows.extend(s.decisions.iter().map(|(d, n)| vec![format!("decision: {d}"), n.to_string()]));
    rows.extend(
        s.corrections_by_reason
            .iter()
            .map(|(r, n)| vec![format!("corrections: {}", r.replace('_', " ")), n.to_string()]),
    );
    rows
}

pub async fn page(Manager(who): Manager, Query(q): Query<PeriodQuery>) -> Result<Response, ConsoleError> {
    let c = &who.console;
    let (from, to, from_ms, to_ms) = period(&q, c.now())?;
    let f = figures(c, from_ms, to_ms).await?;
    let revenue: i64 = f.hours.iter().map(|h| h.revenue_minor).sum();
    let units: i64 = f.hours.iter().map(|h| h.units).sum();
    let summary = vec![
        ("Revenue (after refunds)".into(), format!("{} {}", decimal(revenue, c.currency), c.currency)),
        ("Receipts".into(), f.receipts.to_string()),
        ("Units sold".into(), units.to_string()),
        ("Review rate".into(), format!("{:.1} %", f.stats.review_rate * 100.0)),
        ("Out of stock".into(), f.stock.iter().filter(|s| s.status == "out_of_stock").count().to_string()),
        ("Price discrepancies".into(), f.discrepancies.len().to_string()),
    ];
    let query = format!("from={from}&to={to}");
    let page = OfficePage {
        frame: who.frame("office"),
        from: from.to_string(),
        to: to.to_string(),
        summary,
        reports: Reports { c, f: &f, query: &query }.all(),
    };
    Ok(html(&page))
}

/// One report's table as CSV (money in minor units, as stored).
pub async fn csv(
    Manager(who): Manager,
    Path(file): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ConsoleError> {
    let c = &who.console;
    let (from, to, from_ms, to_ms) = period(&q, c.now())?;
    let name = file.strip_suffix(".csv").unwrap_or(&file).to_owned();
    let f = figures(c, from_ms, to_ms).await?;
    let body = match name.as_str() {
        "sales-by-hour" => to_csv(&f.hours),
        "sales-by-product" => to_csv(&f.products),
        "stock" => to_csv(&f.stock),
        "misplaced" => to_csv(&f.misplaced),
        "price-discrepancies" => to_csv(&f.discrepancies),
        "review" => to_csv(&stats_rows(&f.stats).into_iter().map(|r| (r[0].clone(), r[1].clone())).collect::<Vec<_>>()),
        _ => return Err(ConsoleError::NotFound(format!("The report {name:?}"))),
    }
    .map_err(ConsoleError::internal)?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"walkout-{name}-{from}-{to}.csv\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
