//! Product inference: from a shelf change (Δ grams on some plates) and the
//! planogram, the most likely (product, quantity) and a probability for every
//! candidate. A negative Δ is a pick, a positive Δ a put-back.
//!
//! Model: for product k (unit weight w, spread σ) and quantity n, the
//! observed |Δ| is Normal(n·w, n·σ² + σ_m²), σ_m being the measurement noise
//! of a settled change (per plate involved). Priors: the products facing on
//! the changed plates, and those the stock book saw come back to them
//! (misplaced there), share `on_plate_prior`; products on neighbouring plates
//! (misplaced there unseen) share the rest; quantities follow a geometric
//! prior. Put-backs may be any product of the store (a wrong-shelf
//! return), at a small prior. An explicit "unexplained" hypothesis with a
//! flat likelihood absorbs changes that match nothing. Ambiguity is kept:
//! every candidate above `min_p` is returned, and the result is marked
//! ambiguous when the best one is not clearly the answer.

use super::ShelfChange;
use crate::ids::{PlateId, Sku};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What inference needs to know about a product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductWeight {
    pub sku: Sku,
    pub name: String,
    pub unit_weight_g: f64,
    /// One standard deviation of the unit weight.
    pub sigma_g: f64,
}

/// The products and where they face.
#[derive(Clone, Debug, Default)]
pub struct ShelfCatalog {
    pub products: BTreeMap<Sku, ProductWeight>,
    pub facings: BTreeMap<PlateId, Vec<Sku>>,
}

