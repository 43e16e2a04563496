//! How an [`Outcome`] is kept in the `payments` table (`state` +
//! `error_code` + `provider_ref`) and read back, so a retry returns exactly
//! the outcome the first call got.

use super::Outcome;

const INSUFFICIENT_FUNDS: &str = "insufficient_funds";
const AUTHENTICATION_REQUIRED: &str = "authentication_required";
const HOLD_EXPIRED: &str = "hold_expired";
const REJECTED: &str = "rejected:";

/// `(state, error_code)` for an outcome; the reference goes to `provider_ref`.
pub(crate) fn to_record(outcome: &Outcome) -> (&'static str, Option<String>) {
    match outcome {
        Outcome::Succeeded { .. } => ("succeeded", None),
        Outcome::Declined { code } => ("failed", Some(code.clone())),
        Outcome::InsufficientFunds => ("failed", Some(INSUFFICIENT_FUNDS.into())),
        Outcome::AuthenticationRequired => ("requires_action", Some(AUTHENTICATION_REQUIRED.into())),
        Outcome::HoldExpired => ("failed", Some(HOLD_EXPIRED.into())),
        Outcome::Rejected { code } => ("failed", Some(format!("{REJECTED}{code}"))),
    }
}

/// The stored outcome; `None` while the row is still `pending`.
pub(crate) fn from_record(state: &str, provider_ref: Option<&str>, error_code: Option<&str>) -> Option<Outcome> {
    match state {
        "succeeded" => Some(Outcome::Succeeded { reference: provider_ref.unwrap_or_default().to_owned() }),
        "requires_action" => Some(Outcome::AuthenticationRequired),
        "failed" => Some(match error_code.unwrap_or("unknown") {
            INSUFFICIENT_FUNDS => Outcome::InsufficientFunds,
            HOLD_EXPIRED => Outcome::HoldExpired,
            AUTHENTICATION_REQUIRED => Outcome::AuthenticationRequired,
            code => match code.strip_prefix(REJECTED) {
                Some(rejected) => Outcome::Rejected { code: rejected.to_owned() },
                None => Outcome::Declined { code: code.to_owned() },
            },
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_round_trips_through_its_record() {
        let outcomes = [
            Outcome::Succeeded { reference: "sbx_hold_1".into() },
            Outcome::Declined { code: "generic_decline".into() },
            Outcome::InsufficientFunds,
            Outcome::AuthenticationRequired,
            Outcome::HoldExpired,
            Outcome::Rejected { code: "amount_exceeds_hold".into() },
        ];
        for o in outcomes {
            let (state, code) = to_record(&o);
            assert_eq!(from_record(state, o.reference(), code.as_deref()), Some(o.clone()), "{o:?}");
        }
    }

    #[test]
    fn states_match_the_schema_and_pending_has_no_outcome() {
        assert_eq!(to_record(&Outcome::AuthenticationRequired).0, "requires_action");
        assert_eq!(to_record(&Outcome::HoldExpired).0, "failed");
        assert_eq!(from_record("pending", None, None), None);
    }
}
