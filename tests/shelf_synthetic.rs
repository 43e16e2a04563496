//! The shelf detector and merger on synthetic shelves with ground truth:
//! streams from the fitted noise model (`NoiseModel::fitted()`) carrying
//! scripted picks and put-backs, and touches that must report nothing.
//!
//! Each of `SHELVES` shelves has 8 plates:
//!
//! | plate | product |
//! | --- | --- |
//! | 1, 2 | two different products (60-150 g, 60-400 g), side by side, not linked |
//! | 3 | a light product (20-40 g) |
//! | 4, 5, 6 | one product spanning three plates (100-700 g), linked 4-5-6 |
//! | 7 | a heavy product (300-1500 g) |
//! | 8 | a light product (15-40 g), next to the heavy one, not linked |
//!
//! Events: single and multi-unit picks, put-backs, light and heavy items,
//! simultaneous picks on two neighbouring unlinked plates, items lying across
//! two plates of the spanning product or taken from all three, picks right
//! after a hand pressed the plate or while a neighbour is being pressed, and
//! touches (100-500 g for up to 3 s) that leave nothing. Shakes come at twice
//! the rate of the real store; three shelves have 2.5-3 g plates.
//!
//! A detected shelf change matches a true event on the same shelf when
//! their plates overlap, it starts within `MATCH_T_S` of the hand, and its Δ
//! is within `max(MATCH_ABS_G, MATCH_REL × |Δ|)`. Precision and recall must be
//! at least 99.5 %.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use walkout::ids::PlateId;
use walkout::shelf::detector::{DetectorParams, Phase, PlateDetector};
use walkout::shelf::merger::ShelfMerger;
use walkout::shelf::noise::{NoiseModel, PlateSpec, ScriptedChange, StreamSpec};
use walkout::shelf::{Sample, ShelfChange};

const SHELVES: u64 = 48;
const DURATION_S: f64 = 240.0;
const PLATES: usize = 8;
/// The detected start may trail the hand: a hand that barely presses moves
/// nothing until the item leaves (up to 1.5 s later), and the window mean
/// takes a quarter second more to move.
const MATCH_T_S: f64 = 2.5;
/// Events on one plate are at least this far apart, so that each is
/// separable: a hand (up to 1.5 s), the ringing of a heavy item (up to
/// ~1.5 s) and the confirmation (1 s) fit in between.
const SAME_PLATE_GAP_S: f64 = 6.0;
const MATCH_ABS_G: f64 = 5.0;
const MATCH_REL: f64 = 0.03;

/// A true event: what the shelf should report.
#[derive(Clone, Debug)]
struct Truth {
    gondola: u16,
    shelf: u16,
    plates: Vec<u16>,
    /// Unix time the hand arrived.
    t: f64,
    delta_g: f64,
    kind: &'static str,
}

/// One shelf's script: per plate (index 0 = plate 1) its changes, and the truths.
struct Script {
    changes: Vec<Vec<ScriptedChange>>,
    truths: Vec<Truth>,
    units: [f64; PLATES],
}

struct Builder {
    rng: StdRng,
    gondola: u16,
    shelf: u16,
    t0: f64,
    /// Earliest time each plate may start a new event (events on one plate stay apart).
    free: [f64; PLATES],
    script: Script,
}

impl Builder {
    fn new(seed: u64, gondola: u16, shelf: u16, t0: f64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
        let span = u(100.0, 700.0);
        let units = [u(60.0, 150.0), u(60.0, 400.0), u(20.0, 40.0), span, span, span, u(300.0, 1500.0), u(15.0, 40.0)];
        Self {
            rng,
            gondola,
            shelf,
            t0,
            free: [0.0; PLATES],
            script: Script { changes: vec![Vec::new(); PLATES], truths: Vec::new(), units },
        }
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.rng.random::<f64>()
    }

    fn ready(&self, plates: &[usize], t: f64) -> bool {
        plates.iter().all(|&p| self.free[p] <= t)
    }

