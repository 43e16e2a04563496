//! Two shelf events at once on one gondola: two shoppers reaching into
//! neighbouring plates together. Scored one by one, each event finds both
//! hands within a few centimetres of its plates (a wrist is placed to a few
//! centimetres, and neighbouring plates touch), so each is a near coin toss
//! between the two shoppers, and half the time both go to the same wrong
//! pair of receipts. Scored together, the question is sharper: given that
//! each of the two did one of the two events, which way round? Over the
//! samples around both touches, is each shopper's hand nearer the one
//! event's plates or the other's?
//!
//! For tracks `a`, `b` and events `e`, `o`, the swap statistic is
//!
//!   S = mean over a's samples of [d(a, e)² − d(a, o)²]
//!     + mean over b's samples of [d(b, o)² − d(b, e)²]
//!
//! (`d`: the track's nearest hand to the event's reach volumes, capped at
//! `cap_m` so a wrist misplaced far away does not outweigh the rest; m²).
//! Negative says "a did e and b did o". Then
//! P(a did e | one each) = 1 / (1 + exp(scale · S)), with `scale` fitted on
//! the simulator (`scripts/fit_concurrent.py`). Pure functions over track
//! history; the engine finds the concurrent events and applies them.

use super::attribute::{PlateReach, TrackHistory, TrackScore};
use crate::ids::TrackId;

#[derive(Clone, Debug, PartialEq)]
pub struct ConcurrentParams {
    /// Events on one gondola starting this close together (s) are concurrent.
    pub within_s: f64,
    /// Samples count from this long before the earlier event starts...
    pub before_s: f64,
    /// ...to this long after the later one starts (the hands are in the shelf then).
    pub after_s: f64,
    /// Hand distances are capped here (m).
    pub cap_m: f64,
    /// The logistic scale of the swap statistic (per m²).
    pub scale_per_m2: f64,
    /// Each event's two likeliest tracks must be the same two, together at
    /// least this likely for each event (else someone else may be in it).
    pub min_pair_p: f64,
    /// Hand samples needed, over both tracks.
    pub min_samples: usize,
    /// An event whose runner-up track holds at least this share waits for
    /// a concurrent event that has not arrived yet...
    pub min_second_p: f64,
    /// ...at most this long (s) beyond the end of its hand crops' window
    /// (`items.window_s` after it settles; so measured whether or not the
    /// cameras send crops). The shelf reports an event seconds after it
    /// settles, and of two at once the other settled up to 2.2 s later in
    /// 95 % of the simulator's pairs.
    pub wait_s: f64,
    /// Two hands in one plate: an event of at least `shared_min_qty` units
    /// while another visit's track, at least `shared_min_p` likely, had a
    /// hand within `shared_hand_m` of the plates and no event of its own
    /// then, may be two shoppers' units merged into one event.
    pub shared_min_qty: u32,
    pub shared_min_p: f64,
    pub shared_hand_m: f64,
}

impl Default for ConcurrentParams {
    fn default() -> Self {
        Self {
            within_s: 2.0,
            before_s: 0.2,
            after_s: 1.0,
            cap_m: 0.3,
            scale_per_m2: 1000.0,
            min_pair_p: 0.8,
            min_samples: 6,
            min_second_p: 0.02,
            wait_s: 2.5,
            shared_min_qty: 2,
            shared_min_p: 0.01,
            shared_hand_m: 0.05,
        }
    }
}

/// The swap statistic of `a` doing `e` and `b` doing `o` (negative: that
/// way round), over samples in `[from, to]`, and how many samples it used;
/// `None` when either track showed no hands then.
pub fn swap_statistic(
    history: &TrackHistory,
    (a, b): (&TrackId, &TrackId),
    (e, o): (&[PlateReach], &[PlateReach]),
    (from, to): (f64, f64),
    cap_m: f64,
) -> Option<(f64, usize)> {
    // Mean over a track's samples of d(track, near)² − d(track, far)².
    let leaning = |track: &TrackId, near: &[PlateReach], far: &[PlateReach]| -> Option<(f64, usize)> {
        let (mut sum, mut n) = (0.0, 0usize);
        for s in history.tracks.get(track)?.iter().filter(|s| s.t >= from && s.t <= to && !s.hands.is_empty()) {
            let nearest = |plates: &[PlateReach]| {
                s.hands
                    .iter()
                    .flat_map(|h| plates.iter().map(|r| r.distance(*h)))
                    .fold(f64::INFINITY, f64::min)
                    .min(cap_m)
            };
            sum += nearest(near).powi(2) - nearest(far).powi(2);
            n += 1;
        }
        (n > 0).then(|| (sum / n as f64, n))
    };
    let (sa, na) = leaning(a, e, o)?;
    let (sb, nb) = leaning(b, o, e)?;
    Some((sa + sb, na + nb))
}

/// P(a did e), given that a and b did e and o one each.
pub fn share(statistic: f64, scale_per_m2: f64) -> f64 {
    1.0 / (1.0 + (scale_per_m2 * statistic).exp())
}

