//! How hand crops read, measured: for each product held, how often its
//! crops name each product first (a sparse confusion table), and how often
//! empty-hand crops name each product first. Stored with the gallery;
//! fusion turns them into likelihoods ([`crate::fusion::items`]). Every
//! rate is smoothed toward a prior, so a product seen a few times gets
//! neither 0 nor 1, and a look-alike that took the top place in some
//! crops keeps that share.

use crate::ids::Sku;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Without measurements: how often a crop of a shown item names it first.
pub const DEFAULT_HELD_TOP1: f64 = 0.4;
/// Products assumed when the rates were never measured.
const UNKNOWN_PRODUCTS: f64 = 250.0;
/// A product's measured crops count against this many crops of the prior.
const HELD_PRIOR: f64 = 4.0;
/// The empty-hand rates count against this many crops spread evenly.
const EMPTY_PRIOR: f64 = 50.0;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CropRates {
    /// Per product held: how many of its crops named each product first.
    pub held: BTreeMap<Sku, BTreeMap<Sku, u32>>,
    /// Empty-hand crops: how many named each product first, of `empty_n`.
    pub empty: BTreeMap<Sku, u32>,
    pub empty_n: u32,
    /// Products in the gallery.
    pub products: usize,
    #[serde(skip)]
    cache: Derived,
}

/// Sums kept beside the counts.
#[derive(Clone, Debug, Default, PartialEq)]
struct Derived {
    held_n: BTreeMap<Sku, u32>,
    named: BTreeMap<Sku, u32>,
    held_total: u32,
}

impl CropRates {
    /// From crops whose truth is known: (product held, or None for an empty
    /// hand; the crop's top match), among `products` products.
    pub fn measure(crops: &[(Option<Sku>, Option<Sku>)], products: usize) -> Self {
        let mut rates = CropRates { products, ..Default::default() };
        for (truth, top) in crops {
            let Some(top) = top else { continue };
            match truth {
                Some(t) => *rates.held.entry(t.clone()).or_default().entry(top.clone()).or_insert(0) += 1,
                None => {
                    rates.empty_n += 1;
                    *rates.empty.entry(top.clone()).or_insert(0) += 1;
                }
            }
        }
        rates.derive()
    }

    /// Fills the sums (after loading from a file).
    pub fn derive(mut self) -> Self {
        let mut d = Derived::default();
        for (x, row) in &self.held {
            let n: u32 = row.values().sum();
            d.held_n.insert(x.clone(), n);
            d.held_total += n;
            for (z, c) in row {
                *d.named.entry(z.clone()).or_insert(0) += c;
            }
        }
        self.cache = d;
        self
    }

    /// The products crops could name; unknown (nothing measured): a
    /// small store's catalogue.
    fn n_products(&self) -> f64 {
        if self.products == 0 { UNKNOWN_PRODUCTS } else { self.products as f64 }
    }

    /// How often a crop of any held product names `z` first.
    pub fn base(&self, z: &Sku) -> f64 {
        let named = f64::from(self.cache.named.get(z).copied().unwrap_or(0));
        (named + 1.0) / (f64::from(self.cache.held_total) + self.n_products())
    }

    /// P(a crop names `z` first | the hand shows product `x`).
    pub fn shown(&self, z: &Sku, x: &Sku) -> f64 {
        let prior = if z == x { DEFAULT_HELD_TOP1 } else { (1.0 - DEFAULT_HELD_TOP1) * self.base(z) };
        let n = f64::from(self.cache.held_n.get(x).copied().unwrap_or(0));
        let count = f64::from(self.held.get(x).and_then(|row| row.get(z)).copied().unwrap_or(0));
        (count + HELD_PRIOR * prior) / (n + HELD_PRIOR)
    }

    /// P(a crop names `z` first | the hand is empty).
    pub fn empty(&self, z: &Sku) -> f64 {
        let count = f64::from(self.empty.get(z).copied().unwrap_or(0));
        (count + EMPTY_PRIOR / self.n_products()) / (f64::from(self.empty_n) + EMPTY_PRIOR)
    }

    /// Share of held crops that name their own product first.
    pub fn held_top1(&self) -> f64 {
        let right: u32 = self.held.iter().map(|(x, row)| row.get(x).copied().unwrap_or(0)).sum();
        f64::from(right) / f64::from(self.cache.held_total.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::from(s)
    }

    #[test]
    fn look_alikes_keep_their_share_and_lures_of_empty_hands_show() {
        let (a, b) = (Some(sku("A")), Some(sku("B")));
        let mut crops = vec![(a.clone(), a.clone()); 6];
        crops.extend(vec![(a.clone(), b.clone()); 2]);
        crops.extend(vec![(b.clone(), b.clone()); 4]);
        crops.extend(vec![(None, b.clone()); 30]);
        let r = CropRates::measure(&crops, 10);
        assert!((r.held_top1() - 10.0 / 12.0).abs() < 1e-12);
        // A held: named A 6 of 8, B 2 of 8, each pulled a little toward the prior.
        let (aa, ab) = (r.shown(&sku("A"), &sku("A")), r.shown(&sku("B"), &sku("A")));
        assert!(aa > 0.6 && aa < 0.75, "{aa}");
        assert!(ab > 0.2 && ab < 0.3, "a look-alike keeps its share: {ab}");
        // Unmeasured product Z: the prior.
        assert!((r.shown(&sku("Z"), &sku("Z")) - DEFAULT_HELD_TOP1).abs() < 1e-12);
        // Empty hands: B lures (30 of 30), others get the even share.
        assert!((r.empty(&sku("B")) - (30.0 + 5.0) / 80.0).abs() < 1e-12);
        assert!((r.empty(&sku("A")) - 5.0 / 80.0).abs() < 1e-12);
        // The file keeps the counts; the sums are derived again.
        let back: CropRates = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.derive(), r);
        // Never measured: a crop naming a product is rare unless it is held.
        let none = CropRates::default();
        assert!((none.shown(&sku("A"), &sku("A")) - DEFAULT_HELD_TOP1).abs() < 1e-12);
        assert!((none.empty(&sku("A")) - 1.0 / 250.0).abs() < 1e-12);
        assert!((none.base(&sku("A")) - 1.0 / 250.0).abs() < 1e-12);
    }
}
