//! The Stripe connector: PaymentIntents over the REST API, form-encoded,
//! `Authorization: Bearer <secret key>` and an `Idempotency-Key` header on
//! every POST (the walkout key, so a retry — ours or a restarted process's —
//! gets Stripe's stored answer). Holds are `capture_method=manual`
//! intents confirmed off-session; captures and releases act on the intent;
//! refunds go to `/v1/refunds`; an off-session charge is an automatically
//! captured intent. Answers are mapped in `stripe_map.rs`.

use super::stripe_map::{self, Expect};
use super::{
    AuthoriseRequest, CancelRequest, CaptureRequest, ChargeRequest, Outcome, PaymentProvider, ProviderError,
    RefundRequest,
};
use crate::config::{PaymentsConfig, Secret};
use std::time::Duration;

/// A Stripe account, reached at `api_base` (`payments.stripe_api_base`).
pub struct StripeProvider {
    http: reqwest::Client,
    api_base: String,
    secret: Secret,
    attempts: u32,
    backoff: Duration,
}

impl std::fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeProvider").field("api_base", &self.api_base).field("secret", &self.secret).finish()
    }
}

type Form = Vec<(&'static str, String)>;

impl StripeProvider {
    pub fn new(secret: Secret, api_base: impl Into<String>) -> Result<Self, ProviderError> {
        if secret.expose().is_empty() {
            return Err(ProviderError::Config("payments.stripe_secret_key is empty".into()));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(40))
            .user_agent(concat!("walkout/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Config(format!("HTTP client: {e}")))?;
        let api_base = api_base.into().trim_end_matches('/').to_owned();
        Ok(Self { http, api_base, secret, attempts: 3, backoff: Duration::from_millis(500) })
    }

    pub fn from_config(config: &PaymentsConfig) -> Result<Self, ProviderError> {
        Self::new(config.stripe_secret_key.clone(), &config.stripe_api_base)
    }

    /// Tries each POST up to `attempts` times on network errors, 409, 429 and
    /// 5xx (unless Stripe says `Stripe-Should-Retry: false`), waiting
    /// `backoff` times the attempt number in between; always with the same key.
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    async fn call(&self, path: &str, key: &str, form: Form, expect: Expect) -> Result<Outcome, ProviderError> {
        match self.post(path, key, &form).await? {
            Ok(object) => stripe_map::from_object(expect, &object),
            Err((status, body)) => stripe_map::from_error(status, &body, key),
        }
    }

    /// The parsed 2xx object, or a final error answer `(status, body)`.
    async fn post(
        &self,
        path: &str,
        key: &str,
        form: &Form,
    ) -> Result<Result<serde_json::Value, (u16, String)>, ProviderError> {
        let url = format!("{}{path}", self.api_base);
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff * attempt).await;
            }
            let sent = self
                .http
                .post(&url)
                .bearer_auth(self.secret.expose())
                .header("Idempotency-Key", key)
                .form(form)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{e}");
                    continue;
                }
            };
            let status = response.status();
            let should_retry = response.headers().get("stripe-should-retry").map(|v| v.as_bytes() == b"true");
            let body = match response.text().await {
                Ok(body) => body,
                Err(e) => {
                    last = format!("reading the answer: {e}");
                    continue;
                }
            };
            if status.is_success() {
                return serde_json::from_str(&body)
                    .map(Ok)
                    .map_err(|e| ProviderError::Protocol(format!("POST {path}: {e}")));
            }
            let transient = matches!(status.as_u16(), 409 | 429) || status.is_server_error();
            if should_retry.unwrap_or(transient) {
                last = format!("HTTP {status}");
                continue;
            }
            return Ok(Err((status.as_u16(), body)));
        }
        Err(ProviderError::Unavailable(format!("POST {path}: {last}")))
    }
}

/// A saved method is `pm_...`, or `cus_...:pm_...` when attached to a customer.
fn method_fields(token: &str, form: &mut Form) {
    match token.split_once(':') {
        Some((customer, method)) => {
            form.push(("customer", customer.to_owned()));
            form.push(("payment_method", method.to_owned()));
        }
        None => form.push(("payment_method", token.to_owned())),
    }
}

