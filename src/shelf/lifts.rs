//! Two hands in one change: a plate's level over a change, and whether it
//! moved in two lifts rather than one. Pure.
//!
//! Two shoppers taking from one plate a second or two apart make one
//! change of both their units: the plate does not settle in between, so
//! the detector reports one step. The level it passed through does show
//! the first shopper's share: after the first lift it sits a whole number
//! of units below where it started, with the second hand's press and
//! wander on top, until the second lift. [`LevelTrace`] keeps that level
//! (0.1 s means of the raw readings, bounded, allocated once);
//! [`two_lifts`] fits it with one step and with two steps whose middle
//! level is a whole number of units, and reports the two lifts when two
//! steps explain the trace much better. Who made each lift is fusion's
//! question (the hands seen in the plate at each moment).

use serde::{Deserialize, Serialize};

/// Width of one point of a [`LevelTrace`] (s).
pub const BIN_S: f64 = 0.1;

/// At most this many points (30 s): a longer change keeps no trace.
const MAX_POINTS: usize = 300;

/// The shortest middle level taken for a real one (s): a level passed
/// through in less is a hand's press or a ring, not a state.
const MIN_MIDDLE_S: f64 = 0.2;

/// Two steps must leave at most this share of one step's squared error.
const MAX_COST_RATIO: f64 = 0.3;

/// Records a plate's level during a change as `[t, grams]` points, each the
/// mean of the raw readings in a [`BIN_S`] bin (t: the bin's middle).
#[derive(Clone, Debug)]
pub struct LevelTrace {
    points: Vec<[f64; 2]>,
    bin_start: f64,
    sum: f64,
    n: u32,
    overflowed: bool,
}

impl Default for LevelTrace {
    fn default() -> Self {
        Self { points: Vec::with_capacity(MAX_POINTS), bin_start: f64::NAN, sum: 0.0, n: 0, overflowed: false }
    }
}

impl LevelTrace {
    /// Forgets everything and starts again at `t` (keeps its allocation).
    pub fn restart(&mut self, t: f64) {
        self.points.clear();
        self.bin_start = t;
        self.sum = 0.0;
        self.n = 0;
        self.overflowed = false;
    }

    /// Adds one reading (time order; the caller drops late ones).
    pub fn push(&mut self, t: f64, grams: f64) {
        if self.bin_start.is_nan() {
            self.restart(t);
        }
        if t >= self.bin_start + BIN_S {
            self.close_bin();
            // Skip any empty bins of a gap in one step.
            self.bin_start += ((t - self.bin_start) / BIN_S + 1e-9).floor().max(1.0) * BIN_S;
        }
        self.sum += grams;
        self.n += 1;
    }

    fn close_bin(&mut self) {
        if self.n > 0 {
            if self.points.len() < MAX_POINTS {
                self.points.push([self.bin_start + BIN_S / 2.0, self.sum / f64::from(self.n)]);
            } else {
                self.overflowed = true;
            }
        }
        self.sum = 0.0;
        self.n = 0;
    }

    /// The points so far, each level minus `reference` (empty when the
    /// change outgrew the bound: a partial trace would mislead).
    pub fn relative_to(&self, reference: f64) -> Vec<[f64; 2]> {
        if self.overflowed {
            return Vec::new();
        }
        self.points.iter().map(|[t, g]| [*t, g - reference]).collect()
    }
}

/// The level of several plates that changed together (each trace as
/// [`LevelTrace::relative_to`] gives it, on its own clock) on one 0.1 s
/// grid: each plate's level interpolated, at 0 before its trace starts and
/// at its last point after it ends. Empty when any trace is.
pub fn sum_traces(traces: &[&[[f64; 2]]]) -> Vec<[f64; 2]> {
    if traces.is_empty() || traces.iter().any(|t| t.is_empty()) {
        return Vec::new();
    }
    let start = traces.iter().map(|t| t[0][0]).fold(f64::INFINITY, f64::min);
    let end = traces.iter().map(|t| t[t.len() - 1][0]).fold(f64::NEG_INFINITY, f64::max);
    let level_at = |trace: &[[f64; 2]], t: f64| {
        let after = trace.partition_point(|p| p[0] <= t);
        match (after.checked_sub(1).map(|i| trace[i]), trace.get(after)) {
            (None, _) => 0.0,
            (Some(p), None) => p[1],
            (Some(a), Some(b)) => a[1] + (b[1] - a[1]) * (t - a[0]) / (b[0] - a[0]),
        }
    };
    let n = ((end - start) / BIN_S).round() as usize + 1;
    if n > MAX_POINTS {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            let t = start + i as f64 * BIN_S;
            [t, traces.iter().map(|trace| level_at(trace, t)).sum()]
        })
        .collect()
}

