//! The load-cell noise model of the shelf plates, and synthetic plate
//! streams drawn from it. Pure and seeded: the same seed gives the same
//! samples, bit for bit.
//!
//! Two halves, kept apart on purpose:
//! - [`QuietNoise`] is *fitted* ([`fit`]) to the 202 real AiFi plates of
//!   test 1 (60 Hz, 33.6 s each, no pick or put-back on them): per-plate noise
//!   level, heavy-tailed and correlated per-sample noise, the ADC step, slow
//!   drift, and the shelf shakes (touches, leans, neighbouring picks and
//!   footsteps make every plate ring at ~16 Hz for a fraction of a second);
//! - [`MotionModel`] is *assumed*: what a hand does during a pick, a put-back
//!   or a touch, and how a plate rings after the weight moves. Quiet data
//!   cannot show it; its parameters are physically plausible and documented.
//!
//! Fitting is indirect inference: the statistics of [`measure`] are computed
//! on the real plates, then on synthetic plates from the current parameters,
//! and each parameter is corrected by the mismatch of its statistic, a few
//! rounds. The same measurement applied to real and synthetic plates is what
//! makes them comparable. Values and method: `docs/noise-model.md`.

use super::Sample;
use crate::ids::PlateId;
use rand::rngs::{StdRng, Xoshiro256PlusPlus};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::f64::consts::PI;

/// Samples per measurement block (0.25 s at 60 Hz).
pub const BLOCK: usize = 15;
/// The start of the AiFi test-1 recording (unix s): the default time origin of synthetic streams.
pub const AIFI_T0: f64 = 1_580_250_245.0;

/// The whole model: fitted quiet noise plus assumed hand motion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseModel {
    pub quiet: QuietNoise,
    pub motion: MotionModel,
}

/// What an untouched plate does; every field is fitted by [`fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietNoise {
    /// Sample rate of the data it was fitted on (Hz); the per-sample parameters hold at this rate.
    pub sample_rate_hz: f64,
    /// ADC step (g): readings are multiples of it.
    pub quantum_g: f64,
    /// Per-plate noise σ (g, marginal standard deviation) is log-normal across plates: mean of ln σ.
    pub sigma_ln_mean: f64,
    /// ... and standard deviation of ln σ.
    pub sigma_ln_sd: f64,
    /// Degrees of freedom of the Student-t innovations (heavier tails than Gaussian).
    pub student_nu: f64,
    /// MA(2) coefficients: noise_k = e_k + ma[0]·e_(k-1) + ma[1]·e_(k-2) (negative: the noise alternates).
    pub ma: [f64; 2],
    /// Per-plate linear drift is Laplace-distributed with this scale (g/min).
    pub drift_g_per_min: f64,
    /// Shakes per plate-second.
    pub shake_rate_hz: f64,
    /// Shake peak amplitude relative to the plate's σ is log-normal: mean of ln(peak/σ).
    pub shake_amp_ln_mean: f64,
    pub shake_amp_ln_sd: f64,
    /// Shake duration (s) is log-normal: mean and sd of ln(duration).
    pub shake_dur_ln_mean: f64,
    pub shake_dur_ln_sd: f64,
    /// ... capped at the longest episode seen (s): the log-normal's tail is
    /// fitted to the bulk and would otherwise invent shakes longer than any real one.
    pub shake_dur_max_s: f64,
    /// Oscillation frequency of a shake (Hz, as seen at the sample rate): mean and sd.
    pub shake_freq_hz: f64,
    pub shake_freq_sd_hz: f64,
    /// A shake's non-oscillating push, as a fraction of its amplitude: sd (mean 0).
    pub shake_offset_sd: f64,
    /// Fraction of the plates that read a constant or nearly so (dead or absent plates). Informative only.
    pub dead_fraction: f64,
}

/// What a hand does to a plate. ASSUMED, not fitted (the quiet data has no
/// picks): ranges are uniform; see `docs/noise-model.md` for the reasoning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionModel {
    /// Time from the hand reaching the product to the weight moving (s).
    pub hold_s: [f64; 2],
    /// Extra force of the hand while holding (g), pressing down with
    /// probability `press_down_p`; otherwise up to half of Δ moves early
    /// (an item lifted at one end, or set down before it is let go).
    pub press_g: [f64; 2],
    pub press_down_p: f64,
    /// Physiological tremor (8-12 Hz, modelled as noise correlated over
    /// `tremor_corr_s`): σ = max(floor, frac × (|press| + |Δ|)).
    pub tremor_frac: f64,
    pub tremor_floor_g: f64,
    pub tremor_corr_s: f64,
    /// Slow wander of the hand's force (nobody holds a force steady without
    /// feedback): σ = max(floor, frac × (|press| + |Δ|)), correlated over `wander_corr_s`.
    pub wander_frac: f64,
    pub wander_floor_g: f64,
    pub wander_corr_s: f64,
    /// Duration of the weight transfer itself (s).
    pub lift_s: [f64; 2],
    /// Ringing when the hand lands (amplitude a fraction of |press|) and when
    /// it lets go (of |Δ| + |press|): frequency (Hz) and exponential decay time (s).
    pub ring_frac: [f64; 2],
    pub ring_freq_hz: [f64; 2],
    pub ring_decay_s: [f64; 2],
    /// A touch (a scripted change with Δ = 0, or a random touch): force (g) and duration (s).
    pub touch_g: [f64; 2],
    pub touch_hold_s: [f64; 2],
    /// Fraction of a hand's vibration (tremor and ringing; not its steady
    /// force, not Δ) felt by a plate one position away; squared two away;
    /// nothing further.
    pub neighbour_coupling: f64,
}

impl Default for MotionModel {
    fn default() -> Self {
        Self {
            hold_s: [0.3, 1.2],
            press_g: [5.0, 120.0],
            press_down_p: 0.7,
            tremor_frac: 0.02,
            tremor_floor_g: 1.5,
            tremor_corr_s: 0.02,
            wander_frac: 0.08,
            wander_floor_g: 3.0,
            wander_corr_s: 0.3,
            lift_s: [0.08, 0.3],
            ring_frac: [0.1, 0.4],
            ring_freq_hz: [6.0, 14.0],
            ring_decay_s: [0.1, 0.25],
            touch_g: [50.0, 500.0],
            touch_hold_s: [0.2, 3.0],
            neighbour_coupling: 0.2,
        }
    }
}

