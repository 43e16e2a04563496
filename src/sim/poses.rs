//! What the cameras' pose detector reports: for each camera frame (10 fps,
//! all cameras in step), MoveNet-shaped [`Person`]s in image pixels, made
//! by projecting each simulated skeleton through the calibration. Like the
//! real detector it jitters keypoints, loses keypoints hidden behind
//! gondolas or other shoppers, misses whole people now and then, and sees
//! people who are not there. Each observation carries the clothing
//! descriptor an appearance model would give (noisy), and, for scoring
//! only, the simulated person it came from.

use super::World;
use crate::ids::CameraId;
use crate::layout::Camera;
use crate::layout::math::Vec3;
use crate::vision::decode::movenet::{Keypoint, Person};
use crate::vision::decode::{BoxPx, l2_normalise};
use crate::vision::hand_crop::{HandCrop, WRISTS};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

pub const FRAME_RATE_HZ: f64 = 10.0;
/// The MoveNet manifest's keypoint threshold (`models/movenet-multipose.toml`).
const KEYPOINT_SCORE: f32 = 0.1;
/// Fewer visible keypoints than this and the detector reports nobody.
const MIN_KEYPOINTS: usize = 5;

/// One detection of one camera frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub camera: CameraId,
    pub person: Person,
    /// A unit-length clothing descriptor (noisy).
    pub appearance: Vec<f32>,
    /// What the gallery made of the crops around the visible wrists.
    pub hand_crops: Vec<HandCrop>,
    /// The simulated person seen; None for a false detection. Never given to the pipeline.
    pub truth: Option<u32>,
}

/// All cameras' detections at one frame time.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseStep {
    pub t: f64,
    pub observations: Vec<Observation>,
}

/// Every frame time from opening to close.
pub fn steps(world: &World) -> impl Iterator<Item = PoseStep> + '_ {
    let params = world.config.scenario.params();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(world.config.seed ^ 0x5EED_CA3E);
    // Its own stream, so that crops leave every other draw as it was.
    let mut crop_rng = Xoshiro256PlusPlus::seed_from_u64(world.config.seed ^ 0xC00F5);
    let frames = ((world.end - world.t0) * FRAME_RATE_HZ) as u64;
    (0..frames).map(move |i| {
        let t = world.t0 + i as f64 / FRAME_RATE_HZ;
        let bodies: Vec<(u32, &[f32], [Vec3; 17])> = world
            .people
            .iter()
            .filter_map(|p| p.body_at(t).map(|b| (p.id, p.appearance.as_slice(), b.keypoints)))
            .collect();
        let mut observations = Vec::new();
        for (id, camera) in &world.layout.cameras {
            let view = CameraView { camera, gondolas: &world.layout.geometry.gondolas };
            for (person, appearance, keypoints) in &bodies {
                if rng.random::<f64>() < params.miss_p {
                    continue;
                }
                let others: Vec<&[Vec3; 17]> = bodies.iter().filter(|b| b.0 != *person).map(|b| &b.2).collect();
                if let Some(p) = view.detect(keypoints, &others, params.keypoint_jitter_px, &mut rng) {
                    let appearance = noisy(appearance, 0.15, &mut rng);
                    let hand_crops = hand_crops(world, *person, &p, t, &mut crop_rng);
                    observations.push(Observation {
                        camera: id.clone(),
                        person: p,
                        appearance,
                        hand_crops,
                        truth: Some(*person),
                    });
                }
            }
            let spurious = poisson(params.false_detections_per_frame, &mut rng);
            for _ in 0..spurious {
                let person = false_detection(camera, &mut rng);
                let appearance = noisy(&[0.0; 16], 1.0, &mut rng);
                observations.push(Observation {
                    camera: id.clone(),
                    person,
                    appearance,
                    hand_crops: Vec::new(),
                    truth: None,
                });
            }
        }
        PoseStep { t, observations }
    })
}

