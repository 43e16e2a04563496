//! Payments: the [`PaymentProvider`] boundary (authorise a hold, capture,
//! cancel, refund, charge off-session), two providers behind it — the
//! [`SandboxProvider`] (the default: a card-processor simulator with its own
//! SQLite ledger) and the [`StripeProvider`] (PaymentIntents over HTTPS,
//! webhooks verified by [`WebhookVerifier`]) — and the [`PaymentService`]
//! that moves a visit's money exactly once.
//!
//! Exactly once comes from two idempotency layers: every operation is first
//! recorded in `Storage` under a key derived from (visit, operation[, seq])
//! ([`keys`]), and the same key travels to the provider, which must return
//! the first outcome for a repeated key without moving money again. A retry
//! after a crash therefore re-asks the provider with the same key instead of
//! guessing. See `docs/payments.md`.

mod clock;
pub mod keys;
mod provider;
mod record;
mod sandbox;
mod service;
mod settle;
mod stripe;
mod stripe_map;
mod webhook;

pub use clock::{Clock, ManualClock, SystemClock};
pub use keys::Operation;
pub use provider::{
    Amount, AuthoriseRequest, CancelRequest, CaptureRequest, ChargeRequest, Outcome, PaymentProvider, ProviderError,
    RefundRequest,
};
pub use sandbox::{DEFAULT_HOLD_LIFETIME_MS, Movement, SandboxProvider, TEST_TOKENS};
pub use service::{FaultHook, FaultPoint, PaymentError, PaymentService, Step};
pub use settle::{Refund, Settlement, hold_for_party};
pub use stripe::StripeProvider;
pub use webhook::{DEFAULT_TOLERANCE_S, EventData, StripeEvent, WebhookError, WebhookVerifier};

use crate::config::PaymentsConfig;
use std::sync::Arc;

/// Builds the configured provider: the sandbox (ledger at
/// `payments.sandbox_ledger`) or Stripe (`payments.stripe_*`).
pub async fn provider_from_config(
    config: &PaymentsConfig,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn PaymentProvider>, ProviderError> {
    match config.provider.as_str() {
        "stripe" => Ok(Arc::new(StripeProvider::from_config(config)?)),
        "sandbox" => Ok(Arc::new(SandboxProvider::open(&config.sandbox_ledger, clock).await?)),
        other => Err(ProviderError::Config(format!("payments.provider: unknown provider {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[tokio::test]
    async fn the_configured_provider_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = PaymentsConfig {
            sandbox_ledger: dir.path().join("nested/ledger.db").display().to_string(),
            ..PaymentsConfig::default()
        };
        assert_eq!(provider_from_config(&config, Arc::new(SystemClock)).await.unwrap().name(), "sandbox");
        assert!(dir.path().join("nested/ledger.db").exists());
        config.provider = "stripe".into();
        assert!(matches!(provider_from_config(&config, Arc::new(SystemClock)).await, Err(ProviderError::Config(_))));
        config.stripe_secret_key = Secret::new("sk_test_1");
        assert_eq!(provider_from_config(&config, Arc::new(SystemClock)).await.unwrap().name(), "stripe");
        config.provider = "paypal".into();
        assert!(provider_from_config(&config, Arc::new(SystemClock)).await.is_err());
    }
}
