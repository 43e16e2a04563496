//! The console's pages: one askama template each (`src/review/templates/`,
//! compiled into the binary and type-checked), the view structs they read,
//! and [`html`], which renders a page with the console's security headers.
//! Views hold display-ready strings; SVG fields are drawn by our own code
//! ([`super::chart`], [`super::map`]) with every text escaped.

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

/// Only the console's own files; inline SVG is markup, not script or style.
const CSP: &str = "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The signed-in member of staff, for the header.
#[derive(Clone, Debug)]
pub struct Nav {
    pub username: String,
    pub role: String,
    pub manager: bool,
    /// The session's CSRF token, for the logout form.
    pub csrf: String,
}

/// What every page's frame shows.
#[derive(Clone, Debug)]
pub struct Frame {
    pub store_name: String,
    pub retention_hours: u64,
    pub nav: Option<Nav>,
    /// `queue`, `live`, `office`, `privacy` or empty.
    pub active: &'static str,
}

impl Frame {
    /// For pages shown before anyone is known (login, errors).
    pub fn anonymous() -> Self {
        Self { store_name: "walkout".into(), retention_hours: 72, nav: None, active: "" }
    }
}

/// Renders a page with `no-store` caching and the console's CSP.
pub fn html<T: Template>(page: &T) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "console: template");
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = Html(body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub frame: Frame,
    pub status: u16,
    pub title: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub frame: Frame,
    pub csrf: String,
    pub next: String,
    pub username: String,
    pub message: Option<String>,
}

#[derive(Template)]
#[template(path = "privacy.html")]
pub struct PrivacyPage {
    pub frame: Frame,
}

/// A case waiting in the queue.
#[derive(Clone, Debug)]
pub struct QueueRow {
    pub id: String,
    pub href: String,
    /// `exit review` or `dispute`.
    pub kind: &'static str,
    pub reasons: Vec<String>,
    pub visit: String,
    pub opened: String,
    pub waiting: String,
    pub claimed_by: Option<String>,
    pub mine: bool,
}

/// A case decided lately.
#[derive(Clone, Debug)]
pub struct DecidedRow {
    pub id: String,
    pub href: String,
    pub decision: String,
    pub by: String,
    pub decided: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub frame: Frame,
    pub open: Vec<QueueRow>,
    pub recent: Vec<DecidedRow>,
}

/// The shelf's proposal for an event.
#[derive(Clone, Debug)]
pub struct CandidateRow {
    pub name: String,
    pub sku: String,
    pub qty: u32,
    pub p: String,
}

/// One piece of evidence on the case page.
#[derive(Clone, Debug)]
pub struct EvidenceView {
    pub kind: String,
    pub source: String,
    pub time: String,
    /// A snapshot's URL.
    pub img: Option<String>,
    /// A weight trace drawn as SVG (our own markup).
    pub svg: Option<String>,
    pub candidates: Vec<CandidateRow>,
    /// The file is gone (retention) or unreadable.
    pub missing: bool,
}

/// One entry of the visit's ledger.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub time: String,
    pub kind: String,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub confidence: String,
    pub low: bool,
    pub source: String,
    pub note: Option<String>,
    pub evidence: Vec<EvidenceView>,
}

/// A cart line the reviewer can correct.
#[derive(Clone, Debug)]
pub struct CartRow {
    pub index: usize,
    pub sku: String,
    pub name: String,
    pub held: i64,
    pub unit_price: String,
    /// Every product, this line's own first (so it is the one selected).
    pub product_options: Vec<(String, String)>,
}

/// A decided case's outcome.
#[derive(Clone, Debug)]
pub struct DecidedView {
    pub by: String,
    pub at: String,
    pub decision: String,
    pub comment: String,
    /// What happened to the money.
    pub outcome: String,
    /// The decision stands but the visit is not charged yet.
    pub retry_charge: bool,
}

#[derive(Template)]
#[template(path = "case.html")]
pub struct CasePage {
    pub frame: Frame,
    pub csrf: String,
    pub case_id: String,
    pub kind: &'static str,
    pub reasons: Vec<String>,
    pub visit_id: String,
    pub shopper: String,
    pub entered: String,
    pub exited: String,
    pub visit_status: String,
    /// The viewer holds the claim: the decision form is shown.
    pub deciding: bool,
    /// A shopper's dispute of a charged line (refund or reject), not an exit review.
    pub is_dispute: bool,
    /// Someone else holds the claim.
    pub claimed_by: Option<String>,
    pub decided: Option<DecidedView>,
    pub timeline: Vec<TimelineEntry>,
    pub other_evidence: Vec<EvidenceView>,
    pub cart: Vec<CartRow>,
    pub total: String,
    pub version: String,
    /// Every product, for the missed-item row.
    pub products: Vec<(String, String)>,
    /// Visits of the same time that units can move to: id and label.
    pub others: Vec<(String, String)>,
}

/// An open visit on the live page.
#[derive(Clone, Debug)]
pub struct LiveVisit {
    pub id: String,
    pub short: String,
    pub shopper: String,
    pub entered: String,
    pub items: Vec<(String, i64)>,
}

#[derive(Template)]
#[template(path = "live.html")]
pub struct LivePage {
    pub frame: Frame,
    pub map: String,
    pub visits: Vec<LiveVisit>,
    pub degraded: Vec<(String, String)>,
}

/// A chart with its table's CSV export.
#[derive(Clone, Debug)]
pub struct Report {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
    pub csv: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Shown when there are no rows.
    pub empty: String,
}

#[derive(Template)]
#[template(path = "office.html")]
pub struct OfficePage {
    pub frame: Frame,
    pub from: String,
    pub to: String,
    pub summary: Vec<(String, String)>,
    pub reports: Vec<Report>,
}
