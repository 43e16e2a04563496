//! Per-plate change detection, and the merging of plate changes into shelf
//! changes. Pure and synchronous: samples in, changes out; no I/O and no
//! clock (time comes from the samples' own timestamps).
//!
//! [`PlateDetector`] segments one plate's stream into stable states: a sliding
//! window (running sums over a ring buffer, O(1) per sample, no allocation
//! after `new`) gives the level and the spread; the plate's noise level is
//! tracked online as the running median of the window spread; the plate is
//! *stable* while the window is still and its level stays near the last
//! stable level. Leaving it (a sample far off, a restless window, or the
//! level walking off faster than drift can) opens a change; the change is
//! closed when the window is still again and its level holds for a
//! confirmation time. Only then, and only when the new level differs from the
//! old one by more than a threshold tied to the measured noise, is a
//! [`PlateChange`] reported: a hand pressing, someone leaning on the shelf or
//! a neighbour's pick shaking the plate all come back to the old level and
//! report nothing.
//!
//! [`ShelfMerger`] groups plate changes that belong to one physical event:
//! same shelf, plates linked by the planogram (one product spanning plates),
//! overlapping or close in time.
//!
//! The data behind each default and the measured accuracy: `docs/noise-model.md`.

use super::{PlateChange, Sample, ShelfChange};
use crate::ids::PlateId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tuning of [`PlateDetector`] and [`ShelfMerger`]. Every default is derived
/// from the 202 real AiFi plates (`docs/noise-model.md`, "Detector").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorParams {
    /// Nominal sample rate (Hz) that turns the durations below into sample
    /// counts. The AiFi plates publish at 60 Hz.
    pub sample_rate_hz: f64,
    /// Sliding window (s): its mean is the level, its standard deviation says
    /// whether the plate is still. 0.5 s (30 samples) averages the ~16 Hz
    /// shelf vibration and the noise (median σ 0.65 g) down to ~0.15 g, and is
    /// shorter than any press-and-lift of a hand, so a pick cannot hide in it.
    pub window_s: f64,
    /// How long (s) a new level must hold, after the window is first still,
    /// before the change is reported. 0.5 s: hands hold steady for less than
    /// that; the report comes ~1 s after the plate settles.
    pub confirm_s: f64,
    /// Noise level (g) assumed before the plate has shown its own: the median
    /// plate of the real data (0.65 g).
    pub noise_init_g: f64,
    /// Lower clamp of the tracked noise level (g): one ADC step of the real
    /// plates is 0.24 g, a dead plate reads constant.
    pub noise_min_g: f64,
    /// Upper clamp of the tracked noise level (g): the noisiest real plate is
    /// 2.3 g; above 5 g a plate is faulty rather than noisy.
    pub noise_max_g: f64,
    /// Time constant (s) of the noise tracking (running median of the window
    /// standard deviation). 20 s: slow enough that a 2 s pick barely moves
    /// it, fast enough to follow a plate that gets noisier. The first seconds
    /// adapt faster (a running 1/n step) so a plate unlike `noise_init_g` is
    /// learnt in a few seconds.
    pub noise_tracking_s: f64,
    /// A window is still when its standard deviation is at most
    /// `stable_sigmas` times the noise level (or `stable_floor_g`). 2.5: on
    /// real plates 87 % of half-second windows are within 2x the median.
    pub stable_sigmas: f64,
    /// Floor (g) of the stillness limit, for plates quieter than an ADC step.
    pub stable_floor_g: f64,
    /// A single sample further than `trigger_sigmas` noise levels (or
    /// `trigger_floor_g`) from the stable level opens a change at once, so
    /// `t_start` is the first sample that moved (the window would lag).
    pub trigger_sigmas: f64,
    /// Floor (g) of the single-sample trigger.
    pub trigger_floor_g: f64,
    /// How fast (g/s) the stable level may follow a slow walk of the window
    /// mean. Real plates drift by up to 6.4 g/min (0.1 g/s); 0.5 g/s keeps up
    /// with that and thermal drift while a slow hand (an item put down over a
    /// second or two: tens of g/s) still opens a change.
    pub max_drift_g_per_s: f64,
    /// The smallest reportable change is `change_sigmas` noise levels or
    /// `min_change_g`, whichever is larger. 4: on a 3 g plate that is 12 g.
    pub change_sigmas: f64,
    /// Floor (g) of the reportable change. 8 g: on real plates a shake moves
    /// the settled level by at most 3.2 g and a plate wanders by up to ~4 g
    /// within a second, while the lightest products weigh 15 g or more.
    pub min_change_g: f64,
    /// Samples older than this (s) behind the newest one are dropped;
    /// younger ones are used as if they came at the newest time (the real
    /// gondola 4 has timestamps up to 5 ms out of order).
    pub max_reorder_s: f64,
    /// Two changes on linked plates belong to one event when their
    /// intervals overlap or are at most this far apart (s).
    pub merge_window_s: f64,
    /// The merger holds a group open until this long (s) after its last
    /// `t_end`: a linked plate reports ~`window_s + confirm_s` after it
    /// settles, and heavy items settle later than light ones. Must be at
    /// least `merge_window_s + window_s + confirm_s`.
    pub merge_hold_s: f64,
}

