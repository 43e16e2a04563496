//! The joint fit behind [`super::poses`]: cameras with fixed centres, each
//! with its own rotation, one shared focal-length scale, and the unknown
//! positions of the tie points, fitted together to the marked pixels by
//! Levenberg-Marquardt (numeric derivatives per observation, the normal
//! equations solved by Cholesky).
//!
//! Start: each camera's rotation from Kabsch's solution on its world points
//! (`calibrate::solve_rotation`), the tie points where the cameras' rays meet
//! their height, then the remaining cameras' rotations from world and tie
//! points together.

use super::landmarks::Target;
use super::poses::scale_intrinsics;
use crate::layout::calibrate::{Correspondence, solve_rotation};
use crate::layout::camera::Camera;
use crate::layout::math::{Mat3, Vec3, mat_mul, mat_vec, rodrigues, scale};
use nalgebra::{DMatrix, DVector};
use std::collections::BTreeMap;

/// One marked pixel.
#[derive(Clone, Debug)]
pub struct Observation {
    /// Index into [`Problem::cameras`].
    pub camera: usize,
    pub target: Target,
    pub pixel: [f64; 2],
}

pub struct Problem {
    /// The cameras as imported: their centres, intrinsics and distortion are
    /// kept (up to the shared scale); their rotations are the start.
    pub cameras: Vec<Camera>,
    pub observations: Vec<Observation>,
    /// Fit the shared focal-length scale (else it stays 1: AiFi's focal lengths).
    pub fit_scale: bool,
}

#[derive(Debug)]
pub struct Solution {
    pub cameras: Vec<Camera>,
    pub focal_scale: f64,
    /// Fitted (x, y) of every tie point.
    pub ties: BTreeMap<String, [f64; 2]>,
    /// Per camera the RMS pixel error of its tie observations.
    pub tie_rms_px: Vec<Option<f64>>,
    pub iterations: usize,
}

/// Penalty (pixels) for a point that falls behind a camera or outside its lens model.
const MISS_PX: f64 = 1000.0;

struct Layout {
    starts: Vec<Mat3>,
    bases: Vec<Camera>,
    ties: Vec<(String, f64)>,
    fit_scale: bool,
}

impl Layout {
    fn scale_index(&self) -> usize {
        3 * self.bases.len()
    }

    fn tie_index(&self, name: &str) -> Option<usize> {
        self.ties.iter().position(|(n, _)| n == name).map(|i| self.scale_index() + 1 + 2 * i)
    }

    fn camera(&self, x: &[f64], i: usize) -> Camera {
        let base = scale_intrinsics(&self.bases[i], x[self.scale_index()].exp());
        let rotation = mat_mul(&rodrigues([x[3 * i], x[3 * i + 1], x[3 * i + 2]]), &self.starts[i]);
        let centre = self.bases[i].centre();
        Camera { rotation, translation: scale(mat_vec(&rotation, centre), -1.0), ..base }
    }

    fn point(&self, x: &[f64], target: &Target) -> Vec3 {
        match target {
            Target::World(w) => *w,
            Target::Tie { name, z } => {
                let j = self.tie_index(name).expect("every tie has parameters");
                [x[j], x[j + 1], *z]
            }
        }
    }

    /// The residual (projected - marked) of one observation.
    fn residual(&self, x: &[f64], o: &Observation) -> [f64; 2] {
        let cam = self.camera(x, o.camera);
        let p = self.point(x, &o.target);
        match (cam.depth(p) > 0.0).then(|| cam.project(p)).flatten() {
            Some(q) => [q[0] - o.pixel[0], q[1] - o.pixel[1]],
            None => [MISS_PX, MISS_PX],
        }
    }

    /// The parameters one observation depends on.
    fn params_of(&self, o: &Observation) -> Vec<usize> {
        let mut v = vec![3 * o.camera, 3 * o.camera + 1, 3 * o.camera + 2];
        if self.fit_scale {
            v.push(self.scale_index());
        }
        if let Target::Tie { name, .. } = &o.target {
            let j = self.tie_index(name).expect("every tie has parameters");
            v.extend([j, j + 1]);
        }
        v
    }
}

