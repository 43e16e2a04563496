//! The cart of a visit, derived from its append-only ledger: picks and
//! staff additions add units, put-backs and staff removals take them away.
//! A put-back of something the cart does not hold (another shopper's item,
//! or a misattribution) never makes a line negative: it is reported, so the
//! visit can go to review.

use crate::db::{CartEvent, CartEventKind};
use crate::ids::Sku;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cart {
    /// Units per product, all positive.
    pub items: BTreeMap<Sku, i64>,
    /// Units put back that the cart did not hold, per product.
    pub unmatched_put_backs: BTreeMap<Sku, i64>,
    /// The lowest confidence of any event that shaped the cart (1 when empty).
    pub min_confidence: f64,
}

/// Folds a visit's ledger (in append order) into its cart.
pub fn cart(events: &[CartEvent]) -> Cart {
    let mut c = Cart { min_confidence: 1.0, ..Default::default() };
    for e in events {
        c.min_confidence = c.min_confidence.min(e.confidence);
        let held = c.items.entry(e.sku.clone()).or_insert(0);
        match e.kind {
            CartEventKind::Pick | CartEventKind::CorrectionAdd => *held += e.quantity,
            CartEventKind::PutBack | CartEventKind::CorrectionRemove => {
                let taken = e.quantity.min(*held);
                *held -= taken;
                if e.kind == CartEventKind::PutBack && taken < e.quantity {
                    *c.unmatched_put_backs.entry(e.sku.clone()).or_insert(0) += e.quantity - taken;
                }
            }
        }
    }
    c.items.retain(|_, units| *units > 0);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StoreId;

    fn event(kind: CartEventKind, sku: &str, quantity: i64, confidence: f64) -> CartEvent {
        CartEvent {
            seq: 0,
            id: String::new(),
            store_id: StoreId::from("s"),
            visit_id: None,
            kind,
            sku: Sku::from(sku),
            quantity,
            confidence,
            source: "test".into(),
            evidence_ref: None,
            shopper_id: None,
            track_id: None,
            at: 0,
            recorded_at: 0,
        }
    }

    #[test]
    fn picks_and_put_backs_net_out() {
        use CartEventKind::*;
        let c = cart(&[event(Pick, "a", 3, 0.99), event(PutBack, "a", 1, 0.97), event(Pick, "b", 1, 1.0)]);
        assert_eq!(c.items, BTreeMap::from([(Sku::from("a"), 2), (Sku::from("b"), 1)]));
        assert_eq!(c.min_confidence, 0.97);
        assert!(c.unmatched_put_backs.is_empty());
    }

    #[test]
    fn a_put_back_of_something_not_held_is_reported_not_negative() {
        use CartEventKind::*;
        let c = cart(&[event(Pick, "a", 1, 1.0), event(PutBack, "a", 2, 1.0), event(PutBack, "z", 1, 1.0)]);
        assert!(c.items.is_empty());
        assert_eq!(c.unmatched_put_backs, BTreeMap::from([(Sku::from("a"), 1), (Sku::from("z"), 1)]));
    }

    #[test]
    fn staff_corrections_add_and_remove_without_counting_as_put_backs() {
        use CartEventKind::*;
        let c =
            cart(&[event(Pick, "a", 1, 0.5), event(CorrectionRemove, "a", 1, 1.0), event(CorrectionAdd, "b", 2, 1.0)]);
        assert_eq!(c.items, BTreeMap::from([(Sku::from("b"), 2)]));
        assert!(c.unmatched_put_backs.is_empty());
    }
}
