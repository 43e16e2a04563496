//! Idempotency keys, derived from the visit and the operation (and a
//! sequence number for refunds) so that every retry of the same intent,
//! from any process, carries the same key to storage and to the provider:
//!
//! | operation | key |
//! | --- | --- |
//! | hold at the gate | `walkout:<visit>:authorise` |
//! | capture at the exit | `walkout:<visit>:capture` |
//! | release (empty cart) | `walkout:<visit>:cancel` |
//! | off-session charge (cart above the hold, or hold expired) | `walkout:<visit>:charge` |
//! | refund `n`, against the capture | `walkout:<visit>:refund:<n>` |
//! | refund `n`, against the charge | `walkout:<visit>:refund:<n>:charge` |

use crate::ids::VisitId;

/// What a payment step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Authorise,
    Capture,
    Cancel,
    /// An off-session charge without a hold, captured at once.
    Charge,
    Refund,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorise => "authorise",
            Self::Capture => "capture",
            Self::Cancel => "cancel",
            Self::Charge => "charge",
            Self::Refund => "refund",
        }
    }

    /// The `payments.operation` column value. The schema knows `authorise`,
    /// `capture`, `cancel` and `refund`; a charge takes money at once, so it
    /// is stored as `capture` and told apart by its `:charge` key.
    pub fn stored_as(self) -> &'static str {
        match self {
            Self::Charge => "capture",
            other => other.as_str(),
        }
    }
}

/// The key of a one-per-visit operation (everything but refunds).
pub fn for_visit(visit: &VisitId, operation: Operation) -> String {
    format!("walkout:{visit}:{}", operation.as_str())
}

/// Refund number `seq` against the captured hold.
pub fn refund(visit: &VisitId, seq: u32) -> String {
    format!("walkout:{visit}:refund:{seq}")
}

/// The part of refund number `seq` that goes against the off-session charge.
pub fn refund_of_charge(visit: &VisitId, seq: u32) -> String {
    format!("{}:charge", refund(visit, seq))
}

/// Whether a stored refund key is a part against the charge (else the capture).
pub fn is_refund_of_charge(key: &str) -> bool {
    key.ends_with(":charge")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct_per_operation() {
        let v = VisitId::from("v-42");
        assert_eq!(for_visit(&v, Operation::Authorise), "walkout:v-42:authorise");
        assert_eq!(for_visit(&v, Operation::Capture), "walkout:v-42:capture");
        assert_eq!(for_visit(&v, Operation::Cancel), "walkout:v-42:cancel");
        assert_eq!(for_visit(&v, Operation::Charge), "walkout:v-42:charge");
        assert_eq!(refund(&v, 3), "walkout:v-42:refund:3");
        assert_eq!(refund_of_charge(&v, 3), "walkout:v-42:refund:3:charge");
        assert!(is_refund_of_charge(&refund_of_charge(&v, 1)) && !is_refund_of_charge(&refund(&v, 1)));
        assert_eq!(for_visit(&v, Operation::Capture), for_visit(&VisitId::from("v-42"), Operation::Capture));
    }

    #[test]
    fn a_charge_is_stored_as_a_capture() {
        assert_eq!(Operation::Charge.stored_as(), "capture");
        assert_eq!(Operation::Refund.stored_as(), "refund");
    }
}
