//! What was taken, beside who took it: the hand crops' weight on each
//! track and candidate product, the products other events moved about
//! then, and the product a visit gets for an event (the shelf's best, or
//! for a put-back, something the visit holds).

use super::{CropRatios, Fusion};
use crate::fusion::attribute::TrackScore;
use crate::fusion::items::{crops_in_window, holding_ratio};
use crate::ids::Sku;
use crate::shelf::inference::Candidate;
use crate::shelf::pipeline::ShelfEvent;
use std::collections::BTreeMap;

impl Fusion {
    /// Weighs each track's score by what its hands held around the event
    /// (a mix over the shelf's candidate products, [`super::items`]) and
    /// renormalises against "someone untracked" (whose crops are unknown:
    /// ratio 1). Returns each track's crop count and ratio per product.
    pub(super) fn weigh_hand_crops(&self, e: &ShelfEvent, scores: &mut [TrackScore]) -> CropRatios {
        let params = &self.params.items;
        let pick = e.delta_g < 0.0;
        let mass: f64 = e.candidates.iter().map(|c| c.p).sum();
        let mut out = CropRatios::new();
        if mass <= 0.0 {
            return out;
        }
        // What other shelf events moved about then: a hand seen holding one
        // of those is explained by that event, not this one.
        let elsewhere = self.moved_nearby(e);
        let nobody = (1.0 - scores.iter().map(|s| s.p).sum::<f64>()).max(0.0);
        for s in scores.iter_mut() {
            let crops = crops_in_window(&self.history, &s.track, e.t, e.t_end, pick, params);
            let ratios: BTreeMap<Sku, f64> =
                e.candidates.iter().map(|c| (c.sku.clone(), holding_ratio(&crops, &c.sku, params))).collect();
            let explained = elsewhere.iter().map(|sku| holding_ratio(&crops, sku, params)).fold(1.0, f64::max);
            // Only for the track: a hand seen without the item proves little.
            let mixed = e.candidates.iter().map(|c| c.p * (ratios[&c.sku] / explained).max(1.0)).sum::<f64>();
            s.p *= mixed / mass;
            out.insert(s.track.clone(), (crops.len(), ratios));
        }
        let total = scores.iter().map(|s| s.p).sum::<f64>() + nobody;
        if total > 0.0 {
            scores.iter_mut().for_each(|s| s.p /= total);
        }
        scores.sort_by(|a, b| b.p.total_cmp(&a.p).then(a.track.cmp(&b.track)));
        out
    }

    /// The products other shelf events (decided, or waiting: their likeliest)
    /// moved within the crops' reach of `e` in time.
    fn moved_nearby(&self, e: &ShelfEvent) -> Vec<Sku> {
        let near = |t: f64| (t - e.t).abs() <= 2.0 * self.params.items.window_s;
        let decided = self.decisions.iter().rev().take_while(|d| d.t >= e.t - 60.0);
        let mut out: Vec<Sku> = decided.filter(|d| near(d.t)).filter_map(|d| d.sku.clone()).collect();
        out.extend(
            self.pending.iter().filter(|p| near(p.t)).filter_map(|p| p.candidates.first()).map(|c| c.sku.clone()),
        );
        out.sort();
        out.dedup();
        out
    }

    /// The product, units and probability of an event. A pick takes the
    /// shelf's best candidate. A put-back can only be something the visit
    /// holds: the shelf's candidates (weighed with where each product
    /// belongs) narrowed to those, or, when the shelf offers none of them,
    /// the held item whose weight fits (it came back to a shelf where it
    /// does not belong).
    pub(super) fn product(
        &self,
        e: &ShelfEvent,
        candidates: &[Candidate],
        held: &BTreeMap<Sku, i64>,
    ) -> Option<(Sku, u32, f64)> {
        let shelf_best = candidates.first().filter(|c| c.p > e.unexplained_p).map(|c| (c.sku.clone(), c.qty, c.p));
        if e.delta_g <= 0.0 {
            return shelf_best;
        }
        let holds = |sku: &Sku, qty: u32| held.get(sku).is_some_and(|n| *n >= i64::from(qty));
        let held_mass: f64 = candidates.iter().filter(|c| holds(&c.sku, c.qty)).map(|c| c.p).sum();
        if let Some(best) = candidates.iter().find(|c| holds(&c.sku, c.qty)).filter(|c| c.p > e.unexplained_p) {
            return Some((best.sku.clone(), best.qty, best.p / held_mass));
        }
        let mut fits: Vec<(Sku, u32, f64)> = Vec::new();
        for (sku, &n) in held {
            let Some(product) = self.products.get(sku) else { continue };
            for q in 1..=n.clamp(0, 12) as u32 {
                let expected = product.unit_weight_g * f64::from(q);
                let sigma = product.weight_tolerance_g * f64::from(q).sqrt() + 3.0;
                let z = (e.delta_g - expected) / sigma;
                if z.abs() < 3.0 {
                    fits.push((sku.clone(), q, (-0.5 * z * z).exp()));
                }
            }
        }
        let total: f64 = fits.iter().map(|f| f.2).sum();
        fits.sort_by(|a, b| b.2.total_cmp(&a.2));
        match fits.first() {
            Some((sku, q, l)) => Some((sku.clone(), *q, l / total)),
            None => shelf_best,
        }
    }
}
