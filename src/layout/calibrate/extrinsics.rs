//! A camera's pose from marked points: world points (metres) and the pixels
//! where they appear, with the intrinsics and distortion known.
//!
//! - [`solve_pose`]: all six degrees of freedom, OpenCV `solvePnP` (SQPnP,
//!   globally optimal for the algebraic error) refined by `solvePnPRefineLM`
//!   on the reprojection error; at least 4 points, not collinear.
//! - [`solve_rotation`]: the camera's centre kept, only its aim fitted (a
//!   camera re-aimed on its mount): Kabsch's closed form on the viewing
//!   directions, refined by Gauss-Newton on the reprojection error; at least
//!   2 points seen in different directions.
//!
//! Bad input (too few points, repeated or collinear points, pixels outside
//! the lens model, points behind the fitted camera) is an error that says
//! which points, never a panic.

use super::{CalibrateError, cv};
use crate::layout::camera::Camera;
use crate::layout::math::{Mat3, Vec3, dot, mat_mul, mat_vec, norm, rodrigues, scale, sub, transpose};
use nalgebra::{Matrix3, SymmetricEigen, Vector3};
use opencv::core::{Mat, Point2d, Point3d, TermCriteria, TermCriteria_Type, Vector};
use opencv::prelude::*;

/// A world point and the pixel where one camera sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Correspondence {
    pub world: Vec3,
    pub pixel: [f64; 2],
    /// What the point is (for messages and reports); may be empty.
    pub label: String,
}

/// A fitted pose (world -> camera) and how well it reproduces the points.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseFit {
    pub rotation: Mat3,
    pub translation: Vec3,
    /// Root mean square reprojection error, pixels.
    pub rms_px: f64,
    /// Per point, the distance between the marked and the projected pixel.
    pub residuals_px: Vec<f64>,
}

impl PoseFit {
    /// `base` (intrinsics, distortion, size) with the fitted pose.
    pub fn apply(&self, base: &Camera) -> Camera {
        Camera { rotation: self.rotation, translation: self.translation, ..base.clone() }
    }
}

/// Fewest points for [`solve_pose`].
pub const MIN_POSE_POINTS: usize = 4;
/// Fewest points for [`solve_rotation`].
pub const MIN_ROTATION_POINTS: usize = 2;

fn name(points: &[Correspondence], i: usize) -> String {
    if points[i].label.is_empty() {
        format!("point {}", i + 1)
    } else {
        format!("point {} ({})", i + 1, points[i].label)
    }
}

/// Finite values, no repeated world point, every pixel inside the lens model.
fn check_points(camera: &Camera, points: &[Correspondence], min: usize) -> Result<(), CalibrateError> {
    if points.len() < min {
        return Err(CalibrateError::Input(format!("need at least {min} marked points, got {}", points.len())));
    }
    for (i, p) in points.iter().enumerate() {
        if !p.world.iter().chain(&p.pixel).all(|v| v.is_finite()) {
            return Err(CalibrateError::Input(format!("{}: not a finite number", name(points, i))));
        }
        if !camera.in_image(p.pixel) {
            return Err(CalibrateError::Input(format!(
                "{}: pixel {:?} is outside the {}x{} image",
                name(points, i),
                p.pixel,
                camera.width,
                camera.height
            )));
        }
        if camera.undistort_pixel(p.pixel).is_none() {
            return Err(CalibrateError::Input(format!(
                "{}: pixel {:?} lies outside the camera's lens model (beyond the image or the distortion's valid radius)",
                name(points, i),
                p.pixel
            )));
        }
        if let Some(j) = (0..i).find(|&j| norm(sub(points[j].world, p.world)) < 1e-3) {
            return Err(CalibrateError::Input(format!(
                "{} and {} are the same world point",
                name(points, j),
                name(points, i)
            )));
        }
    }
    Ok(())
}

/// Square roots of the eigenvalues of the points' covariance, largest first:
/// the RMS spread along the principal axes.
fn spread(points: impl Iterator<Item = Vec3> + Clone) -> [f64; 3] {
    let n = points.clone().count().max(1) as f64;
    let mean = points.clone().fold([0.0; 3], |a, p| [a[0] + p[0] / n, a[1] + p[1] / n, a[2] + p[2] / n]);
    let mut cov = Matrix3::zeros();
    for p in points {
        let d = Vector3::from(sub(p, mean));
        cov += d * d.transpose() / n;
    }
    let mut e: Vec<f64> = SymmetricEigen::new(cov).eigenvalues.iter().map(|v| v.max(0.0).sqrt()).collect();
    e.sort_by(|a, b| b.total_cmp(a));
    [e[0], e[1], e[2]]
}

