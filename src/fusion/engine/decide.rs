//! Deciding one shelf event: score the tracks seen at its plates (with a
//! concurrent event's, and their hand crops), pool them per visit, find
//! the visit the looks say it belongs to, decide the product, flag the
//! doubts it leaves and book its units.

use super::{EventDecision, Fusion, LIKELY_AUTHOR_P};
use crate::fusion::attribute::{score, series};
use crate::fusion::ledger;
use crate::ids::{TrackId, VisitId};
use crate::shelf::pipeline::ShelfEvent;
use std::collections::BTreeMap;

impl Fusion {
    /// Decides `e`; `rest` are the events ready with it, still to decide.
    pub(super) fn decide(&mut self, e: ShelfEvent, rest: &[ShelfEvent]) {
        let reaches = self.plate_reaches(&e);
        let seen = series(&self.history, &reaches, e.t, e.t_end, &self.params.attribution);
        let mut scores = score(&seen, &self.params.attribution);
        let concurrent = self.score_with_concurrent(&e, &reaches, &mut scores, rest);
        let crop_ratios = self.weigh_hand_crops(&e, &mut scores);
        // Tracks of one visit pool their probability (a party shares one cart).
        // Tracks linked to no visit (a duplicate of someone's track, a ghost
        // from false detections) are left out: the share of "someone we do
        // not track" stays, renormalised against the linked tracks.
        let nobody = 1.0 - scores.iter().map(|s| s.p).sum::<f64>();
        let mut per_visit: BTreeMap<VisitId, (f64, TrackId)> = BTreeMap::new();
        for s in &scores {
            if let Some(v) = self.book.visit_of(&s.track) {
                let entry = per_visit.entry(v.id.clone()).or_insert((0.0, s.track.clone()));
                entry.0 += s.p;
            }
        }
        let linked: f64 = per_visit.values().map(|v| v.0).sum::<f64>() + nobody.max(0.0);
        if linked > 0.0 {
            per_visit.values_mut().for_each(|v| v.0 /= linked);
        }
        let mut ranked: Vec<(VisitId, (f64, TrackId))> = per_visit.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
        let mut record = EventDecision {
            t: e.t,
            t_end: e.t_end,
            gondola: e.gondola,
            shelf: e.shelf,
            plates: e.plates.clone(),
            delta_g: e.delta_g,
            visit: None,
            p_visit: ranked.first().map_or(0.0, |r| r.1.0),
            p_second: ranked.get(1).map_or(0.0, |r| r.1.0),
            second: ranked.get(1).map(|r| r.0.clone()),
            hand_distance_m: None,
            sku: None,
            qty: 0,
            p_product: 0.0,
            shelf_ambiguous: e.ambiguous,
            hand_crops: 0,
            crop_ratio: 1.0,
            look_distance: None,
            look_other: None,
            by_look: None,
            tracks: scores.iter().take(3).cloned().collect(),
            concurrent,
            evidence: if self.keep_evidence { seen.clone() } else { Vec::new() },
            lifts: None,
            split: None,
        };
        let others: Vec<(VisitId, f64)> = ranked.iter().skip(1).map(|(v, (p, _))| (v.clone(), *p)).collect();
        let best = ranked.into_iter().next();
        let Some((visit, (p_visit, track))) = best.filter(|b| b.1.0 >= self.params.nobody_below_p) else {
            // Someone we track but cannot bill may have taken it: say so.
            let unlinked = scores.first().filter(|s| s.p >= LIKELY_AUTHOR_P && self.book.visit_of(&s.track).is_none());
            if let Some(author) = unlinked {
                self.stats.unlinked_author += 1;
                tracing::warn!(
                    t = e.t,
                    gondola = e.gondola,
                    shelf = e.shelf,
                    track = %author.track,
                    p = author.p,
                    "shelf event by a track linked to no visit: stock only"
                );
            } else {
                self.stats.nobody_near += 1;
                tracing::info!(
                    t = e.t,
                    gondola = e.gondola,
                    shelf = e.shelf,
                    "shelf event with no shopper near: stock only"
                );
            }
            self.decisions.push(record);
            return;
        };
        if self.handed_over.contains_key(&visit) {
            self.stats.too_late += 1;
            tracing::warn!(%visit, t = e.t, "shelf event settled after its visit was handed over");
            return;
        }
        self.stats.attributed += 1;
        (record.look_distance, record.look_other) = self.look_of(&visit, &track);
        let linked_visit = visit.clone();
        // The tracker swapped two shoppers: the item is the visit's whose
        // shopper the actor now looks like (both go to staff, below).
        let visit = match self.swapped_to(e.t, (&visit, &track), record.look_distance, record.look_other.as_ref()) {
            Some((by_look, whose_look)) => {
                if whose_look != track {
                    self.flag_swap_partner(&e, &by_look, &track, &whose_look);
                }
                record.by_look = Some(whose_look);
                by_look
            }
            None => visit,
        };
        let held = ledger::cart(self.ledgers.get(&visit).map_or(&[][..], |v| v.as_slice())).items;
        let actor = crop_ratios.get(&track);
        let picked = self.picked_by(&visit);
        let decided = self.product(&e, (&held, &picked), &track);
        if let (Some((n, ratios)), Some((sku, _, _))) = (actor, &decided) {
            record.hand_crops = *n;
            // Known for the shelf's candidates; a held item off the shelf's list is scored here.
            record.crop_ratio =
                ratios.get(sku).copied().unwrap_or_else(|| self.holding_ratios(&e, &track, std::iter::once(sku))[sku]);
        }
        self.flag_doubts(&e, &visit, &track, p_visit, &others);
        self.flag_changed_look(&e, &linked_visit, &track, record.look_distance, record.look_other.as_ref());
        record.visit = Some(visit.clone());
        record.hand_distance_m = scores.iter().find(|s| s.track == track).and_then(|s| s.hand_distance_m);
        let Some((sku, qty, p_product)) = decided else {
            let why = format!("unexplained_weight: {:+.0} g on {}.{}", e.delta_g, e.gondola, e.shelf);
            self.flags.entry(visit).or_default().push(why);
            self.decisions.push(record);
            return;
        };
        self.stock_corrections.extend(e.booked.iter().flat_map(|b| b.replaced_by(&sku, qty)));
        (record.sku, record.qty, record.p_product) = (Some(sku.clone()), qty, p_product);
        self.book_units(&e, (&seen, &scores, rest), (&visit, &track), (&sku, qty, p_visit, p_product), record);
    }
}
