//! Shopper authentication: argon2 password hashes, opaque bearer session
//! tokens (only their SHA-256 is stored), and the [`Shopper`] extractor that
//! turns `Authorization: Bearer <token>` into the signed-in account.

use crate::db::Session;
use crate::http::{ApiError, AppState};
use crate::ids::ShopperId;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rand::RngExt;
use sha2::Digest;

/// How long a login lasts.
pub const SESSION_DAYS: i64 = 30;

/// An argon2id PHC string for `password` (CPU-heavy: call from a blocking thread).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(ApiError::internal)
}

/// Whether `password` matches the stored PHC string (CPU-heavy, like hashing).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Runs argon2 work off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)
}

/// Hex SHA-256 of a bearer token: what the database keeps.
pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random bearer token and its session row.
pub fn new_session(shopper: &ShopperId, now_ms: i64) -> (String, Session) {
    let bytes: [u8; 32] = rand::rng().random();
    let token = B64.encode(bytes);
    let session = Session {
        token_hash: token_hash(&token),
        shopper_id: shopper.clone(),
        created_at: now_ms,
        expires_at: now_ms + SESSION_DAYS * 86_400_000,
    };
    (token, session)
}

/// The signed-in shopper of a request.
pub struct Shopper(pub ShopperId);

impl FromRequestParts<AppState> for Shopper {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let unauthorised = || ApiError::new(axum::http::StatusCode::UNAUTHORIZED, "unauthorised", "sign in first");
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(unauthorised)?;
        let session = state
            .storage
            .live_session(&token_hash(token.trim()), crate::now_ms())
            .await
            .map_err(|e| ApiError::unavailable("database", e))?
            .ok_or_else(unauthorised)?;
        Ok(Shopper(session.shopper_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let phc = hash_password("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("anything", "not a phc string"));
    }

    #[test]
    fn sessions_store_only_a_hash_of_the_token() {
        let (token, session) = new_session(&ShopperId::from("s"), 1_000);
        assert_ne!(session.token_hash, token);
        assert_eq!(session.token_hash, token_hash(&token));
        assert_eq!(session.token_hash.len(), 64);
        assert_eq!(session.expires_at - session.created_at, SESSION_DAYS * 86_400_000);
    }
}
