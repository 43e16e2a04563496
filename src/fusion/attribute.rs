//! Who touched the shelf: for a shelf event, a probability for each track
//! whose hands (or, failing hands, body) came within reach of the event's
//! plates in a time window around it. Pure functions over track history.
//!
//! Model (documented in `docs/fusion.md`): a track's hand at distance `d`
//! from the space above the nearest changed plate (its reach volume, zero
//! inside) scores `exp(-d² / 2σ²)`; samples pool over half-second
//! stretches (a trimmed geometric mean: the hand must stay there, not show
//! up in one jittered frame), weighted by how near the stretch is to the
//! moment of touch; a track
//! whose hands were not seen scores by its body's floor distance beyond
//! arm's reach, discounted, and one that showed a single hand around the
//! touch keeps a small share for the hidden one, and a hand seen in the
//! shelf that then goes unseen is taken to stay there a while (the shelf
//! hides a hand that reaches in); "someone we do not track"
//! keeps a fixed share, so one lone track far from the shelf is not certain
//! just for being alone. The constants are fitted on the simulator with
//! `scripts/fit_attribution.py` over `walkout bench accuracy --evidence`.

use crate::ids::TrackId;
use crate::layout::math::{Vec3, add, dot, norm, scale, sub};
use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq)]
pub struct AttributionParams {
    /// Hand-to-reach-volume distance scale (m).
    pub hand_sigma_m: f64,
    /// Body floor distance scale beyond arm's reach (m).
    pub body_sigma_m: f64,
    /// How far a hand reaches from where the body stands (m).
    pub arm_reach_m: f64,
    /// Weight of a body-only score against a hand score.
    pub body_only_weight: f64,
    /// The score left to "someone else" (an untracked hand), as a distance (m).
    pub nobody_distance_m: f64,
    /// Height of a plate's reach volume above its surface (m).
    pub reach_height_m: f64,
    /// Track samples considered from `before_s` before the event starts to
    /// `after_s` after it ends.
    pub before_s: f64,
    pub after_s: f64,
    /// The hand is at the plate about `touch_offset_s` after the weight
    /// starts to change (it lifts or sets the item down, then withdraws),
    /// give or take `touch_sigma_s`: a hand sample is weighted by how near
    /// its time is to that.
    pub touch_offset_s: f64,
    pub touch_sigma_s: f64,
    /// A track's hand score pools its samples: for each stretch of
    /// `hand_window_s` (the hand held in the shelf), the geometric mean of
    /// the samples' closeness after dropping the worst `hand_trim` share (a
    /// wrist misplaced in a frame), times the closeness of the stretch's
    /// middle to the moment of touch; the best stretch counts. One lucky
    /// frame of a neighbour's jittered wrist must not count as much as a
    /// hand held in the shelf.
    pub hand_window_s: f64,
    pub hand_trim: f64,
    /// A track that showed only one hand around the touch (weighted like
    /// the stretches, by time) may have had the other in the shelf, hidden
    /// from every camera: it scores at least this times that share times
    /// its body's in-reach score. Fitted with `scripts/fit_attribution.py`.
    pub hidden_hand_weight: f64,
    /// A hand seen within `held_within_m` of the reach volume, after which
    /// fewer hands are seen, is taken to be still there (hidden in the
    /// shelf: it lifts or sets down the item behind the shelf's front) for
    /// up to `hidden_hold_s`, or until as many hands are seen again and
    /// none of them there ([`held_in_shelf`]).
    pub hidden_hold_s: f64,
    pub held_within_m: f64,
}

impl Default for AttributionParams {
    fn default() -> Self {
        Self {
            hand_sigma_m: 0.03,
            body_sigma_m: 0.3,
            arm_reach_m: 0.8,
            body_only_weight: 0.3,
            nobody_distance_m: 0.12,
            reach_height_m: 0.3,
            before_s: 1.5,
            after_s: 1.0,
            touch_offset_s: 0.4,
            touch_sigma_s: 0.6,
            hand_window_s: 0.5,
            hand_trim: 0.25,
            hidden_hand_weight: 0.03,
            hidden_hold_s: 1.0,
            held_within_m: 0.03,
        }
    }
}

