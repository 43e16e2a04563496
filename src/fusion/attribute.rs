//! Who touched the shelf: for a shelf event, a probability for each track
//! whose hands (or, failing hands, body) came within reach of the event's
//! plates in a time window around it. Pure functions over track history.
//!
//! Model (documented in `docs/fusion.md`): a track's hand at distance `d`
//! from the nearest changed plate's front scores `exp(-d² / 2σ²)`; a track
//! whose hands were not seen scores by its body's floor distance beyond
//! arm's reach, discounted; "someone we do not track" keeps a fixed share,
//! so one lone track far from the shelf is not certain just for being alone.

use crate::ids::TrackId;
use crate::layout::math::Vec3;
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct AttributionParams {
    /// Hand-to-plate-front distance scale (m).
    pub hand_sigma_m: f64,
    /// Body floor distance scale beyond arm's reach (m).
    pub body_sigma_m: f64,
    /// How far a hand reaches from where the body stands (m).
    pub arm_reach_m: f64,
    /// Weight of a body-only score against a hand score.
    pub body_only_weight: f64,
    /// The score left to "someone else" (an untracked hand), as a distance (m).
    pub nobody_distance_m: f64,
    /// Track samples considered from `before_s` before the event starts to
    /// `after_s` after it ends.
    pub before_s: f64,
    pub after_s: f64,
}

impl Default for AttributionParams {
    fn default() -> Self {
        Self {
            hand_sigma_m: 0.12,
            body_sigma_m: 0.3,
            arm_reach_m: 0.8,
            body_only_weight: 0.3,
            nobody_distance_m: 0.45,
            before_s: 1.5,
            after_s: 1.0,
        }
    }
}

/// One track's state at one time (as the tracker reports it).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackSample {
    pub t: f64,
    pub x: f64,
    pub y: f64,
    pub hands: Vec<Vec3>,
}

/// Recent samples of every track (older ones are dropped after `keep_s`).
#[derive(Clone, Debug, Default)]
pub struct TrackHistory {
    pub tracks: BTreeMap<TrackId, VecDeque<TrackSample>>,
    pub latest_t: f64,
}

impl TrackHistory {
    pub fn push(&mut self, id: &TrackId, sample: TrackSample) {
        self.latest_t = self.latest_t.max(sample.t);
        self.tracks.entry(id.clone()).or_default().push_back(sample);
    }

    /// Forgets samples older than `t`.
    pub fn forget_before(&mut self, t: f64) {
        for samples in self.tracks.values_mut() {
            while samples.front().is_some_and(|s| s.t < t) {
                samples.pop_front();
            }
        }
        self.tracks.retain(|_, s| !s.is_empty());
    }

    pub fn last(&self, id: &TrackId) -> Option<&TrackSample> {
        self.tracks.get(id).and_then(|s| s.back())
    }
}

/// A track's evidence for one event.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackScore {
    pub track: TrackId,
    pub p: f64,
    /// Nearest hand to the plates (m), if hands were seen.
    pub hand_distance_m: Option<f64>,
    /// Body floor distance to the plates (m).
    pub body_distance_m: f64,
}