    /// Scripts Δ on plates (0-based) at t; `parts` are (plate, Δ).
    fn event(&mut self, t: f64, parts: &[(usize, f64)], kind: &'static str) {
        for &(p, d) in parts {
            self.script.changes[p].push(ScriptedChange { t, delta_g: d });
            self.free[p] = t + SAME_PLATE_GAP_S;
        }
        let delta_g = parts.iter().map(|p| p.1).sum::<f64>();
        if delta_g != 0.0 {
            let mut plates: Vec<u16> = parts.iter().map(|p| p.0 as u16 + 1).collect();
            plates.sort_unstable();
            plates.dedup();
            let (gondola, shelf) = (self.gondola, self.shelf);
            self.script.truths.push(Truth { gondola, shelf, plates, t: self.t0 + t, delta_g, kind });
        }
    }

    fn signed_units(&mut self, p: usize, n: f64) -> f64 {
        let put_back = self.rng.random::<f64>() < 0.3;
        self.script.units[p] * n * if put_back { 1.0 } else { -1.0 }
    }

    /// One scripted action at `t`, if its plates are free.
    fn action(&mut self, t: f64) {
        let roll = self.rng.random::<f64>();
        let single = [0usize, 1, 6];
        let light = [2usize, 7];
        match roll {
            r if r < 0.22 => {
                let p = single[self.rng.random_range(0..3)];
                if self.ready(&[p], t) {
                    let d = self.signed_units(p, 1.0);
                    self.event(t, &[(p, d)], if d < 0.0 { "pick" } else { "put-back" });
                }
            }
            r if r < 0.32 => {
                let p = single[self.rng.random_range(0..3)];
                let n = self.rng.random_range(2..=3) as f64;
                if self.ready(&[p], t) {
                    let d = self.signed_units(p, n);
                    self.event(t, &[(p, d)], "multi-unit");
                }
            }
            r if r < 0.46 => {
                let p = light[self.rng.random_range(0..2)];
                if self.ready(&[p], t) {
                    let d = self.signed_units(p, 1.0);
                    self.event(t, &[(p, d)], "light");
                }
            }
            r if r < 0.54 => {
                // Two shoppers, two products, side by side, within half a second.
                let (a, b) = if self.rng.random::<bool>() { (0, 1) } else { (6, 7) };
                let dt = self.uniform(0.0, 0.5);
                if self.ready(&[a, b], t) {
                    let (da, db) = (self.signed_units(a, 1.0), self.signed_units(b, 1.0));
                    self.event(t, &[(a, da)], "simultaneous");
                    self.event(t + dt, &[(b, db)], "simultaneous");
                }
            }
            r if r < 0.70 => self.spanning(t),
            r if r < 0.80 => {
                // A hand presses the plate, then takes (or puts back) an item.
                let p = [0usize, 1, 2, 6, 7][self.rng.random_range(0..5)];
                if self.ready(&[p], t) {
                    let d = self.signed_units(p, 1.0);
                    let gap = self.uniform(0.3, 1.5);
                    self.script.changes[p].push(ScriptedChange { t, delta_g: 0.0 });
                    self.event(t + gap, &[(p, d)], "after a press");
                }
            }
            r if r < 0.88 => {
                // A pick while the neighbour is pressed hard (the plate shakes).
                let p = [1usize, 2, 6][self.rng.random_range(0..3)];
                let n = if self.rng.random::<bool>() { p - 1 } else { p + 1 };
                if self.ready(&[p, n], t) {
                    let d = self.signed_units(p, 1.0);
                    self.script.changes[n].push(ScriptedChange { t: t - 0.3, delta_g: 0.0 });
                    self.free[n] = t + SAME_PLATE_GAP_S;
                    self.event(t, &[(p, d)], "neighbour pressed");
                }
            }
            _ => {
                // A touch that leaves nothing.
                let p = self.rng.random_range(0..PLATES);
                if self.ready(&[p], t) {
                    self.event(t, &[(p, 0.0)], "touch");
                }
            }
        }
    }