impl ShelfCatalog {
    /// Products facing on `plate`.
    pub fn on_plate(&self, plate: PlateId) -> &[Sku] {
        self.facings.get(&plate).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Pairs of adjacent plates on one shelf that carry the same product
    /// (one product spanning plates): the detector merges their changes.
    pub fn linked_plates(&self) -> Vec<(PlateId, PlateId)> {
        let mut links = Vec::new();
        for (plate, skus) in &self.facings {
            let next = PlateId::new(plate.gondola, plate.shelf, plate.plate + 1);
            if let Some(next_skus) = self.facings.get(&next)
                && skus.iter().any(|s| next_skus.contains(s))
            {
                links.push((*plate, next));
            }
        }
        links
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InferenceParams {
    /// Prior mass of the products facing on the changed plates (and of
    /// those known to be misplaced there). A plate weighs only what lies on
    /// it, and the stock book follows misplaced returns, so a neighbour's
    /// product is there only if it was misplaced unseen: 0.9 left the
    /// simulator's multi-unit picks at p 0.6 to 0.9 for neighbours that
    /// were never there (`docs/fusion.md`).
    pub on_plate_prior: f64,
    /// Plates this far along the shelf (and on the shelves just above and
    /// below) count as neighbours.
    pub neighbour_reach: u16,
    /// Prior mass of any other product of the store, for put-backs only.
    pub elsewhere_prior: f64,
    /// Ratio of the geometric quantity prior (P(n+1) / P(n)).
    pub quantity_ratio: f64,
    pub max_quantity: u32,
    /// Noise of a settled change, per plate involved, grams (one σ).
    pub measurement_sigma_g: f64,
    /// Prior of "none of these products": its likelihood is flat.
    pub unexplained_prior: f64,
    /// Width (grams) of the flat likelihood of the unexplained hypothesis.
    pub unexplained_width_g: f64,
    /// Below this the best candidate's probability marks the event ambiguous.
    pub confident_p: f64,
    /// Candidates below this probability are dropped from the list.
    pub min_p: f64,
}

impl Default for InferenceParams {
    fn default() -> Self {
        Self {
            on_plate_prior: 0.99,
            neighbour_reach: 2,
            elsewhere_prior: 0.01,
            quantity_ratio: 0.35,
            max_quantity: 12,
            measurement_sigma_g: 2.0,
            unexplained_prior: 0.01,
            unexplained_width_g: 2000.0,
            confident_p: 0.98,
            min_p: 1e-4,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub sku: Sku,
    pub name: String,
    pub qty: u32,
    pub p: f64,
    /// The product does not face on the changed plates (a misplaced item).
    pub misplaced: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inference {
    /// Best first; probabilities over all hypotheses (they sum to 1 with `unexplained_p`).
    pub candidates: Vec<Candidate>,
    /// Probability that no product of the catalogue explains the change.
    pub unexplained_p: f64,
    /// The best candidate is not clearly the answer (close weights, unknown weight).
    pub ambiguous: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Place {
    OnPlate,
    KnownMisplaced,
    Neighbour,
    Elsewhere,
}

fn neighbours_of(change: &ShelfChange, reach: u16) -> BTreeSet<PlateId> {
    let mut out = BTreeSet::new();
    for &p in &change.plates {
        for shelf in change.shelf.saturating_sub(1).max(1)..=change.shelf + 1 {
            for plate in p.saturating_sub(reach).max(1)..=p + reach {
                out.insert(PlateId::new(change.gondola, shelf, plate));
            }
        }
    }
    for &p in &change.plates {
        out.remove(&PlateId::new(change.gondola, change.shelf, p));
    }
    out
}

/// Infers the product and quantity of one shelf change. `also_here` lists
/// products known to lie on the changed plates though they do not belong
/// there (misplaced earlier); they are weighed like neighbours.
pub fn infer(change: &ShelfChange, catalog: &ShelfCatalog, also_here: &[Sku], params: &InferenceParams) -> Inference {
    let changed: BTreeSet<PlateId> =
        change.plates.iter().map(|&p| PlateId::new(change.gondola, change.shelf, p)).collect();
    let mut place: BTreeMap<&Sku, Place> = BTreeMap::new();
    for plate in &changed {
        for sku in catalog.on_plate(*plate) {
            place.insert(sku, Place::OnPlate);
        }
    }
    // Items the stock book saw come back to these plates lie here: they
    // share the on-plate prior with the products that belong here.
    for sku in also_here {
        place.entry(sku).or_insert(Place::KnownMisplaced);
    }
    let neighbours = neighbours_of(change, params.neighbour_reach);
    for sku in neighbours.iter().flat_map(|plate| catalog.on_plate(*plate)) {
        place.entry(sku).or_insert(Place::Neighbour);
    }
    let put_back = change.delta_g > 0.0;
    if put_back {
        for sku in catalog.products.keys() {
            place.entry(sku).or_insert(Place::Elsewhere);
        }
    }
    let count = |which: &[Place]| place.values().filter(|p| which.contains(p)).count().max(1) as f64;
    let n_on = count(&[Place::OnPlate, Place::KnownMisplaced]);
    let (n_near, n_else) = (count(&[Place::Neighbour]), count(&[Place::Elsewhere]));
    let elsewhere_mass = if put_back { params.elsewhere_prior } else { 0.0 };
    let near_mass = (1.0 - params.on_plate_prior - elsewhere_mass).max(0.0);
    let observed = change.delta_g.abs();
    let meas_var = params.measurement_sigma_g.powi(2) * change.plates.len().max(1) as f64;

    // Log-space scores, normalised at the end.
    let mut scored: Vec<(Candidate, f64)> = Vec::new();
    for (sku, where_) in &place {
        let Some(product) = catalog.products.get(*sku) else { continue };
        let prior_place = match where_ {
            Place::OnPlate | Place::KnownMisplaced => params.on_plate_prior / n_on,
            Place::Neighbour => near_mass / n_near,
            Place::Elsewhere => elsewhere_mass / n_else,
        };
        if prior_place <= 0.0 {
            continue;
        }
        for qty in 1..=params.max_quantity {
            let n = f64::from(qty);
            let mean = n * product.unit_weight_g;
            let var = n * product.sigma_g.powi(2) + meas_var;
            let log_lik = -0.5 * (observed - mean).powi(2) / var - 0.5 * (2.0 * std::f64::consts::PI * var).ln();
            let log_prior = prior_place.ln() + (n - 1.0) * params.quantity_ratio.ln();
            let candidate = Candidate {
                sku: product.sku.clone(),
                name: product.name.clone(),
                qty,
                p: 0.0,
                misplaced: *where_ != Place::OnPlate,
            };
            scored.push((candidate, log_lik + log_prior));
        }
    }
    let unexplained_score = params.unexplained_prior.ln() - params.unexplained_width_g.ln();
    let max = scored.iter().map(|(_, s)| *s).fold(unexplained_score, f64::max);
    let total: f64 = scored.iter().map(|(_, s)| (s - max).exp()).sum::<f64>() + (unexplained_score - max).exp();
    let unexplained_p = (unexplained_score - max).exp() / total;
    let mut candidates: Vec<Candidate> = scored
        .into_iter()
        .map(|(mut c, s)| {
            c.p = (s - max).exp() / total;
            c
        })
        .filter(|c| c.p >= params.min_p)
        .collect();
    candidates.sort_by(|a, b| b.p.total_cmp(&a.p).then_with(|| a.sku.cmp(&b.sku)).then(a.qty.cmp(&b.qty)));
    let ambiguous = candidates.first().is_none_or(|best| best.p < params.confident_p);
    Inference { candidates, unexplained_p, ambiguous }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shelf::PlateChange;

    /// (name, unit weight, [(shelf, plate)]) on gondola 1.
    type Item<'a> = (&'a str, f64, &'a [(u16, u16)]);

    fn catalog(items: &[Item]) -> ShelfCatalog {
        let mut c = ShelfCatalog::default();
        for (name, w, plates) in items {
            let sku = Sku::from(*name);
            c.products.insert(
                sku.clone(),
                ProductWeight {
                    sku: sku.clone(),
                    name: (*name).into(),
                    unit_weight_g: *w,
                    sigma_g: (w * 0.015).max(1.0),
                },
            );
            for (shelf, plate) in *plates {
                c.facings.entry(PlateId::new(1, *shelf, *plate)).or_default().push(sku.clone());
            }
        }
        c
    }

    fn change(shelf: u16, plates: &[u16], delta: f64) -> ShelfChange {
        let parts = plates
            .iter()
            .map(|&p| PlateChange {
                plate: PlateId::new(1, shelf, p),
                t_start: 0.0,
                t_end: 1.0,
                before_g: 1000.0,
                after_g: 1000.0 + delta / plates.len() as f64,
                delta_g: delta / plates.len() as f64,
                confidence: 1.0,
                trace: Vec::new(),
            })
            .collect();
        ShelfChange {
            gondola: 1,
            shelf,
            plates: plates.to_vec(),
            t_start: 0.0,
            t_end: 1.0,
            delta_g: delta,
            parts,
            confidence: 1.0,
            degraded: false,
        }
    }

    #[test]
    fn single_and_multi_unit_picks_are_identified() {
        let c = catalog(&[("water", 1540.0, &[(1, 1)]), ("chips", 180.0, &[(1, 2)])]);
        let one = infer(&change(1, &[2], -181.0), &c, &[], &InferenceParams::default());
        assert_eq!((one.candidates[0].name.as_str(), one.candidates[0].qty), ("chips", 1));
        assert!(!one.ambiguous, "{one:?}");
        let three = infer(&change(1, &[2], -539.0), &c, &[], &InferenceParams::default());
        assert_eq!((three.candidates[0].name.as_str(), three.candidates[0].qty), ("chips", 3));
    }

    #[test]
    fn put_back_of_a_foreign_product_is_found_and_marked_misplaced() {
        let c = catalog(&[("water", 1540.0, &[(1, 1)]), ("chips", 180.0, &[(1, 2)]), ("wine", 1250.0, &[(3, 9)])]);
        let inf = infer(&change(1, &[2], 1251.0), &c, &[], &InferenceParams::default());
        let best = &inf.candidates[0];
        assert_eq!((best.name.as_str(), best.qty, best.misplaced), ("wine", 1, true));
    }

    #[test]
    fn near_equal_neighbours_are_told_apart_by_location_unless_one_was_seen_misplaced_there() {
        let c = catalog(&[("cola", 350.0, &[(1, 1)]), ("lemon", 346.0, &[(1, 2)])]);
        let inf = infer(&change(1, &[1], -349.0), &c, &[], &InferenceParams::default());
        assert_eq!(inf.candidates[0].name, "cola", "location decides the best guess");
        assert!(inf.candidates.iter().any(|c| c.name == "lemon"), "the other product stays a candidate");
        assert!(!inf.ambiguous, "a plate weighs only what lies on it: {inf:?}");
        // A lemon came back to the cola plate earlier: now either may have left.
        let inf = infer(&change(1, &[1], -349.0), &c, &[Sku::from("lemon")], &InferenceParams::default());
        assert!(inf.ambiguous, "{inf:?}");
        assert!(inf.candidates.iter().take(2).all(|c| c.p > 0.3), "{inf:?}");
    }

    #[test]
    fn a_change_nothing_explains_goes_to_unexplained() {
        let c = catalog(&[("chips", 180.0, &[(1, 2)])]);
        let inf = infer(&change(1, &[2], -95.0), &c, &[], &InferenceParams::default());
        assert!(inf.unexplained_p > 0.5 && inf.ambiguous, "{inf:?}");
    }

    #[test]
    fn probabilities_sum_to_one_and_are_sorted() {
        let c = catalog(&[("a", 100.0, &[(1, 1)]), ("b", 200.0, &[(1, 2)]), ("c", 300.0, &[(2, 1)])]);
        let params = InferenceParams { min_p: 0.0, ..Default::default() };
        let inf = infer(&change(1, &[1, 2], -300.0), &c, &[], &params);
        let sum: f64 = inf.candidates.iter().map(|c| c.p).sum::<f64>() + inf.unexplained_p;
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        assert!(inf.candidates.windows(2).all(|w| w[0].p >= w[1].p));
    }

    #[test]
    fn plates_carrying_one_product_are_linked() {
        let c = catalog(&[("water", 1540.0, &[(1, 1), (1, 2), (1, 3)]), ("chips", 180.0, &[(1, 4)])]);
        let links = c.linked_plates();
        assert_eq!(
            links,
            vec![(PlateId::new(1, 1, 1), PlateId::new(1, 1, 2)), (PlateId::new(1, 1, 2), PlateId::new(1, 1, 3))]
        );
    }
}
