//! What the hands held: hand-crop evidence for a shelf event. A shopper who
//! picked product X holds X for a second or two after the touch (and one
//! putting X back held it just before); a camera crop of that hand, matched
//! against the gallery, then often names X first. Each crop's top match Z
//! has a likelihood under "this hand holds X":
//!
//!   P(Z | X) = visible_p · shown(Z | X) + (1 - visible_p) · empty(Z)
//!
//! (the item shows in a share of the crops, the rest read as an empty hand)
//! and under "it holds nothing, or something else":
//!
//!   P(Z | other) = ½ empty(Z) + ½ base(Z)
//!
//! `shown` is the measured confusion table (a look-alike keeps its share),
//! `empty` how often empty hands read as Z (a lure counts for little),
//! `base` how often any held product reads as Z ([`CropRates`], stored with
//! the gallery). A hand's log ratio sums its crops', each bounded by
//! `max_ratio`, tempered by `temper` and bounded by `max_ratio ^
//! max_counted` (crops a frame apart are not independent); a track's is its
//! likelier hand's. Who moved the
//! item takes only the evidence for a track (a hand seen without the item
//! may have held it in a bag, behind the palm or between crops); which
//! product it was compares the candidates' ratios of the actor's hand.

use super::attribute::TrackHistory;
use crate::catalog::crop_rates::CropRates;
use crate::catalog::gallery::GalleryError;
use crate::ids::{Sku, TrackId};
use crate::shelf::inference::Candidate;
use crate::vision::hand_crop::{HandCrop, WRISTS};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct ItemParams {
    /// Crops from the event's start until this long after it ends (a pick),
    /// or from this long before it starts until it ends (a put-back), count (s).
    pub window_s: f64,
    /// Fusion waits `window_s` past an event for its crops only while the
    /// cameras send crops: some crop within this long (s) before. A store
    /// whose vision node has no gallery never sends one, and decides as
    /// soon as the tracks' window has passed.
    pub reported_within_s: f64,
    /// Share of the window's crops of the hand that moved the item in which
    /// it shows (it is held for part of the window, and not always in view).
    pub visible_p: f64,
    /// One crop moves the odds by at most this factor (either way).
    pub max_ratio: f64,
    /// A hand's crops together move them by at most `max_ratio ^ max_counted`.
    pub max_counted: usize,
    /// The hand's summed log ratio is multiplied by this (crops of one hand
    /// are correlated, and the rates are measured on rendered crops).
    pub temper: f64,
    /// How crops read against the gallery (measured; empty: the priors).
    pub rates: Arc<CropRates>,
}

impl Default for ItemParams {
    fn default() -> Self {
        Self {
            window_s: 3.0,
            reported_within_s: 60.0,
            visible_p: 0.35,
            max_ratio: 50.0,
            max_counted: 3,
            temper: 0.5,
            rates: Arc::new(CropRates::default()),
        }
    }
}

/// The crop rates stored with a store's gallery (`<calibration>/gallery.json`),
/// if it has a gallery and someone measured them.
pub fn measured_rates(calibration: &std::path::Path) -> Result<Option<CropRates>, GalleryError> {
    let path = calibration.join("gallery.json");
    if !path.exists() {
        return Ok(None);
    }
    Ok(crate::catalog::gallery::Gallery::load(&path)?.rates)
}

/// The crops of one track in the event's window.
pub fn crops_in_window<'h>(
    history: &'h TrackHistory,
    track: &TrackId,
    t_start: f64,
    t_end: f64,
    pick: bool,
    params: &ItemParams,
) -> Vec<&'h HandCrop> {
    let (from, to) = if pick { (t_start, t_end + params.window_s) } else { (t_start - params.window_s, t_end) };
    history
        .tracks
        .get(track)
        .into_iter()
        .flatten()
        .filter(|s| s.t >= from && s.t <= to)
        .flat_map(|s| s.crops.iter())
        .collect()
}

/// P(crop names `top` | hand holds `held`) over P(.. | holds nothing or another), bounded.
fn crop_ratio(top: &Sku, held: &Sku, params: &ItemParams) -> f64 {
    let r = &params.rates;
    let holding = params.visible_p * r.shown(top, held) + (1.0 - params.visible_p) * r.empty(top);
    let other = 0.5 * r.empty(top) + 0.5 * r.base(top);
    (holding / other.max(1e-12)).clamp(1.0 / params.max_ratio, params.max_ratio)
}

/// Likelihood ratio that the hands behind `crops` held `sku` rather than
/// nothing or something else (1 without crops): the likelier hand's,
/// bounded both ways by `max_ratio ^ max_counted`.
pub fn holding_ratio(crops: &[&HandCrop], sku: &Sku, params: &ItemParams) -> f64 {
    let bound = params.max_ratio.ln() * params.max_counted as f64;
    let mut best: Option<f64> = None;
    for wrist in WRISTS {
        let mut log_ratio = None;
        for top in crops.iter().filter(|c| c.wrist == wrist).filter_map(|c| c.top()) {
            *log_ratio.get_or_insert(0.0) += crop_ratio(&top.sku, sku, params).ln();
        }
        if let Some(l) = log_ratio {
            let l = f64::clamp(params.temper * l, -bound, bound);
            best = Some(best.map_or(l, |b: f64| b.max(l)));
        }
    }
    best.map_or(1.0, f64::exp)
}

