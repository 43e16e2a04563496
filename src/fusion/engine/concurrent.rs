//! Concurrent events in the engine: before an event is decided, another
//! shelf event on the same gondola at the same time (waiting, ready with
//! it, or decided a moment ago) whose two likeliest tracks are this
//! event's two is looked for; the two tracks' probability for this event
//! is then split between them by which way round their hands say they
//! reached ([`crate::fusion::concurrent`]).

use super::Fusion;
use crate::fusion::attribute::{PlateReach, TrackScore, score, series};
use crate::fusion::concurrent::{resplit, share, swap_statistic};
use crate::ids::TrackId;
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

impl Fusion {
    /// Re-splits `scores` (of `e`, best first) by a concurrent event, if
    /// there is one; returns it for the record.
    pub(super) fn score_with_concurrent(
        &self,
        e: &ShelfEvent,
        reaches: &[PlateReach],
        scores: &mut [TrackScore],
        rest: &[ShelfEvent],
    ) -> Option<Concurrent> {
        let params = &self.params.concurrent;
        let (first, second) = (scores.first()?, scores.get(1)?);
        let pair_p = first.p + second.p;
        if pair_p < params.min_pair_p {
            return None;
        }
        let (a, b) = (first.track.clone(), second.track.clone());
        // Another event on the gondola, not on this event's plates, about then.
        let concurrent = |shelf: u16, plates: &[u16], t: f64| {
            let overlaps = shelf == e.shelf && plates.iter().any(|p| e.plates.contains(p));
            !overlaps && (t - e.t).abs() <= params.within_s
        };
        let waiting = rest.iter().chain(&self.pending).filter(|o| o.gondola == e.gondola);
        let decided = self.decisions.iter().rev().take_while(|d| d.t >= e.t - 60.0).filter(|d| d.gondola == e.gondola);
        let others = waiting
            .map(|o| (o.shelf, o.plates.as_slice(), o.t, o.t_end))
            .chain(decided.map(|d| (d.shelf, d.plates.as_slice(), d.t, d.t_end)))
            .filter(|(shelf, plates, t, _)| concurrent(*shelf, plates, *t));
        let mut found: Option<Concurrent> = None;
        for (shelf, plates, t, t_end) in others {
            let their_reaches = self.reaches_of(e.gondola, shelf, plates);
            let attribution = &self.params.attribution;
            let theirs = score(&series(&self.history, &their_reaches, t, t_end, attribution), attribution);
            let same_two = theirs.len() >= 2 && theirs[..2].iter().all(|s| s.track == a || s.track == b);
            if !same_two || theirs[0].p + theirs[1].p < params.min_pair_p {
                continue;
            }
            let window = (e.t.min(t) - params.before_s, e.t.max(t) + params.after_s);
            let Some((statistic_m2, samples)) =
                swap_statistic(&self.history, (&a, &b), (reaches, &their_reaches), window, params.cap_m)
            else {
                continue;
            };
            let nearer = found.as_ref().is_none_or(|f| (t - e.t).abs() < (f.t - e.t).abs());
            if samples >= params.min_samples && nearer {
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
        }
        let found = found?;
        resplit(scores, &a, &b, found.share_after);
        Some(found)
    }
}