/// Where each tie's rays (from the cameras that see it) meet its height, averaged.
fn place_ties(cameras: &[Camera], observations: &[Observation], ties: &[(String, f64)]) -> Vec<[f64; 2]> {
    ties.iter()
        .map(|(name, z)| {
            let hits: Vec<Vec3> = observations
                .iter()
                .filter(|o| matches!(&o.target, Target::Tie { name: n, .. } if n == name))
                .filter_map(|o| cameras[o.camera].pixel_to_plane(o.pixel, *z))
                .collect();
            let n = hits.len().max(1) as f64;
            if hits.is_empty() {
                [2.0, -0.7]
            } else {
                [hits.iter().map(|p| p[0]).sum::<f64>() / n, hits.iter().map(|p| p[1]).sum::<f64>() / n]
            }
        })
        .collect()
}

/// Each camera's rotation from its world points (and, when `with_ties`,
/// its tie points at their current places), where there are at least two.
fn aim(
    cameras: &mut [Camera],
    observations: &[Observation],
    ties: &[(String, f64)],
    places: &[[f64; 2]],
    with_ties: bool,
) {
    for (i, cam) in cameras.iter_mut().enumerate() {
        let points: Vec<Correspondence> = observations
            .iter()
            .filter(|o| o.camera == i)
            .filter_map(|o| {
                let world = match &o.target {
                    Target::World(w) => *w,
                    Target::Tie { name, z } if with_ties => {
                        let k = ties.iter().position(|(n, _)| n == name)?;
                        [places[k][0], places[k][1], *z]
                    }
                    Target::Tie { .. } => return None,
                };
                Some(Correspondence { world, pixel: o.pixel, label: String::new() })
            })
            .collect();
        if let Ok(fit) = solve_rotation(cam, &points) {
            *cam = fit.apply(cam);
        }
    }
}

pub fn solve(problem: &Problem) -> Result<Solution, String> {
    let mut ties: Vec<(String, f64)> = Vec::new();
    for o in &problem.observations {
        if let Target::Tie { name, z } = &o.target
            && !ties.iter().any(|(n, _)| n == name)
        {
            ties.push((name.clone(), *z));
        }
    }
    let mut start = problem.cameras.clone();
    aim(&mut start, &problem.observations, &ties, &[], false);
    let places = place_ties(&start, &problem.observations, &ties);
    aim(&mut start, &problem.observations, &ties, &places, true);
    let places = place_ties(&start, &problem.observations, &ties);
    let layout = Layout {
        starts: start.iter().map(|c| c.rotation).collect(),
        bases: problem.cameras.clone(),
        ties,
        fit_scale: problem.fit_scale,
    };
    let mut x = vec![0.0; layout.scale_index() + 1];
    x.extend(places.iter().flatten());
    let iterations = levenberg_marquardt(&layout, &problem.observations, &mut x)?;
    let cameras: Vec<Camera> = (0..layout.bases.len()).map(|i| layout.camera(&x, i)).collect();
    let tie_rms_px = (0..cameras.len())
        .map(|i| {
            let errs: Vec<f64> = problem
                .observations
                .iter()
                .filter(|o| o.camera == i && matches!(o.target, Target::Tie { .. }))
                .map(|o| {
                    let r = layout.residual(&x, o);
                    r[0] * r[0] + r[1] * r[1]
                })
                .collect();
            (!errs.is_empty()).then(|| (errs.iter().sum::<f64>() / errs.len() as f64).sqrt())
        })
        .collect();
    let ties = layout
        .ties
        .iter()
        .map(|(n, _)| (n.clone(), layout.tie_index(n).map(|j| [x[j], x[j + 1]]).unwrap_or_default()))
        .collect();
    Ok(Solution { cameras, focal_scale: x[layout.scale_index()].exp(), ties, tie_rms_px, iterations })
}

fn residuals(layout: &Layout, observations: &[Observation], x: &[f64]) -> DVector<f64> {
    DVector::from_iterator(observations.len() * 2, observations.iter().flat_map(|o| layout.residual(x, o)))
}