/// Re-splits the probability the two named tracks hold between them:
/// `share` to `a`, the rest to `b`; the others keep theirs. Best first after.
pub fn resplit(scores: &mut [TrackScore], a: &TrackId, b: &TrackId, share: f64) {
    let pair: f64 = scores.iter().filter(|s| &s.track == a || &s.track == b).map(|s| s.p).sum();
    for s in scores.iter_mut() {
        if &s.track == a {
            s.p = pair * share;
        } else if &s.track == b {
            s.p = pair * (1.0 - share);
        }
    }
    scores.sort_by(|x, y| y.p.total_cmp(&x.p).then(x.track.cmp(&y.track)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fusion::attribute::TrackSample;

    /// Two 10 cm plates side by side on one shelf at z = 1 m: `left` at
    /// x 0-0.1, `right` at x 0.1-0.2, 40 cm deep.
    fn plates() -> (PlateReach, PlateReach) {
        let plate = |x0: f64| {
            PlateReach::from_corners(&[[x0, 0.0, 1.0], [x0 + 0.1, 0.0, 1.0], [x0 + 0.1, 0.4, 1.0], [x0, 0.4, 1.0]], 0.3)
        };
        (plate(0.0), plate(0.1))
    }

    /// Tracks `a` and `b`, sampled at 10 Hz from t = 100 for 1.5 s, each
    /// hand's x cycling through its list (y 0.1 into the shelf, z 1.1).
    fn history(a_xs: &[f64], b_xs: &[f64]) -> TrackHistory {
        let mut h = TrackHistory::default();
        for (id, xs) in [("a", a_xs), ("b", b_xs)] {
            for i in 0..15 {
                let x = xs[i % xs.len()];
                let sample =
                    TrackSample { t: 100.0 + i as f64 * 0.1, x, y: -0.5, hands: vec![[x, 0.1, 1.1]], crops: vec![] };
                h.push(&TrackId::from(id), sample);
            }
        }
        h
    }

    #[test]
    fn hands_that_each_jitter_into_both_plates_still_say_which_way_round() {
        // a reaches into the left plate, b into the right; each wrist is
        // read inside the other plate now and then (x 0.12 for a, 0.08 for
        // b), so each event alone finds both hands at distance zero.
        let (left, right) = plates();
        let h = history(&[0.05, 0.09, 0.12, 0.03, 0.07], &[0.15, 0.11, 0.08, 0.17, 0.13]);
        let (a, b) = (TrackId::from("a"), TrackId::from("b"));
        let window = (99.8, 101.5);
        let (s, n) =
            swap_statistic(&h, (&a, &b), (std::slice::from_ref(&left), std::slice::from_ref(&right)), window, 0.3)
                .unwrap();
        assert_eq!(n, 30);
        assert!(s < 0.0, "a did the left one: {s}");
        assert!(share(s, 1000.0) > 0.9, "{}", share(s, 1000.0));
        // The other way round reads the same evidence with the opposite sign.
        let (s2, _) = swap_statistic(&h, (&b, &a), (&[left], &[right]), window, 0.3).unwrap();
        assert!((s + s2).abs() < 1e-12);
        assert!((share(s, 1000.0) + share(s2, 1000.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn no_hands_in_the_window_gives_no_statistic() {
        let (left, right) = plates();
        let h = history(&[0.05], &[0.15]);
        let (a, b) = (TrackId::from("a"), TrackId::from("b"));
        assert!(swap_statistic(&h, (&a, &b), (&[left], &[right]), (200.0, 201.0), 0.3).is_none());
    }

    #[test]
    fn a_far_misplaced_wrist_counts_no_more_than_the_cap() {
        let (left, right) = plates();
        let mut h = history(&[0.05], &[0.15]);
        h.push(
            &TrackId::from("a"),
            TrackSample { t: 101.45, x: 5.0, y: -0.5, hands: vec![[5.0, 0.1, 1.1]], crops: vec![] },
        );
        let (a, b) = (TrackId::from("a"), TrackId::from("b"));
        let (s, n) = swap_statistic(&h, (&a, &b), (&[left], &[right]), (99.8, 101.5), 0.3).unwrap();
        // a: 0 to the left plate, 5 cm to the right one, in 15 samples; the
        // 16th, 5 m from both, is capped at 0.3 m for both and adds nothing
        // but a count. b: the mirror image, 15 samples.
        assert_eq!(n, 31);
        let expected = -0.05_f64.powi(2) * 15.0 / 16.0 - 0.05_f64.powi(2);
        assert!((s - expected).abs() < 1e-12, "{s} vs {expected}");
    }

    #[test]
    fn resplitting_keeps_the_pairs_mass_and_the_others_share() {
        let score = |track: &str, p: f64| TrackScore {
            track: TrackId::from(track),
            p,
            hand_distance_m: None,
            hand_dt_s: None,
            body_distance_m: 0.5,
        };
        let mut scores = vec![score("a", 0.55), score("b", 0.40), score("c", 0.03)];
        resplit(&mut scores, &TrackId::from("b"), &TrackId::from("a"), 0.9);
        assert_eq!(scores[0].track, TrackId::from("b"));
        assert!((scores[0].p - 0.855).abs() < 1e-12 && (scores[1].p - 0.095).abs() < 1e-12);
        assert_eq!(scores[2].p, 0.03);
    }
}
