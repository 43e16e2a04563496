//! Shelf sensing: plate readings (grams, ~60 Hz, over MQTT) become shelf
//! events that say what changed where, and which product and quantity that
//! most likely is.
//!
//! - [`codec`]: the MQTT contract (topics and JSON payloads, `docs/mqtt.md`);
//! - [`detector`]: per-plate stable-state change detection and the merging
//!   of simultaneous changes on neighbouring plates (pure);
//! - [`noise`]: the load-cell noise model fitted to the real AiFi plates,
//!   and synthetic plate streams for tests, the simulator and benchmarks (pure, seeded);
//! - [`aifi`]: reading AiFi plate CSVs and catalogues.

pub mod aifi;
pub mod codec;
pub mod detector;
pub mod inference;
pub mod lifts;
pub mod live;
pub mod merger;
pub mod noise;
pub mod offline;
pub mod pipeline;
pub mod replay;
pub mod stock;

use crate::ids::PlateId;
use serde::{Deserialize, Serialize};

/// One reading of one plate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unix seconds (fractional).
    pub t: f64,
    /// Grams as the load cell reports them (not zeroed: only changes mean something).
    pub grams: f64,
}

/// A plate moved from one stable weight to another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateChange {
    pub plate: PlateId,
    /// When the plate left its old stable state (unix seconds).
    pub t_start: f64,
    /// When it settled at the new one.
    pub t_end: f64,
    pub before_g: f64,
    pub after_g: f64,
    /// `after_g - before_g`: negative for a pick, positive for a put-back.
    pub delta_g: f64,
    /// 0..1: how sure the detector is that this is a real, settled change.
    pub confidence: f64,
    /// The level during the change, `[unix s, g - before_g]` every 0.1 s
    /// (`lifts::LevelTrace`): where two hands' lifts show. In process only.
    #[serde(skip)]
    pub trace: Vec<[f64; 2]>,
}

/// One or more neighbouring plates of one shelf that changed together:
/// the unit that product inference works on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShelfChange {
    pub gondola: u16,
    pub shelf: u16,
    /// Plate numbers along the shelf, ascending.
    pub plates: Vec<u16>,
    pub t_start: f64,
    pub t_end: f64,
    /// Sum of the plates' deltas.
    pub delta_g: f64,
    /// Each plate's own change, in `plates` order.
    pub parts: Vec<PlateChange>,
    pub confidence: f64,
    /// A plate involved was silent or faulty around the event.
    pub degraded: bool,
}
