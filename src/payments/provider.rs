//! The provider boundary: what walkout asks a card processor to do and the
//! outcomes it can get back. Amounts travel as integer minor units with their
//! ISO 4217 code; every request carries an idempotency key that the provider
//! must honour (the same key returns the first outcome and moves no money).

use crate::money::Currency;
use serde::{Deserialize, Serialize};

/// An amount on the wire: integer minor units and the currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub currency: Currency,
}

impl Amount {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
}

/// The final answer of a provider to one request. Anything that is not final
/// (network failure, timeout, the provider down) is a [`ProviderError`]
/// instead, and the caller retries with the same idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Money was held, captured, released, refunded or charged. `reference`
    /// is the provider's id: the hold / payment (e.g. `pi_...`) or the refund.
    Succeeded {
        reference: String,
    },
    /// The issuer declined; `code` is its decline code (`generic_decline`,
    /// `expired_card`, `do_not_honor`, ...).
    Declined {
        code: String,
    },
    InsufficientFunds,
    /// The issuer wants the cardholder present (3-D Secure); off-session
    /// operations cannot complete without the shopper.
    AuthenticationRequired,
    /// The hold lapsed before it was captured or released.
    HoldExpired,
    /// The provider refused the request itself (amount above the hold, refund
    /// above the capture, unknown token or payment); a retry will not help.
    Rejected {
        code: String,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded { .. })
    }

    pub fn reference(&self) -> Option<&str> {
        match self {
            Outcome::Succeeded { reference } => Some(reference),
            _ => None,
        }
    }
}

/// Why a provider call has no final outcome.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The outcome is unknown (network, timeout, 5xx, the key in use by a
    /// concurrent request): retry later with the same idempotency key.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The key was already used for a different request.
    #[error("idempotency key {key:?} was already used for a different request")]
    KeyReuse { key: String },
    /// The provider refused our credentials.
    #[error("payment provider refused the credentials: {0}")]
    Auth(String),
    #[error("payment provider configuration: {0}")]
    Config(String),
    #[error("unexpected answer from the payment provider: {0}")]
    Protocol(String),
    #[error("sandbox provider ledger: {0}")]
    Ledger(#[from] sqlx::Error),
}

/// Place a hold of `amount` on a saved payment method, off-session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthoriseRequest {
    pub idempotency_key: String,
    /// The provider's payment-method token (never card data).
    pub token: String,
    pub amount: Amount,
    /// Our reference for the provider's records: the visit id.
    pub reference: String,
}

/// Capture up to the held amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureRequest {
    pub idempotency_key: String,
    /// The provider's id of the hold (from the authorise outcome).
    pub hold_ref: String,
    pub amount: Amount,
    pub reference: String,
}

/// Release a hold without capturing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelRequest {
    pub idempotency_key: String,
    pub hold_ref: String,
    pub reference: String,
}

/// Refund part or all of a captured or charged payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    pub idempotency_key: String,
    /// The provider's id of the captured hold or of the charge.
    pub payment_ref: String,
    pub amount: Amount,
    pub reference: String,
}

/// Charge a saved payment method off-session, without a hold (captured at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeRequest {
    pub idempotency_key: String,
    pub token: String,
    pub amount: Amount,
    pub reference: String,
}

/// A card processor. Implementations must honour `idempotency_key`: a
/// repeated key returns the first outcome and moves no money again, also
/// across restarts and from other processes.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Stored in `payments.provider` (`sandbox`, `stripe`).
    fn name(&self) -> &str;
    async fn authorise(&self, request: &AuthoriseRequest) -> Result<Outcome, ProviderError>;
    async fn capture(&self, request: &CaptureRequest) -> Result<Outcome, ProviderError>;
    async fn cancel(&self, request: &CancelRequest) -> Result<Outcome, ProviderError>;
    async fn refund(&self, request: &RefundRequest) -> Result<Outcome, ProviderError>;
    async fn charge(&self, request: &ChargeRequest) -> Result<Outcome, ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_serialise_with_a_tag_and_round_trip() {
        let o = Outcome::Declined { code: "expired_card".into() };
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(json, r#"{"outcome":"declined","code":"expired_card"}"#);
        assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), o);
        let ok = Outcome::Succeeded { reference: "pi_1".into() };
        assert!(ok.is_success() && ok.reference() == Some("pi_1"));
        assert!(!Outcome::HoldExpired.is_success() && Outcome::HoldExpired.reference().is_none());
    }
}