/// The space above one plate a hand enters to take or leave an item: the
/// plate's rectangle extruded `height` up. Distances are zero inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateReach {
    /// Front-left corner on the plate surface.
    pub origin: Vec3,
    /// Unit vector along the front edge, and its length (m).
    pub along: Vec3,
    pub width: f64,
    /// Unit vector from the front edge towards the back, and the depth (m).
    pub inward: Vec3,
    pub depth: f64,
    pub height: f64,
}

impl PlateReach {
    /// From a plate's corners (front-left, front-right, back-right, back-left).
    pub fn from_corners(corners: &[Vec3; 4], height: f64) -> Self {
        let (along, width) = unit(sub(corners[1], corners[0]));
        let (inward, depth) = unit(sub(corners[3], corners[0]));
        Self { origin: corners[0], along, width, inward, depth, height }
    }

    /// A single point (a volume of no size).
    pub fn point(p: Vec3) -> Self {
        Self { origin: p, along: [1.0, 0.0, 0.0], width: 0.0, inward: [0.0, 1.0, 0.0], depth: 0.0, height: 0.0 }
    }

    /// Middle of the front edge (where a shopper stands in front of it).
    pub fn front_centre(&self) -> Vec3 {
        add(self.origin, scale(self.along, self.width / 2.0))
    }

    /// Distance (m) from `p` to the volume; zero inside.
    pub fn distance(&self, p: Vec3) -> f64 {
        let r = sub(p, self.origin);
        let u = dot(r, self.along);
        let v = dot(r, self.inward);
        let w = r[2];
        let outside = |x: f64, len: f64| (-x).max(x - len).max(0.0);
        let (du, dv, dw) = (outside(u, self.width), outside(v, self.depth), outside(w, self.height));
        (du * du + dv * dv + dw * dw).sqrt()
    }
}

/// A unit vector and the length it had (zero for a zero vector).
fn unit(v: Vec3) -> (Vec3, f64) {
    let n = norm(v);
    if n < 1e-12 { ([0.0; 3], 0.0) } else { (scale(v, 1.0 / n), n) }
}

/// One track's state at one time (as the tracker reports it).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackSample {
    pub t: f64,
    pub x: f64,
    pub y: f64,
    pub hands: Vec<Vec3>,
    /// What the gallery made of the hands at this sample ([`super::items`]).
    pub crops: Vec<crate::vision::hand_crop::HandCrop>,
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
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrackScore {
    pub track: TrackId,
    pub p: f64,
    /// Nearest hand to the plates' reach volumes (m), if hands were seen.
    pub hand_distance_m: Option<f64>,
    /// When that hand was seen, from the event's start (s).
    pub hand_dt_s: Option<f64>,
    /// Body floor distance to the plates (m).
    pub body_distance_m: f64,
}

/// What one track showed around one event: its hands' distances to the
/// changed plates' reach volumes over time, and how near its body came.
/// The model scores this; the accuracy bench keeps it for fitting.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrackSeries {
    pub track: TrackId,
    /// Body floor distance to the nearest changed plate's front (m).
    pub body_distance_m: f64,
    /// `[s from the event's start, nearest hand's distance (m)]` for each
    /// sample whose hands were seen, in time order.
    pub hands: Vec<[f64; 2]>,
    /// How many hands each of those samples saw (one: the other may be
    /// hidden in the shelf).
    pub hands_seen: Vec<u8>,
}

/// Every track seen in `[t_start - before, t_end + after]`, with its hand
/// distances to `plates` over that window.
pub fn series(
    history: &TrackHistory,
    plates: &[PlateReach],
    t_start: f64,
    t_end: f64,
    params: &AttributionParams,
) -> Vec<TrackSeries> {
    let (from, to) = (t_start - params.before_s, t_end + params.after_s);
    let fronts: Vec<Vec3> = plates.iter().map(PlateReach::front_centre).collect();
    let mut out = Vec::new();
    for (id, samples) in &history.tracks {
        let mut body = f64::INFINITY;
        let (mut hands, mut hands_seen) = (Vec::new(), Vec::new());
        for s in samples.iter().filter(|s| s.t >= from && s.t <= to) {
            let d = s.hands.iter().map(|h| distance_to_any(plates, *h)).fold(f64::INFINITY, f64::min);
            if d.is_finite() {
                hands.push([s.t - t_start, d]);
                hands_seen.push(s.hands.len().min(255) as u8);
            }
            body = body.min(nearest_floor(&fronts, [s.x, s.y]));
        }
        if body.is_finite() {
            out.push(TrackSeries { track: id.clone(), body_distance_m: body, hands, hands_seen });
        }
    }
    out
}