/// The shelf's candidates weighed by the actor's hand crops, keeping their
/// total (what is left is the shelf's "unexplained" share), best first.
/// Crops only ever speak for a product: one not seen in the hand keeps its
/// weight (it may have gone straight into a bag).
pub fn reweigh(candidates: &[Candidate], ratios: Option<&BTreeMap<Sku, f64>>) -> Vec<Candidate> {
    let mut out = candidates.to_vec();
    let Some(ratios) = ratios else { return out };
    let before: f64 = out.iter().map(|c| c.p).sum();
    out.iter_mut().for_each(|c| c.p *= ratios.get(&c.sku).copied().unwrap_or(1.0).max(1.0));
    let after: f64 = out.iter().map(|c| c.p).sum();
    if after > 0.0 {
        out.iter_mut().for_each(|c| c.p *= before / after);
    }
    out.sort_by(|a, b| b.p.total_cmp(&a.p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::gallery::ItemMatch;
    use crate::fusion::attribute::TrackSample;

    fn crop(sku: &str) -> HandCrop {
        HandCrop { wrist: 10, matches: vec![ItemMatch { sku: Sku::from(sku), score: 0.7 }] }
    }

    /// A hundred products, forty of them measured; X's crops name X 5
    /// times in 10 and its look-alike Y 3; most empty hands read as Q, a
    /// quarter as LURE.
    fn params() -> ItemParams {
        let s = |x: &str| Some(Sku::from(x));
        let mut crops = Vec::new();
        for k in 0..40 {
            crops.extend(vec![(s(&format!("P{k}")), s(&format!("P{k}"))); 5]);
        }
        crops.extend(vec![(s("X"), s("X")); 5]);
        crops.extend(vec![(s("X"), s("Y")); 3]);
        crops.extend(vec![(s("X"), s("R")); 2]);
        crops.extend(vec![(s("Y"), s("Y")); 5]);
        crops.extend(vec![(s("Y"), s("X")); 3]);
        crops.extend(vec![(s("Y"), s("R")); 2]);
        crops.extend(vec![(s("LURE"), s("LURE")); 5]);
        crops.extend(vec![(None, s("LURE")); 25]);
        crops.extend(vec![(None, s("Q")); 75]);
        let rates = CropRates::measure(&crops, 100);
        ItemParams {
            visible_p: 0.5,
            max_ratio: 50.0,
            max_counted: 3,
            temper: 1.0,
            rates: Arc::new(rates),
            ..Default::default()
        }
    }

    #[test]
    fn a_crop_naming_the_product_counts_for_it_a_look_alike_less_and_a_lure_little() {
        let p = params();
        let (x, lure) = (Sku::from("X"), Sku::from("LURE"));
        assert_eq!(holding_ratio(&[], &x, &p), 1.0);
        let named = holding_ratio(&[&crop("X")], &x, &p);
        let look_alike = holding_ratio(&[&crop("Y")], &x, &p);
        assert!(named > 3.0, "{named}");
        assert!(look_alike > 1.0 && look_alike < named, "{look_alike} {named}");
        assert!(holding_ratio(&[&crop("Q")], &x, &p) < 1.0, "what empty hands look like");
        let lured = holding_ratio(&[&crop("LURE")], &lure, &p);
        assert!(lured < named / 2.0, "a lure's own crops count for less: {lured} {named}");
        let many = holding_ratio(&[&crop("X"); 40], &x, &p);
        assert!((many - 50f64.powi(3)).abs() < 1e-6 * many, "bounded: {many}");
    }

    #[test]
    fn the_likelier_hand_counts() {
        let p = params();
        let left = HandCrop { wrist: 9, ..crop("Q") };
        let both = holding_ratio(&[&crop("X"), &left, &left], &Sku::from("X"), &p);
        assert!(
            (both - holding_ratio(&[&crop("X")], &Sku::from("X"), &p)).abs() < 1e-12,
            "the left hand's crops do not count"
        );
    }

    #[test]
    fn crops_raise_the_candidates_they_speak_for_and_keep_the_total() {
        let c = |sku: &str, p: f64| Candidate { sku: Sku::from(sku), name: sku.into(), qty: 1, p, misplaced: false };
        let shelf = vec![c("A", 0.5), c("B", 0.45)];
        let ratios = BTreeMap::from([(Sku::from("A"), 0.2), (Sku::from("B"), 9.0)]);
        let out = reweigh(&shelf, Some(&ratios));
        assert_eq!(out[0].sku.as_str(), "B");
        assert!((out.iter().map(|c| c.p).sum::<f64>() - 0.95).abs() < 1e-12, "the unexplained share stays");
        // A's ratio under 1 does not lower it: 0.5 : 0.45 * 9.
        assert!((out[1].p - 0.95 * 0.5 / (0.5 + 4.05)).abs() < 1e-12);
        assert_eq!(reweigh(&shelf, None), shelf);
    }

    #[test]
    fn a_pick_looks_after_the_touch_and_a_put_back_before_it() {
        let mut h = TrackHistory::default();
        let id = TrackId::from("a");
        for (t, sku) in [(5.0, "BEFORE"), (10.5, "DURING"), (13.0, "AFTER"), (20.0, "LATER")] {
            h.push(&id, TrackSample { t, x: 0.0, y: 0.0, hands: vec![], crops: vec![crop(sku)] });
        }
        let p = ItemParams::default();
        let names = |v: Vec<&HandCrop>| v.iter().map(|c| c.matches[0].sku.to_string()).collect::<Vec<_>>();
        assert_eq!(names(crops_in_window(&h, &id, 10.0, 11.0, true, &p)), ["DURING", "AFTER"]);
        assert_eq!(names(crops_in_window(&h, &id, 10.0, 11.0, false, &p)), ["DURING"]);
        assert_eq!(names(crops_in_window(&h, &id, 7.0, 8.0, false, &p)), ["BEFORE"]);
        assert!(crops_in_window(&h, &TrackId::from("b"), 10.0, 11.0, true, &p).is_empty());
    }
}
