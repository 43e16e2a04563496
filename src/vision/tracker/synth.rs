//! Test support: synthetic shoppers projected through real `layout::Camera`s.
//! A 6 m x 4 m floor with one gondola run, six ceiling cameras 2.4 m up
//! with AiFi-like lenses, and walkers whose 3D skeletons are projected into
//! every camera with pixel jitter, dropped keypoints, missed detections and
//! occlusion by nearer people.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};

use crate::ids::{CameraId, PlateId};
use crate::layout::geometry::{GondolaGeometry, PLATE_DEPTH_M, PLATE_WIDTH_M, PlateGeometry};
use crate::layout::math::{Rigid, Vec3, norm, scale, sub};
use crate::layout::{Camera, Distortion, Intrinsics, StoreGeometry, StoreLayout};
use crate::vision::decode::{BoxPx, Keypoint, Person};

use super::CameraObservation;

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// A 640x360 camera at `centre` looking at `target`, AiFi-like lens.
pub fn camera(centre: Vec3, target: Vec3) -> Camera {
    let f = scale(sub(target, centre), 1.0 / norm(sub(target, centre)));
    let right = cross(f, [0.0, 0.0, 1.0]);
    let right = scale(right, 1.0 / norm(right));
    let down = cross(f, right);
    let c2w = Rigid {
        rotation: [[right[0], down[0], f[0]], [right[1], down[1], f[1]], [right[2], down[2], f[2]]],
        translation: centre,
    };
    let w2c = c2w.inverse();
    Camera {
        width: 640,
        height: 360,
        intrinsics: Intrinsics { fx: 511.0, fy: 511.0, cx: 320.0, cy: 165.0 },
        distortion: Distortion { k1: -0.47, k2: 0.2, p1: 0.0, p2: 0.0, k3: 0.0 },
        rotation: w2c.rotation,
        translation: w2c.translation,
    }
}

/// Floor x 0..6, y -4..0; a gondola run along y = 0.4..0.5 with its shelf
/// fronts (12 plates on 3 shelves) at y = 0 facing -y; six cameras in two rows.
pub fn store() -> StoreLayout {
    let mut geometry = StoreGeometry { bounds: Some([0.0, -4.0, 6.0, 0.5]), ..Default::default() };
    geometry.gondolas.push(GondolaGeometry {
        id: 1,
        footprint: [[0.5, 0.4064], [5.5, 0.4064], [5.5, 0.5], [0.5, 0.5]],
        height: 2.0,
    });
    for shelf in 1..=3u16 {
        for plate in 1..=12u16 {
            let origin = [0.5 + PLATE_WIDTH_M * f64::from(plate - 1), 0.0, 0.4 * f64::from(shelf)];
            let frame = Rigid { rotation: crate::layout::math::IDENTITY, translation: origin };
            let id = PlateId::new(1, shelf, plate);
            geometry.plates.insert(id, PlateGeometry::from_frame(id, &frame, PLATE_WIDTH_M, PLATE_DEPTH_M));
        }
    }
    let mut cameras = std::collections::BTreeMap::new();
    let mut file_index = std::collections::BTreeMap::new();
    let spots = [(0.5, -0.2, 2.5, -2.5), (3.0, -0.2, 3.0, -3.0), (5.5, -0.2, 3.5, -2.5)];
    for (k, (x, y, tx, ty)) in spots.into_iter().enumerate() {
        for (side, (cy, ty)) in [(y, ty), (-3.8, -0.5)].into_iter().enumerate() {
            let id = CameraId(format!("c{}", 2 * k + side + 1));
            file_index.insert((2 * k + side + 1) as u32, id.clone());
            let target = if side == 0 { [tx, ty, 0.0] } else { [x + (tx - x) * 0.3, ty, 0.0] };
            cameras.insert(id, camera([x, cy, 2.4], target));
        }
    }
    StoreLayout { geometry, cameras, file_index }
}

