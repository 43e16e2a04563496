//! Per-plate change detection. Pure and synchronous: samples in, changes out; no I/O and no
//! clock (time comes from the samples' own timestamps).
//!
//! [`PlateDetector`] segments one plate's stream into stable states. A
//! half-second sliding window (running sums over ring buffers: O(1) per
//! sample, no allocation after `new`) gives the level (its mean), the
//! restlessness (its standard deviation) and, through a 0.1 s moving average,
//! its slow movement; the plate's own noise level is tracked online as the
//! running median of the window standard deviation. The plate is *stable*
//! while the window is still and its level stays put (slow drift is
//! followed). Leaving it (a sample far off, a restless window, or the level
//! walking off faster than drift can) opens a change; the change closes when
//! the low-passed window is still again (shelf vibration averages out of it,
//! a hand resting on the plate does not) and the level holds for a
//! confirmation time. Only then, and only when the new level differs from the
//! old one by more than a threshold tied to the measured noise, is a
//! [`PlateChange`] reported: a hand pressing, someone leaning on the shelf or
//! a neighbour's pick shaking the plate all come back to the old level and
//! report nothing. A reported change carries the level it passed through
//! (0.1 s means, `lifts.rs`), where two hands' lifts in one change show.
//!
//! The merging of plate changes into shelf changes is in `merger.rs`.
//!
//! The data behind each default and the measured accuracy: `docs/noise-model.md`.

use super::lifts::LevelTrace;
use super::{PlateChange, Sample};
use crate::ids::PlateId;
use serde::{Deserialize, Serialize};

