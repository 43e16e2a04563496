//! The OpenAPI 3.1 document of the shopper and gate API, served at
//! `/openapi.json`. [`OPERATIONS`] lists every operation once; a test sends
//! a request to each and checks the router knows it.

use axum::Json;
use serde_json::{Value, json};

/// One documented operation.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Needs `Authorization: Bearer <session token>`.
    pub session: bool,
    /// Name of the request body's schema in `components.schemas`.
    pub body: Option<&'static str>,
    /// Status of a successful response.
    pub status: u16,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    session: bool,
    body: Option<&'static str>,
    status: u16,
) -> Operation {
    Operation { method, path, summary, session, body, status }
}

pub const OPERATIONS: &[Operation] = &[
    op("post", "/api/v1/accounts", "Sign up; returns a session", false, Some("SignUp"), 201),
    op("post", "/api/v1/sessions", "Log in; returns a session", false, Some("Login"), 200),
    op("delete", "/api/v1/sessions", "Log out (ends this session)", true, None, 204),
    op("get", "/api/v1/me", "The signed-in account", true, None, 200),
    op(
        "post",
        "/api/v1/payment-methods",
        "Add a payment method (provider token, brand, last four)",
        true,
        Some("NewPaymentMethod"),
        201,
    ),
    op("get", "/api/v1/payment-methods", "List payment methods", true, None, 200),
    op("post", "/api/v1/devices", "Register a phone's Ed25519 entry key", true, Some("NewDevice"), 201),
    op("delete", "/api/v1/devices/{id}", "Revoke a device", true, None, 204),
    op("get", "/api/v1/receipts", "List receipts, newest first", true, None, 200),
    op("get", "/api/v1/receipts/{id}", "One receipt", true, None, 200),
    op(
        "post",
        "/api/v1/receipts/{id}/disputes",
        "Dispute a line: small amounts are refunded at once, others go to review",
        true,
        Some("Dispute"),
        200,
    ),
    op(
        "get",
        "/api/v1/receipts/{id}/disputes",
        "The disputes on a receipt and their outcomes (refund, or the review case and its decision)",
        true,
        None,
        200,
    ),
    op("post", "/webhooks/stripe", "Stripe event notifications (verified by Stripe-Signature)", false, None, 200),
    op("get", "/api/v1/push/key", "The VAPID public key to subscribe with", false, None, 200),
    op(
        "post",
        "/api/v1/push/subscriptions",
        "Save this browser's push subscription",
        true,
        Some("PushSubscription"),
        201,
    ),
    op(
        "post",
        "/gates/{gate}/scan",
        "A gate scanned an entry token: verify it and open the visit",
        false,
        Some("Scan"),
        201,
    ),
];

fn schemas() -> Value {
    let string = json!({"type": "string"});
    json!({
        "SignUp": {"type": "object", "required": ["email", "password", "display_name"], "additionalProperties": false,
            "properties": {"email": {"type": "string", "format": "email"}, "password": {"type": "string", "minLength": 10},
                "display_name": {"type": "string", "maxLength": 100}}},
        "Login": {"type": "object", "required": ["email", "password"], "additionalProperties": false,
            "properties": {"email": string, "password": string}},
        "NewPaymentMethod": {"type": "object", "required": ["provider_token", "brand", "last4"], "additionalProperties": false,
            "description": "What the provider's hosted card form returns; card numbers are refused.",
            "properties": {"provider_token": string, "brand": string, "last4": {"type": "string", "pattern": "^[0-9]{4}$"}}},
        "NewDevice": {"type": "object", "required": ["public_key", "label"], "additionalProperties": false,
            "properties": {"public_key": {"type": "string", "description": "base64url of the 32-byte Ed25519 public key"},
                "label": string}},
        "PushSubscription": {"type": "object", "required": ["endpoint", "keys"],
            "description": "PushSubscription.toJSON() of the browser",
            "properties": {"endpoint": {"type": "string", "format": "uri"},
                "keys": {"type": "object", "required": ["p256dh", "auth"], "properties": {"p256dh": string, "auth": string}}}},
        "Dispute": {"type": "object", "required": ["request_id", "line_no", "quantity"], "additionalProperties": false,
            "properties": {"request_id": {"type": "string", "description": "unique per dispute; a retry returns the first outcome"},
                "line_no": {"type": "integer"}, "quantity": {"type": "integer", "minimum": 1}, "note": string}},
        "Scan": {"type": "object", "required": ["token"], "additionalProperties": false,
            "properties": {"token": {"type": "string", "description": "wo1.<claims>.<signature>, as read from the QR code"}}},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"type": "string", "description": "stable machine-readable code, e.g. token_replayed"},
                "message": string}}}}
    })
}

/// The whole document.
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for Operation { method, path, summary, session, body, status } in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "responses": {
                status.to_string(): {"description": "success"},
                "default": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if *session {
            op["security"] = json!([{"session": []}]);
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({"required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "walkout shopper and gate API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"session": {"type": "http", "scheme": "bearer", "description": "token from POST /api/v1/sessions"}}
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(openapi())
}
