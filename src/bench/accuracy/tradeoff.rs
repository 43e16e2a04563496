//! The review policy's trade-off, from one run: for each candidate
//! `fusion.review_below_confidence`, the share of visits staff would see
//! against the share charged wrongly with nobody looking. A visit is
//! reviewed at threshold θ when any reason other than low confidence sent
//! it (unattributed event, age-restricted item, degraded plate, ...) or its
//! least confident cart event is under θ; the reasons that do not depend on
//! θ come from the run itself, so the curve is exact for this run's carts.

use super::score::VisitOutcome;
use serde::Serialize;

/// One point of the curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TradeoffPoint {
    pub review_below_confidence: f64,
    pub review_rate: f64,
    pub wrong_unflagged_rate: f64,
}

/// The thresholds swept: 0 to 1 in steps of 0.05, then finer near 1.
pub fn thresholds() -> Vec<f64> {
    let mut t: Vec<f64> = (0..=19).map(|i| f64::from(i) * 0.05).collect();
    t.extend([0.96, 0.97, 0.98, 0.99, 1.0]);
    t
}

/// The curve over `thresholds`, in their order.
pub fn curve(outcomes: &[VisitOutcome], thresholds: &[f64]) -> Vec<TradeoffPoint> {
    let n = outcomes.len().max(1) as f64;
    thresholds
        .iter()
        .map(|&theta| {
            let (mut reviewed, mut wrong) = (0usize, 0usize);
            for o in outcomes {
                let other_reason = o.reasons.iter().any(|r| !r.starts_with("low_confidence"));
                let unsure = o.min_event_confidence.is_some_and(|c| c < theta);
                if other_reason || unsure {
                    reviewed += 1;
                } else if !o.exact() {
                    wrong += 1;
                }
            }
            TradeoffPoint {
                review_below_confidence: theta,
                review_rate: reviewed as f64 / n,
                wrong_unflagged_rate: wrong as f64 / n,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Sku;
    use std::collections::BTreeMap;

    fn visit(right: bool, min_conf: Option<f64>, reasons: &[&str]) -> VisitOutcome {
        let truth: BTreeMap<Sku, i64> = [(Sku::from("milk"), 1)].into_iter().collect();
        let cart = if right { truth.clone() } else { BTreeMap::new() };
        VisitOutcome {
            visit: "v".into(),
            truth,
            cart,
            reviewed: !reasons.is_empty(),
            charged_minor: 0,
            true_minor: 0,
            exit_to_decision_s: None,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            min_event_confidence: min_conf,
        }
    }

    #[test]
    fn raising_the_threshold_trades_wrong_charges_for_reviews() {
        let outcomes = [
            visit(true, Some(0.99), &[]),
            visit(false, Some(0.7), &["low_confidence: an event at 0.70"]),
            visit(false, Some(0.95), &["unattributed_event: 1.2 at 5.0 (p 0.40)"]),
            visit(true, None, &[]),
        ];
        let c = curve(&outcomes, &[0.0, 0.8, 1.0]);
        // θ = 0: only the unattributed visit is reviewed; the 0.7 one is charged wrongly.
        assert_eq!((c[0].review_rate, c[0].wrong_unflagged_rate), (0.25, 0.25));
        // θ = 0.8 catches it.
        assert_eq!((c[1].review_rate, c[1].wrong_unflagged_rate), (0.5, 0.0));
        // θ = 1 reviews every visit with an event under 1 (not the empty cart).
        assert_eq!((c[2].review_rate, c[2].wrong_unflagged_rate), (0.75, 0.0));
    }
}
