//! One tracker step: predict, project, associate per camera, update, cluster
//! the rest, re-identify or start tracks, age the lifecycle.

use std::collections::BTreeMap;

use super::assign::assign;
use super::track::{Status, Track, appearance_distance};
use super::{CameraObservation, Fate, ObservationOutcome, Tracker};
use crate::ids::{CameraId, TrackId};
use crate::layout::Camera;
use crate::vision::decode::Person;
use crate::vision::floor::{foot_point, locate_hands};

/// A crop's wrist must be within this share of its person's box height
/// (in pixels) of where one of the track's located hands projects.
const CROP_WRIST_TOLERANCE: f32 = 0.15;

/// Whether the `wrist` keypoint of `person` (seen by `camera`) is one of
/// the track's located `hands`.
pub(super) fn crop_at_a_located_hand(camera: &Camera, person: &Person, wrist: u8, hands: &[[f64; 3]]) -> bool {
    let Some(k) = person.keypoints.get(usize::from(wrist)).filter(|k| k.visible) else { return false };
    let tolerance = f64::from(CROP_WRIST_TOLERANCE * person.bbox.height());
    hands
        .iter()
        .filter_map(|h| camera.project(*h))
        .any(|[x, y]| (x - f64::from(k.x)).hypot(y - f64::from(k.y)) <= tolerance)
}

/// Position spread of a new track, velocity spread of a new or lost one.
const NEW_SIGMA_POS: f64 = 0.3;
const NEW_SIGMA_VEL: f64 = 1.0;

/// An observation on the floor.
struct Seen {
    /// Index into the step's observations.
    obs: usize,
    camera: CameraId,
    at: [f64; 2],
    /// Measurement spread (metres).
    sigma: f64,
    score: f32,
}

/// Unexplained observations (from different cameras) of one person.
struct Cluster {
    members: Vec<usize>,
    at: [f64; 2],
}

impl Tracker {
    pub(super) fn step(&mut self, t: f64, obs: &[CameraObservation]) {
        let dt = self.last_t.map_or(0.0, |last| t - last);
        for tr in self.tracks.iter_mut().filter(|tr| tr.is_active()) {
            tr.kalman.predict(dt, self.params.sigma_accel);
        }
        let seen = self.project(obs);
        let mut taken: Vec<Option<usize>> = vec![None; seen.len()];
        self.associate(&seen, obs, &mut taken);
        self.update_tracks(t, &seen, obs, &taken);
        let free: Vec<usize> = (0..seen.len()).filter(|&i| taken[i].is_none()).collect();
        let clusters = self.cluster(&seen, obs, &free);
        self.reidentify_or_start(t, clusters, &seen, obs);
        self.age(t);
    }

    /// Floor points of the observations; the others get their fate now.
    fn project(&mut self, obs: &[CameraObservation]) -> Vec<Seen> {
        self.outcomes.clear();
        let mut seen = Vec::new();
        for (i, o) in obs.iter().enumerate() {
            let outcome = |fate, floor| ObservationOutcome { camera: o.camera.clone(), floor, track: None, fate };
            let Some(cam) = self.cameras.get(&o.camera) else {
                self.stats.unknown_camera += 1;
                self.outcomes.push(outcome(Fate::UnknownCamera, None));
                continue;
            };
            let Some(fp) = foot_point(cam, &o.person, &self.params.floor) else {
                self.stats.no_floor_point += 1;
                self.outcomes.push(outcome(Fate::NoFloorPoint, None));
                continue;
            };
            if !self.inside_floor(fp.x, fp.y) {
                self.stats.outside_floor += 1;
                self.outcomes.push(outcome(Fate::OutsideFloor, Some(fp)));
                continue;
            }
            let c = cam.centre();
            let range = (fp.x - c[0]).hypot(fp.y - c[1]);
            let sigma = self.params.sigma_floor_m + self.params.sigma_floor_per_m * range;
            self.outcomes.push(outcome(Fate::Suppressed, Some(fp)));
            seen.push(Seen { obs: i, camera: o.camera.clone(), at: [fp.x, fp.y], sigma, score: o.person.score });
        }
        seen
    }

    /// Per camera, observations to active tracks (`taken[seen] = track index`).
    fn associate(&self, seen: &[Seen], obs: &[CameraObservation], taken: &mut [Option<usize>]) {
        let active: Vec<usize> = (0..self.tracks.len()).filter(|&j| self.tracks[j].is_active()).collect();
        let mut by_camera: BTreeMap<&CameraId, Vec<usize>> = BTreeMap::new();
        for (i, s) in seen.iter().enumerate() {
            by_camera.entry(&s.camera).or_default().push(i);
        }
        let p = &self.params;
        for rows in by_camera.values() {
            let costs: Vec<Vec<Option<f64>>> = rows
                .iter()
                .map(|&i| {
                    let s = &seen[i];
                    let app = obs[s.obs].appearance.as_deref();
                    active.iter().map(|&j| self.cost(&self.tracks[j], s, app)).collect()
                })
                .collect();
            let picks = assign(&costs, active.len(), 1.0 + p.appearance_weight);
            for (&i, pick) in rows.iter().zip(picks) {
                taken[i] = pick.map(|c| active[c]);
            }
        }
    }

