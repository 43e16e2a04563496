//! Stripe's answers mapped to [`Outcome`]s, pure so every case is tested
//! here: PaymentIntent and Refund objects by status, and error objects
//! (`{"error": {"type", "code", "decline_code", ...}}`) by type and code.

use super::{Outcome, ProviderError};
use serde::Deserialize;
use serde_json::Value;

/// Which object the request answers with, and so which status means success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A manual-capture PaymentIntent: success is `requires_capture`.
    Hold,
    Capture,
    Cancel,
    /// An automatically captured PaymentIntent.
    Charge,
    Refund,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    error: StripeError,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StripeError {
    #[serde(rename = "type")]
    kind: String,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    payment_intent: Option<Value>,
}

/// A card error's outcome, from its `code` and `decline_code`.
fn card_outcome(code: Option<&str>, decline_code: Option<&str>) -> Outcome {
    if code == Some("authentication_required") || decline_code == Some("authentication_required") {
        return Outcome::AuthenticationRequired;
    }
    if code == Some("insufficient_funds") || decline_code == Some("insufficient_funds") {
        return Outcome::InsufficientFunds;
    }
    let code = match code {
        Some("card_declined") | None => decline_code.unwrap_or("card_declined"),
        Some(other) => other,
    };
    Outcome::Declined { code: code.to_owned() }
}

/// A 2xx answer.
pub(crate) fn from_object(expect: Expect, object: &Value) -> Result<Outcome, ProviderError> {
    let id = object["id"].as_str().ok_or_else(|| ProviderError::Protocol("answer without an id".into()))?;
    let status = object["status"].as_str().unwrap_or_default();
    let succeeded = || Ok(Outcome::Succeeded { reference: id.to_owned() });
    match (expect, status) {
        (Expect::Hold, "requires_capture") | (Expect::Capture, "succeeded") | (Expect::Cancel, "canceled") => {
            succeeded()
        }
        // Card payments settle at once; `processing` is accepted and settles later.
        (Expect::Charge, "succeeded" | "processing") => succeeded(),
        (Expect::Refund, "succeeded" | "pending" | "requires_action") => succeeded(),
        (Expect::Hold | Expect::Charge, "requires_action" | "requires_confirmation") => {
            Ok(Outcome::AuthenticationRequired)
        }
        (Expect::Hold | Expect::Charge, "requires_payment_method") => {
            let e = &object["last_payment_error"];
            Ok(card_outcome(e["code"].as_str(), e["decline_code"].as_str()))
        }
        (Expect::Refund, "failed" | "canceled") => {
            Ok(Outcome::Declined { code: object["failure_reason"].as_str().unwrap_or("refund_failed").to_owned() })
        }
        (_, other) => Err(ProviderError::Protocol(format!("{expect:?}: unexpected status {other:?} of {id}"))),
    }
}

/// A non-2xx answer that is final (the transport retried the transient ones).
pub(crate) fn from_error(http_status: u16, body: &str, key: &str) -> Result<Outcome, ProviderError> {
    let Ok(ErrorBody { error: e }) = serde_json::from_str::<ErrorBody>(body) else {
        return Err(ProviderError::Protocol(format!("HTTP {http_status} without a Stripe error object")));
    };
    let code = e.code.as_deref();
    let message = || e.message.clone().unwrap_or_else(|| e.kind.clone());
    match (e.kind.as_str(), code) {
        ("card_error", _) => Ok(card_outcome(code, e.decline_code.as_deref())),
        ("idempotency_error", _) => Err(ProviderError::KeyReuse { key: key.to_owned() }),
        ("authentication_error" | "permission_error", _) => Err(ProviderError::Auth(message())),
        ("api_error" | "rate_limit_error", _) => Err(ProviderError::Unavailable(message())),
        (_, Some("charge_expired_for_capture")) => Ok(Outcome::HoldExpired),
        (_, Some("authentication_required")) => Ok(Outcome::AuthenticationRequired),
        (_, Some("payment_intent_unexpected_state")) if lapsed(e.payment_intent.as_ref()) => Ok(Outcome::HoldExpired),
        _ if http_status == 401 => Err(ProviderError::Auth(message())),
        _ if http_status == 402 => Ok(card_outcome(code, e.decline_code.as_deref())),
        _ => Ok(Outcome::Rejected { code: code.unwrap_or("invalid_request").to_owned() }),
    }
}