impl NoiseModel {
    /// The model fitted to `cps-test-01` (`fit` on the 202 real plates; the
    /// test `tests/shelf_real_plates.rs` re-fits and compares), with the
    /// assumed [`MotionModel::default`]. Values: `docs/noise-model.md`.
    pub fn fitted() -> Self {
        Self {
            quiet: QuietNoise {
                sample_rate_hz: 60.0,
                quantum_g: 0.241,
                sigma_ln_mean: -0.4312,
                sigma_ln_sd: 0.3558,
                student_nu: 8.2704,
                ma: [-0.2019, -0.2258],
                drift_g_per_min: 0.236,
                shake_rate_hz: 0.1642,
                shake_amp_ln_mean: 1.9787,
                shake_amp_ln_sd: 0.5815,
                shake_dur_ln_mean: -0.5511,
                shake_dur_ln_sd: 1.1455,
                shake_dur_max_s: 2.75,
                shake_freq_hz: 16.707,
                shake_freq_sd_hz: 5.3621,
                shake_offset_sd: 0.0672,
                dead_fraction: 0.1683,
            },
            motion: MotionModel::default(),
        }
    }
}

/// A scripted hand action on one plate: at `t` (s after the stream starts)
/// a hand reaches the plate; the weight then changes by `delta_g` (negative:
/// pick, positive: put-back, 0: a touch that leaves nothing). Actions with
/// the same `t` on neighbouring plates share one hand's timing (one product
/// spanning plates).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptedChange {
    pub t: f64,
    pub delta_g: f64,
}

/// One plate of a synthetic shelf.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PlateSpec {
    /// Weight at the start (g).
    pub base_g: f64,
    /// Noise σ (g); None: drawn from the fitted spread across plates.
    pub sigma_g: Option<f64>,
    /// Linear drift (g/min); None: drawn from the fitted distribution.
    pub drift_g_per_min: Option<f64>,
    pub changes: Vec<ScriptedChange>,
}

impl PlateSpec {
    pub fn new(base_g: f64) -> Self {
        Self { base_g, ..Self::default() }
    }

    pub fn with_changes(mut self, changes: Vec<ScriptedChange>) -> Self {
        self.changes = changes;
        self
    }
}

/// Timing and seed of a synthetic stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamSpec {
    pub seed: u64,
    /// Unix time of the first sample.
    pub t0: f64,
    pub sample_rate_hz: f64,
    pub duration_s: f64,
    /// Multiplies the fitted shake rate (1: as the real store; 0: no shakes).
    pub shake_rate_scale: f64,
    /// Random touches (no net change, assumed [`MotionModel::touch_g`]) per plate-second.
    pub touch_rate_hz: f64,
}

impl StreamSpec {
    /// `duration_s` at 60 Hz from [`AIFI_T0`], shakes as fitted, no random touches.
    pub fn new(seed: u64, duration_s: f64) -> Self {
        Self { seed, t0: AIFI_T0, sample_rate_hz: 60.0, duration_s, shake_rate_scale: 1.0, touch_rate_hz: 0.0 }
    }
}

/// The generator behind every stream: xoshiro256++ seeded from a `StdRng`.
/// A portable, named algorithm (same numbers on every platform and rand
/// release), and ~15x cheaper per draw than ChaCha in the unoptimised test profile.
type Rng64 = Xoshiro256PlusPlus;

/// Independent, reproducible random streams: one per (seed, purpose, index).
fn rng_for(seed: u64, purpose: u64, index: u64) -> Rng64 {
    let mut z = seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    // splitmix64 finaliser
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Rng64::from_rng(&mut StdRng::seed_from_u64(z ^ (z >> 31)))
}

fn uniform(rng: &mut Rng64, range: [f64; 2]) -> f64 {
    range[0] + (range[1] - range[0]) * rng.random::<f64>()
}

fn normal(rng: &mut Rng64) -> f64 {
    StandardNormal.sample(rng)
}

/// 0 -> 0, 1 -> 1, flat at both ends.
fn smoothstep(u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    u * u * (3.0 - 2.0 * u)
}

/// Poisson event times in [0, duration) at `rate` per second.
fn poisson_times(rng: &mut Rng64, rate: f64, duration: f64) -> Vec<f64> {
    let mut out = Vec::new();
    if !(rate > 0.0 && rate.is_finite() && duration.is_finite()) {
        return out;
    }
    let mut t = 0.0;
    loop {
        t += -(1.0 - rng.random::<f64>()).ln() / rate;
        if t >= duration {
            return out;
        }
        out.push(t);
    }
}

/// Student-t sampler written out (Box-Muller normals, Marsaglia-Tsang
/// gamma): the generic `rand_distr` one is several times slower in the
/// unoptimised test profile, and streams are long.
struct FastStudentT {
    nu: f64,
    d: f64,
    c: f64,
    spare: Option<f64>,
}

impl FastStudentT {
    fn new(nu: f64) -> Self {
        let nu = if nu.is_finite() { nu.max(2.1) } else { 8.0 };
        // Gamma(nu/2) by Marsaglia-Tsang; nu/2 > 1 always here.
        let d = nu / 2.0 - 1.0 / 3.0;
        Self { nu, d, c: 1.0 / (9.0 * d).sqrt(), spare: None }
    }

    fn variance(&self) -> f64 {
        self.nu / (self.nu - 2.0)
    }

    fn normal(&mut self, rng: &mut Rng64) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (2.0 * PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }

    fn sample(&mut self, rng: &mut Rng64) -> f64 {
        let z = self.normal(rng);
        let gamma = loop {
            let x = self.normal(rng);
            let v = 1.0 + self.c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = rng.random::<f64>();
            if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + self.d * (1.0 - v + v.ln()) {
                break self.d * v;
            }
        };
        // chi²_nu = 2·Gamma(nu/2)
        z / (2.0 * gamma / self.nu).sqrt()
    }
}

