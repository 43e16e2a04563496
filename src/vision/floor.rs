//! From pixels to the floor (pure): where a person seen by one calibrated
//! camera stands, and where their hands are.
//!
//! - Feet: the visible ankles' mean pixel, cast onto the plane at ankle
//!   height (8 cm) and dropped to the floor.
//!   Without ankles, the hips' mean pixel cast onto the plane at an assumed
//!   hip height; without those, the shoulders' at an assumed shoulder
//!   height; without those, the bottom centre of the person's box, when a
//!   knee shows (the legs are in the box) and the box does not touch a frame
//!   edge (then the body is cut off). A box of only a head and arms is not
//!   cast: its bottom is the chest, and the ray through it meets the floor
//!   metres behind the person (a ghost the tracker would follow).
//! - Hands: the ray through a wrist pixel. Seen by two or more cameras, the
//!   wrist is triangulated (least-squares closest point of the rays); seen
//!   by one, it is where the ray meets the front of the shelf the person
//!   stands at (when that hit is within reach), else the plane at an assumed
//!   hand height.
//!
//! Keypoints are MoveNet's COCO order ([`crate::vision::decode::Person`]).

use nalgebra::{Matrix3, Vector3};

use crate::layout::math::{Vec3, add, dot, norm, scale, sub};
use crate::layout::{Camera, Ray, StoreGeometry};
use crate::vision::decode::{Keypoint, Person};

pub const LEFT_SHOULDER: usize = 5;
pub const RIGHT_SHOULDER: usize = 6;
pub const LEFT_ELBOW: usize = 7;
pub const RIGHT_ELBOW: usize = 8;
pub const LEFT_WRIST: usize = 9;
pub const RIGHT_WRIST: usize = 10;
pub const LEFT_HIP: usize = 11;
pub const RIGHT_HIP: usize = 12;
pub const LEFT_KNEE: usize = 13;
pub const RIGHT_KNEE: usize = 14;
pub const LEFT_ANKLE: usize = 15;
pub const RIGHT_ANKLE: usize = 16;

/// Assumptions about bodies and reach.
#[derive(Clone, Debug, PartialEq)]
pub struct FloorParams {
    /// A keypoint counts when its score reaches this.
    pub min_keypoint_score: f32,
    /// Height of the ankle joints above the floor (metres).
    pub ankle_height_m: f64,
    /// Height of the hip joints above the floor (metres), for the hip fallback.
    pub hip_height_m: f64,
    /// Height of the shoulder joints (metres), for the shoulder fallback.
    pub shoulder_height_m: f64,
    /// Height of a hand not at a shelf (metres), for the last fallback.
    pub hand_height_m: f64,
    /// A shelf front within this horizontal distance of the person's floor
    /// point is within reach.
    pub reach_m: f64,
    /// A wrist seen by one camera at a shelf is placed where its ray meets
    /// the plane this far behind the shelf front (metres): a hand taking an
    /// item is inside the shelf, and placing it on the front face itself
    /// shifts it sideways by the depth times the ray's slant.
    pub hand_depth_m: f64,
    /// A wrist no camera sees (inside a shelf, behind someone) is put on the
    /// line from the shoulder through the elbow, this many upper-arm lengths
    /// beyond the elbow (forearm and hand are about as long as the upper arm).
    pub forearm_ratio: f64,
    /// A box within this of a frame edge is cut off: its bottom need not be
    /// the feet.
    pub edge_margin_px: f32,
}

impl Default for FloorParams {
    fn default() -> Self {
        Self {
            min_keypoint_score: 0.2,
            ankle_height_m: 0.08,
            hip_height_m: 0.9,
            shoulder_height_m: 1.4,
            hand_height_m: 1.0,
            reach_m: 0.9,
            hand_depth_m: 0.1,
            forearm_ratio: 1.0,
            edge_margin_px: 4.0,
        }
    }
}

/// Which part of the body gave a floor point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FootSource {
    Ankles,
    Hips,
    Shoulders,
    BoxBottom,
}

/// A person's position on the floor seen by one camera (metres).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct FloorPoint {
    pub x: f64,
    pub y: f64,
    pub source: FootSource,
}

fn usable(k: Option<&Keypoint>, p: &FloorParams) -> Option<[f64; 2]> {
    let k = k?;
    (k.score >= p.min_keypoint_score && k.x.is_finite() && k.y.is_finite()).then_some([k.x as f64, k.y as f64])
}