/// Rejects point sets from which a pose cannot be told: world points on one
/// line (or nearly), or pixels bunched on one line of the image.
fn check_not_collinear(points: &[Correspondence]) -> Result<(), CalibrateError> {
    let w = spread(points.iter().map(|p| p.world));
    if w[1] < 0.02 * w[0] || w[1] < 1e-3 {
        return Err(CalibrateError::Input(format!(
            "the {} world points are (nearly) collinear (spread {:.3} m along their line, {:.4} m across it): \
             mark points that span an area",
            points.len(),
            w[0],
            w[1]
        )));
    }
    let px = spread(points.iter().map(|p| [p.pixel[0], p.pixel[1], 0.0]));
    if px[1] < 2.0 {
        return Err(CalibrateError::Input(format!(
            "the marked pixels lie on one line of the image ({:.1} px across it): mark points that span an area",
            px[1]
        )));
    }
    Ok(())
}

/// Per point the reprojection error in pixels; an error naming the first
/// point behind the camera or outside its lens model.
pub fn reprojection_errors(camera: &Camera, points: &[Correspondence]) -> Result<Vec<f64>, CalibrateError> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let proj = (camera.depth(p.world) > 0.0).then(|| camera.project(p.world)).flatten().ok_or_else(|| {
                CalibrateError::Fit(format!(
                    "{} is behind the fitted camera or outside its lens model",
                    name(points, i)
                ))
            })?;
            Ok((proj[0] - p.pixel[0]).hypot(proj[1] - p.pixel[1]))
        })
        .collect()
}

fn fit_of(camera: &Camera, points: &[Correspondence]) -> Result<PoseFit, CalibrateError> {
    let residuals_px = reprojection_errors(camera, points)?;
    let rms_px = (residuals_px.iter().map(|e| e * e).sum::<f64>() / residuals_px.len() as f64).sqrt();
    Ok(PoseFit { rotation: camera.rotation, translation: camera.translation, rms_px, residuals_px })
}

pub(super) fn camera_matrix(camera: &Camera) -> Result<Mat, CalibrateError> {
    let k = camera.intrinsics;
    Mat::from_slice_2d(&[[k.fx, 0.0, k.cx], [0.0, k.fy, k.cy], [0.0, 0.0, 1.0]]).map_err(cv)
}

fn mat_vec3(m: &Mat) -> Result<Vec3, CalibrateError> {
    Ok([*m.at::<f64>(0).map_err(cv)?, *m.at::<f64>(1).map_err(cv)?, *m.at::<f64>(2).map_err(cv)?])
}

/// Six-degree-of-freedom pose of `camera` (its intrinsics, distortion and
/// size; its current pose is ignored) from marked points.
pub fn solve_pose(camera: &Camera, points: &[Correspondence]) -> Result<PoseFit, CalibrateError> {
    check_points(camera, points, MIN_POSE_POINTS)?;
    check_not_collinear(points)?;
    let obj: Vector<Point3d> = points.iter().map(|p| Point3d::new(p.world[0], p.world[1], p.world[2])).collect();
    let img: Vector<Point2d> = points.iter().map(|p| Point2d::new(p.pixel[0], p.pixel[1])).collect();
    let k = camera_matrix(camera)?;
    let dist: Vector<f64> = camera.distortion.to_array().into_iter().collect();
    let (mut rvec, mut tvec) = (Mat::default(), Mat::default());
    let found =
        opencv::calib3d::solve_pnp(&obj, &img, &k, &dist, &mut rvec, &mut tvec, false, opencv::calib3d::SOLVEPNP_SQPNP)
            .map_err(cv)?;
    if !found {
        return Err(CalibrateError::Fit("solvePnP found no pose for these points".into()));
    }
    let criteria = TermCriteria::new((TermCriteria_Type::COUNT as i32) | (TermCriteria_Type::EPS as i32), 200, 1e-12)
        .map_err(cv)?;
    opencv::calib3d::solve_pnp_refine_lm(&obj, &img, &k, &dist, &mut rvec, &mut tvec, criteria).map_err(cv)?;
    let posed = Camera { rotation: rodrigues(mat_vec3(&rvec)?), translation: mat_vec3(&tvec)?, ..camera.clone() };
    fit_of(&posed, points)
}

/// The rotation that best turns the world directions `b` (from the camera
/// centre to the points) into the camera rays `a`: Kabsch's SVD solution.
fn kabsch(a: &[Vec3], b: &[Vec3]) -> Mat3 {
    let mut h = Matrix3::zeros();
    for (a, b) in a.iter().zip(b) {
        h += Vector3::from(*b) * Vector3::from(*a).transpose();
    }
    let svd = h.svd(true, true);
    let (u, v_t) = (svd.u.expect("requested"), svd.v_t.expect("requested"));
    let v = v_t.transpose();
    let d = (v * u.transpose()).determinant().signum();
    let r = v * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * u.transpose();
    std::array::from_fn(|i| std::array::from_fn(|j| r[(i, j)]))
}