/// A change that went in two lifts: `first_units` of the units at `t_first`,
/// the rest at `t_second` (unix s, each the first point at the new level).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoLifts {
    pub t_first: f64,
    pub t_second: f64,
    pub first_units: u32,
    /// Squared error of the two-step fit over the one-step fit's (0..1).
    pub cost_ratio: f64,
}

/// Whether `trace` (`[t, level - level before]`, time order) went from 0 to
/// `delta_g` in two lifts of whole units of `delta_g / units` each, rather
/// than one: the best two-step fit (levels 0, k units, all) must leave at
/// most [`MAX_COST_RATIO`] of the best one-step fit's squared error, its
/// middle level lasting at least [`MIN_MIDDLE_S`].
pub fn two_lifts(trace: &[[f64; 2]], delta_g: f64, units: u32) -> Option<TwoLifts> {
    let n = trace.len();
    if units < 2 || n < 4 || !delta_g.is_finite() || delta_g == 0.0 {
        return None;
    }
    // Prefix sums: the squared error of a stretch against a constant is O(1).
    let mut s1 = vec![0.0; n + 1];
    let mut s2 = vec![0.0; n + 1];
    for (i, [_, y]) in trace.iter().enumerate() {
        s1[i + 1] = s1[i] + y;
        s2[i + 1] = s2[i] + y * y;
    }
    let cost = |a: usize, b: usize, level: f64| {
        (s2[b] - s2[a]) - 2.0 * level * (s1[b] - s1[a]) + level * level * (b - a) as f64
    };
    let one_step = (1..n).map(|k| cost(0, k, 0.0) + cost(k, n, delta_g)).fold(f64::INFINITY, f64::min);
    if one_step <= 0.0 {
        return None;
    }
    let unit = delta_g / f64::from(units);
    let mut best: Option<(f64, usize, usize, u32)> = None;
    for k in 1..units {
        let middle = unit * f64::from(k);
        for first in 1..n - 1 {
            let before = cost(0, first, 0.0);
            for second in first + 1..n {
                if trace[second][0] - trace[first][0] < MIN_MIDDLE_S - 1e-9 {
                    continue;
                }
                let c = before + cost(first, second, middle) + cost(second, n, delta_g);
                if best.is_none_or(|b| c < b.0) {
                    best = Some((c, first, second, k));
                }
            }
        }
    }
    let (c, first, second, k) = best?;
    let cost_ratio = c / one_step;
    (cost_ratio <= MAX_COST_RATIO).then(|| TwoLifts {
        t_first: trace[first][0],
        t_second: trace[second][0],
        first_units: k,
        cost_ratio,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 0.1 s trace: `levels` as (seconds, grams) stretches, plus a
    /// deterministic wobble of `wobble_g`.
    fn trace(levels: &[(f64, f64)], wobble_g: f64) -> Vec<[f64; 2]> {
        let mut out = Vec::new();
        let mut t = 0.05;
        for &(dur, g) in levels {
            let end = t + dur;
            while t < end - 1e-9 {
                let wobble = wobble_g * ((out.len() as f64) * 2.3).sin();
                out.push([t, g + wobble]);
                t += BIN_S;
            }
        }
        out
    }

    #[test]
    fn the_recorder_averages_bins_and_forgets_an_overlong_change() {
        let mut r = LevelTrace::default();
        r.restart(10.0);
        for i in 0..12 {
            r.push(10.0 + f64::from(i) / 60.0, if i < 6 { 100.0 } else { 40.0 });
        }
        r.push(10.21, 0.0);
        let points = r.relative_to(40.0);
        assert_eq!(points.len(), 2, "{points:?}");
        assert!((points[0][0] - 10.05).abs() < 1e-9 && (points[0][1] - 60.0).abs() < 1e-9);
        assert!((points[1][0] - 10.15).abs() < 1e-9 && points[1][1].abs() < 1e-9);
        for i in 0..(MAX_POINTS as i32 + 5) * 6 {
            r.push(10.3 + f64::from(i) / 60.0, 1.0);
        }
        assert!(r.relative_to(0.0).is_empty(), "an overflowed trace says nothing");
        r.restart(100.0);
        r.push(100.0, 5.0);
        r.push(100.15, 5.0);
        assert_eq!(r.relative_to(0.0), vec![[100.05, 5.0]]);
        // A silent stretch leaves no points and costs one step.
        r.push(4000.02, 7.0);
        r.push(4000.13, 7.0);
        let points = r.relative_to(0.0);
        assert_eq!(points.len(), 3, "{points:?}");
        assert!((points[1][0] - 100.15).abs() < 1e-6 && (points[2][0] - 4000.05).abs() < 1e-6, "{points:?}");
    }

    #[test]
    fn plates_that_changed_together_are_summed_on_one_clock() {
        let a = [[10.05, -5.0], [10.15, -100.0], [10.25, -100.0]];
        let b = [[10.12, 0.0], [10.22, -50.0], [10.32, -60.0]];
        let sum = sum_traces(&[&a, &b]);
        assert_eq!(sum.len(), 4);
        let expect = [-5.0, -100.0 - 15.0, -100.0 - 53.0, -160.0];
        for (got, want) in sum.iter().zip(expect) {
            assert!((got[1] - want).abs() < 1e-6, "{sum:?}");
        }
        assert!(sum_traces(&[&a, &[]]).is_empty());
        assert!(sum_traces(&[&a, &[[40.0, -3.0]]]).is_empty(), "over 30 s apart: no trace");
        assert!(sum_traces(&[]).is_empty());
    }

    #[test]
    fn three_and_three_colas_a_second_and_a_half_apart_are_two_lifts() {
        // 0.5 s of the first hand pressing, 3 units gone, 1.5 s with the
        // second hand pressing and wandering, 3 more gone.
        let t = trace(&[(0.5, 60.0), (1.5, -3140.0 + 90.0), (1.0, -6281.0)], 120.0);
        let lifts = two_lifts(&t, -6281.0, 6).expect("two lifts");
        assert_eq!(lifts.first_units, 3);
        assert!((lifts.t_first - 0.55).abs() < 0.11 && (lifts.t_second - 2.05).abs() < 0.11, "{lifts:?}");
        assert!(lifts.cost_ratio < 0.05);
    }

    #[test]
    fn one_lift_with_a_pressing_hand_is_not_two() {
        let t = trace(&[(1.0, 80.0), (1.0, -2094.0)], 60.0);
        assert_eq!(two_lifts(&t, -2094.0, 2), None);
        // Ringing after the lift: a short swing beyond the new level.
        let t = trace(&[(0.8, 50.0), (0.1, -2600.0), (0.1, -1900.0), (1.0, -2094.0)], 20.0);
        assert_eq!(two_lifts(&t, -2094.0, 2), None);
    }

    #[test]
    fn a_middle_level_between_whole_units_or_too_short_is_not_two_lifts() {
        // Half a unit moved early (an item lifted at one end), then the rest.
        let t = trace(&[(0.5, 0.0), (0.8, -260.0), (1.0, -2094.0)], 10.0);
        assert_eq!(two_lifts(&t, -2094.0, 2), None);
        let t = trace(&[(0.5, 0.0), (0.1, -1047.0), (1.0, -2094.0)], 10.0);
        assert_eq!(two_lifts(&t, -2094.0, 2), None);
        assert_eq!(two_lifts(&t, -2094.0, 1), None, "one unit cannot split");
        assert_eq!(two_lifts(&[], -2094.0, 2), None);
    }
}