/// Mean pixel of the usable keypoints among `indices`.
fn mean_pixel(person: &Person, indices: &[usize], p: &FloorParams) -> Option<[f64; 2]> {
    let pts: Vec<[f64; 2]> = indices.iter().filter_map(|&i| usable(person.keypoints.get(i), p)).collect();
    (!pts.is_empty()).then(|| {
        let n = pts.len() as f64;
        [pts.iter().map(|q| q[0]).sum::<f64>() / n, pts.iter().map(|q| q[1]).sum::<f64>() / n]
    })
}

/// Where a person stands, from one camera; `None` when no part of the body
/// gives a floor point (nothing usable, or the ray misses the plane).
pub fn foot_point(camera: &Camera, person: &Person, p: &FloorParams) -> Option<FloorPoint> {
    let at = |px: [f64; 2], z: f64, source| {
        let w = camera.pixel_to_plane(px, z)?;
        (w[0].is_finite() && w[1].is_finite()).then_some(FloorPoint { x: w[0], y: w[1], source })
    };
    if let Some(fp) =
        mean_pixel(person, &[LEFT_ANKLE, RIGHT_ANKLE], p).and_then(|px| at(px, p.ankle_height_m, FootSource::Ankles))
    {
        return Some(fp);
    }
    if let Some(fp) =
        mean_pixel(person, &[LEFT_HIP, RIGHT_HIP], p).and_then(|px| at(px, p.hip_height_m, FootSource::Hips))
    {
        return Some(fp);
    }
    if let Some(fp) = mean_pixel(person, &[LEFT_SHOULDER, RIGHT_SHOULDER], p)
        .and_then(|px| at(px, p.shoulder_height_m, FootSource::Shoulders))
    {
        return Some(fp);
    }
    // The box bottom is the feet only when the legs are in the box and the
    // frame does not cut the body off.
    mean_pixel(person, &[LEFT_KNEE, RIGHT_KNEE], p)?;
    let b = person.bbox;
    let m = p.edge_margin_px;
    let (w, h) = (camera.width as f32 - 1.0, camera.height as f32 - 1.0);
    let cut_off = b.x0 <= m || b.y0 <= m || b.x1 >= w - m || b.y1 >= h - m;
    if cut_off || !(b.x0.is_finite() && b.x1.is_finite() && b.y1.is_finite()) || b.area() <= 0.0 {
        return None;
    }
    at([(b.x0 + b.x1) as f64 / 2.0, b.y1 as f64], 0.0, FootSource::BoxBottom)
}

/// Which hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Left,
    Right,
}

/// The world ray through one visible wrist.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WristRay {
    pub side: Side,
    pub ray: Ray,
    pub score: f32,
}

/// Rays through the person's usable wrists.
pub fn wrist_rays(camera: &Camera, person: &Person, p: &FloorParams) -> Vec<WristRay> {
    [(Side::Left, LEFT_WRIST), (Side::Right, RIGHT_WRIST)]
        .into_iter()
        .filter_map(|(side, i)| {
            let px = usable(person.keypoints.get(i), p)?;
            let ray = camera.pixel_ray(px)?;
            Some(WristRay { side, ray, score: person.keypoints[i].score })
        })
        .collect()
}

/// A point triangulated from rays, with the RMS distance of the rays to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Triangulated {
    pub point: Vec3,
    pub rms_m: f64,
}

/// The least-squares closest point of two or more rays: minimises the sum of
/// squared distances to the lines. `None` for fewer than two rays, (nearly)
/// parallel rays, or a point behind any ray's origin.
pub fn triangulate(rays: &[Ray]) -> Option<Triangulated> {
    if rays.len() < 2 {
        return None;
    }
    let mut a = Matrix3::zeros();
    let mut b = Vector3::zeros();
    for r in rays {
        let d = Vector3::from(r.direction);
        let proj = Matrix3::identity() - d * d.transpose();
        a += proj;
        b += proj * Vector3::from(r.origin);
    }
    // Parallel rays leave `a` rank 2: its smallest eigenvalue ~ sin² of the angle.
    let smallest = a.symmetric_eigenvalues().min();
    if smallest.is_nan() || smallest <= 1e-4 {
        return None;
    }
    let x = a.try_inverse()? * b;
    let point = [x[0], x[1], x[2]];
    let mut sq = 0.0;
    for r in rays {
        let v = sub(point, r.origin);
        let along = dot(v, r.direction);
        if along <= 0.0 {
            return None;
        }
        sq += dot(v, v) - along * along;
    }
    let rms_m = (sq.max(0.0) / rays.len() as f64).sqrt();
    point.iter().all(|v| v.is_finite()).then_some(Triangulated { point, rms_m })
}