/// Minimises the squared reprojection error over `x`; the iterations used.
fn levenberg_marquardt(layout: &Layout, observations: &[Observation], x: &mut [f64]) -> Result<usize, String> {
    let n = x.len();
    let mut r = residuals(layout, observations, x);
    let mut lambda = 1e-3;
    for iteration in 1..=200 {
        let mut jac = DMatrix::<f64>::zeros(r.len(), n);
        for (k, o) in observations.iter().enumerate() {
            for j in layout.params_of(o) {
                let h = 1e-7;
                let mut xh = x.to_vec();
                xh[j] += h;
                let rh = layout.residual(&xh, o);
                jac[(2 * k, j)] = (rh[0] - r[2 * k]) / h;
                jac[(2 * k + 1, j)] = (rh[1] - r[2 * k + 1]) / h;
            }
        }
        let (a, g) = (jac.transpose() * &jac, jac.transpose() * &r);
        let cost = r.norm_squared();
        loop {
            let mut damped = a.clone();
            for i in 0..n {
                damped[(i, i)] += lambda * a[(i, i)].max(1e-9);
            }
            let step = damped.cholesky().ok_or("the pose fit's normal equations are singular")?.solve(&(-&g));
            let trial: Vec<f64> = x.iter().zip(step.iter()).map(|(a, b)| a + b).collect();
            let r_trial = residuals(layout, observations, &trial);
            if r_trial.norm_squared() < cost {
                let converged = step.amax() < 1e-10 || cost - r_trial.norm_squared() < 1e-12 * cost;
                x.copy_from_slice(&trial);
                r = r_trial;
                lambda = (lambda / 3.0).max(1e-9);
                if converged {
                    return Ok(iteration);
                }
                break;
            }
            lambda *= 10.0;
            if lambda > 1e10 {
                return Ok(iteration);
            }
        }
    }
    Ok(200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::calibrate::rotation_angle_deg;
    use crate::layout::camera::{Distortion, Intrinsics};

    /// A ceiling camera at `pos` looking at `target` (x right, y down).
    fn camera(pos: Vec3, target: Vec3) -> Camera {
        let f = crate::layout::math::sub(target, pos);
        let z = scale(f, 1.0 / crate::layout::math::norm(f));
        let r = [z[1], -z[0], 0.0];
        let x = scale(r, 1.0 / crate::layout::math::norm(r));
        let y = crate::layout::math::cross(z, x);
        let rotation = [x, y, z];
        Camera {
            width: 640,
            height: 360,
            intrinsics: Intrinsics { fx: 360.0, fy: 360.0, cx: 320.0, cy: 165.0 },
            distortion: Distortion { k1: -0.23, k2: 0.05, ..Default::default() },
            rotation,
            translation: scale(mat_vec(&rotation, pos), -1.0),
        }
    }

    /// Two cameras that saw shelf corners and a walking person's feet; the
    /// start is aimed 8-12 degrees off with focal lengths 1/0.7 too long.
    #[test]
    fn recovers_aims_and_the_focal_scale() {
        let truth = [camera([0.5, 0.0, 2.4], [3.0, -0.8, 0.5]), camera([4.0, -1.4, 2.4], [1.5, -0.3, 0.5])];
        let world = [[2.0, 0.09, 1.6], [3.0, 0.09, 1.2], [2.5, 0.09, 0.4], [3.5, 0.09, 1.7], [1.6, 0.09, 0.9]];
        let feet: Vec<Vec3> = (0..8).map(|i| [1.2 + 0.35 * i as f64, -0.3 - 0.12 * i as f64, 0.08]).collect();
        let mut observations = Vec::new();
        for (c, cam) in truth.iter().enumerate() {
            for w in world {
                if let Some(p) = cam.project(w).filter(|p| cam.in_image(*p)) {
                    observations.push(Observation { camera: c, target: Target::World(w), pixel: p });
                }
            }
            for (k, f) in feet.iter().enumerate() {
                if let Some(p) = cam.project(*f).filter(|p| cam.in_image(*p)) {
                    let target = Target::Tie { name: format!("feet {k}"), z: f[2] };
                    observations.push(Observation { camera: c, target, pixel: p });
                }
            }
        }
        let off = |cam: &Camera, rv: Vec3| {
            let long = scale_intrinsics(cam, 1.0 / 0.7);
            let rotation = mat_mul(&rodrigues(rv), &cam.rotation);
            Camera { rotation, translation: scale(mat_vec(&rotation, cam.centre()), -1.0), ..long }
        };
        let start = vec![off(&truth[0], [0.1, -0.15, 0.05]), off(&truth[1], [-0.12, 0.1, 0.12])];
        let solved = solve(&Problem { cameras: start, observations, fit_scale: true }).unwrap();
        assert!((solved.focal_scale - 0.7).abs() < 1e-4, "{}", solved.focal_scale);
        for (got, want) in solved.cameras.iter().zip(&truth) {
            assert!(rotation_angle_deg(&got.rotation, &want.rotation) < 0.01);
            assert!((got.intrinsics.fx - want.intrinsics.fx).abs() < 0.05);
        }
        let f3 = solved.ties["feet 3"];
        assert!((f3[0] - feet[3][0]).abs() < 1e-3 && (f3[1] - feet[3][1]).abs() < 1e-3, "{f3:?}");
        assert!(solved.tie_rms_px.iter().flatten().all(|e| *e < 1e-3));
    }
}