    /// Floor cost in `[0, 1]` (gated) plus weighted appearance distance.
    fn cost(&self, tr: &Track, s: &Seen, app: Option<&[f32]>) -> Option<f64> {
        let p = &self.params;
        let [x, y] = tr.position();
        if (s.at[0] - x).hypot(s.at[1] - y) > p.max_jump_m {
            return None;
        }
        let d2 = tr.kalman.mahalanobis2(s.at, s.sigma);
        if d2.is_nan() || d2 > p.gate_chi2 {
            return None;
        }
        let look = tr.appearance_distance(app).unwrap_or(0.0);
        if look > p.appearance_gate {
            return None;
        }
        Some(d2 / p.gate_chi2 + p.appearance_weight * look)
    }

    /// Kalman updates, appearance, hands and confidence of the tracks that
    /// got observations.
    fn update_tracks(&mut self, t: f64, seen: &[Seen], obs: &[CameraObservation], taken: &[Option<usize>]) {
        let mut per_track: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, j) in taken.iter().enumerate() {
            if let Some(j) = j {
                per_track.entry(*j).or_default().push(i);
            }
        }
        for (j, members) in per_track {
            for &i in &members {
                self.tracks[j].kalman.update(seen[i].at, seen[i].sigma);
                let o = &mut self.outcomes[seen[i].obs];
                (o.fate, o.track) = (Fate::Assigned, Some(self.tracks[j].id.clone()));
            }
            self.refresh(j, t, &members, seen, obs);
        }
    }

    /// After a track's position update: lifecycle counters, appearance,
    /// confidence and hands from its observations of this step.
    fn refresh(&mut self, j: usize, t: f64, members: &[usize], seen: &[Seen], obs: &[CameraObservation]) {
        let rate = self.params.appearance_rate;
        let views: Vec<(&Camera, &Person)> = members
            .iter()
            .filter_map(|&i| Some((self.cameras.get(&seen[i].camera)?, &obs[seen[i].obs].person)))
            .collect();
        let at = self.tracks[j].position();
        let hands = locate_hands(&views, at, &self.fronts, &self.params.floor, self.params.hand_max_rms_m);
        let tr = &mut self.tracks[j];
        tr.hits += 1;
        tr.last_seen = t;
        tr.hands = hands;
        // A crop belongs to this track only when its wrist is where the
        // track's hands were located (one camera's detection of a neighbour
        // can join the track; its hands are outvoted, its crops would not be).
        tr.hand_crops = members
            .iter()
            .filter_map(|&i| Some((self.cameras.get(&seen[i].camera)?, &obs[seen[i].obs])))
            .flat_map(|(camera, o)| {
                o.hand_crops.iter().filter(|c| crop_at_a_located_hand(camera, &o.person, c.wrist, &tr.hands)).cloned()
            })
            .collect();
        let miss: f64 = members.iter().map(|&i| 1.0 - f64::from(seen[i].score).clamp(0.0, 1.0)).product();
        tr.conf_seen = 1.0 - miss;
        for &i in members {
            if let Some(e) = &obs[seen[i].obs].appearance {
                tr.absorb_appearance(e, rate);
            }
        }
        if tr.status == Status::Tentative && tr.hits >= self.params.confirm_hits {
            tr.status = Status::Confirmed;
            self.stats.tracks_confirmed += 1;
        }
    }

    /// Greedy clustering of unexplained observations, best score first: each
    /// joins the nearest cluster within the gate that has no observation from
    /// its camera (and a compatible appearance), else starts one.
    fn cluster(&self, seen: &[Seen], obs: &[CameraObservation], free: &[usize]) -> Vec<Cluster> {
        let mut order = free.to_vec();
        order.sort_by(|&a, &b| seen[b].score.total_cmp(&seen[a].score).then(a.cmp(&b)));
        let mut clusters: Vec<Cluster> = Vec::new();
        for i in order {
            let s = &seen[i];
            let app = obs[s.obs].appearance.as_deref();
            let joinable = |c: &Cluster| {
                let camera_free = c.members.iter().all(|&m| seen[m].camera != s.camera);
                let looks = appearance_distance(obs[seen[c.members[0]].obs].appearance.as_deref(), app);
                camera_free && looks.is_none_or(|d| d <= 0.5)
            };
            let nearest = clusters
                .iter_mut()
                .filter(|c| joinable(c))
                .map(|c| ((c.at[0] - s.at[0]).hypot(c.at[1] - s.at[1]), c))
                .filter(|(d, _)| *d <= self.params.cluster_gate_m)
                .min_by(|a, b| a.0.total_cmp(&b.0));
            match nearest {
                Some((_, c)) => {
                    c.members.push(i);
                    let n = c.members.len() as f64;
                    c.at = [c.at[0] + (s.at[0] - c.at[0]) / n, c.at[1] + (s.at[1] - c.at[1]) / n];
                }
                None => clusters.push(Cluster { members: vec![i], at: s.at }),
            }
        }
        clusters
    }

    /// Clusters to lost tracks (same id back), else new tentative tracks,
    /// except right next to an active track.
    fn reidentify_or_start(&mut self, t: f64, clusters: Vec<Cluster>, seen: &[Seen], obs: &[CameraObservation]) {
        let lost: Vec<usize> = (0..self.tracks.len()).filter(|&j| self.tracks[j].status == Status::Lost).collect();
        let costs: Vec<Vec<Option<f64>>> = clusters
            .iter()
            .map(|c| lost.iter().map(|&j| self.reid_cost(&self.tracks[j], t, c, seen, obs)).collect())
            .collect();
        let picks = assign(&costs, lost.len(), 2.0);
        for (c, pick) in clusters.into_iter().zip(picks) {
            let (j, fate) = match pick {
                Some(k) => {
                    let tr = &mut self.tracks[lost[k]];
                    tr.kalman = super::Kalman::new(c.at[0], c.at[1], NEW_SIGMA_POS, NEW_SIGMA_VEL);
                    tr.status = Status::Confirmed;
                    self.stats.reidentified += 1;
                    (lost[k], Fate::Reidentified)
                }
                None if self.crowded(c.at) => continue,
                None => {
                    let id = TrackId(format!("t{}", self.next_id));
                    self.next_id += 1;
                    self.stats.tracks_started += 1;
                    self.tracks.push(Track::new(id, c.at, t, NEW_SIGMA_POS, NEW_SIGMA_VEL));
                    (self.tracks.len() - 1, Fate::NewTrack)
                }
            };
            for &i in &c.members {
                let o = &mut self.outcomes[seen[i].obs];
                (o.fate, o.track) = (fate, Some(self.tracks[j].id.clone()));
            }
            if fate == Fate::NewTrack {
                for &i in &c.members {
                    self.tracks[j].kalman.update(seen[i].at, seen[i].sigma);
                }
            }
            self.refresh(j, t, &c.members, seen, obs);
        }
    }

    /// Whether a lost track may be this cluster: plausible distance for the
    /// time lost, and a matching appearance (or, without one, very near).
    fn reid_cost(&self, tr: &Track, t: f64, c: &Cluster, seen: &[Seen], obs: &[CameraObservation]) -> Option<f64> {
        let p = &self.params;
        let lost_for = t - tr.last_seen;
        let [x, y] = tr.position();
        let dist = (c.at[0] - x).hypot(c.at[1] - y);
        if lost_for > p.reid_window_s || dist > p.max_speed_mps * lost_for + p.reid_radius_m {
            return None;
        }
        let looks = c
            .members
            .iter()
            .filter_map(|&i| tr.appearance_distance(obs[seen[i].obs].appearance.as_deref()))
            .min_by(f64::total_cmp);
        match looks {
            Some(d) if d <= p.reid_max_appearance_distance => Some(d / p.reid_max_appearance_distance + dist / 100.0),
            Some(_) => None,
            None if dist <= p.reid_radius_m => Some(1.0 + dist / p.reid_radius_m),
            None => None,
        }
    }

    fn crowded(&self, at: [f64; 2]) -> bool {
        self.tracks.iter().filter(|tr| tr.is_active()).any(|tr| {
            let [x, y] = tr.position();
            (at[0] - x).hypot(at[1] - y) < self.params.min_separation_m
        })
    }

    /// Lifecycle by time unseen; tracks that drift off the floor are lost.
    fn age(&mut self, t: f64) {
        let p = self.params.clone();
        let floor_ok: Vec<bool> =
            self.tracks.iter().map(|tr| self.inside_floor(tr.position()[0], tr.position()[1])).collect();
        let mut keep = Vec::with_capacity(self.tracks.len());
        for (mut tr, on_floor) in std::mem::take(&mut self.tracks).into_iter().zip(floor_ok) {
            let unseen = t - tr.last_seen;
            let alive = match tr.status {
                Status::Tentative => unseen <= p.tentative_timeout_s && on_floor,
                Status::Confirmed => {
                    if unseen > p.lost_after_s || !on_floor {
                        tr.status = Status::Lost;
                        tr.kalman.stop(NEW_SIGMA_VEL);
                    }
                    true
                }
                Status::Lost => unseen <= p.reid_window_s,
            };
            if alive {
                keep.push(tr);
            }
        }
        self.tracks = keep;
    }
}
