//! The store's sensing loop in one place: plate messages go through the
//! shelf pipeline, camera detections through the floor tracker, gate scans
//! open visits, and fusion turns all three into per-visit ledgers. It is a
//! synchronous state machine over time-ordered [`StoreInput`]s, so the live
//! service (MQTT plate and vision feeds, the HTTP gate) and offline runs
//! (the simulator, recorded inputs) execute the same code and get the same
//! carts from the same inputs; only where the inputs come from differs.

use super::{ClosedVisit, Fusion, FusionParams};
use crate::catalog::Catalog;
use crate::ids::VisitId;
use crate::layout::StoreLayout;
use crate::shelf::pipeline::{PipelineParams, ShelfEvent, ShelfPipeline, StockMove};
use crate::shelf::stock::StockSignal;
use crate::telemetry::ShelfMetrics;
use crate::vision::tracker::{CameraObservation, TrackState, Tracker, TrackerParams};

/// One input to the store, in time order.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreInput {
    /// A plate controller's message, as it arrived on MQTT.
    Plates { topic: String, payload: Vec<u8> },
    /// The gate opened `visit` for a host and `guests` at `t` (unix seconds).
    Scan { t: f64, visit: VisitId, guests: u8 },
    /// Every camera's detections at frame time `t`.
    Frame { t: f64, observations: Vec<CameraObservation> },
    /// No more input: decide what is pending and close every visit at `t`.
    End { t: f64 },
}

/// What one input produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreOutput {
    /// Shelf events detected (for stock keeping and logs).
    pub shelf_events: Vec<ShelfEvent>,
    /// The confirmed tracks after a frame (for the live store view).
    pub tracks: Vec<TrackState>,
    /// Visits ready for checkout, with their ledgers and review flags.
    pub closed: Vec<ClosedVisit>,
    /// After a frame: which of `tracks` belong to which visit.
    pub links: Vec<(crate::ids::TrackId, VisitId)>,
    /// Stock movements that correct what the shelf booked (fusion decided
    /// another product), already applied to the pipeline's stock book, and
    /// what the stock book signalled on applying them.
    pub stock_corrections: Vec<StockMove>,
    pub stock_signals: Vec<StockSignal>,
}

pub struct StoreRunner {
    pub pipeline: ShelfPipeline,
    pub tracker: Tracker,
    pub fusion: Fusion,
}

impl StoreRunner {
    pub fn new(
        catalog: &Catalog,
        layout: &StoreLayout,
        fusion: FusionParams,
        tracker: TrackerParams,
        metrics: ShelfMetrics,
    ) -> Self {
        let store = catalog.store.id.to_string();
        Self {
            pipeline: ShelfPipeline::new(&store, catalog.shelf_catalog(), PipelineParams::with_defaults(), metrics),
            tracker: Tracker::new(layout, tracker),
            fusion: Fusion::new(fusion, catalog, layout.geometry.clone()),
        }
    }

    pub fn input(&mut self, input: StoreInput) -> StoreOutput {
        let mut out = StoreOutput::default();
        match input {
            StoreInput::Plates { topic, payload } => {
                out.shelf_events = self.pipeline.handle_message(&topic, &payload);
                self.shelf_events(&out.shelf_events);
            }
            StoreInput::Scan { t, visit, guests } => self.fusion.scan(t, visit, guests),
            StoreInput::Frame { t, observations } => {
                out.tracks = self.tracker.update(t, &observations);
                out.closed = self.fusion.tracks(t, &out.tracks);
                out.links = out
                    .tracks
                    .iter()
                    .filter_map(|s| Some((s.id.clone(), self.fusion.visit_of_track(&s.id)?)))
                    .collect();
            }
            StoreInput::End { t } => {
                out.shelf_events = self.pipeline.finish();
                self.shelf_events(&out.shelf_events);
                out.closed = self.fusion.finish(t);
            }
        }
        for correction in self.fusion.take_stock_corrections() {
            let signals = self.pipeline.stock_mut().apply(correction.plate, &correction.sku, correction.units);
            out.stock_signals.extend(signals);
            out.stock_corrections.push(correction);
        }
        out
    }

    fn shelf_events(&mut self, events: &[ShelfEvent]) {
        for e in events {
            self.fusion.shelf_event(e.clone());
        }
    }
}