/// The camera's aim from marked points, its centre kept (a camera re-aimed
/// on its mount, or one whose position was surveyed).
pub fn solve_rotation(camera: &Camera, points: &[Correspondence]) -> Result<PoseFit, CalibrateError> {
    check_points(camera, points, MIN_ROTATION_POINTS)?;
    let centre = camera.centre();
    let mut rays = Vec::new();
    let mut dirs = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let (x, y) = camera.undistort_pixel(p.pixel).expect("checked");
        let ray = [x, y, 1.0];
        rays.push(scale(ray, 1.0 / norm(ray)));
        let d = sub(p.world, centre);
        if norm(d) < 1e-3 {
            return Err(CalibrateError::Input(format!("{} is at the camera centre", name(points, i))));
        }
        dirs.push(scale(d, 1.0 / norm(d)));
    }
    let widest = dirs.iter().flat_map(|a| dirs.iter().map(move |b| dot(*a, *b))).fold(1.0_f64, f64::min);
    if widest > (0.5_f64).to_radians().cos() {
        return Err(CalibrateError::Input(
            "the marked points lie in (nearly) one direction from the camera: the aim is undetermined".into(),
        ));
    }
    let rotation = gauss_newton_rotation(camera, kabsch(&rays, &dirs), points)?;
    let posed = Camera { rotation, translation: scale(mat_vec(&rotation, centre), -1.0), ..camera.clone() };
    fit_of(&posed, points)
}

/// Refines a rotation (centre fixed) on the reprojection error: Gauss-Newton
/// with a numeric Jacobian over a small rotation `R = exp(δ) R₀`.
fn gauss_newton_rotation(camera: &Camera, start: Mat3, points: &[Correspondence]) -> Result<Mat3, CalibrateError> {
    let centre = camera.centre();
    let residuals = |r: &Mat3| -> Option<Vec<f64>> {
        let cam = Camera { rotation: *r, translation: scale(mat_vec(r, centre), -1.0), ..camera.clone() };
        let mut out = Vec::with_capacity(points.len() * 2);
        for p in points {
            let q = (cam.depth(p.world) > 0.0).then(|| cam.project(p.world)).flatten()?;
            out.extend([q[0] - p.pixel[0], q[1] - p.pixel[1]]);
        }
        Some(out)
    };
    let mut rotation = start;
    let behind = || CalibrateError::Fit("a marked point falls behind the camera for every aim tried".into());
    let mut r0 = residuals(&rotation).ok_or_else(behind)?;
    for _ in 0..50 {
        let h = 1e-7;
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|k| {
                let mut d = [0.0; 3];
                d[k] = h;
                let r = residuals(&mat_mul(&rodrigues(d), &rotation)).ok_or_else(behind)?;
                Ok(r.iter().zip(&r0).map(|(a, b)| (a - b) / h).collect())
            })
            .collect::<Result<_, CalibrateError>>()?;
        let jtj = Matrix3::from_fn(|i, j| dot_slices(&cols[i], &cols[j]));
        let jtr = Vector3::from_fn(|i, _| dot_slices(&cols[i], &r0));
        let Some(step) = jtj.lu().solve(&(-jtr)) else { break };
        let next = mat_mul(&rodrigues([step[0], step[1], step[2]]), &rotation);
        let Some(r1) = residuals(&next) else { break };
        if dot_slices(&r1, &r1) > dot_slices(&r0, &r0) {
            break;
        }
        (rotation, r0) = (next, r1);
        if step.norm() < 1e-12 {
            break;
        }
    }
    Ok(rotation)
}