impl Default for DetectorParams {
    fn default() -> Self {
        Self {
            sample_rate_hz: 60.0,
            window_s: 0.5,
            confirm_s: 0.5,
            noise_init_g: 0.65,
            noise_min_g: 0.25,
            noise_max_g: 5.0,
            noise_tracking_s: 20.0,
            stable_sigmas: 2.5,
            stable_floor_g: 1.0,
            trigger_sigmas: 6.0,
            trigger_floor_g: 3.0,
            max_drift_g_per_s: 0.5,
            change_sigmas: 4.0,
            min_change_g: 8.0,
            max_reorder_s: 0.25,
            merge_window_s: 1.0,
            merge_hold_s: 3.0,
        }
    }
}

/// Why a [`DetectorParams`] is unusable; names the key.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DetectorError {
    #[error("shelf detector parameter `{key}` {reason}")]
    InvalidParam { key: &'static str, reason: String },
}

impl DetectorParams {
    /// Checks every field (finite, positive where it must be, consistent);
    /// the config loader calls this so a bad value fails at start.
    pub fn validate(&self) -> Result<(), DetectorError> {
        let bad = |key, reason: &str| Err(DetectorError::InvalidParam { key, reason: reason.into() });
        let positive = [
            ("sample_rate_hz", self.sample_rate_hz),
            ("window_s", self.window_s),
            ("confirm_s", self.confirm_s),
            ("noise_init_g", self.noise_init_g),
            ("noise_min_g", self.noise_min_g),
            ("noise_max_g", self.noise_max_g),
            ("noise_tracking_s", self.noise_tracking_s),
            ("stable_sigmas", self.stable_sigmas),
            ("trigger_sigmas", self.trigger_sigmas),
            ("max_drift_g_per_s", self.max_drift_g_per_s),
            ("change_sigmas", self.change_sigmas),
            ("min_change_g", self.min_change_g),
        ];
        let non_negative = [
            ("stable_floor_g", self.stable_floor_g),
            ("trigger_floor_g", self.trigger_floor_g),
            ("max_reorder_s", self.max_reorder_s),
            ("merge_window_s", self.merge_window_s),
            ("merge_hold_s", self.merge_hold_s),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return bad(key, "must be a finite number > 0");
            }
        }
        for (key, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return bad(key, "must be a finite number >= 0");
            }
        }
        if self.window_s * self.sample_rate_hz < 4.0 {
            return bad("window_s", "must span at least 4 samples at sample_rate_hz");
        }
        if self.noise_min_g > self.noise_max_g {
            return bad("noise_min_g", "must not exceed noise_max_g");
        }
        if self.merge_hold_s < self.merge_window_s + self.window_s + self.confirm_s {
            return bad("merge_hold_s", "must be at least merge_window_s + window_s + confirm_s");
        }
        Ok(())
    }

    /// The smallest change reported on a plate whose noise level is `noise_g`.
    pub fn threshold_g(&self, noise_g: f64) -> f64 {
        (self.change_sigmas * noise_g).max(self.min_change_g)
    }
}

/// Where a plate stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Not yet seen a stable state (fewer than a window of samples, or restless since start).
    WarmingUp,
    /// Still, at [`PlateDetector::stable_weight`].
    Stable,
    /// Left its stable state at `since` (unix s) and has not yet settled for long enough.
    Changing { since: f64 },
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Left `before` (None while warming up) at `t_start`.
    Moving {
        before: Option<f64>,
        t_start: f64,
    },
    /// Still since `t_end` at `candidate`, confirmed for `n` samples.
    Settling {
        before: Option<f64>,
        t_start: f64,
        t_end: f64,
        candidate: f64,
        n: usize,
        worst_var: f64,
    },
    Stable {
        level: f64,
    },
}

/// Fixed-capacity ring of (t, x) with running sums: O(1) mean and variance.
#[derive(Clone, Debug)]
struct Window {
    t: Vec<f64>,
    x: Vec<f64>,
    head: usize,
    len: usize,
    sum: f64,
    sumsq: f64,
    pushes: usize,
}

impl Window {
    fn new(cap: usize) -> Self {
        Self { t: vec![0.0; cap], x: vec![0.0; cap], head: 0, len: 0, sum: 0.0, sumsq: 0.0, pushes: 0 }
    }

    fn push(&mut self, t: f64, x: f64) {
        let cap = self.x.len();
        if self.len == cap {
            let old = self.x[self.head];
            self.sum -= old;
            self.sumsq -= old * old;
        } else {
            self.len += 1;
        }
        self.t[self.head] = t;
        self.x[self.head] = x;
        self.head += 1;
        if self.head == cap {
            self.head = 0;
        }
        self.sum += x;
        self.sumsq += x * x;
        self.pushes += 1;
        // Running sums accumulate rounding error: recompute them now and then (amortised O(1)).
        if self.pushes >= 64 * cap {
            self.pushes = 0;
            self.sum = self.x[..self.len].iter().sum();
            self.sumsq = self.x[..self.len].iter().map(|v| v * v).sum();
        }
    }

    fn full(&self) -> bool {
        self.len == self.x.len()
    }

    fn oldest_t(&self) -> f64 {
        if self.full() { self.t[self.head] } else { self.t[0] }
    }

    fn mean(&self) -> f64 {
        self.sum / self.len as f64
    }

