//! The multi-camera shopper tracker on the floor plane (pure, synchronous,
//! plain data). Each time step gets every camera's detected people
//! ([`CameraObservation`]: a MoveNet [`Person`] in that camera's pixels and,
//! optionally, a clothing embedding) and returns the confirmed tracks
//! ([`TrackState`]: a stable anonymous id, floor position, hands, confidence).
//!
//! One step ([`Tracker::update`]):
//! 1. every active track's constant-velocity Kalman filter predicts to `t`;
//! 2. each observation goes to the floor ([`crate::vision::floor`]); those
//!    outside the store floor (e.g. people beyond a glass wall) are ignored;
//! 3. per camera, observations are assigned to tracks (Kuhn-Munkres) on a
//!    cost of squared Mahalanobis floor distance (gated) plus appearance
//!    distance; each track takes at most one observation per camera, so the
//!    cameras seeing one person are fused into one Kalman update each;
//! 4. the rest are clustered across cameras (floor distance, one per camera),
//!    then matched to lost tracks by appearance and plausible distance
//!    (re-identification keeps the old id), else start tentative tracks;
//! 5. lifecycle: tentative -> confirmed after `confirm_hits` updates ->
//!    lost after `lost_after_s` unseen -> deleted after `reid_window_s`.
//!
//! The store simulator feeds the same API with pose keypoints it projects
//! itself, without appearance.

mod assign;
mod kalman;
mod step;
#[cfg(test)]
pub(crate) mod synth;
#[cfg(test)]
mod tests;
mod track;

use std::collections::BTreeMap;

pub use kalman::Kalman;
pub use track::{Status, appearance_distance};

use crate::ids::{CameraId, TrackId};
use crate::layout::{Camera, StoreLayout};
use crate::vision::decode::Person;
use crate::vision::floor::{FloorParams, FloorPoint, ShelfFront, shelf_fronts};
use track::Track;

/// One person detected by one camera at the step's time.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraObservation {
    pub camera: CameraId,
    /// Keypoints and box in that camera's frame pixels.
    pub person: Person,
    /// Unit-length clothing embedding (e.g. of the torso box), if computed.
    pub appearance: Option<Vec<f32>>,
    /// What the gallery saw in this person's hands (empty: no crops).
    pub hand_crops: Vec<crate::vision::hand_crop::HandCrop>,
}

/// One confirmed track at one time: world metres (the calibration's frame).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TrackState {
    pub id: TrackId,
    pub x: f64,
    pub y: f64,
    /// Hands located at this step (empty when not seen at this step).
    pub hands: Vec<[f64; 3]>,
    /// Hand crops of this step's detections (empty when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hand_crops: Vec<crate::vision::hand_crop::HandCrop>,
    /// 0..1: that at least one of this step's detections is right, decaying
    /// while the track coasts unseen.
    pub conf: f64,
    /// The track's running clothing embedding (unit length; never a face),
    /// if the cameras compute one. Fusion checks that a track still looks
    /// like whoever came in for its visit; not sent over the wire.
    #[serde(skip)]
    pub appearance: Option<Vec<f32>>,
}

/// Everything tunable; defaults suit ceiling cameras 2.4 m up and people
/// walking at up to 2 m/s, sampled at 5-30 Hz.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerParams {
    pub floor: FloorParams,
    /// Spread of one camera's floor point at the camera's foot (metres)...
    pub sigma_floor_m: f64,
    /// ...growing by this per metre of horizontal distance from the camera.
    pub sigma_floor_per_m: f64,
    /// White-acceleration process noise (m/s²).
    pub sigma_accel: f64,
    /// Gate on the squared Mahalanobis distance (2 dof; 9.21 = 99 %).
    pub gate_chi2: f64,
    /// Never associate an observation further than this from a track (metres).
    pub max_jump_m: f64,
    /// Weight of the appearance distance (0..1) against the floor cost (0..1).
    pub appearance_weight: f64,
    /// Weight of a new embedding in a track's running appearance.
    pub appearance_rate: f32,
    /// An observation that looks further than this from a track's running
    /// appearance is never that track, however near: two shoppers passing
    /// close must not swap tracks (and carts). Three times the
    /// re-identification distance below.
    pub appearance_gate: f64,
    /// Unexplained observations from different cameras within this are one person.
    pub cluster_gate_m: f64,
    /// No new track is started this close to an active track.
    pub min_separation_m: f64,
    pub confirm_hits: u32,
    pub tentative_timeout_s: f64,
    pub lost_after_s: f64,
    /// Confirmed tracks are still reported this long after their last update.
    pub coast_output_s: f64,
    pub reid_window_s: f64,
    /// Re-identification by appearance: at most this appearance distance...
    pub reid_max_appearance_distance: f64,
    /// ...and no further than `max_speed_mps` times the time lost plus `reid_radius_m`.
    pub max_speed_mps: f64,
    /// Without appearance, re-identification only within this distance.
    pub reid_radius_m: f64,
    /// A triangulated wrist whose rays miss it by more than this (RMS) is rejected.
    pub hand_max_rms_m: f64,
    /// The store floor; `None`: the geometry's `bounds` rectangle (no limit without bounds).
    pub floor_polygon: Option<Vec<[f64; 2]>>,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            floor: FloorParams::default(),
            sigma_floor_m: 0.15,
            sigma_floor_per_m: 0.05,
            sigma_accel: 2.0,
            gate_chi2: 9.21,
            max_jump_m: 1.5,
            appearance_weight: 0.5,
            appearance_rate: 0.1,
            appearance_gate: 0.4,
            cluster_gate_m: 1.0,
            min_separation_m: 0.5,
            confirm_hits: 3,
            tentative_timeout_s: 0.5,
            lost_after_s: 1.0,
            coast_output_s: 0.5,
            reid_window_s: 10.0,
            reid_max_appearance_distance: 0.1,
            max_speed_mps: 2.0,
            reid_radius_m: 1.0,
            hand_max_rms_m: 0.15,
            floor_polygon: None,
        }
    }
}

