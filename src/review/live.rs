//! The live store view's shared state: where the shoppers are now (the
//! tracker's floor positions, with the visit each track belongs to once
//! fusion knows), which plates are degraded, and a change counter that the
//! console's server-sent events follow. `serve` holds one [`LiveView`] and
//! the live pipeline updates it; open visits and their running carts come
//! from the database (see [`super::live_page`]).

use crate::ids::{PlateId, TrackId, VisitId};
use crate::vision::tracker::TrackState;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::watch;

/// A shopper's track on the floor (metres).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LiveTrack {
    pub id: String,
    pub x: f64,
    pub y: f64,
    pub conf: f64,
    /// The visit the track belongs to, once linked.
    pub visit: Option<String>,
}

/// A degraded plate and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DegradedPlate {
    pub plate: String,
    pub reason: String,
}

/// What the live page shows, at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LiveSnapshot {
    /// Increases with every change.
    pub version: u64,
    /// Time of the newest track update (unix ms; 0 before the first).
    pub at: i64,
    pub tracks: Vec<LiveTrack>,
    pub degraded: Vec<DegradedPlate>,
}

#[derive(Default)]
struct State {
    version: u64,
    at: i64,
    tracks: BTreeMap<String, LiveTrack>,
    links: BTreeMap<String, String>,
    degraded: BTreeMap<PlateId, String>,
}

/// The live state, shared between the pipeline (writer) and the console (readers).
pub struct LiveView {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Default for LiveView {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveView {
    pub fn new() -> Self {
        Self { state: Mutex::new(State::default()), changed: watch::channel(0).0 }
    }

    fn change(&self, f: impl FnOnce(&mut State)) {
        let version = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s);
            s.version += 1;
            s.version
        };
        self.changed.send_replace(version);
    }

    /// The tracker's live tracks at `at_ms` (the whole set: tracks not in it are gone).
    pub fn update_tracks(&self, at_ms: i64, tracks: &[TrackState]) {
        self.change(|s| {
            s.at = at_ms;
            s.tracks = tracks
                .iter()
                .filter(|t| t.x.is_finite() && t.y.is_finite())
                .map(|t| {
                    let id = t.id.to_string();
                    let visit = s.links.get(&id).cloned();
                    (id.clone(), LiveTrack { id, x: t.x, y: t.y, conf: t.conf, visit })
                })
                .collect();
            let live: Vec<String> = s.tracks.keys().cloned().collect();
            s.links.retain(|track, _| live.contains(track));
        });
    }

    /// Fusion linked a track to a visit (at the gate, or on re-identification).
    pub fn link_track(&self, track: &TrackId, visit: &VisitId) {
        self.change(|s| {
            s.links.insert(track.to_string(), visit.to_string());
            if let Some(t) = s.tracks.get_mut(track.as_str()) {
                t.visit = Some(visit.to_string());
            }
        });
    }

    /// A plate's health: `Some(reason)` when degraded, `None` when it reports normally again.
    pub fn set_plate_health(&self, plate: PlateId, degraded: Option<String>) {
        self.change(|s| match degraded {
            Some(reason) => {
                s.degraded.insert(plate, reason);
            }
            None => {
                s.degraded.remove(&plate);
            }
        });
    }

    pub fn snapshot(&self) -> LiveSnapshot {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        LiveSnapshot {
            version: s.version,
            at: s.at,
            tracks: s.tracks.values().cloned().collect(),
            degraded: s
                .degraded
                .iter()
                .map(|(p, r)| DegradedPlate { plate: p.to_string(), reason: r.clone() })
                .collect(),
        }
    }

    /// Wakes on every change (the value is the new version).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: &str, x: f64, y: f64) -> TrackState {
        TrackState { id: TrackId::from(id), x, y, hands: vec![], hand_crops: vec![], conf: 0.9, appearance: None }
    }

    #[test]
    fn tracks_replace_the_set_and_keep_their_visit() {
        let live = LiveView::new();
        let mut changes = live.subscribe();
        live.update_tracks(1_000, &[track("t1", 1.0, 2.0), track("t2", 3.0, 4.0), track("bad", f64::NAN, 0.0)]);
        live.link_track(&TrackId::from("t1"), &VisitId::from("v-1"));
        assert!(changes.has_changed().unwrap());
        assert_eq!(*changes.borrow_and_update(), 2);
        live.update_tracks(1_100, &[track("t1", 1.5, 2.0)]);
        let s = live.snapshot();
        assert_eq!((s.version, s.at), (3, 1_100));
        assert_eq!(
            s.tracks,
            vec![LiveTrack { id: "t1".into(), x: 1.5, y: 2.0, conf: 0.9, visit: Some("v-1".into()) }],
            "t2 left; t1 keeps its visit"
        );
        live.update_tracks(1_200, &[]);
        live.update_tracks(1_300, &[track("t1", 0.0, 0.0)]);
        assert_eq!(live.snapshot().tracks[0].visit, None, "a track id seen again later is not assumed the same visit");
    }

    #[test]
    fn degraded_plates_are_listed_until_they_recover() {
        let live = LiveView::new();
        let plate: PlateId = "3.2.1".parse().unwrap();
        live.set_plate_health(plate, Some("silent for 12 s".into()));
        assert_eq!(
            live.snapshot().degraded,
            vec![DegradedPlate { plate: "3.2.1".into(), reason: "silent for 12 s".into() }]
        );
        live.set_plate_health(plate, None);
        assert!(live.snapshot().degraded.is_empty());
    }
}
