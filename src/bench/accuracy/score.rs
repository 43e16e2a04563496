//! The scorer: how right the receipts are. An item counts only when both
//! the product and the shopper (the visit) are right, as in the AiFi
//! autonomous-checkout competition: per visit and product, the units on
//! both the charged cart and the truth are true positives, the rest of the
//! cart false positives, the rest of the truth false negatives. Beside item
//! precision, recall and F1: the share of exactly right receipts, the
//! review rate, the money error of visits charged without review, and the
//! visits charged wrongly with no review (the cost that matters most).

use crate::fusion::policy::AGE_RESTRICTED;
use crate::ids::Sku;
use serde::Serialize;
use std::collections::BTreeMap;

/// What the system did with one visit, beside what really happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VisitOutcome {
    pub visit: String,
    pub truth: BTreeMap<Sku, i64>,
    /// The cart the system built (what it charged, or proposed to staff).
    pub cart: BTreeMap<Sku, i64>,
    /// Sent to staff review instead of being charged.
    pub reviewed: bool,
    /// The gross total of `cart` and of `truth`, minor units.
    pub charged_minor: i64,
    pub true_minor: i64,
    /// From walking out to the charge (or the review case), seconds.
    pub exit_to_decision_s: Option<f64>,
    /// Why it went to review (empty when charged).
    pub reasons: Vec<String>,
    /// The least confident event of the cart (none when it is empty).
    pub min_event_confidence: Option<f64>,
}

impl VisitOutcome {
    pub fn exact(&self) -> bool {
        self.cart == self.truth
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Score {
    pub visits: usize,
    pub items_true: i64,
    pub items_charged: i64,
    pub true_positives: i64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub exact_receipts: usize,
    pub exact_receipt_rate: f64,
    pub reviewed: usize,
    pub review_rate: f64,
    /// Reviewed for doubt about the cart: for any reason but the age
    /// policy alone (every age-restricted item goes to staff, however sure).
    pub reviewed_for_doubt: usize,
    pub review_for_doubt_rate: f64,
    /// Sum of |charged − true| over visits charged without review, minor units.
    pub money_error_minor: i64,
    /// Visits charged without review whose receipt is wrong.
    pub wrong_unflagged: usize,
    pub wrong_unflagged_rate: f64,
    pub exit_to_decision_p50_s: Option<f64>,
    pub exit_to_decision_p99_s: Option<f64>,
}

pub fn score(outcomes: &[VisitOutcome]) -> Score {
    let mut s = Score { visits: outcomes.len(), ..Score::default() };
    let mut latencies = Vec::new();
    for o in outcomes {
        let truth_units: i64 = o.truth.values().sum();
        let cart_units: i64 = o.cart.values().sum();
        let tp: i64 = o.cart.iter().map(|(sku, n)| (*n).min(o.truth.get(sku).copied().unwrap_or(0))).sum();
        s.items_true += truth_units;
        s.items_charged += cart_units;
        s.true_positives += tp;
        s.exact_receipts += usize::from(o.exact());
        if o.reviewed {
            s.reviewed += 1;
            s.reviewed_for_doubt += usize::from(o.reasons.iter().any(|r| r.split(':').next() != Some(AGE_RESTRICTED)));
        } else {
            s.money_error_minor += (o.charged_minor - o.true_minor).abs();
            s.wrong_unflagged += usize::from(!o.exact());
        }
        latencies.extend(o.exit_to_decision_s);
    }
    s.precision = ratio(s.true_positives, s.items_charged);
    s.recall = ratio(s.true_positives, s.items_true);
    s.f1 = if s.precision + s.recall > 0.0 { 2.0 * s.precision * s.recall / (s.precision + s.recall) } else { 0.0 };
    let n = s.visits.max(1) as f64;
    s.exact_receipt_rate = s.exact_receipts as f64 / n;
    s.review_rate = s.reviewed as f64 / n;
    s.review_for_doubt_rate = s.reviewed_for_doubt as f64 / n;
    s.wrong_unflagged_rate = s.wrong_unflagged as f64 / n;
    latencies.sort_by(f64::total_cmp);
    s.exit_to_decision_p50_s = percentile(&latencies, 0.5);
    s.exit_to_decision_p99_s = percentile(&latencies, 0.99);
    s
}

/// `num / den`, and 1 for 0/0 (nothing to find and nothing claimed is perfect).
fn ratio(num: i64, den: i64) -> f64 {
    if den == 0 { 1.0 } else { num as f64 / den as f64 }
}

pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &[(&str, i64)]) -> BTreeMap<Sku, i64> {
        list.iter().map(|(s, n)| (Sku::from(*s), *n)).collect()
    }