/// The vertical front face of one gondola's shelves, facing the aisle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShelfFront {
    pub gondola: u16,
    /// A point on the plane at floor level, at one end of the front.
    pub origin: Vec3,
    /// Unit horizontal direction along the front.
    pub along: Vec3,
    /// Unit horizontal normal, pointing out of the shelves towards the aisle.
    pub normal: Vec3,
    /// Extent along `along` from `origin`, metres.
    pub length: f64,
    /// Top of the face, metres.
    pub height: f64,
}

impl ShelfFront {
    /// Signed horizontal distance of a floor point from the face (positive on
    /// the aisle side) and its position along the face.
    pub fn locate(&self, x: f64, y: f64) -> (f64, f64) {
        let v = sub([x, y, 0.0], self.origin);
        (dot(v, self.normal), dot(v, self.along))
    }

    /// Where a ray meets the plane `depth` metres behind the face (0: the
    /// face itself), within its extent (10 cm margin along it).
    pub fn hit(&self, ray: &Ray, depth: f64) -> Option<Vec3> {
        let denom = dot(ray.direction, self.normal);
        if denom.abs() < 1e-9 {
            return None;
        }
        let plane = sub(self.origin, scale(self.normal, depth));
        let s = dot(sub(plane, ray.origin), self.normal) / denom;
        let p = add(ray.origin, scale(ray.direction, s));
        let along = dot(sub(p, self.origin), self.along);
        let inside = (-0.1..=self.length + 0.1).contains(&along) && (0.0..=self.height).contains(&p[2]);
        (s > 0.0 && inside).then_some(p)
    }
}

/// The shelf fronts of a store: per gondola, the plane through its plates'
/// front edges (the plates' corners 0 -> 1), facing away from their backs.
pub fn shelf_fronts(geometry: &StoreGeometry) -> Vec<ShelfFront> {
    let mut out = Vec::new();
    for g in &geometry.gondolas {
        let plates: Vec<_> = geometry.gondola_plates(g.id).collect();
        let Some(first) = plates.first() else { continue };
        let c = first.corners;
        let along = horizontal_unit(sub(c[1], c[0]));
        let normal = horizontal_unit(sub(c[0], c[3]));
        let (Some(along), Some(normal)) = (along, normal) else { continue };
        let fronts: Vec<Vec3> = plates.iter().flat_map(|p| [p.corners[0], p.corners[1]]).collect();
        let offset = fronts.iter().map(|q| dot(*q, normal)).sum::<f64>() / fronts.len() as f64;
        let positions: Vec<f64> = fronts.iter().map(|q| dot(*q, along)).collect();
        let lo = positions.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = positions.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let origin = crate::layout::math::add(scale(normal, offset), scale(along, lo));
        out.push(ShelfFront { gondola: g.id, origin, along, normal, length: hi - lo, height: g.height });
    }
    out
}

fn horizontal_unit(v: Vec3) -> Option<Vec3> {
    let h = [v[0], v[1], 0.0];
    let n = norm(h);
    (n > 1e-9).then(|| scale(h, 1.0 / n))
}

