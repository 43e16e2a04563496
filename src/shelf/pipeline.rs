//! The shelf pipeline, one code path for live MQTT and offline files:
//! decoded plate batches -> per-plate detectors -> merger -> product
//! inference -> stock. Synchronous and deterministic: time is the samples'
//! own, and the merger advances on the watermark (the oldest latest sample
//! over healthy plates), so the events do not depend on how batches of
//! different plates interleave on the way.
//!
//! Bad input is counted in [`ShelfMetrics`] by cause and logged once per
//! cause and topic: malformed payloads, unknown plates, invalid samples,
//! out-of-order or duplicate samples. A plate that stays silent for
//! `silence_s` while others report is marked degraded; events touching it
//! carry the flag. No sample of a healthy plate is dropped.

use super::codec::{self, Batch};
use super::detector::{DetectorParams, Phase, PlateDetector};
use super::inference::{Candidate, InferenceParams, ShelfCatalog, infer};
use super::lifts::sum_traces;
use super::merger::ShelfMerger;
use super::stock::{StockBook, StockSignal};
use super::{Sample, ShelfChange};
use crate::ids::PlateId;
use crate::telemetry::ShelfMetrics;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineParams {
    pub detector: DetectorParams,
    pub inference: InferenceParams,
    /// A plate silent this long (seconds of data time) while others report is degraded.
    pub silence_s: f64,
    /// A sample this much older than its plate's latest is clock jitter, kept; older is late, dropped.
    pub backstep_tolerance_s: f64,
}

impl PipelineParams {
    pub fn with_defaults() -> Self {
        Self { silence_s: 2.0, backstep_tolerance_s: 0.05, ..Default::default() }
    }
}

/// One shelf event as emitted (a JSON line of `walkout shelf detect`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShelfEvent {
    /// When the weight started to change (unix seconds).
    pub t: f64,
    /// When it settled.
    pub t_end: f64,
    pub gondola: u16,
    pub shelf: u16,
    pub plates: Vec<u16>,
    pub delta_g: f64,
    /// Best first.
    pub candidates: Vec<Candidate>,
    pub unexplained_p: f64,
    pub ambiguous: bool,
    pub degraded: bool,
    /// The detector's confidence that this is a real, settled change.
    pub confidence: f64,
    /// The stock movement booked for the best candidate (none when unexplained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked: Option<StockMove>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stock: Vec<StockSignal>,
    /// The level over the change, its plates' traces summed
    /// (`PlateChange::trace`, `lifts::sum_traces`): where two shoppers'
    /// lifts merged into one event show. In process only.
    #[serde(skip)]
    pub trace: Vec<[f64; 2]>,
}

/// Units of a product that left (negative) or arrived on (positive) a plate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockMove {
    pub plate: PlateId,
    pub sku: crate::ids::Sku,
    pub units: i64,
}

impl StockMove {
    /// What to book instead when fusion decided `qty` of `sku` for the
    /// event this move booked: this move undone and fusion's made, on the
    /// same plate. Nothing when they agree.
    pub fn replaced_by(&self, sku: &crate::ids::Sku, qty: u32) -> Vec<StockMove> {
        let units = i64::from(qty) * self.units.signum();
        if &self.sku == sku && self.units == units {
            return Vec::new();
        }
        vec![
            StockMove { plate: self.plate, sku: self.sku.clone(), units: -self.units },
            StockMove { plate: self.plate, sku: sku.clone(), units },
        ]
    }
}

struct PlateTrack {
    detector: PlateDetector,
    /// Latest accepted time (after any jitter adjustment).
    last_t: f64,
    /// The last few accepted timestamps as sent, to tell a redelivery from clock jitter.
    recent: [f64; 8],
    recent_next: usize,
    degraded: bool,
}

/// What to do with a sample given the plate's history.
enum Arrival {
    Accept(f64),
    Duplicate,
    Late,
}

impl PlateTrack {
    /// Real plate clocks step back by a few milliseconds now and then (the
    /// AiFi recordings do, on 70 of 202 plates): such a sample is kept, at
    /// the plate's latest time. An exact repeat of a recent timestamp is a
    /// redelivery; anything older than the tolerance is late.
    fn arrival(&self, t: f64, backstep_tolerance_s: f64) -> Arrival {
        if t > self.last_t {
            Arrival::Accept(t)
        } else if self.recent.contains(&t) {
            Arrival::Duplicate
        } else if self.last_t - t <= backstep_tolerance_s {
            Arrival::Accept(self.last_t + 1e-6)
        } else {
            Arrival::Late
        }
    }

    fn remember(&mut self, sent_t: f64, accepted_t: f64) {
        self.last_t = accepted_t;
        self.recent[self.recent_next] = sent_t;
        self.recent_next = (self.recent_next + 1) % self.recent.len();
    }
}

/// Most (cause, topic) pairs remembered for log-once; past it, drops are only counted.
const MAX_LOGGED_CAUSES: usize = 10_000;