/// A walker's 3D COCO keypoints standing at `at`, facing `heading` (radians),
/// with the right hand reaching to `reach` when given.
pub fn skeleton(at: [f64; 2], heading: f64, reach: Option<Vec3>) -> Vec<Vec3> {
    let (s, c) = heading.sin_cos();
    // forward (c, s), left (-s, c)
    let p = |fwd: f64, left: f64, z: f64| [at[0] + fwd * c - left * s, at[1] + fwd * s + left * c, z];
    let mut k = vec![
        p(0.1, 0.0, 1.62),
        p(0.09, 0.03, 1.65),
        p(0.09, -0.03, 1.65),
        p(0.0, 0.08, 1.63),
        p(0.0, -0.08, 1.63),
        p(0.0, 0.2, 1.42),
        p(0.0, -0.2, 1.42),
        p(0.0, 0.25, 1.12),
        p(0.0, -0.25, 1.12),
        p(0.05, 0.25, 0.85),
        p(0.05, -0.25, 0.85),
        p(0.0, 0.12, 0.92),
        p(0.0, -0.12, 0.92),
        p(0.03, 0.11, 0.5),
        p(0.03, -0.11, 0.5),
        p(0.0, 0.1, 0.08),
        p(0.0, -0.1, 0.08),
    ];
    if let Some(r) = reach {
        k[10] = r;
    }
    k
}

/// How a camera sees people: noise and failure rates.
#[derive(Clone, Copy, Debug)]
pub struct Noise {
    pub pixel_sigma: f64,
    pub keypoint_drop: f64,
    pub miss: f64,
}

/// One camera's detection of a skeleton, or `None` when (almost) out of view.
pub fn detect(cam: &Camera, joints: &[Vec3], noise: Noise, rng: &mut StdRng) -> Option<Person> {
    let jitter = Normal::new(0.0, noise.pixel_sigma).expect("finite sigma");
    let mut keypoints = Vec::with_capacity(joints.len());
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for j in joints {
        let projected = cam.project(*j);
        let px = projected.filter(|px| cam.in_image(*px));
        let kept = px.is_some() && !rng.random_bool(noise.keypoint_drop);
        let [u, v] = projected.map_or([0.0, 0.0], |[u, v]| [u + jitter.sample(rng), v + jitter.sample(rng)]);
        let (u, v) = ((u as f32).clamp(0.0, 640.0), (v as f32).clamp(0.0, 360.0));
        // The box spans the whole body, cut by the frame edges (as a detector's does).
        if projected.is_some() {
            (x0, y0, x1, y1) = (x0.min(u), y0.min(v), x1.max(u), y1.max(v));
        }
        let score = if kept { 0.6 } else { 0.02 };
        keypoints.push(Keypoint { x: u, y: v, score, visible: kept });
    }
    let in_view = keypoints.iter().filter(|k| k.visible).count();
    if in_view < 5 || rng.random_bool(noise.miss) {
        return None;
    }
    Some(Person { bbox: BoxPx { x0, y0, x1, y1 }, score: 0.5, keypoints })
}

/// A walker's path: waypoints visited at a walking speed, with pauses.
#[derive(Clone, Debug)]
pub struct Walker {
    pub enter: f64,
    pub leave: f64,
    /// (time, position) keyframes, linearly interpolated.
    pub keys: Vec<(f64, [f64; 2])>,
    /// Appearance: a fixed random unit vector per walker.
    pub look: Vec<f32>,
}

impl Walker {
    /// Position and heading at `t`, `None` outside the visit.
    pub fn at(&self, t: f64) -> Option<([f64; 2], f64)> {
        if t < self.enter || t > self.leave {
            return None;
        }
        let i = self.keys.iter().rposition(|(kt, _)| *kt <= t)?;
        let (t0, a) = self.keys[i];
        let Some(&(t1, b)) = self.keys.get(i + 1) else { return Some((a, 0.0)) };
        let f = ((t - t0) / (t1 - t0)).clamp(0.0, 1.0);
        let heading = (b[1] - a[1]).atan2(b[0] - a[0]);
        Some(([a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])], heading))
    }
}

/// Where shoppers come in and go out.
pub const DOOR: [f64; 2] = [0.4, -3.6];

/// Closest two people's centres come (metres): shoulder to shoulder.
pub const PERSONAL_SPACE_M: f64 = 0.45;

