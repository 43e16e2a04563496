//! Booking a decided event's units to the ledger: to one visit, or to two
//! when two shoppers' picks merged into one event, split by who lifted when.
//!
//! The plate's level over a multi-unit pick (`shelf::lifts`) may show two
//! lifts: a whole number of units, then the rest. When the actor's hand
//! was in the plate for one lift and gone at the other, and another
//! visit's hand was there for the other one, each visit gets the units of
//! its own lift.

use super::{EventDecision, Fusion};
use crate::db::{CartEvent, CartEventKind};
use crate::fusion::attribute::{TrackScore, TrackSeries};
use crate::ids::{Sku, TrackId, VisitId};
use crate::shelf::lifts::{TwoLifts, two_lifts};
use crate::shelf::pipeline::ShelfEvent;

/// A hand reaches the product at most this long before its lift (s): the
/// longest hold (1.2 s) and the lift (0.3 s), with a camera frame's slack.
const REACH_BEFORE_LIFT_S: f64 = 1.6;

/// A lift point is the first 0.1 s bin at the new level: a hand in the
/// plate from this long before it to `HAND_AFTER_S` after was there for it (s).
const AT_LIFT_BEFORE_S: f64 = 0.3;
const HAND_AFTER_S: f64 = 0.1;

/// The units of one event that another visit took.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LiftSplit {
    /// The actor's units; the rest are `other`'s.
    pub actor_units: u32,
    pub other_track: TrackId,
    pub other_visit: VisitId,
}