/// A hand seen by one camera: on the front of the shelf the person stands at
/// when the ray meets it within reach of the person, else at hand height.
pub fn single_view_hand(ray: &Ray, person_at: [f64; 2], fronts: &[ShelfFront], p: &FloorParams) -> Option<Vec3> {
    let near = fronts
        .iter()
        .filter_map(|f| {
            let (dist, along) = f.locate(person_at[0], person_at[1]);
            let facing = (-0.1..=p.reach_m).contains(&dist) && (-p.reach_m..=f.length + p.reach_m).contains(&along);
            facing.then_some((dist, f))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(hit) = near.and_then(|(_, f)| f.hit(ray, p.hand_depth_m)) {
        let horizontal = (hit[0] - person_at[0]).hypot(hit[1] - person_at[1]);
        if horizontal <= p.reach_m {
            return Some(hit);
        }
    }
    ray.hit_plane_z(p.hand_height_m)
}

/// The hands of one person seen by one or more cameras (`views`), standing
/// at `at` on the floor: per side, triangulated when two or more cameras see
/// that wrist and their rays agree within `max_rms_m` near the person; else
/// from the arm (shoulder and elbow triangulated, the wrist extended along
/// it), on the one wrist ray when a camera sees it; else from the best
/// single view.
pub fn locate_hands(
    views: &[(&Camera, &Person)],
    at: [f64; 2],
    fronts: &[ShelfFront],
    p: &FloorParams,
    max_rms_m: f64,
) -> Vec<Vec3> {
    let rays: Vec<WristRay> = views.iter().flat_map(|(cam, person)| wrist_rays(cam, person, p)).collect();
    let near_person = |q: Vec3| (0.0..=2.5).contains(&q[2]) && (q[0] - at[0]).hypot(q[1] - at[1]) <= p.reach_m + 0.5;
    let mut hands = Vec::new();
    for side in [Side::Left, Side::Right] {
        let mine: Vec<&WristRay> = rays.iter().filter(|r| r.side == side).collect();
        let lines: Vec<Ray> = mine.iter().map(|r| r.ray).collect();
        if let Some(tri) = triangulate(&lines).filter(|tri| tri.rms_m <= max_rms_m && near_person(tri.point)) {
            hands.push(tri.point);
            continue;
        }
        let best = mine.iter().max_by(|a, b| a.score.total_cmp(&b.score));
        let from_arm = arm_wrist(views, side, p, max_rms_m).filter(|q| near_person(*q));
        let hand = match (best, from_arm) {
            // One camera sees the wrist: the arm says how far along its ray.
            (Some(r), Some(arm)) => Some(closest_on_ray(&r.ray, arm))
                .filter(|q| norm(sub(*q, arm)) <= ARM_RAY_AGREE_M)
                .or_else(|| single_view_hand(&r.ray, at, fronts, p)),
            (Some(r), None) => single_view_hand(&r.ray, at, fronts, p),
            (None, arm) => arm,
        };
        hands.extend(hand);
    }
    hands
}

/// How far the arm's wrist may be from the one wrist ray for the ray to place it (m).
const ARM_RAY_AGREE_M: f64 = 0.3;

/// The wrist of `side` from the arm: shoulder and elbow each triangulated
/// from two or more views, the wrist `forearm_ratio` upper arms beyond the elbow.
fn arm_wrist(views: &[(&Camera, &Person)], side: Side, p: &FloorParams, max_rms_m: f64) -> Option<Vec3> {
    let (shoulder, elbow) = match side {
        Side::Left => (LEFT_SHOULDER, LEFT_ELBOW),
        Side::Right => (RIGHT_SHOULDER, RIGHT_ELBOW),
    };
    let joint = |i: usize| {
        let rays: Vec<Ray> =
            views.iter().filter_map(|(cam, person)| cam.pixel_ray(usable(person.keypoints.get(i), p)?)).collect();
        triangulate(&rays).filter(|t| t.rms_m <= max_rms_m).map(|t| t.point)
    };
    let (s, e) = (joint(shoulder)?, joint(elbow)?);
    Some(add(e, scale(sub(e, s), p.forearm_ratio)))
}

/// The point of `ray` nearest `q` (not behind its origin).
fn closest_on_ray(ray: &Ray, q: Vec3) -> Vec3 {
    let s = dot(sub(q, ray.origin), ray.direction).max(0.0);
    add(ray.origin, scale(ray.direction, s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::math::add;
    use crate::vision::decode::BoxPx;
    use crate::vision::tracker::synth;
    use rand_distr::{Distribution, Normal};

    /// A person whose keypoints are the projections of `joints` (those in view).
    fn seen(cam: &Camera, joints: &[Vec3]) -> Person {
        let keypoints = joints
            .iter()
            .map(|j| match cam.project(*j).filter(|px| cam.in_image(*px)) {
                Some([x, y]) => Keypoint { x: x as f32, y: y as f32, score: 0.9, visible: true },
                None => Keypoint { x: 0.0, y: 0.0, score: 0.0, visible: false },
            })
            .collect();
        Person { bbox: BoxPx { x0: 0.0, y0: 0.0, x1: 10.0, y1: 10.0 }, score: 0.9, keypoints }
    }

    #[test]
    fn feet_round_trip_world_pixel_floor() {
        let layout = synth::store();
        let p = FloorParams::default();
        let mut checked = 0;
        for cam in layout.cameras.values() {
            for (x, y) in [(1.0, -1.0), (2.5, -2.0), (4.0, -3.0), (5.0, -0.8)] {
                let joints = synth::skeleton([x, y], 0.3, None);
                let ankles_in_view =
                    [15, 16].iter().all(|&i| cam.project(joints[i]).is_some_and(|px| cam.in_image(px)));
                if !ankles_in_view {
                    continue;
                }
                let fp = foot_point(cam, &seen(cam, &joints), &p).expect("a floor point");
                assert_eq!(fp.source, FootSource::Ankles);
                // ankles are 8 cm up and 10 cm to the sides: their mean ray lands within ~15 cm
                assert!((fp.x - x).hypot(fp.y - y) < 0.15, "{fp:?} vs ({x}, {y})");
                // an exact floor point round-trips exactly
                let px = cam.project([x, y, 0.0]).unwrap();
                let back = cam.pixel_to_plane(px, 0.0).unwrap();
                assert!((back[0] - x).hypot(back[1] - y) < 1e-6);
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} views");
    }

    #[test]
    fn hips_shoulders_then_box_bottom_stand_in_for_missing_ankles() {
        let layout = synth::store();
        let cam = layout.cameras.values().next().unwrap();
        let p = FloorParams::default();
        let joints = synth::skeleton([2.0, -2.0], 0.0, None);
        let mut person = seen(cam, &joints);
        for i in [LEFT_ANKLE, RIGHT_ANKLE] {
            person.keypoints[i].score = 0.05;
        }
        let fp = foot_point(cam, &person, &p).unwrap();
        assert_eq!(fp.source, FootSource::Hips);
        assert!((fp.x - 2.0).hypot(fp.y + 2.0) < 0.1, "{fp:?}");
        for i in [LEFT_HIP, RIGHT_HIP] {
            person.keypoints[i].score = 0.05;
        }
        let fp = foot_point(cam, &person, &p).unwrap();
        assert_eq!(fp.source, FootSource::Shoulders);
        assert!((fp.x - 2.0).hypot(fp.y + 2.0) < 0.25, "{fp:?}");
        let knees = [person.keypoints[LEFT_KNEE], person.keypoints[RIGHT_KNEE]];
        for k in &mut person.keypoints {
            k.score = 0.0;
        }
        let [u, v] = cam.project([2.0, -2.0, 0.0]).unwrap();
        person.bbox = BoxPx { x0: u as f32 - 20.0, y0: v as f32 - 100.0, x1: u as f32 + 20.0, y1: v as f32 };
        assert_eq!(foot_point(cam, &person, &p), None, "a box without legs in it (a chest) is not the feet");
        (person.keypoints[LEFT_KNEE], person.keypoints[RIGHT_KNEE]) = (knees[0], knees[1]);
        let fp = foot_point(cam, &person, &p).unwrap();
        assert_eq!(fp.source, FootSource::BoxBottom);
        assert!((fp.x - 2.0).hypot(fp.y + 2.0) < 0.01, "{fp:?}");
        person.bbox.y1 = cam.height as f32;
        assert_eq!(foot_point(cam, &person, &p), None, "a box cut off by the frame edge has no feet");
    }

    #[test]
    fn triangulation_with_pixel_noise_lands_within_centimetres() {
        let layout = synth::store();
        let mut rng = synth::rng(7);
        let noise = Normal::new(0.0, 1.5).unwrap();
        let hand = [2.2, -0.3, 1.15];
        let rays: Vec<Ray> = layout
            .cameras
            .values()
            .filter_map(|cam| {
                let [u, v] = cam.project(hand).filter(|px| cam.in_image(*px))?;
                cam.pixel_ray([u + noise.sample(&mut rng), v + noise.sample(&mut rng)])
            })
            .collect();
        assert!(rays.len() >= 3, "{} cameras see the hand", rays.len());
        let tri = triangulate(&rays).unwrap();
        assert!(norm(sub(tri.point, hand)) < 0.05, "{tri:?}");
        assert!(tri.rms_m < 0.03, "{tri:?}");
        assert!(triangulate(&rays[..1]).is_none());
        assert!(triangulate(&[rays[0], rays[0]]).is_none(), "parallel rays");
    }

    #[test]
    fn a_single_view_hand_lands_inside_the_shelf_front_within_reach() {
        let layout = synth::store();
        let fronts = shelf_fronts(&layout.geometry);
        assert_eq!(fronts.len(), 1);
        let f = fronts[0];
        assert!(f.normal[1] < -0.99 && f.origin[1].abs() < 1e-9 && (f.length - 12.0 * 0.1016).abs() < 1e-9, "{f:?}");
        let p = FloorParams::default();
        // a hand taking an item, `hand_depth_m` behind the front (the shelves are on +y)
        let hand = [1.0, p.hand_depth_m, 1.1];
        let cam = layout.cameras.values().find(|c| c.project(hand).is_some_and(|px| c.in_image(px))).unwrap();
        let ray = cam.pixel_ray(cam.project(hand).unwrap()).unwrap();
        let got = single_view_hand(&ray, [1.0, -0.5], &fronts, &p).unwrap();
        assert!(norm(sub(got, hand)) < 1e-6, "{got:?}");
        // a person far from any shelf: the hand is put at hand height on the ray
        let away = single_view_hand(&ray, [1.0, -3.0], &fronts, &p).unwrap();
        assert!((away[2] - p.hand_height_m).abs() < 1e-9);
        let two: Vec<(&Camera, Person)> = layout
            .cameras
            .values()
            .filter(|c| c.project(hand).is_some_and(|px| c.in_image(px)))
            .map(|c| {
                let mut joints = synth::skeleton([1.0, -0.5], std::f64::consts::FRAC_PI_2, None);
                joints[RIGHT_WRIST] = hand;
                joints[LEFT_WRIST] = add(hand, [0.0, -0.2, -0.3]);
                (c, seen(c, &joints))
            })
            .collect();
        let views: Vec<(&Camera, &Person)> = two.iter().map(|(c, p)| (*c, p)).collect();
        let hands = locate_hands(&views, [1.0, -0.5], &fronts, &p, 0.1);
        assert_eq!(hands.len(), 2);
        assert!(hands.iter().any(|h| norm(sub(*h, hand)) < 1e-3), "{hands:?}");
    }

    #[test]
    fn a_wrist_no_camera_sees_is_extended_from_the_arm_or_placed_on_its_one_ray() {
        let layout = synth::store();
        let fronts = shelf_fronts(&layout.geometry);
        let p = FloorParams::default();
        // Right arm reaching into the shelf: elbow halfway from shoulder to wrist.
        let at = [2.5, -0.5];
        let mut joints = synth::skeleton(at, std::f64::consts::FRAC_PI_2, None);
        let wrist = [2.5, 0.12, 1.1];
        joints[RIGHT_ELBOW] = scale(add(joints[RIGHT_SHOULDER], wrist), 0.5);
        joints[RIGHT_WRIST] = wrist;
        let cams: Vec<&Camera> = layout
            .cameras
            .values()
            .filter(|c| {
                [RIGHT_SHOULDER, RIGHT_ELBOW].iter().all(|&i| c.project(joints[i]).is_some_and(|px| c.in_image(px)))
            })
            .collect();
        assert!(cams.len() >= 2, "two cameras see the arm: {}", cams.len());
        let right = |hands: &[Vec3]| hands.iter().map(|h| norm(sub(*h, wrist))).fold(f64::INFINITY, f64::min);
        // The hands located when camera `k` does not see the joints `hidden(k)`.
        let hands_hiding = |hidden: &dyn Fn(usize) -> Vec<usize>| {
            let people: Vec<Person> = cams
                .iter()
                .enumerate()
                .map(|(k, c)| {
                    let mut person = seen(c, &joints);
                    for i in hidden(k) {
                        person.keypoints[i] = Keypoint { x: 0.0, y: 0.0, score: 0.0, visible: false };
                    }
                    person
                })
                .collect();
            let views: Vec<(&Camera, &Person)> = cams.iter().copied().zip(&people).collect();
            locate_hands(&views, at, &fronts, &p, 0.1)
        };
        // No camera sees the wrist: it is one upper arm beyond the elbow.
        let hands = hands_hiding(&|_| vec![RIGHT_WRIST]);
        assert!(right(&hands) < 1e-3, "{hands:?}");
        // One camera sees it: the point of that ray nearest the arm's estimate.
        assert!(cams[0].project(wrist).is_some_and(|px| cams[0].in_image(px)), "the first camera sees the wrist");
        let hands = hands_hiding(&|k| if k > 0 { vec![RIGHT_WRIST] } else { vec![] });
        assert!(right(&hands) < 1e-3, "{hands:?}");
        // Without the elbow either, nothing is made up for that side.
        let hands = hands_hiding(&|_| vec![RIGHT_WRIST, RIGHT_ELBOW]);
        assert!(right(&hands) > 0.1, "only the other hand: {hands:?}");
    }
}
