//! Stock per plate and per product, moved by decided shelf events. A pick
//! takes units off the plate; a put-back adds them; a put-back of a product
//! that does not face on that plate is recorded as misplaced (and a later
//! pick of it from there clears the record). Reaching zero units of a
//! product across its plates signals out-of-stock. Pure: the caller persists
//! the levels (`Storage::adjust_stock`) and raises the signals.

use crate::ids::{PlateId, Sku};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a stock movement means for staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum StockSignal {
    /// No units of the product left on any of its plates.
    OutOfStock { sku: Sku },
    /// Units of a product put back on a plate where it does not belong.
    Misplaced { sku: Sku, plate: PlateId, quantity: i64 },
    /// A pick took more units than the book held (the count was wrong).
    CountMismatch { sku: Sku, plate: PlateId, short_by: i64 },
}

#[derive(Clone, Debug, Default)]
pub struct StockBook {
    /// Units per (plate, product); products not counted yet are absent.
    levels: BTreeMap<(PlateId, Sku), i64>,
    /// Where each product belongs.
    home: BTreeMap<Sku, Vec<PlateId>>,
    /// Misplaced units per (plate, product).
    misplaced: BTreeMap<(PlateId, Sku), i64>,
}

impl StockBook {
    /// A book for this planogram (plate -> products facing there).
    pub fn new(facings: &BTreeMap<PlateId, Vec<Sku>>) -> Self {
        let mut home: BTreeMap<Sku, Vec<PlateId>> = BTreeMap::new();
        for (plate, skus) in facings {
            for sku in skus {
                home.entry(sku.clone()).or_default().push(*plate);
            }
        }
        Self { home, ..Default::default() }
    }

    /// Sets a counted level (restocking, a stock take).
    pub fn set(&mut self, plate: PlateId, sku: &Sku, units: i64) {
        self.levels.insert((plate, sku.clone()), units);
    }

    pub fn level(&self, plate: PlateId, sku: &Sku) -> Option<i64> {
        self.levels.get(&(plate, sku.clone())).copied()
    }

    /// Units of `sku` across its home plates, when every one was counted.
    pub fn total(&self, sku: &Sku) -> Option<i64> {
        let plates = self.home.get(sku)?;
        plates.iter().map(|p| self.level(*p, sku)).sum()
    }

    pub fn misplaced(&self) -> impl Iterator<Item = (PlateId, &Sku, i64)> {
        self.misplaced.iter().map(|((p, s), q)| (*p, s, *q))
    }

    /// Products misplaced on `plate` (candidates for a later pick there).
    pub fn misplaced_on(&self, plate: PlateId) -> Vec<Sku> {
        self.misplaced.iter().filter(|((p, _), q)| *p == plate && **q > 0).map(|((_, s), _)| s.clone()).collect()
    }

    fn belongs(&self, plate: PlateId, sku: &Sku) -> bool {
        self.home.get(sku).is_some_and(|plates| plates.contains(&plate))
    }

    /// Applies `units` of `sku` leaving (`units < 0`) or arriving on (`units > 0`) `plate`.
    pub fn apply(&mut self, plate: PlateId, sku: &Sku, units: i64) -> Vec<StockSignal> {
        let mut signals = Vec::new();
        if units == 0 {
            return signals;
        }
        if !self.belongs(plate, sku) {
            let entry = self.misplaced.entry((plate, sku.clone())).or_default();
            *entry = (*entry + units).max(0);
            let quantity = *entry;
            if quantity == 0 {
                self.misplaced.remove(&(plate, sku.clone()));
            }
            if units > 0 {
                signals.push(StockSignal::Misplaced { sku: sku.clone(), plate, quantity });
            }
            return signals;
        }
        if let Some(level) = self.levels.get_mut(&(plate, sku.clone())) {
            let after = *level + units;
            if after < 0 {
                signals.push(StockSignal::CountMismatch { sku: sku.clone(), plate, short_by: -after });
            }
            *level = after.max(0);
            if units < 0 && self.total(sku) == Some(0) {
                signals.push(StockSignal::OutOfStock { sku: sku.clone() });
            }
        }
        signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> (StockBook, PlateId, PlateId, Sku, Sku) {
        let (p1, p2) = (PlateId::new(1, 1, 1), PlateId::new(1, 1, 2));
        let (water, chips) = (Sku::from("water"), Sku::from("chips"));
        let facings = BTreeMap::from([(p1, vec![water.clone()]), (p2, vec![water.clone(), chips.clone()])]);
        (StockBook::new(&facings), p1, p2, water, chips)
    }

    #[test]
    fn picks_across_plates_reach_out_of_stock_once_empty() {
        let (mut b, p1, p2, water, _) = book();
        b.set(p1, &water, 1);
        b.set(p2, &water, 1);
        assert!(b.apply(p1, &water, -1).is_empty());
        assert_eq!(b.total(&water), Some(1));
        assert_eq!(b.apply(p2, &water, -1), vec![StockSignal::OutOfStock { sku: water.clone() }]);
        assert!(b.apply(p2, &water, 2).is_empty());
        assert_eq!(b.total(&water), Some(2));
    }

    #[test]
    fn wrong_plate_returns_are_misplaced_until_picked_again() {
        let (mut b, p1, _, _, chips) = book();
        let signals = b.apply(p1, &chips, 1);
        assert_eq!(signals, vec![StockSignal::Misplaced { sku: chips.clone(), plate: p1, quantity: 1 }]);
        assert_eq!(b.misplaced_on(p1), vec![chips.clone()]);
        assert!(b.apply(p1, &chips, -1).is_empty());
        assert!(b.misplaced_on(p1).is_empty());
    }

    #[test]
    fn uncounted_products_have_no_total_and_overdrawn_counts_are_flagged() {
        let (mut b, p1, p2, water, chips) = book();
        assert_eq!(b.total(&chips), None);
        assert!(b.apply(p2, &chips, -1).is_empty());
        b.set(p1, &water, 1);
        b.set(p2, &water, 0);
        let s = b.apply(p1, &water, -2);
        assert!(s.contains(&StockSignal::CountMismatch { sku: water.clone(), plate: p1, short_by: 1 }));
        assert!(s.contains(&StockSignal::OutOfStock { sku: water }));
    }
}
