//! The shopper-facing HTTP surface: the accounts API ([`api`]) with its
//! authentication ([`auth`]), the gate scan ([`gate_api`]), the OpenAPI
//! document ([`openapi`]) and the shopper's installable web app ([`web`]).

pub mod api;
pub mod auth;
pub mod disputes;
pub mod gate_api;
pub mod openapi;
pub mod web;
pub mod webhooks;

use crate::http::AppState;
use axum::Router;
use axum::routing::{delete, get, post};

/// The routes this module serves (merged into [`crate::http::app`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", post(api::sign_up))
        .route("/api/v1/sessions", post(api::log_in).delete(api::log_out))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/payment-methods", post(api::add_payment_method).get(api::list_payment_methods))
        .route("/api/v1/devices", post(api::register_device))
        .route("/api/v1/devices/{id}", delete(api::revoke_device))
        .route("/api/v1/receipts", get(api::list_receipts))
        .route("/api/v1/receipts/{id}", get(api::get_receipt))
        .route("/api/v1/receipts/{id}/disputes", post(disputes::dispute).get(web::disputes::list))
        .route("/api/v1/push/key", get(api::push_key))
        .route("/api/v1/push/subscriptions", post(api::save_push_subscription))
        .route("/gates/{gate}/scan", post(gate_api::scan))
        .route("/openapi.json", get(openapi::document))
        .route("/webhooks/stripe", post(webhooks::stripe))
        .merge(web::routes())
}
