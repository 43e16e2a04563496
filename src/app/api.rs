//! The shopper accounts API (JSON under `/api/v1`): sign-up, login and
//! logout, payment methods (a provider token, brand and last four digits:
//! never a card number), devices (Ed25519 public keys for entry tokens) and
//! their revocation, receipts. Documented at `/openapi.json`.

use super::auth::{Shopper, blocking, hash_password, new_session, token_hash, verify_password};
use crate::db::{DbError, Device, PaymentMethod, Receipt};
use crate::http::{ApiError, AppState};
use crate::ids::{DeviceId, PaymentMethodId, ShopperId};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};

fn db(e: DbError) -> ApiError {
    ApiError::unavailable("database", e)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(Serialize)]
pub struct SignedIn {
    pub shopper_id: ShopperId,
    pub token: String,
    pub expires_at: i64,
}

fn normalise_email(email: &str) -> Result<String, ApiError> {
    let e = email.trim().to_ascii_lowercase();
    let valid = e.len() <= 254 && e.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
    if !valid {
        return Err(ApiError::bad_request("invalid_email", "give a valid e-mail address"));
    }
    Ok(e)
}

async fn start_session(state: &AppState, shopper: ShopperId) -> Result<SignedIn, ApiError> {
    let (token, session) = new_session(&shopper, crate::now_ms());
    state.storage.create_session(&session).await.map_err(db)?;
    Ok(SignedIn { shopper_id: shopper, token, expires_at: session.expires_at })
}

pub async fn sign_up(
    State(state): State<AppState>,
    Json(req): Json<SignUp>,
) -> Result<(StatusCode, Json<SignedIn>), ApiError> {
    let email = normalise_email(&req.email)?;
    if req.password.chars().count() < 10 {
        return Err(ApiError::bad_request("weak_password", "use at least 10 characters"));
    }
    let name = req.display_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("invalid_name", "give a display name of 1 to 100 characters"));
    }
    let password = req.password;
    let password_hash = blocking(move || hash_password(&password)).await??;
    let shopper = crate::db::Shopper {
        id: ShopperId::random(),
        email,
        display_name: name.to_owned(),
        password_hash,
        loyalty_points: 0,
        created_at: crate::now_ms(),
    };
    match state.storage.create_shopper(&shopper).await {
        Ok(()) => {}
        Err(DbError::Conflict { .. }) => {
            return Err(ApiError::new(StatusCode::CONFLICT, "email_taken", "an account with this e-mail exists"));
        }
        Err(e) => return Err(db(e)),
    }
    Ok((StatusCode::CREATED, Json(start_session(&state, shopper.id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

pub async fn log_in(State(state): State<AppState>, Json(req): Json<Login>) -> Result<Json<SignedIn>, ApiError> {
    let refused = || ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "wrong e-mail or password");
    let email = normalise_email(&req.email).map_err(|_| refused())?;
    let shopper = state.storage.shopper_by_email(&email).await.map_err(db)?;
    // Hash even for an unknown e-mail, so timing does not reveal accounts.
    let phc = shopper.as_ref().map(|s| s.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
    let password = req.password;
    let ok = blocking(move || verify_password(&password, &phc)).await?;
    match shopper {
        Some(s) if ok => Ok(Json(start_session(&state, s.id).await?)),
        _ => Err(refused()),
    }
}

/// A real argon2id hash (of a password nobody has), verified against for
/// unknown e-mails so they cost the same time as known ones.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no account has this password").unwrap_or_default());

pub async fn log_out(State(state): State<AppState>, _who: Shopper, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    if let Some(token) =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    {
        state.storage.delete_session(&token_hash(token.trim())).await.map_err(db)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct Me {
    pub shopper_id: ShopperId,
    pub email: String,
    pub display_name: String,
    pub loyalty_points: i64,
}

pub async fn me(State(state): State<AppState>, Shopper(id): Shopper) -> Result<Json<Me>, ApiError> {
    let s = state.storage.get_shopper(&id).await.map_err(db)?.ok_or_else(|| ApiError::not_found("account"))?;
    Ok(Json(Me { shopper_id: s.id, email: s.email, display_name: s.display_name, loyalty_points: s.loyalty_points }))
}

/// What the provider's hosted card form hands back: never the card number.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPaymentMethod {
    pub provider_token: String,
    pub brand: String,
    pub last4: String,
}

#[derive(Serialize)]
pub struct PaymentMethodView {
    pub id: PaymentMethodId,
    pub brand: String,
    pub last4: String,
    pub is_default: bool,
}

impl From<PaymentMethod> for PaymentMethodView {
    fn from(m: PaymentMethod) -> Self {
        Self { id: m.id, brand: m.brand, last4: m.last4, is_default: m.is_default }
    }
}

pub async fn add_payment_method(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Json(req): Json<NewPaymentMethod>,
) -> Result<(StatusCode, Json<PaymentMethodView>), ApiError> {
    if req.last4.len() != 4 || !req.last4.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request("invalid_last4", "last4 is the last four digits only"));
    }
    let token = req.provider_token.trim();
    if token.is_empty() || token.len() > 255 || token.bytes().filter(u8::is_ascii_digit).count() >= 12 {
        // A string with a dozen digits looks like a card number: refuse to store it.
        return Err(ApiError::bad_request("invalid_provider_token", "send the provider's token, never card data"));
    }
    let existing = state.storage.list_payment_methods(&shopper).await.map_err(db)?;
    let method = PaymentMethod {
        id: PaymentMethodId::random(),
        shopper_id: shopper,
        provider: state.payment_provider.to_owned(),
        provider_token: token.to_owned(),
        brand: req.brand.trim().to_ascii_lowercase(),
        last4: req.last4,
        is_default: existing.is_empty(),
        created_at: crate::now_ms(),
    };
    match state.storage.add_payment_method(&method).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(method.into()))),
        Err(DbError::Conflict { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, "payment_method_exists", "already added"))
        }
        Err(e) => Err(db(e)),
    }
}