pub struct ShelfPipeline {
    store: String,
    params: PipelineParams,
    catalog: ShelfCatalog,
    stock: StockBook,
    plates: BTreeMap<PlateId, PlateTrack>,
    merger: ShelfMerger,
    metrics: ShelfMetrics,
    logged: HashSet<(&'static str, String)>,
}

impl ShelfPipeline {
    /// A pipeline for the plates of `catalog` (other plates are refused as unknown).
    pub fn new(store: &str, catalog: ShelfCatalog, params: PipelineParams, metrics: ShelfMetrics) -> Self {
        Self::with_plates(store, catalog.facings.keys().copied().collect(), catalog, params, metrics)
    }

    /// A pipeline for an explicit list of plates (some may carry no product).
    pub fn with_plates(
        store: &str,
        plates: Vec<PlateId>,
        catalog: ShelfCatalog,
        params: PipelineParams,
        metrics: ShelfMetrics,
    ) -> Self {
        let tracks = plates
            .into_iter()
            .map(|p| {
                let track = PlateTrack {
                    detector: PlateDetector::new(p, params.detector.clone()),
                    last_t: f64::NEG_INFINITY,
                    recent: [f64::NAN; 8],
                    recent_next: 0,
                    degraded: false,
                };
                (p, track)
            })
            .collect();
        let merger = ShelfMerger::new(catalog.linked_plates(), &params.detector);
        let stock = StockBook::new(&catalog.facings);
        Self {
            store: store.to_owned(),
            params,
            catalog,
            stock,
            plates: tracks,
            merger,
            metrics,
            logged: HashSet::new(),
        }
    }

    pub fn stock(&self) -> &StockBook {
        &self.stock
    }

    pub fn stock_mut(&mut self) -> &mut StockBook {
        &mut self.stock
    }

    /// Plates currently marked degraded.
    pub fn degraded_plates(&self) -> Vec<PlateId> {
        self.plates.iter().filter(|(_, t)| t.degraded).map(|(p, _)| *p).collect()
    }

    fn drop_input(&mut self, cause: &'static str, topic: &str, n: u64, detail: &dyn std::fmt::Display) {
        self.metrics.drop(cause, n);
        if self.logged.len() < MAX_LOGGED_CAUSES && self.logged.insert((cause, topic.to_owned())) {
            tracing::warn!(cause, topic, %detail, "shelf input dropped (logged once per cause and topic)");
        }
    }

    /// One MQTT message (topic and raw payload).
    pub fn handle_message(&mut self, topic: &str, payload: &[u8]) -> Vec<ShelfEvent> {
        match codec::decode(topic, payload, &self.store) {
            Ok(batch) => self.handle_batch(topic, batch),
            Err(e) => {
                self.drop_input(e.cause(), topic, 1, &e);
                Vec::new()
            }
        }
    }

    /// One decoded batch; `topic` names it in logs.
    pub fn handle_batch(&mut self, topic: &str, batch: Batch) -> Vec<ShelfEvent> {
        if batch.invalid_samples > 0 {
            let n = batch.invalid_samples as u64;
            self.drop_input("invalid_sample", topic, n, &"null, NaN or infinite time or grams");
        }
        let Some(track) = self.plates.get_mut(&batch.plate) else {
            self.drop_input("unknown_plate", topic, 1, &format!("plate {} is not in this store's layout", batch.plate));
            return Vec::new();
        };
        let mut changes = Vec::new();
        let (mut late, mut duplicate, mut accepted) = (0u64, 0u64, 0u64);
        for s in batch.samples {
            let t = match track.arrival(s.t, self.params.backstep_tolerance_s) {
                Arrival::Accept(t) => t,
                Arrival::Duplicate => {
                    duplicate += 1;
                    continue;
                }
                Arrival::Late => {
                    late += 1;
                    continue;
                }
            };
            track.remember(s.t, t);
            accepted += 1;
            if let Some(change) = track.detector.push(Sample { t, grams: s.grams }) {
                changes.push(change);
            }
        }
        let changing_since = match track.detector.phase() {
            Phase::Changing { since } => Some(since),
            _ => None,
        };
        if track.degraded && accepted > 0 {
            track.degraded = false;
            self.metrics.degraded_plates.dec();
            tracing::info!(plate = %batch.plate, "plate reporting again");
        }
        self.metrics.samples_accepted.inc_by(accepted);
        if duplicate > 0 {
            self.drop_input("duplicate", topic, duplicate, &"samples already received (a redelivery)");
        }
        if late > 0 {
            self.drop_input(
                "out_of_order",
                topic,
                late,
                &"samples older than the plate's latest beyond the jitter tolerance",
            );
        }
        // A linked plate still mid-change holds its group open (one product across plates).
        self.merger.set_changing(batch.plate, changing_since);
        let mut merged = Vec::new();
        for change in changes {
            merged.extend(self.merger.push(change));
        }
        self.mark_silent_plates();
        if let Some(watermark) = self.watermark() {
            merged.extend(self.merger.advance(watermark));
        }
        self.finish_changes(merged)
    }