/// Scores every track seen in `[t_start - before, t_end + after]` against the
/// changed plates; returns them best first with probabilities that sum,
/// together with the "someone else" share, to 1.
pub fn attribute(
    history: &TrackHistory,
    plates: &[PlateReach],
    t_start: f64,
    t_end: f64,
    params: &AttributionParams,
) -> Vec<TrackScore> {
    score(&series(history, plates, t_start, t_end, params), params)
}

/// [`attribute`] over tracks' series already taken.
pub fn score(tracks: &[TrackSeries], params: &AttributionParams) -> Vec<TrackScore> {
    let nobody = gauss(params.nobody_distance_m, params.hand_sigma_m);
    let mut raw = Vec::new();
    for t in tracks {
        // The nearest hand and when, for the record; the score pools the samples.
        let (mut hand, mut hand_dt) = (f64::INFINITY, None);
        let mut best_sample = 0.0_f64;
        // (time from the start, ln closeness) of the samples with hands,
        // a hand hidden in the shelf counted where it was last seen.
        let mut ln_closeness: Vec<(f64, f64)> = Vec::with_capacity(t.hands.len());
        let held = held_in_shelf(&t.hands, &t.hands_seen, params.hidden_hold_s, params.held_within_m);
        for (&[dt, d], held_d) in t.hands.iter().zip(held) {
            let when = gauss(dt - params.touch_offset_s, params.touch_sigma_s);
            let closeness = gauss(d, params.hand_sigma_m);
            if closeness * when > best_sample || hand_dt.is_none() {
                (best_sample, hand, hand_dt) = (closeness * when, d, Some(dt));
            }
            ln_closeness.push((dt, gauss(held_d, params.hand_sigma_m).max(f64::MIN_POSITIVE).ln()));
        }
        let half = params.hand_window_s / 2.0;
        let hand_score = ln_closeness
            .iter()
            .map(|&(mid, _)| {
                let mut stretch: Vec<f64> =
                    ln_closeness.iter().filter(|(dt, _)| (dt - mid).abs() <= half + 1e-9).map(|s| s.1).collect();
                trimmed_geometric_mean(&mut stretch, params.hand_trim)
                    * gauss(mid - params.touch_offset_s, params.touch_sigma_s)
            })
            .fold(0.0, f64::max);
        let in_reach = gauss((t.body_distance_m - params.arm_reach_m).max(0.0), params.body_sigma_m);
        let score = if hand.is_finite() {
            // Standing in reach with the hand seen elsewhere: no likelier
            // than someone untracked (the wrist may have been misplaced),
            // unless the other hand was missing around the touch.
            let (mut one_hand, mut all) = (0.0, 0.0);
            for (&[dt, _], &seen) in t.hands.iter().zip(&t.hands_seen) {
                let when = gauss(dt - params.touch_offset_s, params.touch_sigma_s);
                all += when;
                if seen < 2 {
                    one_hand += when;
                }
            }
            let hidden = if all > 0.0 { one_hand / all } else { 0.0 };
            hand_score.max(nobody * in_reach).max(params.hidden_hand_weight * hidden * in_reach)
        } else {
            params.body_only_weight * in_reach
        };
        let hand_distance_m = hand.is_finite().then_some(hand);
        raw.push((t.track.clone(), score, hand_distance_m, hand_dt, t.body_distance_m));
    }
    let total: f64 = raw.iter().map(|r| r.1).sum::<f64>() + nobody;
    let mut out: Vec<TrackScore> = raw
        .into_iter()
        .map(|(track, s, hand_distance_m, hand_dt_s, body_distance_m)| TrackScore {
            track,
            p: s / total,
            hand_distance_m,
            hand_dt_s,
            body_distance_m,
        })
        .collect();
    out.sort_by(|a, b| b.p.total_cmp(&a.p).then(a.track.cmp(&b.track)));
    out
}