/// Which of two hands made the first of two lifts at `t1` and `t2` (s from
/// the event's start), from the times each was seen in the plate: `Some(true)`
/// when `a` made the first and `b` the second, `Some(false)` the other way
/// round, None when the hands do not tell (both there at a lift, or one
/// at neither).
pub fn first_lift_by_a(a_in_plate: &[f64], b_in_plate: &[f64], t1: f64, t2: f64) -> Option<bool> {
    let reached_for =
        |times: &[f64], t: f64| times.iter().any(|s| (t - REACH_BEFORE_LIFT_S..=t + HAND_AFTER_S).contains(s));
    let there_at = |times: &[f64], t: f64| times.iter().any(|s| (t - AT_LIFT_BEFORE_S..=t + HAND_AFTER_S).contains(s));
    let gone_by = |times: &[f64], t: f64| times.iter().all(|s| *s < t - AT_LIFT_BEFORE_S);
    // The first lifter is gone when the second lifts; the second was not
    // in the plate when the first lifted.
    let order = |first: &[f64], second: &[f64]| {
        reached_for(first, t1) && gone_by(first, t2) && reached_for(second, t2) && !there_at(second, t1)
    };
    match (order(a_in_plate, b_in_plate), order(b_in_plate, a_in_plate)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

impl Fusion {
    /// Books pick or put-back `e` (`qty` of `sku`, decided for `track` of
    /// `visit`): whole, or split with another visit when its two lifts say
    /// so; either way, with a second hand in the plate both visits go to
    /// staff (`shared_reach`). `record` is completed and kept.
    pub(super) fn book_units(
        &mut self,
        e: &ShelfEvent,
        (seen, scores, rest): (&[TrackSeries], &[TrackScore], &[ShelfEvent]),
        (visit, track): (&VisitId, &TrackId),
        (sku, qty, p_visit, p_product): (&Sku, u32, f64, f64),
        mut record: EventDecision,
    ) {
        // Picks only: a put-back is fitted for nothing.
        let lifts = if e.delta_g < 0.0 { two_lifts(&e.trace, e.delta_g, qty) } else { None };
        let split = lifts
            .as_ref()
            .and_then(|l| self.split_lifts(e, l, seen, (visit, track, qty), rest))
            .filter(|s| !self.handed_over.contains_key(&s.other_visit));
        let shared = self.shared_reach(e, scores, (visit, qty), rest);
        let doubt = shared.or_else(|| split.as_ref().map(|s| (s.other_track.clone(), s.other_visit.clone())));
        if let Some((other_track, other)) = doubt {
            // Both receipts may hold the wrong share of the units: staff see both.
            let shares = split.as_ref().map_or(String::new(), |s| {
                format!(" (two lifts: {} and {} units)", s.actor_units, qty - s.actor_units)
            });
            let note = format!(
                "shared_reach: {}.{} at {:.1}: {other_track}'s hand was in the plate as {qty} units went{shares}",
                e.gondola, e.shelf, e.t
            );
            for v in [visit.clone(), other].into_iter().filter(|v| !self.handed_over.contains_key(v)) {
                self.flags.entry(v).or_default().push(note.clone());
            }
        }
        (record.lifts, record.split) = (lifts, split.clone());
        self.decisions.push(record);
        match split {
            Some(s) => {
                let actor_part = (s.actor_units, (p_visit * p_product).clamp(0.0, 1.0));
                self.book_event(e, visit, track, sku, actor_part, "");
                let other_part = (qty - s.actor_units, p_product.clamp(0.0, 1.0));
                self.book_event(e, &s.other_visit, &s.other_track, sku, other_part, ":2");
            }
            None => self.book_event(e, visit, track, sku, (qty, (p_visit * p_product).clamp(0.0, 1.0)), ""),
        }
    }

    /// Appends `e`'s units (with their confidence) for `visit` to its
    /// ledger; `part` tells the event's parts apart in their id when it
    /// was split between visits.
    fn book_event(
        &mut self,
        e: &ShelfEvent,
        visit: &VisitId,
        track: &TrackId,
        sku: &Sku,
        (qty, confidence): (u32, f64),
        part: &str,
    ) {
        let kind = if e.delta_g < 0.0 { CartEventKind::Pick } else { CartEventKind::PutBack };
        let plates: Vec<String> = e.plates.iter().map(u16::to_string).collect();
        let event = CartEvent {
            seq: 0,
            id: format!("{}:{:.3}:{}.{}.{}{part}", self.store, e.t, e.gondola, e.shelf, plates.join("+")),
            store_id: self.store.clone(),
            visit_id: Some(visit.clone()),
            kind,
            sku: sku.clone(),
            quantity: i64::from(qty),
            confidence,
            source: "fusion".into(),
            evidence_ref: Some(format!(
                "shelf {}.{} {:+.1} g t={:.2}-{:.2}",
                e.gondola, e.shelf, e.delta_g, e.t, e.t_end
            )),
            shopper_id: None,
            track_id: Some(track.to_string()),
            at: (e.t * 1000.0) as i64,
            recorded_at: (e.t_end * 1000.0) as i64,
        };
        self.ledgers.entry(visit.clone()).or_default().push(event);
    }

    /// Whether pick `e` of `qty` units, decided for `track` of `visit`, which
    /// went in two `lifts`, had one of them made by another visit's track (see the module
    /// header); that track must not be the likeliest author of another
    /// event about then, whose own units would explain its hand.
    pub(super) fn split_lifts(
        &self,
        e: &ShelfEvent,
        lifts: &TwoLifts,
        seen: &[TrackSeries],
        (visit, track, qty): (&VisitId, &TrackId, u32),
        rest: &[ShelfEvent],
    ) -> Option<LiftSplit> {
        let (t1, t2) = (lifts.t_first - e.t, lifts.t_second - e.t);
        let hand_m = self.params.concurrent.shared_hand_m;
        let in_plate =
            |s: &TrackSeries| -> Vec<f64> { s.hands.iter().filter(|[_, d]| *d <= hand_m).map(|[t, _]| *t).collect() };
        let actor_in = in_plate(seen.iter().find(|s| &s.track == track)?);
        seen.iter().filter(|s| &s.track != track).find_map(|s| {
            let other_visit = self.book.visit_of(&s.track).map(|v| v.id.clone()).filter(|v| v != visit)?;
            let actor_first = first_lift_by_a(&actor_in, &in_plate(s), t1, t2)?;
            if self.leads_another(e, &s.track, rest) {
                return None;
            }
            let actor_units = if actor_first { lifts.first_units } else { qty - lifts.first_units };
            Some(LiftSplit { actor_units, other_track: s.track.clone(), other_visit })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::first_lift_by_a;

    #[test]
    fn each_hand_is_given_the_lift_it_was_in_the_plate_for() {
        // Lifts at 0.8 s and 2.3 s: a in the plate 0.2 to 0.9 s, b 1.4 to 2.4 s.
        let a = [0.2, 0.4, 0.6, 0.8, 0.9];
        let b = [1.4, 1.7, 2.0, 2.2, 2.4];
        assert_eq!(first_lift_by_a(&a, &b, 0.8, 2.3), Some(true));
        assert_eq!(first_lift_by_a(&b, &a, 0.8, 2.3), Some(false));
    }

    #[test]
    fn a_hand_there_at_both_lifts_or_at_neither_tells_nothing() {
        let b = [1.4, 1.7, 2.0, 2.2, 2.4];
        // One shopper's item lifted at one end, then whole: a stays throughout.
        let a_throughout = [0.2, 0.6, 1.0, 1.4, 1.8, 2.2, 2.3];
        assert_eq!(first_lift_by_a(&a_throughout, &b, 0.8, 2.3), None);
        // b already in the plate when the first lift went.
        let a = [0.2, 0.4, 0.6, 0.8];
        let b_early = [0.6, 0.8, 1.4, 2.0, 2.3];
        assert_eq!(first_lift_by_a(&a, &b_early, 0.8, 2.3), None);
        // b never near the second lift.
        assert_eq!(first_lift_by_a(&a, &[3.5, 3.6], 0.8, 2.3), None);
        assert_eq!(first_lift_by_a(&[], &b, 0.8, 2.3), None);
    }
}