    /// Ends the stream: emits every pending change.
    pub fn finish(&mut self) -> Vec<ShelfEvent> {
        let pending = self.merger.flush();
        self.finish_changes(pending)
    }

    /// The oldest latest-sample time over healthy plates that have reported.
    fn watermark(&self) -> Option<f64> {
        self.plates.values().filter(|t| !t.degraded && t.last_t.is_finite()).map(|t| t.last_t).reduce(f64::min)
    }

    fn mark_silent_plates(&mut self) {
        let newest = self.plates.values().map(|t| t.last_t).fold(f64::NEG_INFINITY, f64::max);
        for (plate, track) in &mut self.plates {
            if !track.degraded && track.last_t.is_finite() && newest - track.last_t > self.params.silence_s {
                track.degraded = true;
                self.metrics.degraded_plates.inc();
                tracing::warn!(%plate, silent_s = newest - track.last_t, "plate silent: marked degraded");
            }
        }
    }

    fn finish_changes(&mut self, mut changes: Vec<ShelfChange>) -> Vec<ShelfEvent> {
        changes.sort_by(|a, b| {
            a.t_start.total_cmp(&b.t_start).then(a.gondola.cmp(&b.gondola)).then(a.shelf.cmp(&b.shelf))
        });
        changes.into_iter().map(|c| self.decide(c)).collect()
    }

    fn decide(&mut self, mut change: ShelfChange) -> ShelfEvent {
        let plates: Vec<PlateId> =
            change.plates.iter().map(|&p| PlateId::new(change.gondola, change.shelf, p)).collect();
        change.degraded |= plates.iter().any(|p| self.plates.get(p).is_some_and(|t| t.degraded));
        let misplaced_here: Vec<_> = plates.iter().flat_map(|p| self.stock.misplaced_on(*p)).collect();
        let inference = infer(&change, &self.catalog, &misplaced_here, &self.params.inference);
        let mut signals = Vec::new();
        let mut booked = None;
        if let Some(best) = inference.candidates.first().filter(|b| b.p > inference.unexplained_p) {
            let units = i64::from(best.qty) * if change.delta_g < 0.0 { -1 } else { 1 };
            let plate = stock_plate(&change, &plates);
            signals = self.stock.apply(plate, &best.sku, units);
            booked = Some(StockMove { plate, sku: best.sku.clone(), units });
        }
        self.metrics.events.inc();
        let trace = match change.parts.as_mut_slice() {
            [only] => std::mem::take(&mut only.trace),
            parts => sum_traces(&parts.iter().map(|p| p.trace.as_slice()).collect::<Vec<_>>()),
        };
        ShelfEvent {
            t: change.t_start,
            t_end: change.t_end,
            gondola: change.gondola,
            shelf: change.shelf,
            plates: change.plates,
            delta_g: change.delta_g,
            candidates: inference.candidates,
            unexplained_p: inference.unexplained_p,
            ambiguous: inference.ambiguous,
            degraded: change.degraded,
            confidence: change.confidence,
            booked,
            stock: signals,
            trace,
        }
    }
}

/// The plate that moved most: where the units are booked.
fn stock_plate(change: &ShelfChange, plates: &[PlateId]) -> PlateId {
    change.parts.iter().max_by(|a, b| a.delta_g.abs().total_cmp(&b.delta_g.abs())).map(|p| p.plate).unwrap_or(plates[0])
}

/// Cuts one plate's samples into publish-sized batches (as hardware would).
pub fn batches(plate: PlateId, samples: &[Sample], per_batch: usize) -> impl Iterator<Item = Batch> + '_ {
    samples.chunks(per_batch.max(1)).enumerate().map(move |(i, chunk)| Batch {
        plate,
        samples: chunk.to_vec(),
        invalid_samples: 0,
        seq: Some(i as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Sku;

    #[test]
    fn a_move_fusion_put_down_to_another_product_is_undone_and_rebooked_on_the_same_plate() {
        let plate = PlateId::new(1, 4, 7);
        let put_back = StockMove { plate, sku: Sku::from("spritzer"), units: 3 };
        assert!(put_back.replaced_by(&Sku::from("spritzer"), 3).is_empty());
        assert_eq!(
            put_back.replaced_by(&Sku::from("cola"), 3),
            vec![
                StockMove { plate, sku: Sku::from("spritzer"), units: -3 },
                StockMove { plate, sku: Sku::from("cola"), units: 3 },
            ]
        );
        let pick = StockMove { plate, sku: Sku::from("spritzer"), units: -2 };
        assert_eq!(
            pick.replaced_by(&Sku::from("spritzer"), 1),
            vec![
                StockMove { plate, sku: Sku::from("spritzer"), units: 2 },
                StockMove { plate, sku: Sku::from("spritzer"), units: -1 },
            ]
        );
    }
}