fn dot_slices(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The angle in degrees between two rotations.
pub fn rotation_angle_deg(a: &Mat3, b: &Mat3) -> f64 {
    let m = mat_mul(a, &transpose(b));
    let cos = ((m[0][0] + m[1][1] + m[2][2] - 1.0) / 2.0).clamp(-1.0, 1.0);
    cos.acos().to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::camera::{Distortion, Intrinsics};
    use crate::layout::math::add;
    use rand::{RngExt, SeedableRng};

    /// A ceiling camera 2.4 m up looking down the aisle, AiFi-like lens.
    fn truth() -> Camera {
        let (pos, target) = ([1.0, -0.8, 2.4], [2.6, 0.0, 0.4]);
        let f = sub(target, pos);
        let z = scale(f, 1.0 / norm(f));
        let r = [z[1], -z[0], 0.0]; // z x up
        let x = scale(r, 1.0 / norm(r));
        let y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]];
        let rotation = [x, y, z];
        Camera {
            width: 640,
            height: 360,
            intrinsics: Intrinsics { fx: 500.0, fy: 500.0, cx: 320.0, cy: 165.0 },
            distortion: Distortion { k1: -0.45, k2: 0.2, ..Default::default() },
            rotation,
            translation: scale(mat_vec(&rotation, pos), -1.0),
        }
    }

    /// Floor and shelf points in view, with pixel noise of `noise_px` (uniform).
    fn marked(camera: &Camera, noise_px: f64, seed: u64) -> Vec<Correspondence> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut out = Vec::new();
        for (i, &(x, y, z)) in [
            (1.5, 0.5, 0.0),
            (2.5, 0.2, 0.0),
            (3.0, -1.0, 0.0),
            (2.0, -1.2, 0.0),
            (2.8, 0.6, 1.6),
            (1.8, 0.7, 0.9),
            (3.5, 0.3, 0.4),
            (2.2, -0.4, 0.0),
        ]
        .iter()
        .enumerate()
        {
            let Some(p) = camera.project([x, y, z]).filter(|p| camera.in_image(*p)) else { continue };
            let n = [rng.random_range(-noise_px..=noise_px), rng.random_range(-noise_px..=noise_px)];
            out.push(Correspondence { world: [x, y, z], pixel: [p[0] + n[0], p[1] + n[1]], label: format!("p{i}") });
        }
        out
    }

    #[test]
    fn pose_is_recovered_from_noisy_points() {
        let cam = truth();
        let points = marked(&cam, 1.0, 7);
        assert!(points.len() >= 6, "{} points in view", points.len());
        let fit = solve_pose(&cam, &points).unwrap();
        let fitted = fit.apply(&cam);
        assert!(fit.rms_px < 1.5, "{}", fit.rms_px);
        assert!(rotation_angle_deg(&fit.rotation, &cam.rotation) < 1.0);
        assert!(norm(sub(fitted.centre(), cam.centre())) < 0.05, "{:?}", fitted.centre());
        // exact points give the exact pose
        let exact = solve_pose(&cam, &marked(&cam, 0.0, 1)).unwrap();
        assert!(exact.rms_px < 1e-6 && norm(sub(exact.apply(&cam).centre(), cam.centre())) < 1e-6);
    }

    #[test]
    fn rotation_alone_is_recovered_with_the_centre_kept() {
        let cam = truth();
        let points = marked(&cam, 1.0, 3);
        // start from a camera aimed 15 degrees off
        let off = Camera { rotation: mat_mul(&rodrigues([0.2, -0.1, 0.15]), &cam.rotation), ..cam.clone() };
        let off = Camera { translation: scale(mat_vec(&off.rotation, cam.centre()), -1.0), ..off };
        let fit = solve_rotation(&off, &points[..3]).unwrap();
        assert!(rotation_angle_deg(&fit.rotation, &cam.rotation) < 0.5);
        assert!(norm(sub(fit.apply(&cam).centre(), cam.centre())) < 1e-9, "the centre stays");
    }

    #[test]
    fn bad_point_sets_are_clear_errors() {
        let cam = truth();
        let points = marked(&cam, 0.0, 1);
        let err = solve_pose(&cam, &points[..3]).unwrap_err().to_string();
        assert!(err.contains("at least 4"), "{err}");
        // four points on one floor line
        let line: Vec<Correspondence> = (0..12)
            .filter_map(|i| {
                let w = [1.5 + 0.2 * i as f64, 0.05 * i as f64, 0.0];
                let px = cam.project(w).filter(|p| cam.in_image(*p))?;
                Some(Correspondence { world: w, pixel: px, label: String::new() })
            })
            .collect();
        assert!(line.len() >= 4, "{} points on the line in view", line.len());
        let err = solve_pose(&cam, &line).unwrap_err().to_string();
        assert!(err.contains("collinear"), "{err}");
        let mut twice = points.clone();
        twice[1].world = twice[0].world;
        assert!(solve_pose(&cam, &twice).unwrap_err().to_string().contains("same world point"));
        let mut outside = points.clone();
        outside[2].pixel = [5000.0, 10.0];
        let err = solve_pose(&cam, &outside).unwrap_err().to_string();
        assert!(err.contains("point 3 (p") && err.contains("outside the 640x360 image"), "{err}");
        let farther = add(cam.centre(), scale(sub(points[0].world, cam.centre()), 1.5));
        let one_way = vec![points[0].clone(), Correspondence { world: farther, ..points[0].clone() }];
        assert!(solve_rotation(&cam, &one_way).is_err());
    }
}