/// A shelf-wide shake: when, how long, how fast; each plate draws its own amplitude.
struct Shake {
    t: f64,
    dur: f64,
    freq: f64,
}

impl NoiseModel {
    /// One plate's stream: noise, drift, shakes, and the scripted changes
    /// with their hand transients. Deterministic for `spec.seed`.
    pub fn plate_stream(&self, spec: &StreamSpec, plate: &PlateSpec) -> Vec<Sample> {
        self.shelf_streams(spec, std::slice::from_ref(plate)).pop().unwrap_or_default()
    }

    /// Streams of adjacent plates of one shelf, in order. Shakes hit the
    /// whole shelf at once (each plate with its own amplitude, as in the
    /// real data), and each hand's transient reaches the neighbours scaled by
    /// [`MotionModel::neighbour_coupling`] per plate of distance.
    pub fn shelf_streams(&self, spec: &StreamSpec, plates: &[PlateSpec]) -> Vec<Vec<Sample>> {
        let rate = if spec.sample_rate_hz > 0.0 { spec.sample_rate_hz } else { 60.0 };
        let n = if spec.duration_s > 0.0 { (spec.duration_s * rate).round() as usize } else { 0 };
        let q = &self.quiet;
        let mut shake_rng = rng_for(spec.seed, 1, 0);
        let shakes: Vec<Shake> =
            poisson_times(&mut shake_rng, q.shake_rate_hz * spec.shake_rate_scale, spec.duration_s)
                .into_iter()
                .map(|t| Shake {
                    t,
                    dur: (q.shake_dur_ln_mean + q.shake_dur_ln_sd * normal(&mut shake_rng))
                        .exp()
                        .min(q.shake_dur_max_s),
                    freq: (q.shake_freq_hz + q.shake_freq_sd_hz * normal(&mut shake_rng)).clamp(1.0, rate * 0.49),
                })
                .collect();
        let mut values: Vec<Vec<f64>> = Vec::with_capacity(plates.len());
        let mut hands: Vec<Vec<f64>> = vec![vec![0.0; n]; plates.len()];
        for (i, plate) in plates.iter().enumerate() {
            let mut rng = rng_for(spec.seed, 2, i as u64);
            let sigma = plate.sigma_g.unwrap_or_else(|| (q.sigma_ln_mean + q.sigma_ln_sd * normal(&mut rng)).exp());
            let drift = plate.drift_g_per_min.unwrap_or_else(|| {
                let e = -(1.0 - rng.random::<f64>()).ln();
                if rng.random::<bool>() { e * q.drift_g_per_min } else { -e * q.drift_g_per_min }
            });
            let mut v = self.quiet_noise(&mut rng, n, sigma);
            for (k, x) in v.iter_mut().enumerate() {
                *x += plate.base_g + drift * k as f64 / rate / 60.0;
            }
            for s in &shakes {
                let amp = sigma * (q.shake_amp_ln_mean + q.shake_amp_ln_sd * normal(&mut rng)).exp();
                let offset = q.shake_offset_sd * normal(&mut rng);
                let phase = 2.0 * PI * rng.random::<f64>();
                add_shake(&mut v, rate, s, amp, offset, phase);
            }
            let mut hand_rng = rng_for(spec.seed, 3, i as u64);
            for c in &plate.changes {
                self.add_hand(&mut v, &mut hands[i], rate, spec.seed, &mut hand_rng, c.t, c.delta_g);
            }
            for t in poisson_times(&mut hand_rng, spec.touch_rate_hz, spec.duration_s) {
                self.add_hand(&mut v, &mut hands[i], rate, spec.seed ^ 0x5555, &mut hand_rng, t, 0.0);
            }
            values.push(v);
        }
        let c = self.motion.neighbour_coupling;
        for (i, v) in values.iter_mut().enumerate() {
            for (j, hand) in hands.iter().enumerate() {
                let k = match i.abs_diff(j) {
                    1 => c,
                    2 => c * c,
                    _ => continue,
                };
                v.iter_mut().zip(hand).for_each(|(x, h)| *x += k * h);
            }
        }
        let quantum = q.quantum_g;
        values
            .into_iter()
            .map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(k, x)| Sample {
                        t: spec.t0 + k as f64 / rate,
                        grams: if quantum > 0.0 { (x / quantum).round() * quantum } else { x },
                    })
                    .collect()
            })
            .collect()
    }

    /// `n` samples of zero-mean noise of marginal σ `sigma`: Student-t
    /// innovations through the MA(2) filter.
    fn quiet_noise(&self, rng: &mut Rng64, n: usize, sigma: f64) -> Vec<f64> {
        let q = &self.quiet;
        let mut t = FastStudentT::new(q.student_nu);
        let [a, b] = q.ma;
        // Unit marginal variance: Var(t_nu) = nu/(nu-2); the filter multiplies it by 1+a²+b².
        let scale = sigma / (t.variance() * (1.0 + a * a + b * b)).sqrt();
        let (mut e1, mut e2) = (0.0, 0.0);
        (0..n)
            .map(|_| {
                let e = t.sample(rng);
                let x = scale * (e + a * e1 + b * e2);
                (e2, e1) = (e1, e);
                x
            })
            .collect()
    }

    /// Adds one hand action at `t0` (s) to `v` (the plate) and its vibration
    /// to `hand` (what the neighbours feel). The timing and force are drawn
    /// from (`seed`, `t0`) so that actions at the same instant on
    /// neighbouring plates are one hand; tremor and wander are the plate's own.
    ///
    /// Shape: the hand lands (force `press` ramps in over 0.1 s, a ring of a
    /// fraction of it), holds `hold` s with tremor and wandering force, the
    /// weight moves by Δ over `lift` s while the force goes, and the plate
    /// rings down (decaying sine, first swing beyond the new level).
    #[allow(clippy::too_many_arguments)]
    fn add_hand(&self, v: &mut [f64], hand: &mut [f64], rate: f64, seed: u64, rng: &mut Rng64, t0: f64, delta: f64) {
        let m = &self.motion;
        let mut shared = rng_for(seed, 4, t0.to_bits());
        let touch = delta == 0.0;
        let hold = uniform(&mut shared, if touch { m.touch_hold_s } else { m.hold_s });
        let mut press = uniform(&mut shared, if touch { m.touch_g } else { m.press_g });
        if !touch && shared.random::<f64>() > m.press_down_p {
            // Part of the weight moves early (an item lifted at one end, or
            // set down before it is let go): up to half of Δ.
            press = press.min(0.5 * delta.abs()).copysign(delta);
        }
        let lift = uniform(&mut shared, m.lift_s);
        let land = uniform(&mut shared, m.ring_frac) * press.abs();
        let release = uniform(&mut shared, m.ring_frac) * (delta.abs() + press.abs());
        let freq = uniform(&mut shared, m.ring_freq_hz);
        let decay = uniform(&mut shared, m.ring_decay_s);
        let force = press.abs() + delta.abs();
        let ar = |corr_s: f64, sd: f64| {
            let a = (-1.0 / (corr_s * rate).max(1e-9)).exp();
            (a, (1.0 - a * a).sqrt() * sd)
        };
        let (ta, ts) = ar(m.tremor_corr_s, m.tremor_floor_g.max(m.tremor_frac * force));
        let (wa, ws) = ar(m.wander_corr_s, m.wander_floor_g.max(m.wander_frac * force));
        let ring = |after: f64, amp: f64| {
            if after > 0.0 { amp * (-after / decay).exp() * (2.0 * PI * freq * after).sin() } else { 0.0 }
        };
        let sign = if delta < 0.0 { -1.0 } else { 1.0 };
        let end = t0 + hold + lift + 6.0 * decay;
        let first = (t0 * rate).ceil().max(0.0) as usize;
        let (mut tremor, mut wander) = (0.0, 0.0);
        for k in first..v.len() {
            let tk = k as f64 / rate;
            let u = tk - t0;
            let on = smoothstep(u / 0.1) * (1.0 - smoothstep((u - hold) / lift));
            tremor = ta * tremor + ts * normal(rng);
            wander = wa * wander + ws * normal(rng);
            let vibration = on * tremor + ring(u, land) + sign * ring(u - hold - lift, release);
            v[k] += on * (press + wander) + vibration + delta * smoothstep((u - hold) / lift);
            hand[k] += vibration;
            if tk > end {
                // Past the end the weight stays moved; the rest of the plate only needs Δ.
                v[k + 1..].iter_mut().for_each(|x| *x += delta);
                break;
            }
        }
    }
}

