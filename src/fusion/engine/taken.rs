//! What was taken, beside who took it: the hand crops' weight on each
//! track and candidate product, the products other events moved about
//! then, and the product a visit gets for an event (the shelf's best, or
//! for a put-back, something the visit holds).

use super::{CropRatios, Fusion};
use crate::fusion::attribute::TrackScore;
use crate::fusion::items::{crops_in_window, holding_ratio, reweigh};
use crate::ids::{Sku, TrackId, VisitId};
use crate::shelf::inference::{Candidate, InferenceParams};
use crate::shelf::pipeline::ShelfEvent;
use std::collections::BTreeMap;

/// Grams a unit put back weighs beside what the same units weighed when
/// they were picked, one standard deviation: both are settled plate means
/// (over the crowded, adversarial and standard runs of seeds 1 to 12,
/// 1,023 confident put-backs came within 0.21 g of their pick at the
/// median, 0.54 g at the 90th percentile and 0.93 g at the 99th).
const SAME_UNITS_SIGMA_G: f64 = 0.5;
/// The share of put-backs that are the very units a pick took, as weighed
/// then; the rest weigh like any units of the product (a pick split with
/// another visit, units picked as part of a larger pick, a mix-up).
const SAME_UNITS_SHARE: f64 = 0.9;

/// A pick a visit made: the product, its units and the grams they took.
pub(super) type Pick = (Sku, u32, f64);

impl Fusion {
    /// The picks decided for `visit` so far, whole (not split with
    /// another visit): product, units and grams taken.
    pub(super) fn picked_by(&self, visit: &VisitId) -> Vec<Pick> {
        self.decisions
            .iter()
            .filter(|d| d.delta_g < 0.0 && d.split.is_none() && d.visit.as_ref() == Some(visit))
            .filter_map(|d| Some((d.sku.clone()?, d.qty, -d.delta_g)))
            .collect()
    }

    /// How much likelier `e`'s grams are if candidate `c` is the very units
    /// one of the visit's picks took (weighed then, `picked`) than any
    /// units of that product: products whose unit weights the shelf cannot
    /// tell apart (near-equal weights) are told apart by the grams each
    /// pick actually took. 1 when no pick of that product took as many units.
    fn same_units_ratio(&self, e: &ShelfEvent, c: &Candidate, picked: &[Pick]) -> f64 {
        let Some(product) = self.products.get(&c.sku) else { return 1.0 };
        let q = f64::from(c.qty);
        let plates = e.plates.len().max(1) as f64;
        // The shelf's own weight model (`shelf::inference`): any units of the product.
        let measurement = InferenceParams::default().measurement_sigma_g;
        let model_var = q * product.weight_tolerance_g.powi(2) + measurement.powi(2) * plates;
        let density = |x: f64, mean: f64, var: f64| (-(x - mean).powi(2) / (2.0 * var)).exp() / var.sqrt();
        let generic = density(e.delta_g, q * product.unit_weight_g, model_var);
        picked
            .iter()
            .filter(|(sku, qty, _)| *sku == c.sku && *qty == c.qty)
            .map(|(_, _, grams)| {
                let same = density(e.delta_g, *grams, SAME_UNITS_SIGMA_G.powi(2));
                SAME_UNITS_SHARE * same / generic.max(f64::MIN_POSITIVE) + (1.0 - SAME_UNITS_SHARE)
            })
            .fold(None, |best: Option<f64>, r| Some(best.map_or(r, |b| b.max(r))))
            .map_or(1.0, |r| r.clamp(1e-3, 1e3))
    }

    /// Weighs a put-back's candidates by [`Fusion::same_units_ratio`], renormalised, best first.
    fn weigh_same_units(&self, e: &ShelfEvent, candidates: &mut [Candidate], picked: &[Pick]) {
        for c in candidates.iter_mut() {
            c.p *= self.same_units_ratio(e, c, picked);
        }
        let mass: f64 = candidates.iter().map(|c| c.p).sum();
        if mass > 0.0 {
            candidates.iter_mut().for_each(|c| c.p /= mass);
        }
        candidates.sort_by(|a, b| b.p.total_cmp(&a.p));
    }

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

    /// The actor's hand crops around `e` and their likelihood ratio for each of `skus`.
    pub(super) fn holding_ratios<'a>(
        &self,
        e: &ShelfEvent,
        actor: &TrackId,
        skus: impl Iterator<Item = &'a Sku>,
    ) -> BTreeMap<Sku, f64> {
        let params = &self.params.items;
        let crops = crops_in_window(&self.history, actor, e.t, e.t_end, e.delta_g < 0.0, params);
        skus.map(|sku| (sku.clone(), holding_ratio(&crops, sku, params))).collect()
    }

    /// The product, units and probability of an event. A pick takes the
    /// shelf's best candidate. A put-back can only be something the visit
    /// holds: the shelf's candidates (weighed with where each product
    /// belongs) narrowed to those, or, when the shelf offers none of them,
    /// the held item whose weight fits (it came back to a shelf where it
    /// does not belong); either way weighed by whether the grams are those
    /// one of the visit's picks took (`picked`, [`Fusion::same_units_ratio`]). Where that leaves the product open, the actor's
    /// hand crops weigh the candidates (for a put-back, after narrowing to
    /// what the visit holds: the hand held it on the way back).
    pub(super) fn product(
        &self,
        e: &ShelfEvent,
        (held, picked): (&BTreeMap<Sku, i64>, &[Pick]),
        actor: &TrackId,
    ) -> Option<(Sku, u32, f64)> {
        let unsure = |c: &[Candidate]| c.first().is_none_or(|c| c.p < self.params.contest_below_p);
        let decide = |c: &[Candidate], ambiguous: bool| {
            // Where the weights tell the products apart, crops do not overrule them.
            let c = if ambiguous || unsure(c) {
                let ratios = self.holding_ratios(e, actor, c.iter().map(|c| &c.sku));
                reweigh(c, Some(&ratios))
            } else {
                c.to_vec()
            };
            c.first().map(|best| (best.sku.clone(), best.qty, best.p))
        };
        if e.delta_g <= 0.0 {
            return decide(&e.candidates, e.ambiguous).filter(|best| best.2 > e.unexplained_p);
        }
        let holds = |sku: &Sku, qty: u32| held.get(sku).is_some_and(|n| *n >= i64::from(qty));
        let mut narrowed: Vec<Candidate> = e.candidates.iter().filter(|c| holds(&c.sku, c.qty)).cloned().collect();
        if narrowed.first().is_some_and(|best| best.p > e.unexplained_p) {
            self.weigh_same_units(e, &mut narrowed, picked);
            return decide(&narrowed, false);
        }
        let mut fits: Vec<Candidate> = Vec::new();
        for (sku, &n) in held {
            let Some(product) = self.products.get(sku) else { continue };
            for q in 1..=n.clamp(0, 12) as u32 {
                let expected = product.unit_weight_g * f64::from(q);
                let sigma = product.weight_tolerance_g * f64::from(q).sqrt() + 3.0;
                let z = (e.delta_g - expected) / sigma;
                if z.abs() < 3.0 {
                    let p = (-0.5 * z * z).exp();
                    fits.push(Candidate { sku: sku.clone(), name: product.name.clone(), qty: q, p, misplaced: true });
                }
            }
        }
        self.weigh_same_units(e, &mut fits, picked);
        if fits.is_empty() {
            return e.candidates.first().filter(|c| c.p > e.unexplained_p).map(|c| (c.sku.clone(), c.qty, c.p));
        }
        decide(&fits, false)
    }
}