    fn var(&self) -> f64 {
        let n = self.len as f64;
        ((self.sumsq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// Streaming stable-state change detector for one plate.
///
/// Feed every sample in arrival order with [`push`](Self::push). Samples
/// with a non-finite time or weight are ignored (counted in
/// [`rejected`](Self::rejected)); the caller filters them too, this is a
/// safety net, never a panic. Out-of-order samples up to
/// `max_reorder_s` late are used as if on time, later ones are dropped.
#[derive(Clone, Debug)]
pub struct PlateDetector {
    plate: PlateId,
    params: DetectorParams,
    win: Window,
    confirm_n: usize,
    drift_step: f64,
    eta: f64,
    eta_up: f64,
    eta_down: f64,
    /// All levels are stored relative to the first sample (keeps the sums small).
    offset: f64,
    last_t: Option<f64>,
    windows_seen: u64,
    sigma: f64,
    rejected: u64,
    state: State,
}

impl PlateDetector {
    /// A detector for `plate`. Invalid parameters are replaced by their
    /// defaults field by field (see [`DetectorParams::validate`] to reject them instead).
    pub fn new(plate: PlateId, params: DetectorParams) -> Self {
        let params = sanitized(params);
        let rate = params.sample_rate_hz;
        let window = ((params.window_s * rate).round() as usize).max(4);
        let confirm_n = ((params.confirm_s * rate).round() as usize).max(1);
        let eta = 1.0 / (params.noise_tracking_s * rate).max(1.0);
        Self {
            plate,
            win: Window::new(window),
            confirm_n,
            drift_step: params.max_drift_g_per_s / rate,
            eta,
            eta_up: (eta / 2.0).exp(),
            eta_down: (-eta / 2.0).exp(),
            offset: 0.0,
            last_t: None,
            windows_seen: 0,
            sigma: params.noise_init_g.clamp(params.noise_min_g, params.noise_max_g),
            rejected: 0,
            state: State::Moving { before: None, t_start: f64::NEG_INFINITY },
            params,
        }
    }

    pub fn plate(&self) -> PlateId {
        self.plate
    }

    pub fn params(&self) -> &DetectorParams {
        &self.params
    }

    /// The current stable weight (g), or None while warming up or mid-change.
    pub fn stable_weight(&self) -> Option<f64> {
        match self.state {
            State::Stable { level } => Some(level + self.offset),
            _ => None,
        }
    }

    pub fn phase(&self) -> Phase {
        match self.state {
            State::Stable { .. } => Phase::Stable,
            State::Moving { before: None, .. } | State::Settling { before: None, .. } => Phase::WarmingUp,
            State::Moving { t_start, .. } | State::Settling { t_start, .. } => Phase::Changing { since: t_start },
        }
    }

    /// True between leaving a stable state and reporting (or dismissing) the change.
    pub fn is_changing(&self) -> bool {
        matches!(self.phase(), Phase::Changing { .. })
    }

    /// The plate's current noise level (g): running median of the window standard deviation.
    pub fn noise_g(&self) -> f64 {
        self.sigma
    }

    /// The smallest change this plate reports now (g).
    pub fn threshold_g(&self) -> f64 {
        self.params.threshold_g(self.sigma)
    }

    /// Samples ignored so far (non-finite, or too far out of order).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Feeds one sample; returns the change it completes, if any.
    pub fn push(&mut self, s: Sample) -> Option<PlateChange> {
        if !(s.t.is_finite() && s.grams.is_finite()) {
            self.rejected += 1;
            return None;
        }
        let t = match self.last_t {
            None => {
                self.offset = s.grams;
                s.t
            }
            Some(last) if s.t < last - self.params.max_reorder_s => {
                self.rejected += 1;
                return None;
            }
            Some(last) => s.t.max(last),
        };
        if self.last_t.is_none() {
            self.state = State::Moving { before: None, t_start: t };
        }
        self.last_t = Some(t);
        let x = s.grams - self.offset;
        self.win.push(t, x);
        if !self.win.full() {
            return None;
        }
        let (mean, var) = (self.win.mean(), self.win.var());
        self.track_noise(var);
        let still_limit = (self.params.stable_sigmas * self.sigma).max(self.params.stable_floor_g);
        let still = var <= still_limit * still_limit;
        let threshold = self.threshold_g();
        match self.state {
            State::Stable { level } => {
                let trigger = (self.params.trigger_sigmas * self.sigma).max(self.params.trigger_floor_g);
                if !still || (x - level).abs() > trigger || (mean - level).abs() > 0.5 * threshold {
                    self.state = State::Moving { before: Some(level), t_start: t };
                } else {
                    self.state =
                        State::Stable { level: level + (mean - level).clamp(-self.drift_step, self.drift_step) };
                }
                None
            }
            State::Moving { before, t_start } => {
                // The settled window must lie wholly after the departure.
                if still && self.win.oldest_t() >= t_start {
                    let t_end = self.win.oldest_t();
                    self.state = State::Settling { before, t_start, t_end, candidate: mean, n: 0, worst_var: var };
                }
                None
            }
            State::Settling { before, t_start, t_end, candidate, n, worst_var } => {
                if !still || (mean - candidate).abs() > 0.5 * threshold {
                    self.state = State::Moving { before, t_start };
                    return None;
                }
                let worst_var = worst_var.max(var);
                if n + 1 < self.confirm_n {
                    self.state = State::Settling { before, t_start, t_end, candidate, n: n + 1, worst_var };
                    return None;
                }
                self.state = State::Stable { level: mean };
                let before = before?;
                let delta = mean - before;
                if delta.abs() < threshold {
                    return None;
                }
                let confidence =
                    confidence(delta, threshold, worst_var.sqrt() / still_limit, (mean - candidate).abs() / threshold);
                Some(PlateChange {
                    plate: self.plate,
                    t_start,
                    t_end: t_end.max(t_start),
                    before_g: before + self.offset,
                    after_g: mean + self.offset,
                    delta_g: delta,
                    confidence,
                })
            }
        }
    }

    /// Running median of the window standard deviation, in the log domain:
    /// a multiplicative step up when the window is above it, down when below.
    fn track_noise(&mut self, var: f64) {
        self.windows_seen += 1;
        let (up, down) = if self.windows_seen as f64 * self.eta < 2.0 {
            // Early on, a 1/n step: learns a plate unlike `noise_init_g` within seconds.
            let eta = 2.0 / (self.windows_seen as f64 + 10.0);
            ((eta / 2.0).exp(), (-eta / 2.0).exp())
        } else {
            (self.eta_up, self.eta_down)
        };
        let sigma = if var > self.sigma * self.sigma { self.sigma * up } else { self.sigma * down };
        self.sigma = sigma.clamp(self.params.noise_min_g, self.params.noise_max_g);
    }
}

/// Confidence in 0..1 of a settled change: the product of
/// - how far |Δ| clears the threshold: logistic, 0.27 at the threshold,
///   0.73 at 1.5x, 0.95 at 2x, > 0.99 at 3x;
/// - how still the new state was while confirmed: 1 while the restless-most
///   window σ is at most half the stillness limit (ordinary noise), falling
///   to 0.5 at the limit;
/// - how well its level held during confirmation: 1 - walk / (2 · threshold), in 0.75..1.
fn confidence(delta: f64, threshold: f64, restless: f64, walk: f64) -> f64 {
    let clear = 1.0 / (1.0 + (-4.0 * (delta.abs() / threshold - 1.25)).exp());
    let still = 1.0 - 0.5 * (2.0 * restless - 1.0).clamp(0.0, 1.0).powi(2);
    let held = 1.0 - 0.5 * walk.clamp(0.0, 0.5);
    (clear * still * held).clamp(0.0, 1.0)
}

/// Each invalid field replaced by its default, so `new` never panics.
fn sanitized(p: DetectorParams) -> DetectorParams {
    if p.validate().is_ok() {
        return p;
    }
    let d = DetectorParams::default();
    let pos = |v: f64, dv: f64| if v.is_finite() && v > 0.0 { v } else { dv };
    let nonneg = |v: f64, dv: f64| if v.is_finite() && v >= 0.0 { v } else { dv };
    let mut q = DetectorParams {
        sample_rate_hz: pos(p.sample_rate_hz, d.sample_rate_hz),
        window_s: pos(p.window_s, d.window_s),
        confirm_s: pos(p.confirm_s, d.confirm_s),
        noise_init_g: pos(p.noise_init_g, d.noise_init_g),
        noise_min_g: pos(p.noise_min_g, d.noise_min_g),
        noise_max_g: pos(p.noise_max_g, d.noise_max_g),
        noise_tracking_s: pos(p.noise_tracking_s, d.noise_tracking_s),
        stable_sigmas: pos(p.stable_sigmas, d.stable_sigmas),
        stable_floor_g: nonneg(p.stable_floor_g, d.stable_floor_g),
        trigger_sigmas: pos(p.trigger_sigmas, d.trigger_sigmas),
        trigger_floor_g: nonneg(p.trigger_floor_g, d.trigger_floor_g),
        max_drift_g_per_s: pos(p.max_drift_g_per_s, d.max_drift_g_per_s),
        change_sigmas: pos(p.change_sigmas, d.change_sigmas),
        min_change_g: pos(p.min_change_g, d.min_change_g),
        max_reorder_s: nonneg(p.max_reorder_s, d.max_reorder_s),
        merge_window_s: nonneg(p.merge_window_s, d.merge_window_s),
        merge_hold_s: nonneg(p.merge_hold_s, d.merge_hold_s),
    };
    if q.noise_min_g > q.noise_max_g {
        (q.noise_min_g, q.noise_max_g) = (d.noise_min_g, d.noise_max_g);
    }
    q.merge_hold_s = q.merge_hold_s.max(q.merge_window_s + q.window_s + q.confirm_s);
    q
}

/// One group of plate changes being collected.
#[derive(Clone, Debug)]
struct Group {
    root: PlateId,
    t_start: f64,
    t_end: f64,
    parts: Vec<PlateChange>,
}

/// Groups [`PlateChange`]s into [`ShelfChange`]s.
///
/// Two changes belong together when they are on the same gondola and shelf,
/// their plates are linked (transitively: a product spanning plates 4, 5, 6
/// links 4-5 and 5-6; a plate is linked to itself) and their intervals
/// overlap or are within `merge_window_s`. Neighbouring plates that are not
/// linked (different products) stay separate events. Links between
/// different shelves are ignored.
///
/// A group is emitted once no linked change can still join it: when the
/// clock (the latest `now` given to [`advance`](Self::advance), or a pushed
/// change's `t_end`) passes its last `t_end` by `merge_hold_s`. A group whose
/// parts cancel out (|Σ Δ| below `min_change_g`: an item moved between
/// plates of one product, or put back within the merge window) is dropped.
#[derive(Clone, Debug)]
pub struct ShelfMerger {
    root: BTreeMap<PlateId, PlateId>,
    merge_window_s: f64,
    merge_hold_s: f64,
    min_change_g: f64,
    pending: Vec<Group>,
}

impl ShelfMerger {
    pub fn new(links: impl IntoIterator<Item = (PlateId, PlateId)>, params: &DetectorParams) -> Self {
        let params = sanitized(params.clone());
        let mut parent: BTreeMap<PlateId, PlateId> = BTreeMap::new();
        fn find(parent: &BTreeMap<PlateId, PlateId>, mut p: PlateId) -> PlateId {
            while let Some(&q) = parent.get(&p).filter(|q| **q != p) {
                p = q;
            }
            p
        }
        for (a, b) in links {
            if (a.gondola, a.shelf) != (b.gondola, b.shelf) {
                continue;
            }
            let (ra, rb) = (find(&parent, a), find(&parent, b));
            parent.entry(a).or_insert(a);
            parent.entry(b).or_insert(b);
            // The smaller plate is the root: roots are deterministic.
            let (lo, hi) = if ra <= rb { (ra, rb) } else { (rb, ra) };
            parent.insert(hi, lo);
            parent.entry(lo).or_insert(lo);
        }
        let root = parent.keys().map(|&p| (p, find(&parent, p))).collect();
        Self {
            root,
            merge_window_s: params.merge_window_s,
            merge_hold_s: params.merge_hold_s,
            min_change_g: params.min_change_g,
            pending: Vec::new(),
        }
    }

    fn root_of(&self, plate: PlateId) -> PlateId {
        self.root.get(&plate).copied().unwrap_or(plate)
    }

    /// Whether changes on `a` and `b` may merge (same shelf, linked or equal).
    pub fn linked(&self, a: PlateId, b: PlateId) -> bool {
        self.root_of(a) == self.root_of(b)
    }

    /// Groups still open.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds a change; returns the groups that the clock reaching its `t_end` closes.
    /// Changes with a non-finite field are ignored.
    pub fn push(&mut self, change: PlateChange) -> Vec<ShelfChange> {
        let now = change.t_end;
        let finite = [change.t_start, change.t_end, change.before_g, change.after_g, change.delta_g, change.confidence];
        if finite.iter().all(|v| v.is_finite()) {
            self.join(change);
        }
        self.advance(now)
    }

    fn join(&mut self, change: PlateChange) {
        let root = self.root_of(change.plate);
        let w = self.merge_window_s;
        let mut group = Group { root, t_start: change.t_start, t_end: change.t_end, parts: vec![change] };
        let mut i = 0;
        while i < self.pending.len() {
            let g = &self.pending[i];
            let near = g.root == root && g.t_start <= group.t_end + w && group.t_start <= g.t_end + w;
            if near {
                let g = self.pending.swap_remove(i);
                group.t_start = group.t_start.min(g.t_start);
                group.t_end = group.t_end.max(g.t_end);
                group.parts.extend(g.parts);
                // The grown group may now reach groups already passed over.
                i = 0;
            } else {
                i += 1;
            }
        }
        self.pending.push(group);
    }

    /// Emits the groups closed by the clock reaching `now` (unix s), ordered by `t_start` then plate.
    pub fn advance(&mut self, now: f64) -> Vec<ShelfChange> {
        let hold = self.merge_hold_s;
        let (closed, open): (Vec<Group>, Vec<Group>) =
            std::mem::take(&mut self.pending).into_iter().partition(|g| now.is_finite() && g.t_end + hold <= now);
        self.pending = open;
        self.finish(closed)
    }

    /// Emits every open group (end of stream).
    pub fn flush(&mut self) -> Vec<ShelfChange> {
        let all = std::mem::take(&mut self.pending);
        self.finish(all)
    }

    fn finish(&self, groups: Vec<Group>) -> Vec<ShelfChange> {
        let mut out: Vec<ShelfChange> = groups.into_iter().filter_map(|g| self.shelf_change(g)).collect();
        out.sort_by(|a, b| a.t_start.total_cmp(&b.t_start).then_with(|| a.plates.cmp(&b.plates)));
        out
    }

    /// One part per plate (a plate that changed twice in the group gets its
    /// changes combined); confidence = the |Δ|-weighted mean of the parts'
    /// confidences times |Σ Δ| / Σ |Δ| (parts pulling in opposite directions
    /// make the group less sure).
    fn shelf_change(&self, mut g: Group) -> Option<ShelfChange> {
        g.parts.sort_by(|a, b| a.plate.cmp(&b.plate).then(a.t_start.total_cmp(&b.t_start)));
        let mut parts: Vec<PlateChange> = Vec::with_capacity(g.parts.len());
        for p in g.parts {
            match parts.last_mut() {
                Some(last) if last.plate == p.plate => {
                    last.t_start = last.t_start.min(p.t_start);
                    last.t_end = last.t_end.max(p.t_end);
                    last.after_g = p.after_g;
                    last.delta_g += p.delta_g;
                    last.confidence = last.confidence.min(p.confidence);
                }
                _ => parts.push(p),
            }
        }
        let delta: f64 = parts.iter().map(|p| p.delta_g).sum();
        let total: f64 = parts.iter().map(|p| p.delta_g.abs()).sum();
        if delta.abs() < self.min_change_g || total <= 0.0 {
            return None;
        }
        let weighted = parts.iter().map(|p| p.delta_g.abs() * p.confidence).sum::<f64>() / total;
        Some(ShelfChange {
            gondola: g.root.gondola,
            shelf: g.root.shelf,
            plates: parts.iter().map(|p| p.plate.plate).collect(),
            t_start: g.t_start,
            t_end: g.t_end,
            delta_g: delta,
            confidence: (weighted * delta.abs() / total).clamp(0.0, 1.0),
            parts,
            degraded: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    const T0: f64 = 1_000.0;
    const RATE: f64 = 60.0;
    const P: PlateId = PlateId::new(3, 2, 5);

    /// `secs` of 60 Hz samples of `shape(t)` (t from 0) plus white noise.
    fn trace(seed: u64, sigma: f64, secs: f64, shape: impl Fn(f64) -> f64) -> Vec<Sample> {
        let mut rng = StdRng::seed_from_u64(seed);
        let noise = Normal::new(0.0, sigma).unwrap();
        (0..(secs * RATE) as usize)
            .map(|i| {
                let t = i as f64 / RATE;
                Sample { t: T0 + t, grams: shape(t) + noise.sample(&mut rng) }
            })
            .collect()
    }

    /// A smooth step of `delta` from `at` over `ramp` seconds.
    fn step(t: f64, at: f64, ramp: f64, delta: f64) -> f64 {
        delta * ((t - at) / ramp).clamp(0.0, 1.0)
    }

    fn run(samples: &[Sample]) -> (PlateDetector, Vec<PlateChange>) {
        let mut d = PlateDetector::new(P, DetectorParams::default());
        let changes = samples.iter().filter_map(|s| d.push(*s)).collect();
        (d, changes)
    }

    #[test]
    fn a_pick_is_one_change_with_its_times_and_weights() {
        let samples = trace(1, 1.5, 12.0, |t| 1200.0 + step(t, 5.0, 0.15, -90.0));
        let (d, changes) = run(&samples);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let c = &changes[0];
        assert_eq!(c.plate, P);
        assert!((c.delta_g + 90.0).abs() < 1.5, "{c:?}");
        assert!((c.before_g - 1200.0).abs() < 1.0 && (c.after_g - 1110.0).abs() < 1.0, "{c:?}");
        assert!((c.delta_g - (c.after_g - c.before_g)).abs() < 1e-9);
        assert!(c.t_start >= T0 + 4.9 && c.t_start <= T0 + 5.15, "{c:?}");
        assert!(c.t_end >= T0 + 5.1 && c.t_end <= T0 + 5.8, "{c:?}");
        assert!(c.confidence > 0.9 && c.confidence <= 1.0, "{c:?}");
        assert_eq!(d.phase(), Phase::Stable);
        assert!((d.stable_weight().unwrap() - 1110.0).abs() < 1.0);
    }

    #[test]
    fn a_put_back_and_a_multi_unit_pick() {
        let samples = trace(2, 1.0, 20.0, |t| 500.0 + step(t, 4.0, 0.2, 35.0) + step(t, 12.0, 0.3, -3.0 * 68.3));
        let (_, changes) = run(&samples);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!((changes[0].delta_g - 35.0).abs() < 1.5, "{changes:?}");
        assert!((changes[1].delta_g + 204.9).abs() < 1.5, "{changes:?}");
        assert!(changes[1].t_start > changes[0].t_end);
    }

    #[test]
    fn transients_that_leave_no_net_change_report_nothing() {
        // A hand pressing 400 g for a second (with tremor), someone leaning
        // (-300 g for 2.5 s) and an 80 g, 16 Hz shake of the whole shelf.
        let samples = trace(3, 1.5, 30.0, |t| {
            let press = if (5.0..6.0).contains(&t) { 400.0 + 8.0 * (t * 57.0).sin() } else { 0.0 };
            let lean = if (12.0..14.5).contains(&t) { -300.0 + 6.0 * (t * 41.0).sin() } else { 0.0 };
            let shake = if (20.0..22.0).contains(&t) {
                80.0 * (std::f64::consts::PI * (t - 20.0) / 2.0).sin() * (2.0 * std::f64::consts::PI * 16.0 * t).sin()
            } else {
                0.0
            };
            700.0 + press + lean + shake
        });
        let (d, changes) = run(&samples);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(d.phase(), Phase::Stable);
    }

    #[test]
    fn slow_drift_is_followed_and_a_pick_during_drift_is_exact() {
        // 5 g per minute for 10 minutes (50 g in all), a 40 g pick at minute 6.
        let samples = trace(4, 1.5, 600.0, |t| 900.0 + 5.0 * t / 60.0 + step(t, 360.0, 0.2, -40.0));
        let (d, changes) = run(&samples);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!((changes[0].delta_g + 40.0).abs() < 2.0, "{changes:?}");
        assert!((d.stable_weight().unwrap() - (900.0 + 50.0 - 40.0)).abs() < 2.0);
    }

    #[test]
    fn settling_oscillation_after_a_heavy_pick_is_waited_out() {
        // -800 g, then a 320 g, 9 Hz oscillation decaying with 0.2 s.
        let samples = trace(5, 1.5, 12.0, |t| {
            let ring = if t > 4.1 {
                320.0 * (-(t - 4.1) / 0.2).exp() * (2.0 * 9.0 * std::f64::consts::PI * (t - 4.1)).sin()
            } else {
                0.0
            };
            2500.0 + step(t, 4.0, 0.1, -800.0) + ring
        });
        let (_, changes) = run(&samples);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!((changes[0].delta_g + 800.0).abs() < 2.0, "{changes:?}");
        // Settled once the ringing fell inside the stillness limit.
        assert!((T0 + 4.5..T0 + 5.5).contains(&changes[0].t_end), "{changes:?}");
    }

    #[test]
    fn changes_below_the_threshold_are_ignored_and_light_items_are_seen() {
        let (_, small) = run(&trace(6, 1.5, 12.0, |t| 300.0 + step(t, 5.0, 0.1, -5.0)));
        assert!(small.is_empty(), "{small:?}");
        let (_, light) = run(&trace(7, 1.5, 12.0, |t| 300.0 + step(t, 5.0, 0.1, -18.0)));
        assert_eq!(light.len(), 1, "{light:?}");
        assert!((light[0].delta_g + 18.0).abs() < 1.5);
        // On a 3 g plate the threshold is 12 g: 15 g is still seen, 8 g is not.
        let (d, noisy) = run(&trace(8, 3.0, 40.0, |t| 300.0 + step(t, 20.0, 0.1, -15.0) + step(t, 30.0, 0.1, 8.0)));
        assert!((2.4..3.6).contains(&d.noise_g()), "noise {}", d.noise_g());
        assert_eq!(noisy.len(), 1, "{noisy:?}");
        assert!((noisy[0].delta_g + 15.0).abs() < 3.0);
    }

    #[test]
    fn non_finite_samples_are_ignored_without_panic() {
        let mut samples = trace(9, 1.0, 12.0, |t| 1000.0 + step(t, 6.0, 0.1, -50.0));
        for (i, bad) in [(10, f64::NAN), (200, f64::INFINITY), (370, f64::NEG_INFINITY), (500, f64::NAN)] {
            samples[i].grams = bad;
        }
        samples[250].t = f64::NAN;
        let (d, changes) = run(&samples);
        assert_eq!(d.rejected(), 5);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!((changes[0].delta_g + 50.0).abs() < 1.5);
        let mut fresh = PlateDetector::new(P, DetectorParams::default());
        assert!(fresh.push(Sample { t: f64::NAN, grams: f64::NAN }).is_none());
        assert_eq!(fresh.phase(), Phase::WarmingUp);
    }

    #[test]
    fn out_of_order_timestamps_do_not_panic_and_late_samples_are_dropped() {
        let mut samples = trace(10, 1.0, 12.0, |t| 1000.0 + step(t, 6.0, 0.1, 60.0));
        for i in (20..samples.len() - 1).step_by(37) {
            samples.swap(i, i + 1);
        }
        samples[100].t -= 5.0;
        samples[400].t = 0.0;
        let (d, changes) = run(&samples);
        assert_eq!(d.rejected(), 2);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].t_start <= changes[0].t_end);
    }

    #[test]
    fn phases_follow_the_plate() {
        let samples = trace(11, 1.0, 10.0, |t| 800.0 + step(t, 5.0, 0.1, -100.0));
        let mut d = PlateDetector::new(P, DetectorParams::default());
        assert_eq!(d.phase(), Phase::WarmingUp);
        let mut seen_changing = false;
        for s in &samples {
            d.push(*s);
            if s.t < T0 + 0.2 {
                assert_eq!(d.phase(), Phase::WarmingUp);
            }
            if (T0 + 2.0..T0 + 4.9).contains(&s.t) {
                assert_eq!(d.phase(), Phase::Stable);
                assert!((d.stable_weight().unwrap() - 800.0).abs() < 1.0);
            }
            if (T0 + 5.1..T0 + 5.6).contains(&s.t) {
                assert!(d.is_changing() && d.stable_weight().is_none());
                seen_changing = true;
            }
        }
        assert!(seen_changing);
        assert!((d.stable_weight().unwrap() - 700.0).abs() < 1.0);
    }

    #[test]
    fn params_default_round_trip_and_validation_names_the_key() {
        let d = DetectorParams::default();
        assert_eq!(d.validate(), Ok(()));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DetectorParams>(&json).unwrap(), d);
        let partial: DetectorParams = serde_json::from_str(r#"{"min_change_g": 12.0}"#).unwrap();
        assert_eq!(partial.min_change_g, 12.0);
        assert_eq!(partial.window_s, d.window_s);
        assert!(serde_json::from_str::<DetectorParams>(r#"{"min_change": 12.0}"#).is_err());
        let bad = DetectorParams { window_s: f64::NAN, ..d.clone() };
        assert!(bad.validate().unwrap_err().to_string().contains("`window_s`"));
        let bad = DetectorParams { merge_hold_s: 0.5, ..d.clone() };
        assert!(bad.validate().unwrap_err().to_string().contains("`merge_hold_s`"));
        // Invalid parameters never make `new` panic.
        let mut det = PlateDetector::new(P, DetectorParams { sample_rate_hz: -1.0, window_s: 0.0, ..d });
        for s in trace(12, 1.0, 3.0, |_| 10.0) {
            det.push(s);
        }
        assert_eq!(det.phase(), Phase::Stable);
    }

    fn change(plate: u16, t_start: f64, t_end: f64, delta_g: f64) -> PlateChange {
        PlateChange {
            plate: PlateId::new(3, 2, plate),
            t_start,
            t_end,
            before_g: 1000.0,
            after_g: 1000.0 + delta_g,
            delta_g,
            confidence: 0.9,
        }
    }

    fn links(pairs: &[(u16, u16)]) -> Vec<(PlateId, PlateId)> {
        pairs.iter().map(|&(a, b)| (PlateId::new(3, 2, a), PlateId::new(3, 2, b))).collect()
    }

    fn merge(links: Vec<(PlateId, PlateId)>, changes: Vec<PlateChange>) -> Vec<ShelfChange> {
        let mut m = ShelfMerger::new(links, &DetectorParams::default());
        let mut out: Vec<ShelfChange> = changes.into_iter().flat_map(|c| m.push(c)).collect();
        out.extend(m.flush());
        out
    }

    #[test]
    fn linked_neighbours_merge_and_unlinked_neighbours_stay_apart() {
        let both = || vec![change(4, 10.0, 11.0, -60.0), change(5, 10.1, 11.2, -30.0)];
        let merged = merge(links(&[(4, 5)]), both());
        assert_eq!(merged.len(), 1, "{merged:?}");
        let m = &merged[0];
        assert_eq!((m.gondola, m.shelf, m.plates.clone()), (3, 2, vec![4, 5]));
        assert_eq!((m.t_start, m.t_end, m.delta_g), (10.0, 11.2, -90.0));
        assert_eq!(m.parts.len(), 2);
        assert!((m.confidence - 0.9).abs() < 1e-9 && !m.degraded);
        let apart = merge(links(&[(5, 6)]), both());
        assert_eq!(apart.len(), 2, "{apart:?}");
        assert_eq!((apart[0].plates.clone(), apart[1].plates.clone()), (vec![4], vec![5]));
    }

    #[test]
    fn a_product_on_three_plates_is_one_event_and_time_separates_events() {
        let l = links(&[(7, 8), (9, 8)]);
        let out = merge(
            l.clone(),
            vec![change(9, 20.3, 21.0, -40.0), change(7, 20.0, 21.1, -20.0), change(8, 21.8, 22.5, -30.0)],
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].plates, vec![7, 8, 9]);
        assert_eq!(out[0].delta_g, -90.0);
        let out = merge(l, vec![change(7, 20.0, 21.0, -20.0), change(9, 25.0, 26.0, -20.0)]);
        assert_eq!(out.len(), 2, "{out:?}");
    }

    #[test]
    fn groups_wait_for_the_hold_and_come_out_in_order() {
        let mut m = ShelfMerger::new(links(&[(1, 2)]), &DetectorParams::default());
        assert!(m.push(change(2, 10.0, 11.0, -50.0)).is_empty());
        assert!(m.push(change(6, 9.5, 10.5, 70.0)).is_empty());
        assert!(m.advance(13.4).is_empty());
        let out = m.advance(14.0);
        assert_eq!(out.iter().map(|c| c.plates.clone()).collect::<Vec<_>>(), vec![vec![6], vec![2]]);
        assert_eq!(m.pending(), 0);
        // Another shelf never merges, even if someone linked it.
        let mut m = ShelfMerger::new([(PlateId::new(3, 2, 1), PlateId::new(3, 3, 1))], &DetectorParams::default());
        assert!(!m.linked(PlateId::new(3, 2, 1), PlateId::new(3, 3, 1)));
        m.push(change(1, 10.0, 11.0, -50.0));
        m.push(PlateChange { plate: PlateId::new(3, 3, 1), ..change(1, 10.0, 11.0, -50.0) });
        assert_eq!(m.flush().len(), 2);
    }

    #[test]
    fn parts_that_cancel_are_dropped_and_a_plate_changing_twice_is_combined() {
        // An item moved from plate 4 to plate 5 of the same product: nothing left the shelf.
        assert!(merge(links(&[(4, 5)]), vec![change(4, 10.0, 11.0, -90.0), change(5, 10.5, 11.5, 89.0)]).is_empty());
        let out = merge(vec![], vec![change(4, 10.0, 11.0, -90.0), change(4, 11.5, 12.5, -90.0)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].parts.len(), 1);
        assert_eq!((out[0].parts[0].delta_g, out[0].parts[0].t_end, out[0].parts[0].after_g), (-180.0, 12.5, 910.0));
        let mut bad = change(4, 10.0, 11.0, -90.0);
        bad.delta_g = f64::NAN;
        assert!(merge(vec![], vec![bad]).is_empty());
    }
}