pub async fn list_payment_methods(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
) -> Result<Json<Vec<PaymentMethodView>>, ApiError> {
    let methods = state.storage.list_payment_methods(&shopper).await.map_err(db)?;
    Ok(Json(methods.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// base64url of the 32-byte Ed25519 public key.
    pub public_key: String,
    pub label: String,
}

#[derive(Serialize)]
pub struct DeviceView {
    pub device_id: DeviceId,
    pub label: String,
    pub revoked: bool,
}

pub async fn register_device(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Json(req): Json<NewDevice>,
) -> Result<(StatusCode, Json<DeviceView>), ApiError> {
    let key: [u8; 32] = B64
        .decode(req.public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .filter(|k: &[u8; 32]| ed25519_dalek::VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_public_key", "public_key is base64url of a 32-byte Ed25519 key")
        })?;
    let device = Device {
        id: DeviceId::random(),
        shopper_id: shopper,
        public_key: key.to_vec(),
        label: req.label.trim().chars().take(100).collect(),
        created_at: crate::now_ms(),
        revoked_at: None,
    };
    match state.storage.register_device(&device).await {
        Ok(()) => {
            Ok((StatusCode::CREATED, Json(DeviceView { device_id: device.id, label: device.label, revoked: false })))
        }
        Err(DbError::Conflict { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, "device_exists", "key already registered"))
        }
        Err(e) => Err(db(e)),
    }
}

pub async fn revoke_device(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = DeviceId(id);
    let device = state.storage.get_device(&id).await.map_err(db)?;
    if device.is_none_or(|d| d.shopper_id != shopper) {
        return Err(ApiError::not_found("device"));
    }
    state.storage.revoke_device(&id, crate::now_ms()).await.map_err(db)?;
    tracing::info!(device = %id, "device revoked by its owner");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub struct ReceiptView {
    pub id: String,
    pub receipt_no: i64,
    pub visit_id: crate::ids::VisitId,
    pub issued_at: i64,
    pub currency: String,
    pub total_minor: i64,
    pub tax_minor: i64,
    pub document: serde_json::Value,
}

impl From<Receipt> for ReceiptView {
    fn from(r: Receipt) -> Self {
        let document = serde_json::from_str(&r.body_json).unwrap_or(serde_json::Value::Null);
        Self {
            id: r.id,
            receipt_no: r.receipt_no,
            visit_id: r.visit_id,
            issued_at: r.issued_at,
            currency: r.currency,
            total_minor: r.total_minor,
            tax_minor: r.tax_minor,
            document,
        }
    }
}

pub async fn list_receipts(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
) -> Result<Json<Vec<ReceiptView>>, ApiError> {
    let receipts = state.storage.receipts_for_shopper(&shopper).await.map_err(db)?;
    Ok(Json(receipts.into_iter().map(Into::into).collect()))
}

pub async fn get_receipt(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Path(id): Path<String>,
) -> Result<Json<ReceiptView>, ApiError> {
    match state.storage.get_receipt(&id).await.map_err(db)? {
        Some(r) if r.shopper_id == shopper => Ok(Json(r.into())),
        _ => Err(ApiError::not_found("receipt")),
    }
}

/// A browser's PushSubscription as `PushSubscription.toJSON()` gives it.
#[derive(Deserialize)]
pub struct NewPushSubscription {
    pub endpoint: String,
    pub keys: PushKeys,
}

#[derive(Deserialize)]
pub struct PushKeys {
    pub p256dh: String,
    pub auth: String,
}

#[derive(Serialize)]
pub struct PushKey {
    #[serde(rename = "applicationServerKey")]
    pub application_server_key: String,
}

/// The VAPID public key the app subscribes with.
pub async fn push_key(State(state): State<AppState>) -> Result<Json<PushKey>, ApiError> {
    let key = state.vapid_public_key.clone().ok_or_else(|| ApiError::unavailable("web push", "no VAPID key loaded"))?;
    Ok(Json(PushKey { application_server_key: key }))
}

pub async fn save_push_subscription(
    State(state): State<AppState>,
    Shopper(shopper): Shopper,
    Json(req): Json<NewPushSubscription>,
) -> Result<StatusCode, ApiError> {
    let bad = |m: &str| ApiError::bad_request("invalid_subscription", m.to_owned());
    if !req.endpoint.starts_with("https://") || req.endpoint.len() > 2048 {
        return Err(bad("the endpoint must be an https:// URL"));
    }
    let decoded_len = |s: &str| B64.decode(s.trim_end_matches('=')).map(|b| b.len()).unwrap_or(0);
    if decoded_len(&req.keys.p256dh) != 65 || decoded_len(&req.keys.auth) != 16 {
        return Err(bad("keys.p256dh must be a 65-byte P-256 point and keys.auth 16 bytes, base64url"));
    }
    let subscription = crate::db::PushSubscription {
        endpoint: req.endpoint,
        shopper_id: shopper,
        p256dh: req.keys.p256dh,
        auth: req.keys.auth,
        created_at: crate::now_ms(),
    };
    state.storage.save_push_subscription(&subscription).await.map_err(db)?;
    Ok(StatusCode::CREATED)
}