/// Scores every track seen in `[t_start - before, t_end + after]` against the
/// plate front points; returns them best first with probabilities that sum,
/// together with the "someone else" share, to 1.
pub fn attribute(
    history: &TrackHistory,
    plate_fronts: &[Vec3],
    t_start: f64,
    t_end: f64,
    params: &AttributionParams,
) -> Vec<TrackScore> {
    let (from, to) = (t_start - params.before_s, t_end + params.after_s);
    let mut raw = Vec::new();
    for (id, samples) in &history.tracks {
        let window = samples.iter().filter(|s| s.t >= from && s.t <= to);
        let (mut hand, mut body) = (f64::INFINITY, f64::INFINITY);
        let mut seen = false;
        for s in window {
            seen = true;
            for h in &s.hands {
                hand = hand.min(nearest(plate_fronts, *h));
            }
            body = body.min(nearest_floor(plate_fronts, [s.x, s.y]));
        }
        if !seen {
            continue;
        }
        let score = if hand.is_finite() {
            gauss(hand, params.hand_sigma_m)
        } else {
            params.body_only_weight * gauss((body - params.arm_reach_m).max(0.0), params.body_sigma_m)
        };
        let hand_distance_m = hand.is_finite().then_some(hand);
        raw.push((id.clone(), score, hand_distance_m, body));
    }
    let nobody = gauss(params.nobody_distance_m, params.hand_sigma_m);
    let total: f64 = raw.iter().map(|r| r.1).sum::<f64>() + nobody;
    let mut out: Vec<TrackScore> = raw
        .into_iter()
        .map(|(track, s, hand_distance_m, body_distance_m)| TrackScore {
            track,
            p: s / total,
            hand_distance_m,
            body_distance_m,
        })
        .collect();
    out.sort_by(|a, b| b.p.total_cmp(&a.p).then(a.track.cmp(&b.track)));
    out
}

fn gauss(d: f64, sigma: f64) -> f64 {
    (-(d * d) / (2.0 * sigma * sigma)).exp()
}

fn nearest(points: &[Vec3], p: Vec3) -> f64 {
    points
        .iter()
        .map(|q| ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) + (q[2] - p[2]).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min)
}

fn nearest_floor(points: &[Vec3], p: [f64; 2]) -> f64 {
    points.iter().map(|q| (q[0] - p[0]).hypot(q[1] - p[1])).fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(tracks: &[(&str, [f64; 2], Option<Vec3>)]) -> TrackHistory {
        let mut h = TrackHistory::default();
        for (id, at, hand) in tracks {
            for i in 0..10 {
                let t = 100.0 + f64::from(i) * 0.1;
                h.push(
                    &TrackId::from(*id),
                    TrackSample { t, x: at[0], y: at[1], hands: hand.iter().copied().collect() },
                );
            }
        }
        h
    }

    #[test]
    fn the_hand_at_the_plate_wins_over_a_neighbour_a_plate_away() {
        let plate = [1.0, 2.0, 1.1];
        let h = history(&[("a", [1.0, 2.5], Some([1.0, 2.02, 1.12])), ("b", [1.3, 2.5], Some([1.3, 2.02, 1.1]))]);
        let scores = attribute(&h, &[plate], 100.3, 100.6, &AttributionParams::default());
        assert_eq!(scores[0].track, TrackId::from("a"));
        assert!(scores[0].p > 0.9 && scores[1].p < 0.05, "{scores:?}");
    }

    #[test]
    fn a_lone_far_track_is_not_certain_and_hands_beat_bodies() {
        let plate = [1.0, 2.0, 1.1];
        let far = history(&[("a", [4.0, 2.5], Some([4.0, 2.3, 1.0]))]);
        let scores = attribute(&far, &[plate], 100.3, 100.6, &AttributionParams::default());
        assert!(scores[0].p < 0.01, "{scores:?}");
        let body_only = history(&[("a", [1.0, 2.5], None)]);
        let s = attribute(&body_only, &[plate], 100.3, 100.6, &AttributionParams::default());
        assert!(s[0].p > 0.5, "a lone body within reach is likely: {s:?}");
        let both = history(&[("a", [1.0, 2.5], None), ("b", [1.2, 2.5], Some([1.0, 2.03, 1.1]))]);
        let s = attribute(&both, &[plate], 100.3, 100.6, &AttributionParams::default());
        assert_eq!(s[0].track, TrackId::from("b"), "a hand at the plate beats a body in reach: {s:?}");
    }

    #[test]
    fn samples_outside_the_window_do_not_count() {
        let plate = [1.0, 2.0, 1.1];
        let h = history(&[("a", [1.0, 2.5], Some([1.0, 2.02, 1.12]))]);
        assert!(attribute(&h, &[plate], 200.0, 201.0, &AttributionParams::default()).is_empty());
    }
}
