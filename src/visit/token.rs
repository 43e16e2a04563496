//! Entry tokens: what the shopper's phone shows as a QR code at the gate.
//!
//! The phone draws them itself (the entrance may have no signal), signed
//! with the device's Ed25519 key whose public half was registered with the
//! account. Wire format (URL-safe, QR-friendly):
//!
//! ```text
//! wo1.<base64url(claims JSON)>.<base64url(Ed25519 signature over "wo1.<claims part>")>
//! ```
//!
//! Claims: `{"account", "device", "iat", "exp", "jti", "guests"}` with unix
//! seconds; a token lives at most [`MAX_LIFETIME_S`]. Verification here is
//! pure (signature, times, shape); single use (`jti`) and device revocation
//! are checked by the gate against storage.

use crate::ids::{DeviceId, ShopperId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "wo1";
/// Longest allowed `exp - iat`, seconds.
pub const MAX_LIFETIME_S: i64 = 30;
/// Most guests one account may bring in.
pub const MAX_GUESTS: u8 = 8;
/// Longest accepted token text (a QR code holds it comfortably).
pub const MAX_TOKEN_LEN: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryClaims {
    pub account: ShopperId,
    pub device: DeviceId,
    /// Issued at, unix seconds (the phone's clock).
    pub iat: i64,
    /// Expires at, unix seconds; at most [`MAX_LIFETIME_S`] after `iat`.
    pub exp: i64,
    /// Unique token id: a token opens the gate once.
    pub jti: String,
    /// People entering on this account besides the holder.
    pub guests: u8,
}

/// Why a token was refused. Each has a stable code for the gate API and logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not an entry token")]
    Malformed,
    #[error("signature does not match the device key")]
    Forged,
    #[error("token expired")]
    Expired,
    #[error("token issued in the future (phone clock ahead?)")]
    NotYetValid,
    #[error("token lifetime over {MAX_LIFETIME_S} s, or guests over {MAX_GUESTS}")]
    BadClaims,
    #[error("device not registered")]
    UnknownDevice,
    #[error("device revoked")]
    RevokedDevice,
    #[error("token already used")]
    Replayed,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::Forged => "token_forged",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::BadClaims => "token_bad_claims",
            Self::UnknownDevice => "device_unknown",
            Self::RevokedDevice => "device_revoked",
            Self::Replayed => "token_replayed",
        }
    }
}

/// Signs claims with a device key (what the phone does).
pub fn sign(claims: &EntryClaims, key: &SigningKey) -> String {
    let body = B64.encode(serde_json::to_vec(claims).expect("claims serialise"));
    let signed = format!("{PREFIX}.{body}");
    let signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(signature.to_bytes()))
}

/// A token split into its parts, claims read but NOT yet trusted.
#[derive(Debug)]
pub struct Unverified {
    pub claims: EntryClaims,
    signed: String,
    signature: Signature,
}

/// Reads a token's claims without trusting them (to find the device key).
pub fn parse(token: &str) -> Result<Unverified, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.trim().split('.');
    let (Some(PREFIX), Some(body), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let claims_json = B64.decode(body).map_err(|_| TokenError::Malformed)?;
    let claims: EntryClaims = serde_json::from_slice(&claims_json).map_err(|_| TokenError::Malformed)?;
    let sig_bytes: [u8; 64] = B64.decode(sig).ok().and_then(|b| b.try_into().ok()).ok_or(TokenError::Malformed)?;
    Ok(Unverified { claims, signed: format!("{PREFIX}.{body}"), signature: Signature::from_bytes(&sig_bytes) })
}

impl Unverified {
    /// Checks the signature against the device's public key, then the times
    /// (with `skew_s` allowance for phone clocks) and the claims' shape.
    pub fn verify(self, device_key: &[u8], now_s: i64, skew_s: i64) -> Result<EntryClaims, TokenError> {
        let key_bytes: [u8; 32] = device_key.try_into().map_err(|_| TokenError::Forged)?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| TokenError::Forged)?;
        key.verify_strict(self.signed.as_bytes(), &self.signature).map_err(|_| TokenError::Forged)?;
        let c = self.claims;
        if c.exp <= c.iat
            || c.exp - c.iat > MAX_LIFETIME_S
            || c.guests > MAX_GUESTS
            || c.jti.is_empty()
            || c.jti.len() > 64
        {
            return Err(TokenError::BadClaims);
        }
        if c.iat > now_s + skew_s {
            return Err(TokenError::NotYetValid);
        }
        if c.exp + skew_s < now_s {
            return Err(TokenError::Expired);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn claims(iat: i64, exp: i64) -> EntryClaims {
        EntryClaims {
            account: ShopperId::from("shopper-1"),
            device: DeviceId::from("device-1"),
            iat,
            exp,
            jti: "j-1".into(),
            guests: 1,
        }
    }

    fn public(k: &SigningKey) -> [u8; 32] {
        k.verifying_key().to_bytes()
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_its_claims() {
        let k = key(1);
        let token = sign(&claims(1000, 1030), &k);
        assert!(token.starts_with("wo1.") && token.len() < 400, "{token}");
        let got = parse(&token).unwrap().verify(&public(&k), 1010, 5).unwrap();
        assert_eq!(got, claims(1000, 1030));
    }

    #[test]
    fn forged_tampered_and_wrong_key_tokens_are_forged() {
        let k = key(1);
        let token = sign(&claims(1000, 1030), &k);
        assert_eq!(parse(&token).unwrap().verify(&public(&key(2)), 1010, 5).unwrap_err(), TokenError::Forged);
        let mut evil = claims(1000, 1030);
        evil.guests = 5;
        let body = B64.encode(serde_json::to_vec(&evil).unwrap());
        let sig = token.rsplit('.').next().unwrap();
        let tampered = format!("wo1.{body}.{sig}");
        assert_eq!(parse(&tampered).unwrap().verify(&public(&k), 1010, 5).unwrap_err(), TokenError::Forged);
        assert_eq!(parse(&token).unwrap().verify(&[0u8; 31], 1010, 5).unwrap_err(), TokenError::Forged);
    }

    #[test]
    fn times_are_checked_with_skew() {
        let k = key(1);
        let token = |iat, exp| parse(&sign(&claims(iat, exp), &k)).unwrap();
        assert_eq!(token(1000, 1030).verify(&public(&k), 1036, 5).unwrap_err(), TokenError::Expired);
        assert!(token(1000, 1030).verify(&public(&k), 1034, 5).is_ok(), "within the skew");
        assert_eq!(token(1000, 1030).verify(&public(&k), 990, 5).unwrap_err(), TokenError::NotYetValid);
        assert_eq!(token(1000, 1031).verify(&public(&k), 1010, 5).unwrap_err(), TokenError::BadClaims);
        assert_eq!(token(1000, 1000).verify(&public(&k), 1000, 5).unwrap_err(), TokenError::BadClaims);
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        for bad in ["", "wo1", "wo1.a.b", "wo2.e30.AA", "wo1.e30.AA.x", "x".repeat(5000).as_str(), "wo1.!!!.???"] {
            assert_eq!(parse(bad).unwrap_err(), TokenError::Malformed, "{bad:.20}");
        }
        let body = B64.encode(br#"{"account":"a","device":"d","iat":1,"exp":2,"jti":"j","guests":0,"admin":true}"#);
        let sig = B64.encode([0u8; 64]);
        assert_eq!(parse(&format!("wo1.{body}.{sig}")).unwrap_err(), TokenError::Malformed, "unknown claims");
    }
}