/// Crops of the person's visible wrists, a share of them per frame, each
/// drawn from the world's crop bank (none without one).
fn hand_crops(world: &World, person: u32, seen: &Person, t: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<HandCrop> {
    let Some(bank) = &world.crop_bank else { return Vec::new() };
    let params = world.config.scenario.params();
    let mut out = Vec::new();
    for wrist in WRISTS {
        if !seen.keypoints[usize::from(wrist)].visible || rng.random::<f64>() >= params.hand_crop_p {
            continue;
        }
        let held = world.held_at(person, wrist == WRISTS[1], t);
        if let Some(matches) = bank.draw(held, params.item_hidden_p, rng) {
            out.push(HandCrop { wrist, matches });
        }
    }
    out
}

struct CameraView<'a> {
    camera: &'a Camera,
    gondolas: &'a [crate::layout::GondolaGeometry],
}

impl CameraView<'_> {
    /// The detector's view of one skeleton, or None when too little shows.
    fn detect(
        &self,
        body: &[Vec3; 17],
        others: &[&[Vec3; 17]],
        jitter: f64,
        rng: &mut impl rand::Rng,
    ) -> Option<Person> {
        let depth = self.camera.depth(body[11]);
        let occluders: Vec<BoxPx> = others
            .iter()
            .filter(|o| self.camera.depth(o[11]) < depth)
            .filter_map(|o| self.image_box(o.as_slice()))
            .map(|b| shrink(b, 0.15))
            .collect();
        let mut keypoints = Vec::with_capacity(17);
        for p in body {
            let px = self.camera.project(*p).filter(|px| self.camera.in_image(*px));
            let hidden = px.is_none_or(|px| {
                self.behind_gondola(*p) || occluders.iter().any(|b| contains(b, px) && rng.random::<f64>() < 0.85)
            });
            let (dx, dy) = (gauss(rng) * jitter, gauss(rng) * jitter);
            let [x, y] = px.unwrap_or([f64::from(self.camera.width) / 2.0, f64::from(self.camera.height) / 2.0]);
            let score = if hidden { rng.random::<f32>() * 0.08 } else { 0.35 + rng.random::<f32>() * 0.55 };
            let spread = if hidden { 6.0 } else { 1.0 };
            keypoints.push(Keypoint {
                x: (x + dx * spread) as f32,
                y: (y + dy * spread) as f32,
                score,
                visible: score >= KEYPOINT_SCORE,
            });
        }
        let visible: Vec<&Keypoint> = keypoints.iter().filter(|k| k.visible).collect();
        if visible.len() < MIN_KEYPOINTS {
            return None;
        }
        let bbox = bounds(visible.iter().map(|k| [f64::from(k.x), f64::from(k.y)]))?;
        let score = visible.iter().map(|k| k.score).sum::<f32>() / visible.len() as f32;
        Some(Person { bbox: grow(bbox, 0.1), score, keypoints })
    }

    fn image_box(&self, body: &[Vec3]) -> Option<BoxPx> {
        bounds(body.iter().filter_map(|p| self.camera.project(*p)).filter(|px| self.camera.in_image(*px)))
    }

    /// Whether the line of sight to `p` passes through a gondola body.
    fn behind_gondola(&self, p: Vec3) -> bool {
        let c = self.camera.centre();
        self.gondolas.iter().any(|g| {
            let (xs, ys) = (g.footprint.map(|q| q[0]), g.footprint.map(|q| q[1]));
            let lo = [
                xs.iter().copied().fold(f64::INFINITY, f64::min),
                ys.iter().copied().fold(f64::INFINITY, f64::min),
                0.0,
            ];
            let hi = [
                xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ys.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                g.height,
            ];
            segment_hits_box(c, p, lo, hi)
        })
    }
}

/// Slab test: does the segment a -> b, short of its last 20 cm (a hand just
/// inside a shelf front stays visible), cross the box?
fn segment_hits_box(a: Vec3, b: Vec3, lo: Vec3, hi: Vec3) -> bool {
    let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2) + (b[2] - a[2]).powi(2)).sqrt();
    if len < 1e-9 {
        return false;
    }
    let (mut t0, mut t1) = (0.0_f64, 1.0 - 0.2 / len);
    for k in 0..3 {
        let d = b[k] - a[k];
        if d.abs() < 1e-12 {
            if a[k] < lo[k] || a[k] > hi[k] {
                return false;
            }
            continue;
        }
        let (u, v) = ((lo[k] - a[k]) / d, (hi[k] - a[k]) / d);
        t0 = t0.max(u.min(v));
        t1 = t1.min(u.max(v));
        if t0 > t1 {
            return false;
        }
    }
    true
}