/// The nearest hand's distance at each sample as the score takes it: a
/// hand seen within `within_m` of the volume, after which fewer hands are
/// seen, is taken to stay where it was for up to `hold_s` (or until as
/// many hands are seen again and none within `within_m`). A shelf hides a
/// hand that reaches into it from every ceiling camera, so a wrist seen
/// entering the plate and then lost is likelier there than wherever the
/// other, still visible, hand is. A hand that is still seen where it was
/// (as many hands) counts where it is seen: a neighbour's wrist jittering
/// into the plate for a frame is not held there.
pub fn held_in_shelf(hands: &[[f64; 2]], hands_seen: &[u8], hold_s: f64, within_m: f64) -> Vec<f64> {
    let mut held: Option<(f64, f64, u8)> = None;
    hands
        .iter()
        .zip(hands_seen)
        .map(|(&[dt, d], &seen)| {
            let effective = match held {
                Some((held_d, since, seen_then)) if seen < seen_then && dt - since <= hold_s + 1e-9 => d.min(held_d),
                _ => d,
            };
            if d <= within_m {
                held = Some((d, dt, seen));
            } else if held.is_some_and(|(_, _, seen_then)| seen >= seen_then) {
                held = None;
            }
            effective
        })
        .collect()
}

fn distance_to_any(plates: &[PlateReach], p: Vec3) -> f64 {
    plates.iter().map(|r| r.distance(p)).fold(f64::INFINITY, f64::min)
}

/// `exp` of the mean of the `ln` values after dropping the lowest `trim`
/// share of them (rounded down, at least one kept); 0 when empty.
fn trimmed_geometric_mean(ln_values: &mut [f64], trim: f64) -> f64 {
    if ln_values.is_empty() {
        return 0.0;
    }
    ln_values.sort_by(f64::total_cmp);
    let drop = ((ln_values.len() as f64 * trim.clamp(0.0, 0.9)).floor() as usize).min(ln_values.len() - 1);
    let kept = &ln_values[drop..];
    (kept.iter().sum::<f64>() / kept.len() as f64).exp()
}