/// A shake: `amp` × Hann envelope × (oscillation + `offset`).
fn add_shake(v: &mut [f64], rate: f64, s: &Shake, amp: f64, offset: f64, phase: f64) {
    let first = (s.t * rate).ceil() as usize;
    let last = (((s.t + s.dur) * rate).floor() as usize).min(v.len().saturating_sub(1));
    for (k, x) in v.iter_mut().enumerate().take(last + 1).skip(first) {
        let u = (k as f64 / rate - s.t) / s.dur;
        let env = (PI * u).sin().powi(2);
        *x += amp * env * ((2.0 * PI * s.freq * u * s.dur + phase).sin() + offset);
    }
}

/// A transient episode found by [`episodes`]: a run of restless blocks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Unix time of its first sample.
    pub t: f64,
    pub duration_s: f64,
    /// Largest |reading - baseline| (g); the baseline is the median level of the quiet blocks around it.
    pub peak_g: f64,
    /// `peak_g` over the plate's noise σ (median block standard deviation).
    pub peak_rel: f64,
    /// Mean of (reading - baseline) over the episode, over its rms: the non-oscillating push.
    pub offset_rel: f64,
    /// Zero crossings of (reading - baseline) per second / 2.
    pub freq_hz: f64,
}

/// Per-block (`BLOCK` samples) mean and standard deviation.
fn blocks(g: &[f64]) -> Vec<(f64, f64)> {
    g.chunks_exact(BLOCK)
        .map(|b| {
            let m = b.iter().sum::<f64>() / BLOCK as f64;
            let v = b.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (BLOCK - 1) as f64;
            (m, v.sqrt())
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

/// Robust standard deviation: inter-quartile range / 1.349.
fn robust_sd(v: &mut [f64]) -> f64 {
    if v.len() < 4 {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.75) - q(0.25)) / 1.349
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt())
}

/// The plate's noise σ: median standard deviation of its blocks.
pub fn block_sigma(samples: &[Sample]) -> f64 {
    let g: Vec<f64> = samples.iter().map(|s| s.grams).collect();
    median(&mut blocks(&g).into_iter().map(|b| b.1).collect::<Vec<_>>())
}

/// Readings minus their block mean, in blocks no more restless than twice
/// the plate's σ: the per-sample noise without shakes or drift (g).
pub fn quiet_residuals(samples: &[Sample]) -> Vec<f64> {
    let g: Vec<f64> = samples.iter().map(|s| s.grams).collect();
    let b = blocks(&g);
    let sigma = median(&mut b.iter().map(|b| b.1).collect::<Vec<_>>());
    g.chunks_exact(BLOCK)
        .zip(&b)
        .filter(|(_, (_, sd))| *sd <= 2.0 * sigma)
        .flat_map(|(c, (m, _))| c.iter().map(move |x| x - m))
        .collect()
}

/// The transient episodes of one plate: runs of blocks whose standard
/// deviation exceeds 3 σ (σ = median block sd, at least 0.1 g), a one-block
/// gap bridged.
pub fn episodes(samples: &[Sample]) -> Vec<Episode> {
    let g: Vec<f64> = samples.iter().map(|s| s.grams).collect();
    let b = blocks(&g);
    let sigma = median(&mut b.iter().map(|b| b.1).collect::<Vec<_>>());
    episodes_in(samples, &g, &b, sigma)
}

fn episodes_in(samples: &[Sample], g: &[f64], b: &[(f64, f64)], sigma: f64) -> Vec<Episode> {
    let nb = b.len();
    if nb < 2 {
        return Vec::new();
    }
    let sigma = sigma.max(0.1);
    let span = samples[nb * BLOCK - 1].t - samples[0].t;
    let rate = if span > 0.0 { (nb * BLOCK - 1) as f64 / span } else { 60.0 };
    let flag: Vec<bool> = b.iter().map(|(_, sd)| *sd > 3.0 * sigma).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < nb {
        if !flag[i] {
            i += 1;
            continue;
        }
        let mut e = i;
        while e + 1 < nb && (flag[e + 1] || (e + 2 < nb && flag[e + 2])) {
            e += 1;
        }
        let around = (i.saturating_sub(4)..i).chain(e + 1..(e + 5).min(nb)).filter(|&j| !flag[j]).map(|j| b[j].0);
        let mut around: Vec<f64> = around.collect();
        let base = if around.is_empty() { b[i].0 } else { median(&mut around) };
        let seg = &g[i * BLOCK..(e + 1) * BLOCK];
        let (mut peak, mut sum, mut sumsq, mut crossings) = (0.0f64, 0.0, 0.0, 0usize);
        for (k, x) in seg.iter().enumerate() {
            let d = x - base;
            peak = peak.max(d.abs());
            sum += d;
            sumsq += d * d;
            if k > 0 && (seg[k - 1] - base > 0.0) != (d > 0.0) {
                crossings += 1;
            }
        }
        let n = seg.len() as f64;
        let rms = (sumsq / n).sqrt();
        let duration_s = n / rate;
        out.push(Episode {
            t: samples[i * BLOCK].t,
            duration_s,
            peak_g: peak,
            peak_rel: peak / sigma,
            offset_rel: if rms > 0.0 { sum / n / rms } else { 0.0 },
            freq_hz: crossings as f64 / (2.0 * duration_s),
        });
        i = e + 1;
    }
    out
}

/// The statistics [`fit`] matches, measured on a set of plates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateSetStats {
    /// Plates measured (live), and left out as dead (at least half of their blocks read constant).
    pub plates: usize,
    pub dead: usize,
    /// Live plate-seconds.
    pub seconds: f64,
    /// Median over plates of the smallest non-zero step between consecutive readings (g).
    pub quantum_g: f64,
    /// Mean and sd over plates of ln(block σ).
    pub sigma_ln_mean: f64,
    pub sigma_ln_sd: f64,
    /// Kurtosis of quiet residuals / σ (3 for Gaussian), and their lag-1 and lag-2 autocorrelation.
    pub kurtosis: f64,
    pub rho: [f64; 2],
    /// Mean over plates of |slope| of the quiet block means (g/min).
    pub drift_abs_g_per_min: f64,
    /// Episodes per live plate-second.
    pub episode_rate_hz: f64,
    /// Mean and sd of ln(peak / σ), of ln(duration_s); median and robust sd of frequency; robust sd of offset.
    pub amp_ln_mean: f64,
    pub amp_ln_sd: f64,
    pub dur_ln_mean: f64,
    pub dur_ln_sd: f64,
    /// Longest episode (s).
    pub dur_max_s: f64,
    pub freq_hz: f64,
    pub freq_sd_hz: f64,
    pub offset_sd: f64,
}

