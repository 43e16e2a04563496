//! The review policy: a visit goes to staff instead of being charged when
//! an event's confidence is under the threshold, something came back that
//! the cart did not hold, an age-restricted item was taken, or fusion
//! flagged it (a degraded plate, an event it could not attribute). The
//! reasons are stored with the review case; the exit applies this one
//! policy live and offline.

use super::ledger::Cart;
use crate::ids::Sku;

/// The reason code of the age policy: every age-restricted item goes to
/// staff, however sure the cart is.
pub const AGE_RESTRICTED: &str = "age_restricted";

/// Why a visit needs a human, in a stable `code: detail` form (empty: charge it).
pub fn review_reasons(
    cart: &Cart,
    fusion_flags: &[String],
    review_below_confidence: f64,
    age_restricted: impl Fn(&Sku) -> bool,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if cart.min_confidence < review_below_confidence {
        reasons.push(format!("low_confidence: an event at {:.2}", cart.min_confidence));
    }
    if !cart.unmatched_put_backs.is_empty() {
        reasons.push("unmatched_put_back".to_owned());
    }
    for sku in cart.items.keys().filter(|s| age_restricted(s)) {
        reasons.push(format!("{AGE_RESTRICTED}: {sku}"));
    }
    for flag in fusion_flags {
        if !reasons.contains(flag) {
            reasons.push(flag.clone());
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cart(items: &[(&str, i64)], min_confidence: f64) -> Cart {
        Cart {
            items: items.iter().map(|(s, n)| (Sku::from(*s), *n)).collect(),
            unmatched_put_backs: BTreeMap::new(),
            min_confidence,
        }
    }

    #[test]
    fn a_confident_ordinary_cart_is_charged_and_each_reason_is_named() {
        assert!(review_reasons(&cart(&[("a", 1)], 0.99), &[], 0.9, |_| false).is_empty());
        let r =
            review_reasons(&cart(&[("beer", 1)], 0.5), &["degraded_plate: 3.2".into()], 0.9, |s| s.as_str() == "beer");
        assert_eq!(r, vec!["low_confidence: an event at 0.50", "age_restricted: beer", "degraded_plate: 3.2"]);
    }
}
