//! Concurrent events in the engine: before an event is decided, another
//! shelf event on the same gondola at the same time (waiting, ready with
//! it, or decided a moment ago) whose two likeliest tracks are this
//! event's two is looked for; the two tracks' probability for this event
//! is then split between them by which way round their hands say they
//! reached ([`crate::fusion::concurrent`]). Also: several units taken while
//! another visit's shopper had a hand in the plate, which may be two
//! shoppers' units merged into one event.

use super::Fusion;
use crate::fusion::attribute::{PlateReach, TrackScore, score, series};
use crate::fusion::concurrent::{resplit, share, swap_statistic};
use crate::ids::{TrackId, VisitId};
use crate::shelf::pipeline::ShelfEvent;

/// The other event an event was scored with, for the record.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Concurrent {
    pub t: f64,
    pub shelf: u16,
    pub plates: Vec<u16>,
    /// The two tracks: the one leading before (`a`) and the runner-up.
    pub tracks: [TrackId; 2],
    /// The swap statistic (m²; negative: `a` did this event) and its samples.
    pub statistic_m2: f64,
    pub samples: usize,
    /// `a`'s share of the pair's probability, before and after.
    pub share_before: f64,
    pub share_after: f64,
}

/// Another event on an event's gondola about then: shelf, plates, start, end.
type Other<'a> = (u16, &'a [u16], f64, f64);

impl Fusion {
    /// Whether `e`, otherwise ready, should wait (at most
    /// `concurrent.wait_s`) for a concurrent event still to come: its two
    /// likeliest tracks could be re-split (the runner-up holds enough of it
    /// to matter), and no concurrent event of the same two has arrived yet. (The shelf reports an event
    /// some seconds after it settles; a neighbour's can settle later.)
    pub(super) fn awaits_concurrent(&self, e: &ShelfEvent) -> bool {
        let params = &self.params.concurrent;
        let reaches = self.plate_reaches(e);
        let scores =
            score(&series(&self.history, &reaches, e.t, e.t_end, &self.params.attribution), &self.params.attribution);
        let doubtful =
            scores.len() >= 2 && scores[1].p >= params.min_second_p && scores[0].p + scores[1].p >= params.min_pair_p;
        doubtful && self.find_concurrent(e, &reaches, &scores, &[]).is_none()
    }

    /// Events on `e`'s gondola, not on its plates, starting within
    /// `concurrent.within_s` of it: waiting, ready with it (`rest`), or
    /// decided a moment ago.
    fn others_about<'a>(&'a self, e: &'a ShelfEvent, rest: &'a [ShelfEvent]) -> impl Iterator<Item = Other<'a>> + 'a {
        let within_s = self.params.concurrent.within_s;
        let waiting = rest.iter().chain(&self.pending).filter(|o| o.gondola == e.gondola);
        let decided = self.decisions.iter().rev().take_while(|d| d.t >= e.t - 60.0).filter(|d| d.gondola == e.gondola);
        waiting
            .map(|o| (o.shelf, o.plates.as_slice(), o.t, o.t_end))
            .chain(decided.map(|d| (d.shelf, d.plates.as_slice(), d.t, d.t_end)))
            .filter(move |(shelf, plates, t, _)| {
                let overlaps = *shelf == e.shelf && plates.iter().any(|p| e.plates.contains(p));
                !overlaps && (t - e.t).abs() <= within_s
            })
    }

    /// Re-splits `scores` (of `e`, best first) by a concurrent event, if
    /// there is one; returns it for the record.
    pub(super) fn score_with_concurrent(
        &self,
        e: &ShelfEvent,
        reaches: &[PlateReach],
        scores: &mut [TrackScore],
        rest: &[ShelfEvent],
    ) -> Option<Concurrent> {
        let found = self.find_concurrent(e, reaches, scores, rest)?;
        let [a, b] = &found.tracks;
        resplit(scores, a, b, found.share_after);
        Some(found)
    }

    /// The concurrent event nearest in time to `e` whose two likeliest
    /// tracks are `e`'s two (`scores`, best first), each pair holding at
    /// least `min_pair_p` of its event, with enough hand samples; and what
    /// the swap statistic says of it.
    fn find_concurrent(
        &self,
        e: &ShelfEvent,
        reaches: &[PlateReach],
        scores: &[TrackScore],
        rest: &[ShelfEvent],
    ) -> Option<Concurrent> {
        let params = &self.params.concurrent;
        let (first, second) = (scores.first()?, scores.get(1)?);
        let pair_p = first.p + second.p;
        if pair_p < params.min_pair_p {
            return None;
        }
        let (a, b) = (&first.track, &second.track);
        let mut found: Option<Concurrent> = None;
        for (shelf, plates, t, t_end) in self.others_about(e, rest) {
            if found.as_ref().is_some_and(|f| (f.t - e.t).abs() <= (t - e.t).abs()) {
                continue;
            }
            let their_reaches = self.reaches_of(e.gondola, shelf, plates);
            let attribution = &self.params.attribution;
            let theirs = score(&series(&self.history, &their_reaches, t, t_end, attribution), attribution);
            let same_two = theirs.len() >= 2 && theirs[..2].iter().all(|s| &s.track == a || &s.track == b);
            if !same_two || theirs[0].p + theirs[1].p < params.min_pair_p {
                continue;
            }
            let window = (e.t.min(t) - params.before_s, e.t.max(t) + params.after_s);
            match swap_statistic(&self.history, (a, b), (reaches, &their_reaches), window, params.cap_m) {
                Some((statistic_m2, samples)) if samples >= params.min_samples => {
                    found = Some(Concurrent {
                        t,
                        shelf,
                        plates: plates.to_vec(),
                        tracks: [a.clone(), b.clone()],
                        statistic_m2,
                        samples,
                        share_before: first.p / pair_p,
                        share_after: share(statistic_m2, params.scale_per_m2),
                    });
                }
                _ => {}
            }
        }
        found
    }

    /// An event of several units while a track of another visit than the
    /// one it went to had a hand in the plates (and no concurrent event of
    /// its own to explain it): that track and its visit. Two shoppers
    /// taking from one plate together make one event of both their units.
    pub(super) fn shared_reach(
        &self,
        e: &ShelfEvent,
        scores: &[TrackScore],
        (visit, qty): (&VisitId, u32),
        rest: &[ShelfEvent],
    ) -> Option<(TrackId, VisitId)> {
        let params = &self.params.concurrent;
        if qty < params.shared_min_qty {
            return None;
        }
        let near = |s: &&TrackScore| {
            s.p >= params.shared_min_p && s.hand_distance_m.is_some_and(|d| d <= params.shared_hand_m)
        };
        scores
            .iter()
            .filter(near)
            .filter_map(|s| Some((s, self.book.visit_of(&s.track)?.id.clone())))
            .filter(|(_, v)| v != visit)
            .find(|(s, _)| !self.leads_another(e, &s.track, rest))
            .map(|(s, v)| (s.track.clone(), v))
    }

    /// Whether `track` is the likeliest author of another event about `e`.
    pub(super) fn leads_another(&self, e: &ShelfEvent, track: &TrackId, rest: &[ShelfEvent]) -> bool {
        let attribution = &self.params.attribution;
        self.others_about(e, rest).any(|(shelf, plates, t, t_end)| {
            let reaches = self.reaches_of(e.gondola, shelf, plates);
            score(&series(&self.history, &reaches, t, t_end, attribution), attribution)
                .first()
                .is_some_and(|s| &s.track == track)
        })
    }
}