/// Measures a set of plates (each a stream of one plate in time order).
pub fn measure<'a>(plates: impl IntoIterator<Item = &'a [Sample]>) -> PlateSetStats {
    let (mut live, mut dead, mut seconds) = (0usize, 0usize, 0.0);
    let (mut quanta, mut ln_sigma, mut drifts, mut eps) = (vec![], vec![], vec![], vec![]);
    let (mut nres, mut m2, mut m4, mut c1, mut c2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for samples in plates {
        if samples.len() < 4 * BLOCK {
            continue;
        }
        let g: Vec<f64> = samples.iter().map(|s| s.grams).collect();
        let b = blocks(&g);
        let sigma = median(&mut b.iter().map(|b| b.1).collect::<Vec<_>>());
        if sigma.is_nan() || sigma <= 0.0 {
            dead += 1;
            continue;
        }
        live += 1;
        seconds += samples[samples.len() - 1].t - samples[0].t;
        quanta.push(g.windows(2).map(|w| (w[1] - w[0]).abs()).filter(|d| *d > 0.0).fold(f64::INFINITY, f64::min));
        ln_sigma.push(sigma.ln());
        let (mut tq, mut mq) = (vec![], vec![]);
        for (k, (c, (m, sd))) in g.chunks_exact(BLOCK).zip(&b).enumerate() {
            if *sd > 2.0 * sigma {
                continue;
            }
            let r: Vec<f64> = c.iter().map(|x| (x - m) / sigma).collect();
            nres += r.len() as f64;
            m2 += r.iter().map(|z| z * z).sum::<f64>();
            m4 += r.iter().map(|z| z.powi(4)).sum::<f64>();
            c1 += r.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
            c2 += r.windows(3).map(|w| w[0] * w[2]).sum::<f64>();
            tq.push(samples[k * BLOCK + BLOCK / 2].t - samples[0].t);
            mq.push(*m);
        }
        if tq.len() >= 3 {
            let (mt, mm) = (mean_sd(&tq).0, mean_sd(&mq).0);
            let sxx: f64 = tq.iter().map(|t| (t - mt) * (t - mt)).sum();
            let sxy: f64 = tq.iter().zip(&mq).map(|(t, m)| (t - mt) * (m - mm)).sum();
            if sxx > 0.0 {
                drifts.push((sxy / sxx * 60.0).abs());
            }
        }
        eps.extend(episodes_in(samples, &g, &b, sigma));
    }
    let m2 = m2.max(1e-300);
    let count = |v: &[f64]| v.len().max(1) as f64;
    let amp: Vec<f64> = eps.iter().map(|e| e.peak_rel.ln()).collect();
    let dur: Vec<f64> = eps.iter().map(|e| e.duration_s.ln()).collect();
    let (amp_ln_mean, amp_ln_sd) = mean_sd(&amp);
    let (dur_ln_mean, dur_ln_sd) = mean_sd(&dur);
    let mut freq: Vec<f64> = eps.iter().map(|e| e.freq_hz).collect();
    let mut offset: Vec<f64> = eps.iter().map(|e| e.offset_rel).collect();
    PlateSetStats {
        plates: live,
        dead,
        seconds,
        quantum_g: median(&mut quanta),
        sigma_ln_mean: mean_sd(&ln_sigma).0,
        sigma_ln_sd: mean_sd(&ln_sigma).1,
        kurtosis: m4 * nres / (m2 * m2),
        rho: [c1 / m2, c2 / m2],
        drift_abs_g_per_min: drifts.iter().sum::<f64>() / count(&drifts),
        episode_rate_hz: eps.len() as f64 / seconds.max(1e-9),
        amp_ln_mean,
        amp_ln_sd,
        dur_ln_mean,
        dur_ln_sd,
        dur_max_s: eps.iter().map(|e| e.duration_s).fold(0.0, f64::max),
        freq_hz: median(&mut freq),
        freq_sd_hz: robust_sd(&mut freq),
        offset_sd: robust_sd(&mut offset),
    }
}

/// The standard normal quantile function (Acklam's rational approximation,
/// relative error below 1.2e-9), for `p` in (0, 1).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_968_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -54.476_098_798_224_06,
        161.585_836_858_040_9,
        -155.698_979_859_886_6,
        66.801_311_887_719_72,
        -13.280_681_552_885_72,
    ];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [0.007_784_695_709_041_462, 0.322_467_129_070_039_8, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Rounds of indirect inference in [`fit`], and synthetic plates per real plate in each.
const FIT_ROUNDS: usize = 5;
const FIT_REPLICAS: usize = 3;

/// ν of a Student-t whose kurtosis is `kurtosis` (3 + 6/(ν-4)), kept in 4.5..200.
fn nu_from_kurtosis(kurtosis: f64) -> f64 {
    (4.0 + 6.0 / (kurtosis - 3.0).max(0.03)).clamp(4.5, 200.0)
}

/// MA(2) coefficients with lag-1 and lag-2 autocorrelations `rho`.
fn ma_from_rho(rho: [f64; 2]) -> [f64; 2] {
    let (mut a, mut b) = (0.0f64, 0.0f64);
    for _ in 0..200 {
        let d = 1.0 + a * a + b * b;
        b = (rho[1] * d).clamp(-0.9, 0.9);
        a = (rho[0] * d / (1.0 + b)).clamp(-0.9, 0.9);
    }
    [a, b]
}

/// `a / b` when both are usable, else 1; kept in 0.5..2 so one round cannot run away.
fn ratio(a: f64, b: f64) -> f64 {
    if a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0 { (a / b).clamp(0.5, 2.0) } else { 1.0 }
}

fn finite_or(v: f64, fallback: f64) -> f64 {
    if v.is_finite() { v } else { fallback }
}

impl NoiseModel {
    /// `count` quiet plates of `duration_s` (no hands); plate `i` uses seed
    /// `seed + i`. Their noise levels are the `count` evenly spaced quantiles
    /// of the fitted spread (stratified, not drawn: a set of plates with the
    /// fitted spread exactly, which keeps the fit free of sampling noise there).
    pub fn quiet_plates(&self, seed: u64, count: usize, duration_s: f64) -> Vec<Vec<Sample>> {
        let q = &self.quiet;
        (0..count)
            .map(|i| {
                let spec = StreamSpec {
                    sample_rate_hz: q.sample_rate_hz,
                    ..StreamSpec::new(seed.wrapping_add(i as u64), duration_s)
                };
                let z = normal_quantile((i as f64 + 0.5) / count as f64);
                let plate =
                    PlateSpec { sigma_g: Some((q.sigma_ln_mean + q.sigma_ln_sd * z).exp()), ..PlateSpec::new(1000.0) };
                self.plate_stream(&spec, &plate)
            })
            .collect()
    }
}

/// Fits the quiet noise to real plates (dead plates are counted and left
/// out); [`MotionModel`] stays the assumed default. Deterministic.
///
/// Starts from the statistics of the real plates taken at face value, then
/// `FIT_ROUNDS` (5) times simulates `FIT_REPLICAS` (3) synthetic plates per
/// real one (same duration), measures them the same way, and moves each
/// parameter by the mismatch of its own statistic (additively for logs and
/// correlations, by ratio for scales).
pub fn fit(plates: &BTreeMap<PlateId, Vec<Sample>>) -> NoiseModel {
    let real = measure(plates.values().map(Vec::as_slice));
    let mut rates: Vec<f64> = plates
        .values()
        .filter(|s| s.len() > 1 && s[s.len() - 1].t > s[0].t)
        .map(|s| (s.len() - 1) as f64 / (s[s.len() - 1].t - s[0].t))
        .collect();
    let rate = (finite_or(median(&mut rates), 60.0) * 10.0).round() / 10.0;
    let duration = if real.plates > 0 { real.seconds / real.plates as f64 } else { 30.0 };
    let mut q = QuietNoise {
        sample_rate_hz: rate,
        quantum_g: (finite_or(real.quantum_g, 0.0) * 1e4).round() / 1e4,
        sigma_ln_mean: finite_or(real.sigma_ln_mean, 0.0),
        sigma_ln_sd: finite_or(real.sigma_ln_sd, 0.3),
        student_nu: nu_from_kurtosis(real.kurtosis),
        ma: ma_from_rho(real.rho),
        drift_g_per_min: finite_or(real.drift_abs_g_per_min, 0.1),
        shake_rate_hz: real.episode_rate_hz,
        shake_amp_ln_mean: finite_or(real.amp_ln_mean, 2.0),
        shake_amp_ln_sd: finite_or(real.amp_ln_sd, 0.4),
        shake_dur_ln_mean: finite_or(real.dur_ln_mean, -0.7),
        shake_dur_ln_sd: finite_or(real.dur_ln_sd, 0.5),
        shake_dur_max_s: if real.dur_max_s > 0.0 { (real.dur_max_s * 100.0).round() / 100.0 } else { 3.0 },
        shake_freq_hz: finite_or(real.freq_hz, 15.0),
        shake_freq_sd_hz: finite_or(real.freq_sd_hz, 4.0),
        shake_offset_sd: finite_or(real.offset_sd, 0.1),
        dead_fraction: real.dead as f64 / (real.plates + real.dead).max(1) as f64,
    };
    let (mut kurtosis, mut rho) = (finite_or(real.kurtosis, 3.0), real.rho);
    for _ in 0..FIT_ROUNDS {
        let model = NoiseModel { quiet: q.clone(), motion: MotionModel::default() };
        let synth = model.quiet_plates(0xF17, FIT_REPLICAS * real.plates.max(1), duration);
        let s = measure(synth.iter().map(Vec::as_slice));
        let diff = |a: f64, b: f64| if a.is_finite() && b.is_finite() { a - b } else { 0.0 };
        q.sigma_ln_mean += diff(real.sigma_ln_mean, s.sigma_ln_mean);
        q.sigma_ln_sd *= ratio(real.sigma_ln_sd, s.sigma_ln_sd);
        kurtosis += diff(real.kurtosis, s.kurtosis);
        q.student_nu = nu_from_kurtosis(kurtosis);
        rho = [rho[0] + diff(real.rho[0], s.rho[0]), rho[1] + diff(real.rho[1], s.rho[1])];
        q.ma = ma_from_rho(rho);
        q.drift_g_per_min = (q.drift_g_per_min * ratio(real.drift_abs_g_per_min, s.drift_abs_g_per_min)).max(1e-3);
        q.shake_rate_hz *= ratio(real.episode_rate_hz, s.episode_rate_hz);
        q.shake_amp_ln_mean += diff(real.amp_ln_mean, s.amp_ln_mean);
        q.shake_amp_ln_sd *= ratio(real.amp_ln_sd, s.amp_ln_sd);
        q.shake_dur_ln_mean += diff(real.dur_ln_mean, s.dur_ln_mean);
        q.shake_dur_ln_sd *= ratio(real.dur_ln_sd, s.dur_ln_sd);
        q.shake_freq_hz *= ratio(real.freq_hz, s.freq_hz);
        q.shake_freq_sd_hz *= ratio(real.freq_sd_hz, s.freq_sd_hz);
        q.shake_offset_sd *= ratio(real.offset_sd, s.offset_sd);
    }
    NoiseModel { quiet: q, motion: MotionModel::default() }
}

/// Two-sample Kolmogorov-Smirnov statistic: the largest gap between the
/// empirical distribution functions of `a` and `b` (0 = same, 1 = disjoint).
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grams(s: &[Sample]) -> Vec<f64> {
        s.iter().map(|s| s.grams).collect()
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn quiet(sigma: f64) -> PlateSpec {
        PlateSpec { sigma_g: Some(sigma), drift_g_per_min: Some(0.0), ..PlateSpec::new(500.0) }
    }

    #[test]
    fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
        let m = NoiseModel::fitted();
        let plate = PlateSpec::new(800.0).with_changes(vec![ScriptedChange { t: 3.0, delta_g: -70.0 }]);
        let spec = StreamSpec { touch_rate_hz: 0.2, ..StreamSpec::new(42, 20.0) };
        let a = m.plate_stream(&spec, &plate);
        assert_eq!(a.len(), 1200);
        assert_eq!(a, m.plate_stream(&spec, &plate));
        let b = m.plate_stream(&StreamSpec { seed: 43, ..spec.clone() }, &plate);
        assert_eq!(a.iter().map(|s| s.t).collect::<Vec<_>>(), b.iter().map(|s| s.t).collect::<Vec<_>>());
        assert!(a.iter().zip(&b).filter(|(x, y)| x.grams != y.grams).count() > 1000);
        assert_eq!(a[0].t, AIFI_T0);
        assert!((a[1].t - a[0].t - 1.0 / 60.0).abs() < 1e-6);
    }

    #[test]
    fn a_quiet_stream_has_the_model_noise_level_correlation_and_adc_step() {
        let m = NoiseModel::fitted();
        let spec = StreamSpec { shake_rate_scale: 0.0, ..StreamSpec::new(1, 600.0) };
        let g = grams(&m.plate_stream(&spec, &quiet(1.5)));
        let mu = mean(&g);
        let var = g.iter().map(|x| (x - mu) * (x - mu)).sum::<f64>() / g.len() as f64;
        assert!((mu - 500.0).abs() < 0.05, "mean {mu}");
        assert!((var.sqrt() - 1.5).abs() < 0.06, "sd {}", var.sqrt());
        let [a, b] = m.quiet.ma;
        let d = 1.0 + a * a + b * b;
        for (lag, want) in [(1, (a + a * b) / d), (2, b / d)] {
            let c = g.windows(lag + 1).map(|w| (w[0] - mu) * (w[lag] - mu)).sum::<f64>() / g.len() as f64 / var;
            assert!((c - want).abs() < 0.03, "lag {lag}: {c} vs {want}");
        }
        let q = m.quiet.quantum_g;
        assert!(g.iter().all(|x| ((x / q) - (x / q).round()).abs() < 1e-6));
        // Student-t innovations: heavier tails than Gaussian, as the real plates.
        let k = g.iter().map(|x| ((x - mu) * (x - mu) / var).powi(2)).sum::<f64>() / g.len() as f64;
        assert!(k > 3.2 && k < 5.0, "kurtosis {k}");
    }

    #[test]
    fn drift_and_shakes_follow_their_parameters() {
        let mut m = NoiseModel::fitted();
        let spec = StreamSpec { shake_rate_scale: 0.0, ..StreamSpec::new(2, 120.0) };
        let plate = PlateSpec { drift_g_per_min: Some(6.0), ..quiet(0.5) };
        let g = grams(&m.plate_stream(&spec, &plate));
        let slope = (mean(&g[g.len() - 600..]) - mean(&g[..600])) / (110.0 / 60.0);
        assert!((slope - 6.0).abs() < 0.2, "slope {slope} g/min");
        // Large, short shakes are all found again by `episodes`.
        m.quiet.shake_amp_ln_mean = 3.0;
        m.quiet.shake_amp_ln_sd = 0.1;
        m.quiet.shake_dur_ln_mean = (0.6f64).ln();
        m.quiet.shake_dur_ln_sd = 0.1;
        let spec = StreamSpec::new(3, 2000.0);
        let s = m.plate_stream(&spec, &quiet(1.0));
        let found = episodes(&s).len() as f64 / 2000.0;
        let want = m.quiet.shake_rate_hz;
        assert!((found / want - 1.0).abs() < 0.2, "{found} vs {want} per s");
        assert!(episodes(&s).iter().all(|e| e.peak_g < 40.0 && e.freq_hz > 1.0));
    }

    #[test]
    fn scripted_changes_move_the_level_and_touches_do_not() {
        let m = NoiseModel::fitted();
        let spec = StreamSpec { shake_rate_scale: 0.0, ..StreamSpec::new(4, 30.0) };
        let plate = quiet(1.0).with_changes(vec![
            ScriptedChange { t: 5.0, delta_g: -90.0 },
            ScriptedChange { t: 12.0, delta_g: 0.0 },
            ScriptedChange { t: 20.0, delta_g: 35.0 },
        ]);
        let g = grams(&m.plate_stream(&spec, &plate));
        let level = |t: f64| mean(&g[(t * 60.0) as usize..(t * 60.0) as usize + 60]);
        assert!((level(1.0) - 500.0).abs() < 0.5);
        assert!((level(10.0) - 410.0).abs() < 0.5, "{}", level(10.0));
        assert!((level(17.0) - 410.0).abs() < 0.5, "{}", level(17.0));
        assert!((level(28.0) - 445.0).abs() < 0.5, "{}", level(28.0));
        // The hand shows: the touch moves the plate by its force while it lasts.
        let touch = g[12 * 60..14 * 60].iter().map(|x| (x - 410.0).abs()).fold(0.0, f64::max);
        assert!(touch > 15.0, "{touch}");
    }

    #[test]
    fn neighbours_feel_the_hand_but_keep_their_weight_and_one_hand_moves_linked_plates_together() {
        let m = NoiseModel::fitted();
        let spec = StreamSpec { shake_rate_scale: 0.0, ..StreamSpec::new(5, 20.0) };
        let pick = |d: f64| vec![ScriptedChange { t: 5.0, delta_g: d }];
        let plates =
            [quiet(1.0), quiet(1.0).with_changes(pick(-200.0)), quiet(1.0).with_changes(pick(-200.0)), quiet(1.0)];
        let s = m.shelf_streams(&spec, &plates);
        assert_eq!(s.len(), 4);
        let g: Vec<Vec<f64>> = s.iter().map(|p| grams(p)).collect();
        let level = |p: usize, t: f64| mean(&g[p][(t * 60.0) as usize..(t * 60.0) as usize + 60]);
        for p in [0, 3] {
            assert!((level(p, 15.0) - level(p, 1.0)).abs() < 0.5);
            let felt = g[p][5 * 60..9 * 60].iter().map(|x| (x - 500.0).abs()).fold(0.0, f64::max);
            assert!(felt > 5.0, "plate {p} felt {felt}");
        }
        // One hand: both moving plates cross half their change at the same moment.
        let half = |p: usize| g[p].iter().position(|x| x - 500.0 < -100.0).unwrap();
        assert!(half(1).abs_diff(half(2)) <= 2, "{} vs {}", half(1), half(2));
        assert!((level(1, 15.0) - 300.0).abs() < 0.5 && (level(2, 15.0) - 300.0).abs() < 0.5);
    }

    #[test]
    fn fitting_synthetic_plates_recovers_their_model() {
        let truth = NoiseModel::fitted();
        let plates: BTreeMap<PlateId, Vec<Sample>> = truth
            .quiet_plates(99, 150, 33.6)
            .into_iter()
            .enumerate()
            .map(|(i, s)| (PlateId::new(1, 1 + (i / 12) as u16, 1 + (i % 12) as u16), s))
            .collect();
        let got = fit(&plates).quiet;
        let t = &truth.quiet;
        assert_eq!(got.quantum_g, t.quantum_g);
        assert_eq!(got.dead_fraction, 0.0);
        assert!((got.sigma_ln_mean - t.sigma_ln_mean).abs() < 0.06, "{got:?}");
        assert!((got.sigma_ln_sd / t.sigma_ln_sd - 1.0).abs() < 0.2, "{got:?}");
        assert!((got.ma[0] - t.ma[0]).abs() < 0.04 && (got.ma[1] - t.ma[1]).abs() < 0.04, "{got:?}");
        assert!((5.0..20.0).contains(&got.student_nu), "{got:?}");
        assert!((got.shake_freq_hz / t.shake_freq_hz - 1.0).abs() < 0.15, "{got:?}");
        // Shake rate and amplitude trade off below the detection limit: compare what is detectable.
        let detectable =
            |q: &QuietNoise| q.shake_rate_hz * (1.0 - normal_cdf((1.6 - q.shake_amp_ln_mean) / q.shake_amp_ln_sd));
        assert!((detectable(&got) / detectable(t) - 1.0).abs() < 0.3, "{got:?}");
    }

    fn normal_cdf(x: f64) -> f64 {
        // Bisection on the quantile function: plenty for a test.
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if normal_quantile(mid) < x { lo = mid } else { hi = mid }
        }
        lo
    }

    #[test]
    fn helpers_behave() {
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.001) + 3.090_232).abs() < 1e-5);
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), 0.0);
        assert_eq!(ks_distance(&[1.0, 2.0], &[5.0, 6.0]), 1.0);
        assert!((ks_distance(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]) - 0.5).abs() < 1e-12);
        let m = ma_from_rho([-0.15, -0.2]);
        let d = 1.0 + m[0] * m[0] + m[1] * m[1];
        assert!(((m[0] + m[0] * m[1]) / d + 0.15).abs() < 1e-6 && (m[1] / d + 0.2).abs() < 1e-6);
        assert!((nu_from_kurtosis(4.0) - 10.0).abs() < 1e-12);
        let model = NoiseModel::fitted();
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<NoiseModel>(&json).unwrap(), model);
        // Degenerate specs give empty or short streams, never a panic.
        assert!(model.plate_stream(&StreamSpec::new(1, 0.0), &PlateSpec::new(1.0)).is_empty());
        assert!(
            model
                .plate_stream(&StreamSpec { duration_s: f64::NAN, ..StreamSpec::new(1, 1.0) }, &PlateSpec::new(1.0))
                .is_empty()
        );
        assert!(episodes(&[]).is_empty());
    }
}