    fn outcome(
        visit: &str,
        truth: &[(&str, i64)],
        cart: &[(&str, i64)],
        reviewed: bool,
        charged: i64,
        real: i64,
    ) -> VisitOutcome {
        VisitOutcome {
            visit: visit.into(),
            truth: items(truth),
            cart: items(cart),
            reviewed,
            charged_minor: charged,
            true_minor: real,
            exit_to_decision_s: Some(6.0),
            reasons: Vec::new(),
            min_event_confidence: None,
        }
    }

    #[test]
    fn a_perfect_store_scores_one() {
        let s = score(&[outcome("a", &[("x", 2)], &[("x", 2)], false, 300, 300)]);
        assert_eq!((s.precision, s.recall, s.f1, s.exact_receipt_rate), (1.0, 1.0, 1.0, 1.0));
        assert_eq!((s.wrong_unflagged, s.money_error_minor), (0, 0));
    }

    #[test]
    fn the_right_product_on_the_wrong_shopper_counts_as_wrong_twice() {
        // Alice took a milk; the system charged it to Bob: a false positive on
        // Bob's receipt and a false negative on Alice's.
        let s = score(&[
            outcome("alice", &[("milk", 1), ("bread", 1)], &[("bread", 1)], false, 150, 249),
            outcome("bob", &[("eggs", 1)], &[("eggs", 1), ("milk", 1)], false, 398, 299),
        ]);
        assert_eq!((s.items_true, s.items_charged, s.true_positives), (3, 3, 2));
        assert!((s.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.exact_receipts, 0);
        assert_eq!(s.wrong_unflagged, 2);
        assert_eq!(s.money_error_minor, 99 + 99);
    }

    #[test]
    fn reviewed_visits_count_in_f1_but_not_in_money_error() {
        let s = score(&[
            outcome("a", &[("x", 3)], &[("x", 2)], true, 200, 300),
            outcome("b", &[("y", 1)], &[("y", 1), ("z", 1)], false, 500, 200),
            outcome("c", &[], &[], false, 0, 0),
        ]);
        // a: tp 2, fn 1; b: tp 1, fp 1; c: nothing.
        assert!((s.precision - 3.0 / 4.0).abs() < 1e-12);
        assert!((s.recall - 3.0 / 4.0).abs() < 1e-12);
        assert!((s.f1 - 0.75).abs() < 1e-12);
        assert_eq!((s.reviewed, s.wrong_unflagged, s.money_error_minor, s.exact_receipts), (1, 1, 300, 1));
        assert!((s.review_rate - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_visit_reviewed_for_the_age_policy_alone_is_not_reviewed_for_doubt() {
        let mut beer = outcome("a", &[("beer", 1)], &[("beer", 1)], true, 100, 100);
        beer.reasons = vec!["age_restricted: beer".into()];
        let mut unsure = outcome("b", &[("beer", 1)], &[("beer", 1)], true, 100, 100);
        unsure.reasons = vec!["age_restricted: beer".into(), "low_confidence: an event at 0.50".into()];
        let s = score(&[beer, unsure, outcome("c", &[], &[], false, 0, 0)]);
        assert_eq!((s.reviewed, s.reviewed_for_doubt), (2, 1));
        assert!((s.review_for_doubt_rate - 1.0 / 3.0).abs() < 1e-12);
    }
}