/// The moving average that low-passes the window for the settling test (s):
/// 0.1 s is 1.6 periods of the ~16 Hz shelf vibration (attenuated ~5x).
const LOWPASS_S: f64 = 0.1;

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
    /// How long (s) a new level must hold, after the window has first
    /// settled, before the change is reported. 0.5 s: long enough for a
    /// resting hand's wander to show, short enough that the report comes
    /// ~1 s after the plate settles (0.75 s measured no better).
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
    /// A new state has settled when the standard deviation of the
    /// low-passed window (0.1 s moving average: the ~16 Hz shelf vibration
    /// averages out in it, the slow wander of a hand resting on a product does
    /// not) is at most `settle_sigmas` noise levels, or `settle_floor_g`.
    /// 0.6: at rest it is ~0.3 noise levels.
    pub settle_sigmas: f64,
    /// Floor (g) of the settling limit. 1 g: a hand wanders by 3 g or more.
    pub settle_floor_g: f64,
    /// A single sample further than `trigger_sigmas` noise levels (or
    /// `trigger_floor_g`) from the stable level opens a change at once, so
    /// `t_start` is the first sample that moved (the window would lag).
    pub trigger_sigmas: f64,
    /// Floor (g) of the single-sample trigger.
    pub trigger_floor_g: f64,
    /// While a new level is confirmed, its window mean may walk at most
    /// `confirm_walk_sigmas` noise levels from where it settled (at least 2 x
    /// `stable_floor_g`, at most half the reportable change). 0.6: the mean of
    /// a half-second window of a plate at rest moves by ~0.15 σ and shelf
    /// vibration leaves it in place, while a hand resting on the plate
    /// wanders by several grams; on a 3 g plate the limit is 2 g.
    pub confirm_walk_sigmas: f64,
    /// How fast (g/s) the stable level may follow a slow walk of the window
    /// mean. Real plates drift by up to 6.4 g/min (0.1 g/s); 0.5 g/s keeps up
    /// with that and thermal drift while a slow hand (an item put down over a
    /// second or two: tens of g/s) still opens a change.
    pub max_drift_g_per_s: f64,
    /// The smallest reportable change is `change_sigmas` noise levels or
    /// `min_change_g`, whichever is larger. 4: on a 3 g plate that is 12 g.
    pub change_sigmas: f64,
    /// Floor (g) of the reportable change. 8 g: on the real plates no
    /// restless spell moved the settled level by more than 3.2 g (the
    /// largest: a 3.1 g step on a near-dead plate), while the lightest
    /// products weigh 15 g or more.
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
    /// ... and, when the caller reports linked plates still mid-change
    /// ([`ShelfMerger::set_changing`]), until they settle, but no longer
    /// than this (s) after its last `t_end`.
    pub merge_max_hold_s: f64,
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
            settle_sigmas: 0.6,
            settle_floor_g: 1.0,
            trigger_sigmas: 6.0,
            trigger_floor_g: 3.0,
            confirm_walk_sigmas: 0.6,
            max_drift_g_per_s: 0.5,
            change_sigmas: 4.0,
            min_change_g: 8.0,
            max_reorder_s: 0.25,
            merge_window_s: 1.0,
            merge_hold_s: 3.0,
            merge_max_hold_s: 10.0,
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
            ("settle_sigmas", self.settle_sigmas),
            ("trigger_sigmas", self.trigger_sigmas),
            ("confirm_walk_sigmas", self.confirm_walk_sigmas),
            ("max_drift_g_per_s", self.max_drift_g_per_s),
            ("change_sigmas", self.change_sigmas),
            ("min_change_g", self.min_change_g),
        ];
        let non_negative = [
            ("stable_floor_g", self.stable_floor_g),
            ("settle_floor_g", self.settle_floor_g),
            ("trigger_floor_g", self.trigger_floor_g),
            ("max_reorder_s", self.max_reorder_s),
            ("merge_window_s", self.merge_window_s),
            ("merge_hold_s", self.merge_hold_s),
            ("merge_max_hold_s", self.merge_max_hold_s),
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
        if self.merge_max_hold_s < self.merge_hold_s {
            return bad("merge_max_hold_s", "must be at least merge_hold_s");
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

/// Where a change began.
#[derive(Clone, Copy, Debug)]
struct Departure {
    /// The stable level left (None while warming up).
    before: Option<f64>,
    /// When the stable state was left (the first restless sample).
    t_start: f64,
    /// When the window mean left `before` for good: the reported start. A
    /// shake keeps a plate restless with its mean in place, so a pick during
    /// or right after one still gets the time of the hand.
    t_left: f64,
    /// Whether the mean has left `before` since the plate was last at rest there.
    left: bool,
    /// Consecutive samples with the mean near `before`.
    near_run: u32,
}

impl Departure {
    fn new(before: Option<f64>, t: f64) -> Self {
        Self { before, t_start: t, t_left: t, left: false, near_run: 0 }
    }

    /// Follows the window mean: near the old level (at rest, or restless
    /// but not yet gone, or back for `settle_run` samples) moves the start on;
    /// away from it freezes the start. The mean merely passing through the
    /// old level (a press released while an item is taken) does not count.
    fn observe(&mut self, t: f64, mean: f64, still: bool, tolerance: f64, settle_run: u32) {
        let Some(before) = self.before else { return };
        let near = (mean - before).abs() <= tolerance;
        self.near_run = if near { self.near_run.saturating_add(1) } else { 0 };
        if near && (still || !self.left || self.near_run >= settle_run) {
            self.t_left = t;
            self.left = false;
        } else if !near {
            self.left = true;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Moving(Departure),
    /// Settled since `t_end` at `candidate`, confirmed for `n` samples;
    /// `span` sums every sample since `t_end` (its mean is the new level).
    Settling {
        dep: Departure,
        t_end: f64,
        candidate: f64,
        n: usize,
        span: Span,
    },
    Stable {
        level: f64,
    },
}

/// Running count and sum.
#[derive(Clone, Copy, Debug)]
struct Span {
    n: f64,
    sum: f64,
}

impl Span {
    fn add(&mut self, x: f64) {
        self.n += 1.0;
        self.sum += x;
    }

    fn mean(&self) -> f64 {
        self.sum / self.n
    }
}

/// Fixed-capacity ring of values with running sums: O(1) mean and variance.
#[derive(Clone, Debug)]
struct Ring {
    v: Vec<f64>,
    head: usize,
    len: usize,
    sum: f64,
    sumsq: f64,
    pushes: usize,
}

impl Ring {
    fn new(cap: usize) -> Self {
        Self { v: vec![0.0; cap], head: 0, len: 0, sum: 0.0, sumsq: 0.0, pushes: 0 }
    }

    fn push(&mut self, x: f64) {
        let cap = self.v.len();
        if self.len == cap {
            let old = self.v[self.head];
            self.sum -= old;
            self.sumsq -= old * old;
        } else {
            self.len += 1;
        }
        self.v[self.head] = x;
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
            self.sum = self.v[..self.len].iter().sum();
            self.sumsq = self.v[..self.len].iter().map(|v| v * v).sum();
        }
    }

    /// The value pushed `k` pushes ago (0: the latest); `k < len`.
    fn back(&self, k: usize) -> f64 {
        let cap = self.v.len();
        self.v[(self.head + cap - 1 - k) % cap]
    }

    fn full(&self) -> bool {
        self.len == self.v.len()
    }

    fn mean(&self) -> f64 {
        self.sum / self.len as f64
    }

    fn var(&self) -> f64 {
        if self.len < 2 {
            return 0.0;
        }
        let n = self.len as f64;
        ((self.sumsq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
    }
}

/// The sliding window: readings (with their times), and the same readings
/// low-passed by a short moving average (`lp_n` samples), whose spread is
/// what a hand shows and shelf vibration does not.
#[derive(Clone, Debug)]
struct Window {
    t: Vec<f64>,
    x: Ring,
    lp: Ring,
    lp_n: usize,
    short: f64,
}

impl Window {
    fn new(cap: usize, lp_n: usize) -> Self {
        Self { t: vec![0.0; cap], x: Ring::new(cap), lp: Ring::new(cap), lp_n, short: 0.0 }
    }

    fn push(&mut self, t: f64, x: f64) {
        self.t[self.x.head] = t;
        self.x.push(x);
        self.short += x;
        if self.x.len > self.lp_n {
            self.short -= self.x.back(self.lp_n);
        }
        if self.x.pushes == 0 {
            // The ring just re-summed: so does the short sum.
            self.short = (0..self.lp_n.min(self.x.len)).map(|k| self.x.back(k)).sum();
        }
        if self.x.len >= self.lp_n {
            self.lp.push(self.short / self.lp_n as f64);
        }
    }

    fn full(&self) -> bool {
        self.x.full()
    }

    fn oldest_t(&self) -> f64 {
        if self.x.full() { self.t[self.x.head] } else { self.t[0] }
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
    /// The level since the plate left its stable state, for [`two_lifts`](super::lifts::two_lifts).
    trace: LevelTrace,
}

impl PlateDetector {
    /// A detector for `plate`. Invalid parameters are replaced by their
    /// defaults field by field (see [`DetectorParams::validate`] to reject them instead).
    pub fn new(plate: PlateId, params: DetectorParams) -> Self {
        let params = sanitized(params);
        let rate = params.sample_rate_hz;
        let window = ((params.window_s * rate).round() as usize).max(4);
        let lp_n = ((LOWPASS_S * rate).round() as usize).clamp(2, window / 2);
        let confirm_n = ((params.confirm_s * rate).round() as usize).max(1);
        let eta = 1.0 / (params.noise_tracking_s * rate).max(1.0);
        Self {
            plate,
            win: Window::new(window, lp_n),
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
            state: State::Moving(Departure::new(None, f64::NEG_INFINITY)),
            trace: LevelTrace::default(),
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
            State::Moving(dep) | State::Settling { dep, .. } => match dep.before {
                None => Phase::WarmingUp,
                Some(_) => Phase::Changing { since: dep.t_start },
            },
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
            self.state = State::Moving(Departure::new(None, t));
        }
        self.last_t = Some(t);
        let x = s.grams - self.offset;
        self.win.push(t, x);
        if !self.win.full() {
            return None;
        }
        let (mean, var, lp_var) = (self.win.x.mean(), self.win.x.var(), self.win.lp.var());
        // Learn the noise from the plate at rest (and while warming up): a busy
        // plate's hands would inflate it. A plate restless for longer than
        // half the tracking time learns anyway, so a plate noisier than
        // believed cannot stay "changing" for ever.
        let resting = match self.state {
            State::Stable { .. } => true,
            State::Moving(dep) | State::Settling { dep, .. } => {
                dep.before.is_none() || t - dep.t_start > 0.5 * self.params.noise_tracking_s
            }
        };
        if resting {
            self.track_noise(var);
        }
        let still_limit = (self.params.stable_sigmas * self.sigma).max(self.params.stable_floor_g);
        let still = var <= still_limit * still_limit;
        // Settled: the low-passed window is still (shelf vibration averages
        // out in it, a hand does not).
        let settle_limit = (self.params.settle_sigmas * self.sigma).max(self.params.settle_floor_g);
        let settled = lp_var <= settle_limit * settle_limit;
        let threshold = self.threshold_g();
        match self.state {
            State::Stable { level } => {
                let trigger = (self.params.trigger_sigmas * self.sigma).max(self.params.trigger_floor_g);
                if !still || (x - level).abs() > trigger || (mean - level).abs() > 0.5 * threshold {
                    self.state = State::Moving(Departure::new(Some(level), t));
                    self.trace.restart(t);
                    self.trace.push(t, x);
                } else {
                    self.state =
                        State::Stable { level: level + (mean - level).clamp(-self.drift_step, self.drift_step) };
                }
                None
            }
            State::Moving(mut dep) => {
                // Warming up there is no level left, and nothing to trace.
                if dep.before.is_some() {
                    self.trace.push(t, x);
                }
                dep.observe(t, mean, settled, 0.5 * threshold, self.win.x.len as u32 / 2);
                // The settled window must lie wholly after the departure.
                self.state = if settled && self.win.oldest_t() >= dep.t_start {
                    let span = Span { n: self.win.x.len as f64, sum: self.win.x.sum };
                    State::Settling { dep, t_end: self.win.oldest_t(), candidate: mean, n: 0, span }
                } else {
                    State::Moving(dep)
                };
                None
            }
            State::Settling { mut dep, t_end, candidate, n, mut span } => {
                if dep.before.is_some() {
                    self.trace.push(t, x);
                }
                // Settled, and the level holds: shelf vibration leaves the
                // mean of a window in place, a hand resting on the plate walks it.
                if !settled || (mean - candidate).abs() > self.walk_limit(threshold) {
                    self.state = State::Moving(dep);
                    return None;
                }
                span.add(x);
                dep.observe(t, mean, settled, 0.5 * threshold, self.win.x.len as u32 / 2);
                if n + 1 < self.confirm_n {
                    self.state = State::Settling { dep, t_end, candidate, n: n + 1, span };
                    return None;
                }
                let after = span.mean();
                self.state = State::Stable { level: after };
                let before = dep.before?;
                let delta = after - before;
                if delta.abs() < threshold {
                    return None;
                }
                let walk = (mean - candidate).abs() / self.walk_limit(threshold);
                let confidence = confidence(delta, threshold, lp_var.sqrt() / settle_limit, walk);
                let t_start = dep.t_start.max(dep.t_left);
                Some(PlateChange {
                    plate: self.plate,
                    t_start,
                    t_end: t_end.max(t_start),
                    before_g: before + self.offset,
                    after_g: after + self.offset,
                    delta_g: delta,
                    confidence,
                    trace: self.trace.relative_to(before),
                })
            }
        }
    }

    /// How far the level may walk while a new state is confirmed.
    fn walk_limit(&self, threshold: f64) -> f64 {
        (self.params.confirm_walk_sigmas * self.sigma).max(2.0 * self.params.stable_floor_g).min(0.5 * threshold)
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
/// - how quiet the new state is at the end of confirmation:
///   1 - (r_settle² + r_walk²) / 4, in 0.5..1, where r_settle is the
///   low-passed window's standard deviation and r_walk the level's walk,
///   each over its limit (a plate at rest: both well under 0.5, > 0.9).
fn confidence(delta: f64, threshold: f64, r_settle: f64, r_walk: f64) -> f64 {
    let clear = 1.0 / (1.0 + (-4.0 * (delta.abs() / threshold - 1.25)).exp());
    let quiet = 1.0 - 0.25 * (r_settle.clamp(0.0, 1.0).powi(2) + r_walk.clamp(0.0, 1.0).powi(2));
    (clear * quiet).clamp(0.0, 1.0)
}

/// Each invalid field replaced by its default, so `new` never panics.
pub(super) fn sanitized(p: DetectorParams) -> DetectorParams {
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
        settle_sigmas: pos(p.settle_sigmas, d.settle_sigmas),
        settle_floor_g: nonneg(p.settle_floor_g, d.settle_floor_g),
        trigger_sigmas: pos(p.trigger_sigmas, d.trigger_sigmas),
        trigger_floor_g: nonneg(p.trigger_floor_g, d.trigger_floor_g),
        confirm_walk_sigmas: pos(p.confirm_walk_sigmas, d.confirm_walk_sigmas),
        max_drift_g_per_s: pos(p.max_drift_g_per_s, d.max_drift_g_per_s),
        change_sigmas: pos(p.change_sigmas, d.change_sigmas),
        min_change_g: pos(p.min_change_g, d.min_change_g),
        max_reorder_s: nonneg(p.max_reorder_s, d.max_reorder_s),
        merge_window_s: nonneg(p.merge_window_s, d.merge_window_s),
        merge_hold_s: nonneg(p.merge_hold_s, d.merge_hold_s),
        merge_max_hold_s: nonneg(p.merge_max_hold_s, d.merge_max_hold_s),
    };
    if q.noise_min_g > q.noise_max_g {
        (q.noise_min_g, q.noise_max_g) = (d.noise_min_g, d.noise_max_g);
    }
    q.merge_hold_s = q.merge_hold_s.max(q.merge_window_s + q.window_s + q.confirm_s);
    q.merge_max_hold_s = q.merge_max_hold_s.max(q.merge_hold_s);
    q
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
        assert!(c.confidence > 0.8 && c.confidence <= 1.0, "{c:?}");
        assert_eq!(d.phase(), Phase::Stable);
        assert!((d.stable_weight().unwrap() - 1110.0).abs() < 1.0);
        // The level it passed through, from its first restless sample (part
        // of the way down a 0.15 s step) to the new level, 0.1 s apart.
        let (first, last) = (c.trace[0], c.trace[c.trace.len() - 1]);
        assert!(first[0] <= c.t_start + 0.1 && last[0] >= c.t_end, "{:?}", c.trace);
        assert!(first[1] < 5.0 && first[1] > -80.0 && (last[1] + 90.0).abs() < 5.0, "{:?}", c.trace);
        assert!(c.trace.windows(2).all(|w| (w[1][0] - w[0][0] - 0.1).abs() < 1e-6), "{:?}", c.trace);
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
}
