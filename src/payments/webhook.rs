//! Stripe webhook verification. Stripe signs each delivery with the
//! endpoint's secret: `Stripe-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256(secret, "<t>.<raw body>")>` (several `v1` during a secret
//! rotation). A delivery is accepted when one `v1` matches (compared in
//! constant time) and `t` is within the tolerance of now (default 300 s,
//! both ways), which bounds replays. The current time is passed in.

use crate::config::Secret;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Stripe's default: deliveries older than five minutes are refused.
pub const DEFAULT_TOLERANCE_S: i64 = 300;

/// Why a webhook delivery was refused; each answers HTTP 400.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("no webhook signing secret is configured (payments.stripe_webhook_secret)")]
    NoSecret,
    #[error("missing Stripe-Signature header")]
    MissingSignature,
    #[error("malformed Stripe-Signature header: {0}")]
    MalformedHeader(&'static str),
    #[error("no v1 signature matches the payload")]
    SignatureMismatch,
    #[error("signature timestamp is {age_s} s from now, outside the {tolerance_s} s tolerance")]
    OutsideTolerance { age_s: i64, tolerance_s: i64 },
    #[error("signed payload is not a Stripe event: {0}")]
    InvalidPayload(String),
}

/// A verified Stripe event; `data.object` is the PaymentIntent, Refund, ...
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    /// e.g. `payment_intent.succeeded`, `payment_intent.canceled`, `charge.refunded`.
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// Checks `Stripe-Signature` headers against the endpoint's signing secret.
#[derive(Clone, Debug)]
pub struct WebhookVerifier {
    secret: Secret,
    tolerance_s: i64,
}

impl WebhookVerifier {
    pub fn new(secret: Secret) -> Self {
        Self { secret, tolerance_s: DEFAULT_TOLERANCE_S }
    }

    pub fn with_tolerance(mut self, seconds: i64) -> Self {
        self.tolerance_s = seconds;
        self
    }

    /// Verifies the raw body (exactly as received) and parses the event.
    pub fn verify(&self, header: Option<&str>, body: &[u8], now_unix_s: i64) -> Result<StripeEvent, WebhookError> {
        if self.secret.expose().is_empty() {
            return Err(WebhookError::NoSecret);
        }
        let header = header.filter(|h| !h.trim().is_empty()).ok_or(WebhookError::MissingSignature)?;
        let (timestamp, signatures) = parse_header(header)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes()).expect("HMAC takes any key");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        if !signatures.iter().any(|s| decode_hex(s).is_some_and(|sig| mac.clone().verify_slice(&sig).is_ok())) {
            return Err(WebhookError::SignatureMismatch);
        }
        let t: i64 = timestamp.parse().map_err(|_| WebhookError::MalformedHeader("t is not a unix time"))?;
        let age_s = now_unix_s.saturating_sub(t);
        if age_s.abs() > self.tolerance_s {
            return Err(WebhookError::OutsideTolerance { age_s, tolerance_s: self.tolerance_s });
        }
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidPayload(e.to_string()))
    }
}

/// `t=...` and every `v1=...`; other schemes (`v0`) are ignored.
fn parse_header(header: &str) -> Result<(&str, Vec<&str>), WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (name, value) = item.trim().split_once('=').ok_or(WebhookError::MalformedHeader("expected key=value"))?;
        match name {
            "t" => timestamp = Some(value),
            "v1" => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::MalformedHeader("no t= timestamp"))?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedHeader("no v1= signature"));
    }
    Ok((timestamp, signatures))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_parsed_strictly() {
        assert_eq!(parse_header("t=12,v0=aa,v1=bb,v1=cc").unwrap(), ("12", vec!["bb", "cc"]));
        assert_eq!(parse_header("v1=bb"), Err(WebhookError::MalformedHeader("no t= timestamp")));
        assert_eq!(parse_header("t=12"), Err(WebhookError::MalformedHeader("no v1= signature")));
        assert_eq!(parse_header("t12"), Err(WebhookError::MalformedHeader("expected key=value")));
    }

    #[test]
    fn hex_decoding_refuses_junk() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é0"), None);
    }

    #[test]
    fn no_secret_refuses_everything() {
        let v = WebhookVerifier::new(Secret::default());
        assert_eq!(v.verify(Some("t=1,v1=00"), b"{}", 1), Err(WebhookError::NoSecret));
    }
}