    /// The product on plates 4-6: an item on one plate, across two, or three items over all three.
    fn spanning(&mut self, t: f64) {
        if !self.ready(&[3, 4, 5], t) {
            return;
        }
        let d = self.signed_units(3, 1.0);
        match self.rng.random_range(0..3) {
            0 => {
                let p = self.rng.random_range(3..6);
                self.event(t, &[(p, d)], "spanning, one plate");
            }
            1 => {
                let p = self.rng.random_range(3..5);
                let f = self.uniform(0.3, 0.7);
                self.event(t, &[(p, f * d), (p + 1, (1.0 - f) * d)], "spanning, across two");
            }
            _ => self.event(t, &[(3, d), (4, d), (5, d)], "spanning, three plates"),
        }
    }
}

fn script(k: u64, gondola: u16, shelf: u16, t0: f64) -> Script {
    let mut b = Builder::new(1000 + k, gondola, shelf, t0);
    // The detectors learn each plate's stable weight in the first seconds.
    let mut t = 5.0;
    while t < DURATION_S - 6.0 {
        b.action(t);
        t += b.uniform(0.8, 2.2);
    }
    b.script
}

/// Runs one shelf through per-plate detectors and a merger, samples
/// interleaved in time as they arrive live; the merger hears which plates
/// are mid-change.
fn detect(streams: &[Vec<Sample>], plates: &[PlateId], params: &DetectorParams) -> Vec<ShelfChange> {
    let links = [(plates[3], plates[4]), (plates[4], plates[5])];
    let mut merger = ShelfMerger::new(links, params);
    let mut detectors: Vec<PlateDetector> = plates.iter().map(|p| PlateDetector::new(*p, params.clone())).collect();
    let mut out = Vec::new();
    for k in 0..streams[0].len() {
        for (d, s) in detectors.iter_mut().zip(streams) {
            let was = d.phase();
            if let Some(c) = d.push(s[k]) {
                out.extend(merger.push(c));
            }
            let now = d.phase();
            if now != was {
                let since = match now {
                    Phase::Changing { since } => Some(since),
                    _ => None,
                };
                merger.set_changing(d.plate(), since);
            }
        }
        if k % 30 == 0 {
            out.extend(merger.advance(streams[0][k].t));
        }
    }
    out.extend(merger.flush());
    out
}

fn matches(d: &ShelfChange, t: &Truth) -> bool {
    (d.gondola, d.shelf) == (t.gondola, t.shelf)
        && d.plates.iter().any(|p| t.plates.contains(p))
        && (d.t_start - t.t).abs() <= MATCH_T_S
        && (d.delta_g - t.delta_g).abs() <= MATCH_ABS_G.max(MATCH_REL * t.delta_g.abs())
}

/// Shelf `k`: its place, whether its plates are noisy (2.5-3 g), and its plate specs.
fn shelf(k: u64, script: &Script) -> (u16, u16, bool, Vec<PlateSpec>) {
    let (gondola, shelf) = (1 + (k / 6) as u16, 1 + (k % 6) as u16);
    let noisy = k % 8 == 5;
    let specs = (0..PLATES)
        .map(|p| {
            let mut spec = PlateSpec::new(2000.0 + 200.0 * p as f64).with_changes(script.changes[p].clone());
            if noisy {
                spec.sigma_g = Some(2.5 + 0.5 * (p % 2) as f64);
            }
            if p == 7 && k.is_multiple_of(4) {
                // The strongest real drift, 6 g/min, on the light product next to the heavy one.
                spec.drift_g_per_min = Some(6.0);
            }
            spec
        })
        .collect();
    (gondola, shelf, noisy, specs)
}

