//! `POST /gates/{gate}/scan`: the entry gate's scanner posts the QR text.

use crate::http::{ApiError, AppState};
use crate::visit::gate::GateError;
use crate::visit::token::TokenError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scan {
    pub token: String,
}

#[derive(Serialize)]
pub struct Admitted {
    pub visit_id: crate::ids::VisitId,
    pub party_size: i64,
    pub track_id: Option<String>,
}

fn status_of(e: &GateError) -> StatusCode {
    match e {
        GateError::Token(TokenError::Malformed | TokenError::BadClaims) => StatusCode::BAD_REQUEST,
        GateError::Token(TokenError::RevokedDevice) => StatusCode::FORBIDDEN,
        GateError::Token(TokenError::Replayed) => StatusCode::CONFLICT,
        GateError::Token(_) => StatusCode::UNAUTHORIZED,
        GateError::Hold(_) => StatusCode::PAYMENT_REQUIRED,
        GateError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

pub async fn scan(
    State(state): State<AppState>,
    Path(gate_id): Path<String>,
    Json(req): Json<Scan>,
) -> Result<(StatusCode, Json<Admitted>), ApiError> {
    let gate = state.gate.as_ref().ok_or_else(|| ApiError::unavailable("gate", "no gate service configured"))?;
    match gate.scan(&gate_id, &req.token, crate::now_ms()).await {
        Ok(v) => {
            Ok((StatusCode::CREATED, Json(Admitted { visit_id: v.id, party_size: v.party_size, track_id: v.track_id })))
        }
        Err(GateError::Storage(e)) => Err(ApiError::unavailable("database", e)),
        Err(e) => Err(ApiError::new(status_of(&e), e.code(), e.to_string())),
    }
}