/// `n` walkers over `minutes`, each staying 1-3 minutes, entering and
/// leaving by the door and in between walking to random floor points
/// (0.6-1.3 m/s), pausing 1-6 s at each. People do
/// not walk through each other: a path that would come closer than
/// [`PERSONAL_SPACE_M`] to an earlier walker at the same time is drawn again.
pub fn walkers(n: usize, minutes: f64, rng: &mut StdRng) -> Vec<Walker> {
    let mut out: Vec<Walker> = Vec::with_capacity(n);
    while out.len() < n {
        let w = walker(minutes * 60.0, rng);
        let clear = (0..((w.leave - w.enter) * 10.0) as usize).all(|i| {
            let t = w.enter + i as f64 * 0.1;
            let Some((a, _)) = w.at(t) else { return true };
            out.iter().filter_map(|o| o.at(t)).all(|(b, _)| (a[0] - b[0]).hypot(a[1] - b[1]) >= PERSONAL_SPACE_M)
        });
        if clear {
            out.push(w);
        }
    }
    out
}

fn walk_to(to: [f64; 2], t: &mut f64, keys: &mut Vec<(f64, [f64; 2])>, rng: &mut StdRng) {
    let from = keys.last().expect("one key").1;
    *t += (to[0] - from[0]).hypot(to[1] - from[1]) / rng.random_range(0.6..1.3);
    keys.push((*t, to));
}

fn walker(span: f64, rng: &mut StdRng) -> Walker {
    let stay = rng.random_range(60.0..180.0_f64).min(span);
    let enter = rng.random_range(0.0..=(span - stay).max(0.0));
    let mut keys: Vec<(f64, [f64; 2])> = vec![(enter, DOOR)];
    let mut t = enter;
    while t < enter + stay {
        let to: [f64; 2] = [rng.random_range(0.3..5.7), rng.random_range(-3.7..-0.3)];
        walk_to(to, &mut t, &mut keys, rng);
        t += rng.random_range(1.0..6.0);
        keys.push((t, to));
    }
    walk_to(DOOR, &mut t, &mut keys, rng);
    let look: Vec<f32> = (0..16).map(|_| rng.random_range(-1.0..1.0)).collect();
    Walker { enter, leave: t, keys, look: crate::vision::decode::l2_normalise(&look) }
}

/// Every camera's observations of the walkers at `t`: a walker hidden behind
/// a nearer one (boxes overlapping by more than half) is not detected.
pub fn observe(
    layout: &StoreLayout,
    walkers: &[Walker],
    t: f64,
    noise: Noise,
    with_looks: bool,
    rng: &mut StdRng,
) -> Vec<CameraObservation> {
    let mut out = Vec::new();
    let look_noise = Normal::new(0.0, 0.08_f32).expect("finite sigma");
    for (id, cam) in &layout.cameras {
        let mut dets: Vec<(f64, Person, usize)> = Vec::new();
        for (w, walker) in walkers.iter().enumerate() {
            let Some((at, heading)) = walker.at(t) else { continue };
            let joints = skeleton(at, heading, None);
            if let Some(p) = detect(cam, &joints, noise, rng) {
                dets.push((cam.depth([at[0], at[1], 1.0]), p, w));
            }
        }
        dets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut shown: Vec<BoxPx> = Vec::new();
        for (_, person, w) in dets {
            let hidden = shown.iter().any(|b| overlap(b, &person.bbox) > 0.5);
            shown.push(person.bbox);
            if hidden {
                continue;
            }
            let appearance = with_looks.then(|| {
                let noisy: Vec<f32> = walkers[w].look.iter().map(|v| v + look_noise.sample(rng)).collect();
                crate::vision::decode::l2_normalise(&noisy)
            });
            out.push(CameraObservation { camera: id.clone(), person, appearance, hand_crops: Vec::new() });
        }
    }
    out
}

/// Intersection over the smaller box.
fn overlap(a: &BoxPx, b: &BoxPx) -> f32 {
    let w = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let h = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let smaller = a.area().min(b.area());
    if smaller > 0.0 { w * h / smaller } else { 0.0 }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}
