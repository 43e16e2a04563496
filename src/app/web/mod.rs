//! The shopper's installable web app (PWA), served under `/app/` from files
//! embedded in the binary ([`assets`]): sign-up, a sandbox card, the phone's
//! Ed25519 entry key (WebCrypto, kept in IndexedDB), the entry QR drawn and
//! signed on the phone, receipts with push notifications, and disputes
//! ([`disputes`] lists their outcomes). Every path under `/app/` that is not
//! a file answers with the app's shell, so links to app pages (a receipt
//! from a notification) open directly. Described in `docs/shopper-app.md`.

pub mod assets;
pub mod disputes;
#[cfg(test)]
mod icons;

use crate::http::AppState;
use assets::Asset;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;

/// The app's pages may load only what the app itself serves.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; \
     connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The routes of the app (merged into [`crate::app::routes`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent("/app/") }))
        .route("/app/", get(shell))
        .route("/app/sw.js", get(service_worker))
        .route("/app/config.json", get(config))
        .route("/app/{*path}", get(file_or_page))
}

/// `true` when the request already holds this build's copy.
fn fresh(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}

/// A file with revalidation (`no-cache` + ETag: installed apps see updates
/// at once; the service worker keeps them for offline use).
fn respond(headers: &HeaderMap, content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let etag = format!("\"{}\"", *assets::VERSION);
    let mut response = if fresh(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body.into()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if content_type.starts_with("text/html") {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    response
}

fn serve(headers: &HeaderMap, asset: &'static Asset) -> Response {
    respond(headers, asset.content_type, asset.body)
}

async fn shell(headers: HeaderMap) -> Response {
    serve(&headers, assets::shell())
}

async fn service_worker(headers: HeaderMap) -> Response {
    respond(&headers, "text/javascript; charset=utf-8", assets::SERVICE_WORKER_JS.as_str())
}

/// An embedded file; any other path without a file extension is an app page.
async fn file_or_page(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if let Some(asset) = assets::find(&path).filter(|a| a.path != "index.html") {
        return serve(&headers, asset);
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return crate::http::ApiError::not_found("file").into_response();
    }
    serve(&headers, assets::shell())
}

/// A sandbox test card as the app offers it: the provider token and the
/// brand and last four digits that card reports (Stripe's test cards).
#[derive(Debug, Serialize, PartialEq)]
pub struct TestCard {
    pub token: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    /// What the sandbox does with it (from [`crate::payments::TEST_TOKENS`]).
    pub behaviour: &'static str,
}

const SANDBOX_CARDS: &[(&str, &str, &str)] = &[
    ("tok_visa", "visa", "4242"),
    ("tok_mastercard", "mastercard", "4444"),
    ("tok_amex", "amex", "8431"),
    ("tok_chargeDeclined", "visa", "0002"),
    ("tok_expiredCard", "visa", "0069"),
    ("tok_insufficientFunds", "visa", "9995"),
    ("tok_authenticationRequired", "visa", "3184"),
    ("tok_insufficientFundsOnCharge", "visa", "0341"),
];

/// Every sandbox token the provider knows, in its order, with its card.
pub fn test_cards() -> Vec<TestCard> {
    crate::payments::TEST_TOKENS
        .iter()
        .filter_map(|(token, behaviour)| {
            let (_, brand, last4) = SANDBOX_CARDS.iter().find(|(t, ..)| t == token)?;
            Some(TestCard { token, brand, last4, behaviour })
        })
        .collect()
}

#[derive(Serialize)]
struct AppConfig {
    payment_provider: &'static str,
    /// Only with the sandbox provider; a real provider's cards come from its hosted form.
    test_cards: Vec<TestCard>,
    version: &'static str,
}

async fn config(State(state): State<AppState>) -> Response {
    let test_cards = if state.payment_provider == "sandbox" { test_cards() } else { Vec::new() };
    let body = AppConfig { payment_provider: state.payment_provider, test_cards, version: assets::VERSION.as_str() };
    ([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sandbox_token_has_a_test_card() {
        let cards = test_cards();
        assert_eq!(cards.len(), crate::payments::TEST_TOKENS.len());
        assert_eq!(cards[0], TestCard { token: "tok_visa", brand: "visa", last4: "4242", behaviour: "approved" });
        assert!(cards.iter().all(|c| c.last4.len() == 4 && c.last4.bytes().all(|b| b.is_ascii_digit())));
    }

    #[test]
    fn etags_match_in_lists_and_alone() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\", \"b\""));
        assert!(fresh(&h, "\"b\""));
        assert!(!fresh(&h, "\"c\""));
        assert!(!fresh(&HeaderMap::new(), "\"a\""));
    }
}