fn intent_form(token: &str, amount: &super::Amount, reference: &str, manual: bool) -> Form {
    let mut form = vec![
        ("amount", amount.minor.to_string()),
        ("currency", amount.currency.code().to_ascii_lowercase()),
        ("confirm", "true".to_owned()),
        ("off_session", "true".to_owned()),
        ("payment_method_types[]", "card".to_owned()),
        ("metadata[walkout_visit]", reference.to_owned()),
    ];
    if manual {
        form.push(("capture_method", "manual".to_owned()));
    }
    method_fields(token, &mut form);
    form
}

/// Stripe ids go into URL paths: only `[A-Za-z0-9_]` is let through.
fn path_id(id: &str) -> Result<&str, Outcome> {
    let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(id) } else { Err(Outcome::Rejected { code: "resource_missing".into() }) }
}

#[async_trait::async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &str {
        "stripe"
    }

    async fn authorise(&self, r: &AuthoriseRequest) -> Result<Outcome, ProviderError> {
        let form = intent_form(&r.token, &r.amount, &r.reference, true);
        self.call("/v1/payment_intents", &r.idempotency_key, form, Expect::Hold).await
    }

    async fn capture(&self, r: &CaptureRequest) -> Result<Outcome, ProviderError> {
        let id = match path_id(&r.hold_ref) {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        let form = vec![("amount_to_capture", r.amount.minor.to_string())];
        self.call(&format!("/v1/payment_intents/{id}/capture"), &r.idempotency_key, form, Expect::Capture).await
    }

    async fn cancel(&self, r: &CancelRequest) -> Result<Outcome, ProviderError> {
        let id = match path_id(&r.hold_ref) {
            Ok(id) => id,
            Err(outcome) => return Ok(outcome),
        };
        let form = vec![("cancellation_reason", "abandoned".to_owned())];
        self.call(&format!("/v1/payment_intents/{id}/cancel"), &r.idempotency_key, form, Expect::Cancel).await
    }

    async fn refund(&self, r: &RefundRequest) -> Result<Outcome, ProviderError> {
        let form = vec![
            ("payment_intent", r.payment_ref.clone()),
            ("amount", r.amount.minor.to_string()),
            ("metadata[walkout_visit]", r.reference.clone()),
        ];
        self.call("/v1/refunds", &r.idempotency_key, form, Expect::Refund).await
    }

    async fn charge(&self, r: &ChargeRequest) -> Result<Outcome, ProviderError> {
        let form = intent_form(&r.token, &r.amount, &r.reference, false);
        self.call("/v1/payment_intents", &r.idempotency_key, form, Expect::Charge).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn holds_are_manual_off_session_intents_and_customers_are_split_out() {
        let form = intent_form("cus_1:pm_2", &super::super::Amount::new(1_250, Currency::EUR), "v-1", true);
        let get = |k: &str| form.iter().find(|(name, _)| *name == k).map(|(_, v)| v.as_str());
        assert_eq!(get("amount"), Some("1250"));
        assert_eq!(get("currency"), Some("eur"));
        assert_eq!((get("customer"), get("payment_method")), (Some("cus_1"), Some("pm_2")));
        assert_eq!(
            (get("capture_method"), get("off_session"), get("confirm")),
            (Some("manual"), Some("true"), Some("true"))
        );
        let charge = intent_form("pm_9", &super::super::Amount::new(5, Currency::EUR), "v-1", false);
        assert!(!charge.iter().any(|(k, _)| *k == "capture_method" || *k == "customer"));
    }

    #[test]
    fn ids_in_paths_are_plain() {
        assert_eq!(path_id("pi_3Mtw"), Ok("pi_3Mtw"));
        assert!(path_id("pi_1/../../v1/refunds").is_err() && path_id("").is_err());
    }

    #[test]
    fn the_secret_never_prints() {
        let p = StripeProvider::new(Secret::new("sk_test_hunter2"), "http://127.0.0.1:1/").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(matches!(StripeProvider::new(Secret::default(), "x"), Err(ProviderError::Config(_))));
    }
}
