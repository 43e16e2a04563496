//! The simulated store's inputs in the order the store receives them: at
//! each camera frame time, first the plate messages published up to then,
//! then the gate scans made up to then, then the frame's detections. The
//! accuracy benchmark, the demo replay and the live-versus-offline test all
//! read this one sequence.

use super::plates::{messages, readings};
use super::poses::{PoseStep, steps};
use super::{Party, World};
use crate::catalog::Catalog;
use crate::vision::tracker::CameraObservation;

/// One input, with the simulated time it happens at.
#[derive(Clone, Debug, PartialEq)]
pub enum SimInput<'w> {
    /// A plate controller's MQTT message (topic, JSON payload).
    Plates { t: f64, topic: String, payload: Vec<u8> },
    /// The party's host scans their entry QR code.
    Scan { t: f64, party: &'w Party },
    /// Every camera's detections at one frame time.
    Frame(PoseStep),
}

impl SimInput<'_> {
    pub fn t(&self) -> f64 {
        match self {
            Self::Plates { t, .. } | Self::Scan { t, .. } => *t,
            Self::Frame(step) => step.t,
        }
    }
}

/// The whole run's inputs; plate readings are sent `per_batch` samples per
/// message (6: ten messages a second per plate, as the AiFi controllers).
pub fn inputs<'w>(world: &'w World, catalog: &Catalog, per_batch: usize) -> impl Iterator<Item = SimInput<'w>> + 'w {
    let store = catalog.store.id.to_string();
    let readings = readings(world, catalog);
    let mut plate_messages = messages(&store, readings, per_batch).peekable();
    let mut scans: Vec<&Party> = world.parties.iter().collect();
    scans.sort_by(|a, b| b.scan_t.total_cmp(&a.scan_t));
    let mut frames = steps(world);
    let mut pending: std::collections::VecDeque<SimInput<'w>> = std::collections::VecDeque::new();
    std::iter::from_fn(move || {
        loop {
            if let Some(next) = pending.pop_front() {
                return Some(next);
            }
            let Some(step) = frames.next() else {
                // After the last frame: the rest of the plate messages.
                let (t, topic, payload) = plate_messages.next()?;
                return Some(SimInput::Plates { t, topic, payload });
            };
            while let Some((t, topic, payload)) = plate_messages.next_if(|m| m.0 <= step.t) {
                pending.push_back(SimInput::Plates { t, topic, payload });
            }
            while scans.last().is_some_and(|p| p.scan_t <= step.t) {
                let party = scans.pop()?;
                pending.push_back(SimInput::Scan { t: party.scan_t, party });
            }
            pending.push_back(SimInput::Frame(step));
        }
    })
}

/// A frame's detections as the tracker takes them (the appearance
/// descriptor included; the simulator's truth label left out).
pub fn camera_observations(step: PoseStep) -> Vec<CameraObservation> {
    step.observations
        .into_iter()
        .map(|o| CameraObservation {
            camera: o.camera,
            person: o.person,
            appearance: Some(o.appearance),
            hand_crops: o.hand_crops,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Scenario, SimConfig, simulate};
    use std::path::Path;

    #[test]
    fn inputs_come_in_time_order_with_every_scan_and_frame() {
        let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store")).unwrap();
        let world = simulate(SimConfig { scenario: Scenario::Standard, seed: 2, parties: 2 }, &catalog);
        let (mut last, mut scans, mut frames, mut plates) = (f64::NEG_INFINITY, 0, 0, 0);
        for input in inputs(&world, &catalog, 60) {
            assert!(input.t() >= last - 0.1 - 1e-9, "{} after {last}", input.t());
            last = last.max(input.t());
            match input {
                SimInput::Plates { .. } => plates += 1,
                SimInput::Scan { .. } => scans += 1,
                SimInput::Frame(_) => frames += 1,
            }
        }
        assert_eq!(scans, 2);
        assert_eq!(frames, ((world.end - world.t0) * crate::sim::poses::FRAME_RATE_HZ) as usize);
        assert!(plates > 0);
    }
}