/// What became of one observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Updated an existing track.
    Assigned,
    /// Brought a lost track back (same id).
    Reidentified,
    /// Started a tentative track.
    NewTrack,
    /// Too close to an active track to start one, too far to update it.
    Suppressed,
    NoFloorPoint,
    OutsideFloor,
    UnknownCamera,
    /// The step's time was not after the previous one.
    StaleTime,
}

/// One observation of the last step: its floor point and where it went.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ObservationOutcome {
    pub camera: CameraId,
    pub floor: Option<FloorPoint>,
    pub track: Option<TrackId>,
    pub fate: Fate,
}

/// Running totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TrackerStats {
    pub steps: u64,
    pub observations: u64,
    pub stale_steps: u64,
    pub unknown_camera: u64,
    pub no_floor_point: u64,
    pub outside_floor: u64,
    pub tracks_started: u64,
    pub tracks_confirmed: u64,
    pub reidentified: u64,
}

pub struct Tracker {
    cameras: BTreeMap<CameraId, Camera>,
    floor: Option<Vec<[f64; 2]>>,
    fronts: Vec<ShelfFront>,
    params: TrackerParams,
    tracks: Vec<Track>,
    next_id: u64,
    last_t: Option<f64>,
    outcomes: Vec<ObservationOutcome>,
    stats: TrackerStats,
}

impl Tracker {
    /// A tracker for one store's cameras and geometry.
    pub fn new(layout: &StoreLayout, params: TrackerParams) -> Self {
        let floor = params
            .floor_polygon
            .clone()
            .or_else(|| layout.geometry.bounds.map(|[x0, y0, x1, y1]| vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]));
        Self {
            cameras: layout.cameras.clone(),
            floor,
            fronts: shelf_fronts(&layout.geometry),
            params,
            tracks: Vec::new(),
            next_id: 1,
            last_t: None,
            outcomes: Vec::new(),
            stats: TrackerStats::default(),
        }
    }

    /// Advances to `t_seconds` with every observation made at that time and
    /// returns the confirmed tracks. A time not after the previous step's is
    /// counted (`stale_steps`) and changes nothing.
    pub fn update(&mut self, t_seconds: f64, observations: &[CameraObservation]) -> Vec<TrackState> {
        self.stats.observations += observations.len() as u64;
        let fresh = t_seconds.is_finite() && self.last_t.is_none_or(|last| t_seconds > last);
        if !fresh {
            self.stats.stale_steps += 1;
            self.outcomes = observations
                .iter()
                .map(|o| ObservationOutcome {
                    camera: o.camera.clone(),
                    floor: None,
                    track: None,
                    fate: Fate::StaleTime,
                })
                .collect();
            return self.last_t.map(|t| self.states(t)).unwrap_or_default();
        }
        self.stats.steps += 1;
        self.step(t_seconds, observations);
        self.last_t = Some(t_seconds);
        self.states(t_seconds)
    }

    /// What became of each observation of the last step, in input order.
    pub fn outcomes(&self) -> &[ObservationOutcome] {
        &self.outcomes
    }

    pub fn stats(&self) -> &TrackerStats {
        &self.stats
    }

    pub fn params(&self) -> &TrackerParams {
        &self.params
    }

    /// Ids and states of every track, reported or not (for diagnostics).
    pub fn all_tracks(&self) -> Vec<(TrackId, Status, [f64; 2])> {
        self.tracks.iter().map(|t| (t.id.clone(), t.status, t.position())).collect()
    }

    fn states(&self, t: f64) -> Vec<TrackState> {
        self.tracks
            .iter()
            .filter(|tr| tr.status == Status::Confirmed && t - tr.last_seen <= self.params.coast_output_s)
            .map(|tr| {
                let unseen = t - tr.last_seen;
                let [x, y] = tr.position();
                let seen_now = unseen <= 0.0;
                let hands = if seen_now { tr.hands.clone() } else { Vec::new() };
                let hand_crops = if seen_now { tr.hand_crops.clone() } else { Vec::new() };
                let decay = (-unseen / self.params.coast_output_s.max(1e-9)).exp();
                let appearance = tr.appearance.clone();
                TrackState { id: tr.id.clone(), x, y, hands, hand_crops, conf: tr.conf_seen * decay, appearance }
            })
            .collect()
    }

    fn inside_floor(&self, x: f64, y: f64) -> bool {
        self.floor.as_ref().is_none_or(|poly| point_in_polygon(poly, x, y))
    }
}

/// Even-odd rule.
fn point_in_polygon(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
    let n = poly.len();
    let mut inside = false;
    for i in 0..n {
        let ([xi, yi], [xj, yj]) = (poly[i], poly[(i + n - 1) % n]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
    }
    inside
}