/// Stripe cancels an uncaptured PaymentIntent itself (`automatic`) when its authorisation lapses.
fn lapsed(intent: Option<&Value>) -> bool {
    intent.is_some_and(|pi| pi["status"] == "canceled" && pi["cancellation_reason"] == "automatic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(kind: &str, code: &str, decline: Option<&str>) -> String {
        json!({"error": {"type": kind, "code": code, "decline_code": decline, "message": "m"}}).to_string()
    }

    #[test]
    fn card_errors_map_to_distinct_outcomes() {
        let declined = |code: &str| Outcome::Declined { code: code.into() };
        let cases = [
            (err("card_error", "card_declined", Some("generic_decline")), declined("generic_decline")),
            (err("card_error", "card_declined", Some("insufficient_funds")), Outcome::InsufficientFunds),
            (
                err("card_error", "authentication_required", Some("authentication_required")),
                Outcome::AuthenticationRequired,
            ),
            (err("card_error", "expired_card", None), declined("expired_card")),
            (err("card_error", "card_declined", None), declined("card_declined")),
        ];
        for (body, want) in cases {
            assert_eq!(from_error(402, &body, "k").unwrap(), want, "{body}");
        }
    }

    #[test]
    fn request_errors_map_to_expiry_rejection_or_errors() {
        let expired = err("invalid_request_error", "charge_expired_for_capture", None);
        assert_eq!(from_error(400, &expired, "k").unwrap(), Outcome::HoldExpired);
        let lapsed = json!({"error": {"type": "invalid_request_error", "code": "payment_intent_unexpected_state",
            "payment_intent": {"id": "pi_1", "status": "canceled", "cancellation_reason": "automatic"}}});
        assert_eq!(from_error(400, &lapsed.to_string(), "k").unwrap(), Outcome::HoldExpired);
        let too_much = err("invalid_request_error", "amount_too_large", None);
        assert_eq!(from_error(400, &too_much, "k").unwrap(), Outcome::Rejected { code: "amount_too_large".into() });
        let reuse = from_error(400, &err("idempotency_error", "", None), "walkout:v:capture");
        assert!(matches!(reuse, Err(ProviderError::KeyReuse { key }) if key == "walkout:v:capture"));
        assert!(matches!(from_error(401, &err("authentication_error", "", None), "k"), Err(ProviderError::Auth(_))));
        assert!(matches!(from_error(502, "<html>", "k"), Err(ProviderError::Protocol(_))));
    }

    #[test]
    fn objects_map_by_status_for_what_was_asked() {
        let pi = |status: &str| json!({"id": "pi_1", "object": "payment_intent", "status": status});
        let ok = Outcome::Succeeded { reference: "pi_1".into() };
        assert_eq!(from_object(Expect::Hold, &pi("requires_capture")).unwrap(), ok);
        assert_eq!(from_object(Expect::Capture, &pi("succeeded")).unwrap(), ok);
        assert_eq!(from_object(Expect::Cancel, &pi("canceled")).unwrap(), ok);
        assert_eq!(from_object(Expect::Charge, &pi("succeeded")).unwrap(), ok);
        assert_eq!(from_object(Expect::Charge, &pi("requires_action")).unwrap(), Outcome::AuthenticationRequired);
        let mut failed = pi("requires_payment_method");
        failed["last_payment_error"] = json!({"code": "card_declined", "decline_code": "insufficient_funds"});
        assert_eq!(from_object(Expect::Hold, &failed).unwrap(), Outcome::InsufficientFunds);
        assert!(matches!(from_object(Expect::Capture, &pi("requires_capture")), Err(ProviderError::Protocol(_))));
        let refund =
            json!({"id": "re_1", "object": "refund", "status": "failed", "failure_reason": "expired_or_canceled_card"});
        assert_eq!(
            from_object(Expect::Refund, &refund).unwrap(),
            Outcome::Declined { code: "expired_or_canceled_card".into() }
        );
        assert!(from_object(Expect::Refund, &json!({"status": "succeeded"})).is_err());
    }
}