fn bounds(points: impl Iterator<Item = [f64; 2]>) -> Option<BoxPx> {
    let mut b: Option<BoxPx> = None;
    for [x, y] in points {
        let (x, y) = (x as f32, y as f32);
        b = Some(match b {
            None => BoxPx { x0: x, y0: y, x1: x, y1: y },
            Some(b) => BoxPx { x0: b.x0.min(x), y0: b.y0.min(y), x1: b.x1.max(x), y1: b.y1.max(y) },
        });
    }
    b
}

fn grow(b: BoxPx, f: f32) -> BoxPx {
    let (dx, dy) = (b.width() * f, b.height() * f);
    BoxPx { x0: b.x0 - dx, y0: b.y0 - dy, x1: b.x1 + dx, y1: b.y1 + dy }
}

fn shrink(b: BoxPx, f: f32) -> BoxPx {
    grow(b, -f)
}

fn contains(b: &BoxPx, [x, y]: [f64; 2]) -> bool {
    let (x, y) = (x as f32, y as f32);
    x >= b.x0 && x <= b.x1 && y >= b.y0 && y <= b.y1
}

fn gauss(rng: &mut impl rand::Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn noisy(v: &[f32], sigma: f64, rng: &mut impl rand::Rng) -> Vec<f32> {
    let n: Vec<f32> = v.iter().map(|x| x + (gauss(rng) * sigma) as f32).collect();
    l2_normalise(&n)
}

fn poisson(mean: f64, rng: &mut impl rand::Rng) -> u32 {
    // Knuth's method: fine for the small means used here.
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, rng.random::<f64>());
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

/// A spurious person: a plausible box somewhere in the image with weak keypoints.
fn false_detection(camera: &Camera, rng: &mut impl rand::Rng) -> Person {
    let (w, h) = (camera.width as f32, camera.height as f32);
    let (bw, bh) = (20.0 + rng.random::<f32>() * 40.0, 50.0 + rng.random::<f32>() * 90.0);
    let (x0, y0) = (rng.random::<f32>() * (w - bw), rng.random::<f32>() * (h - bh));
    let keypoints = (0..17)
        .map(|_| {
            let score = rng.random::<f32>() * 0.4;
            Keypoint {
                x: x0 + rng.random::<f32>() * bw,
                y: y0 + rng.random::<f32>() * bh,
                score,
                visible: score >= KEYPOINT_SCORE,
            }
        })
        .collect();
    Person { bbox: BoxPx { x0, y0, x1: x0 + bw, y1: y0 + bh }, score: 0.2 + rng.random::<f32>() * 0.15, keypoints }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_through_a_box_hits_it_and_one_beside_it_does_not() {
        let (lo, hi) = ([1.0, 1.0, 0.0], [2.0, 2.0, 2.0]);
        assert!(segment_hits_box([0.0, 1.5, 1.0], [3.0, 1.5, 1.0], lo, hi));
        assert!(!segment_hits_box([0.0, 3.0, 1.0], [3.0, 3.0, 1.0], lo, hi));
        assert!(!segment_hits_box([0.0, 1.5, 1.0], [0.9, 1.5, 1.0], lo, hi), "ends before the box");
        assert!(!segment_hits_box([0.0, 1.5, 1.0], [1.1, 1.5, 1.0], lo, hi), "a hand just inside stays visible");
    }

    #[test]
    fn poisson_counts_average_their_mean() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 20_000;
        let total: u32 = (0..n).map(|_| poisson(0.3, &mut rng)).sum();
        let mean = f64::from(total) / f64::from(n);
        assert!((mean - 0.3).abs() < 0.02, "{mean}");
    }
}