#[test]
fn synthetic_shelves_precision_and_recall() {
    let started = std::time::Instant::now();
    let model = NoiseModel::fitted();
    let params = DetectorParams::default();
    let (mut truths, mut detections, mut touches) = (Vec::new(), Vec::new(), 0usize);
    let mut noisy_shelves = Vec::new();
    for k in 0..SHELVES {
        let spec = StreamSpec { shake_rate_scale: 2.0, ..StreamSpec::new(k, DURATION_S) };
        let (gondola, shelf_no) = (1 + (k / 6) as u16, 1 + (k % 6) as u16);
        let script = script(k, gondola, shelf_no, spec.t0);
        let (gondola, shelf_no, noisy, specs) = shelf(k, &script);
        if noisy {
            noisy_shelves.push((gondola, shelf_no));
        }
        touches += script.changes.iter().flatten().filter(|c| c.delta_g == 0.0).count();
        let streams = model.shelf_streams(&spec, &specs);
        let plates: Vec<PlateId> = (1..=PLATES as u16).map(|p| PlateId::new(gondola, shelf_no, p)).collect();
        detections.extend(detect(&streams, &plates, &params));
        truths.extend(script.truths);
    }
    // Greedy matching, truths in time order, the nearest start first.
    truths.sort_by(|a, b| a.t.total_cmp(&b.t));
    let mut used = vec![false; detections.len()];
    let mut missed: Vec<&Truth> = Vec::new();
    let mut per_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in &truths {
        let best = (0..detections.len())
            .filter(|&i| !used[i] && matches(&detections[i], t))
            .min_by(|&a, &b| (detections[a].t_start - t.t).abs().total_cmp(&(detections[b].t_start - t.t).abs()));
        let entry = per_kind.entry(t.kind).or_default();
        entry.0 += 1;
        match best {
            Some(i) => {
                used[i] = true;
                entry.1 += 1;
            }
            None => missed.push(t),
        }
    }
    let matched = used.iter().filter(|u| **u).count();
    let false_alarms: Vec<&ShelfChange> = detections.iter().zip(&used).filter(|(_, u)| !**u).map(|(d, _)| d).collect();
    let precision = matched as f64 / detections.len().max(1) as f64;
    let recall = matched as f64 / truths.len().max(1) as f64;
    let confidence: Vec<f64> = detections.iter().zip(&used).filter(|(_, u)| **u).map(|(d, _)| d.confidence).collect();
    for (kind, (n, found)) in &per_kind {
        println!("  {kind:<24} {found:>5} / {n:<5} found");
    }
    let on_noisy = |g: u16, s: u16| noisy_shelves.contains(&(g, s));
    println!(
        "synthetic shelves: {} shelves x {DURATION_S} s, {} true events, {touches} touches that must report nothing, \
         {} detections; precision {:.2} % ({matched}/{}), recall {:.2} % ({matched}/{}); \
         {} of {} false alarms and {} of {} misses on the noisy shelves; mean confidence of matches {:.3}; {:.1} s",
        SHELVES,
        truths.len(),
        detections.len(),
        100.0 * precision,
        detections.len(),
        100.0 * recall,
        truths.len(),
        false_alarms.iter().filter(|d| on_noisy(d.gondola, d.shelf)).count(),
        false_alarms.len(),
        missed.iter().filter(|t| on_noisy(t.gondola, t.shelf)).count(),
        missed.len(),
        confidence.iter().sum::<f64>() / confidence.len().max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    for t in missed.iter().take(10) {
        let near: Vec<String> = detections
            .iter()
            .filter(|d| (d.gondola, d.shelf) == (t.gondola, t.shelf) && (d.t_start - t.t).abs() < 6.0)
            .map(|d| format!("[{:?} t{:+.2} Δ{:.1} c{:.2}]", d.plates, d.t_start - t.t, d.delta_g, d.confidence))
            .collect();
        println!("missed {t:?}; detected nearby: {}", near.join(" "));
    }
    for d in false_alarms.iter().take(10) {
        println!(
            "false alarm {}.{} {:?} t {:.2} Δ {:.1} c {:.2}",
            d.gondola, d.shelf, d.plates, d.t_start, d.delta_g, d.confidence
        );
    }
    assert!(truths.len() >= 1000, "enough events: {}", truths.len());
    assert!(precision >= 0.995, "precision {precision}");
    assert!(recall >= 0.995, "recall {recall}");
}