fn gauss(d: f64, sigma: f64) -> f64 {
    (-(d * d) / (2.0 * sigma * sigma)).exp()
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
                    TrackSample { t, x: at[0], y: at[1], hands: hand.iter().copied().collect(), crops: Vec::new() },
                );
            }
        }
        h
    }

    #[test]
    fn the_hand_at_the_plate_wins_over_a_neighbour_a_plate_away() {
        let plate = [1.0, 2.0, 1.1];
        let h = history(&[("a", [1.0, 2.5], Some([1.0, 2.02, 1.12])), ("b", [1.3, 2.5], Some([1.3, 2.02, 1.1]))]);
        let scores = attribute(&h, &[PlateReach::point(plate)], 100.3, 100.6, &AttributionParams::default());
        assert_eq!(scores[0].track, TrackId::from("a"));
        assert!(scores[0].p > 0.9 && scores[1].p < 0.05, "{scores:?}");
    }

    #[test]
    fn a_lone_far_track_is_not_certain_and_hands_beat_bodies() {
        let plate = [1.0, 2.0, 1.1];
        let far = history(&[("a", [4.0, 2.5], Some([4.0, 2.3, 1.0]))]);
        let scores = attribute(&far, &[PlateReach::point(plate)], 100.3, 100.6, &AttributionParams::default());
        assert!(scores[0].p < 0.01, "{scores:?}");
        let body_only = history(&[("a", [1.0, 2.5], None)]);
        let s = attribute(&body_only, &[PlateReach::point(plate)], 100.3, 100.6, &AttributionParams::default());
        assert!(s[0].p > 0.5, "a lone body within reach is likely: {s:?}");
        let both = history(&[("a", [1.0, 2.5], None), ("b", [1.2, 2.5], Some([1.0, 2.03, 1.1]))]);
        let s = attribute(&both, &[PlateReach::point(plate)], 100.3, 100.6, &AttributionParams::default());
        assert_eq!(s[0].track, TrackId::from("b"), "a hand at the plate beats a body in reach: {s:?}");
    }

    #[test]
    fn a_shopper_in_reach_whose_other_hand_was_hidden_keeps_a_neighbour_from_certainty() {
        // b's hand hovers 6 cm beside the plate. a stands at it with one
        // hand seen, hanging at the side: the other may be in the shelf.
        let plate = [1.0, 2.0, 1.1];
        let hanging = Some([1.0, 2.6, 0.85]);
        let b = ("b", [1.4, 2.5], Some([1.06, 2.02, 1.12]));
        let one_hand = history(&[("a", [1.0, 2.5], hanging), b]);
        let s = attribute(&one_hand, &[PlateReach::point(plate)], 100.3, 100.6, &AttributionParams::default());
        let p_b = s.iter().find(|s| s.track == TrackId::from("b")).unwrap().p;
        assert!(p_b < 0.9, "a's hidden hand leaves b short of certain: {s:?}");
        // With both of a's hands seen away from the shelf, b is the one.
        let mut both_hands = history(&[b]);
        for i in 0..10 {
            let t = 100.0 + f64::from(i) * 0.1;
            let hands = vec![[1.0, 2.6, 0.85], [1.2, 2.6, 0.85]];
            both_hands.push(&TrackId::from("a"), TrackSample { t, x: 1.0, y: 2.5, hands, crops: Vec::new() });
        }
        let s = attribute(&both_hands, &[PlateReach::point(plate)], 100.3, 100.6, &AttributionParams::default());
        assert!(s[0].track == TrackId::from("b") && s[0].p > 0.9, "{s:?}");
    }

    #[test]
    fn a_hand_inside_the_space_above_a_plate_is_at_distance_zero() {
        // A 10 cm x 40 cm plate at z = 1 m, front edge along x, back towards +y.
        let corners = [[0.0, 0.0, 1.0], [0.1, 0.0, 1.0], [0.1, 0.4, 1.0], [0.0, 0.4, 1.0]];
        let reach = PlateReach::from_corners(&corners, 0.3);
        assert_eq!(reach.distance([0.05, 0.12, 1.08]), 0.0);
        assert!((reach.distance([0.05, -0.1, 1.1]) - 0.1).abs() < 1e-9, "in front of the edge");
        assert!((reach.distance([0.2, 0.2, 1.1]) - 0.1).abs() < 1e-9, "beside it, over the next plate");
        assert!((reach.distance([0.05, 0.2, 1.5]) - 0.2).abs() < 1e-9, "above the clearance");
        assert_eq!(reach.front_centre(), [0.05, 0.0, 1.0]);
    }

    #[test]
    fn a_hand_held_at_the_plate_beats_a_neighbour_whose_wrist_jitters_into_it_in_one_frame() {
        // 10 fps; a's hand rests at the plate, b's hovers 8 cm beside it
        // (over the next plate) but one frame in five is read at the plate.
        // Scored by their best single frames, they would tie.
        let plate = [1.0, 2.0, 1.1];
        let mut h = TrackHistory::default();
        for i in 0..15 {
            let t = 100.0 + f64::from(i) * 0.1;
            let b_hand = if i % 5 == 0 { [1.0, 2.0, 1.1] } else { [1.08, 2.0, 1.1] };
            h.push(
                &TrackId::from("a"),
                TrackSample { t, x: 1.0, y: 2.5, hands: vec![[1.0, 2.01, 1.1]], crops: Vec::new() },
            );
            h.push(&TrackId::from("b"), TrackSample { t, x: 1.5, y: 2.5, hands: vec![b_hand], crops: Vec::new() });
        }
        let scores = attribute(&h, &[PlateReach::point(plate)], 100.4, 100.8, &AttributionParams::default());
        assert_eq!(scores[0].track, TrackId::from("a"));
        assert!(scores[0].p > 0.9, "{scores:?}");
        // Both best single frames are at the plate: the record still shows b's nearest hand.
        assert!(scores[1].hand_distance_m.is_some_and(|d| d < 1e-9), "{scores:?}");
    }

    #[test]
    fn a_hand_lost_in_the_shelf_is_held_there_until_it_is_seen_again_or_the_hold_runs_out() {
        let at = |v: &[(f64, f64, u8)]| {
            let hands: Vec<[f64; 2]> = v.iter().map(|(t, d, _)| [*t, *d]).collect();
            let seen: Vec<u8> = v.iter().map(|(_, _, n)| *n).collect();
            held_in_shelf(&hands, &seen, 1.0, 0.03)
        };
        // Seen in the plate with the other hand, then only the other hand.
        let lost = at(&[(0.0, 0.4, 2), (0.1, 0.0, 2), (0.2, 0.5, 1), (0.9, 0.5, 1), (1.2, 0.5, 1), (1.3, 0.0, 2)]);
        assert_eq!(lost, vec![0.4, 0.0, 0.0, 0.0, 0.5, 0.0], "held for a second, then as seen");
        // Both hands seen again, neither in the plate: it left.
        assert_eq!(at(&[(0.0, 0.0, 2), (0.1, 0.3, 2), (0.2, 0.5, 1)]), vec![0.0, 0.3, 0.5]);
        // One hand seen throughout: it is the same hand, jittering, not one lost.
        assert_eq!(at(&[(0.0, 0.08, 1), (0.1, 0.0, 1), (0.2, 0.08, 1)]), vec![0.08, 0.0, 0.08]);
        // A hand near but not in it is not held.
        assert_eq!(at(&[(0.0, 0.05, 2), (0.1, 0.5, 1)]), vec![0.05, 0.5]);
    }

    #[test]
    fn a_hand_seen_reaching_into_the_plate_then_hidden_in_the_shelf_wins_over_a_neighbour_in_reach() {
        // a's wrist is seen entering the plate for two frames, then only its
        // other hand, hanging at its side, while it lifts the item in the
        // shelf. b stands in reach, showing one hand hanging too.
        let plate = [1.0, 2.0, 1.1];
        let mut h = TrackHistory::default();
        for i in 0..15 {
            let t = 100.0 + f64::from(i) * 0.1;
            let a_hands = match i {
                0..=3 => vec![[1.0, 2.4, 1.2], [1.2, 2.6, 0.85]],
                4 | 5 => vec![[1.0, 2.01, 1.1], [1.2, 2.6, 0.85]],
                _ => vec![[1.2, 2.6, 0.85]],
            };
            h.push(&TrackId::from("a"), TrackSample { t, x: 1.0, y: 2.5, hands: a_hands, crops: Vec::new() });
            let b_hands = vec![[1.5, 2.6, 0.85]];
            h.push(&TrackId::from("b"), TrackSample { t, x: 1.5, y: 2.5, hands: b_hands, crops: Vec::new() });
        }
        let params = AttributionParams::default();
        let scores = attribute(&h, &[PlateReach::point(plate)], 100.4, 100.9, &params);
        assert_eq!(scores[0].track, TrackId::from("a"));
        assert!(scores[0].p > 0.9, "{scores:?}");
        // Counted where its other hand was seen, a would be no surer than b.
        let forgetting = AttributionParams { hidden_hold_s: 0.0, ..params };
        let scores = attribute(&h, &[PlateReach::point(plate)], 100.4, 100.9, &forgetting);
        assert!(scores[0].p < 0.9, "{scores:?}");
    }

    #[test]
    fn trimming_drops_the_worst_share_and_keeps_at_least_one() {
        let ln = |v: &[f64]| v.iter().map(|x| x.ln()).collect::<Vec<f64>>();
        assert!((trimmed_geometric_mean(&mut ln(&[1.0, 1.0, 1.0, 1e-9]), 0.25) - 1.0).abs() < 1e-9);
        assert!((trimmed_geometric_mean(&mut ln(&[0.25, 1.0]), 0.25) - 0.5).abs() < 1e-9, "nothing to drop of two");
        assert!((trimmed_geometric_mean(&mut ln(&[0.5]), 0.9) - 0.5).abs() < 1e-9);
        assert_eq!(trimmed_geometric_mean(&mut [], 0.25), 0.0);
    }

    #[test]
    fn samples_outside_the_window_do_not_count() {
        let plate = [1.0, 2.0, 1.1];
        let h = history(&[("a", [1.0, 2.5], Some([1.0, 2.02, 1.12]))]);
        assert!(attribute(&h, &[PlateReach::point(plate)], 200.0, 201.0, &AttributionParams::default()).is_empty());
    }
}
