//! The pinhole camera with OpenCV's radial-tangential distortion: world ->
//! pixel projection, pixel -> undistorted ray, ray -> horizontal plane.
//!
//! Conventions: world frame in metres with z up (floor at z = 0); camera
//! frame x right, y down, z forward (OpenCV); `rotation`/`translation` map
//! world to camera: `p_cam = R · p_world + t`. Pixel (0, 0) is the centre of
//! the top-left pixel, as in OpenCV.

use super::math::{Mat3, Vec3, add, dot, mat_vec, norm, scale, transpose};

/// Pinhole intrinsics in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Intrinsics {
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
}

/// OpenCV's five-coefficient model `(k1, k2, p1, p2, k3)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Distortion {
    pub k1: f64,
    pub k2: f64,
    pub p1: f64,
    pub p2: f64,
    pub k3: f64,
}

impl Distortion {
    pub fn from_array(d: [f64; 5]) -> Self {
        Self { k1: d[0], k2: d[1], p1: d[2], p2: d[3], k3: d[4] }
    }

    pub fn to_array(self) -> [f64; 5] {
        [self.k1, self.k2, self.p1, self.p2, self.k3]
    }

    /// Ideal normalised coordinates -> distorted normalised coordinates.
    pub fn distort(&self, x: f64, y: f64) -> (f64, f64) {
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3));
        let xd = x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x);
        let yd = y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y;
        (xd, yd)
    }

    fn jacobian(&self, x: f64, y: f64) -> [[f64; 2]; 2] {
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3));
        let d_radial = self.k1 + r2 * (2.0 * self.k2 + 3.0 * self.k3 * r2);
        let cross = 2.0 * x * y * d_radial + 2.0 * self.p1 * x + 2.0 * self.p2 * y;
        [
            [radial + 2.0 * x * x * d_radial + 2.0 * self.p1 * y + 6.0 * self.p2 * x, cross],
            [cross, radial + 2.0 * y * y * d_radial + 6.0 * self.p1 * y + 2.0 * self.p2 * x],
        ]
    }

    /// Distorted -> ideal normalised coordinates by Newton's method (OpenCV's
    /// fixed-point loop converges too slowly for these wide lenses). `None`
    /// when it does not converge, i.e. the point lies outside the region
    /// where the model can be inverted.
    pub fn undistort(&self, xd: f64, yd: f64) -> Option<(f64, f64)> {
        let (mut x, mut y) = (xd, yd);
        for _ in 0..100 {
            let (fx, fy) = self.distort(x, y);
            let (ex, ey) = (fx - xd, fy - yd);
            if ex.abs() < 1e-15 && ey.abs() < 1e-15 {
                return Some((x, y));
            }
            let j = self.jacobian(x, y);
            let det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
            if !det.is_finite() || det.abs() < 1e-12 {
                return None;
            }
            x -= (j[1][1] * ex - j[0][1] * ey) / det;
            y -= (-j[1][0] * ex + j[0][0] * ey) / det;
            if !(x.is_finite() && y.is_finite()) {
                return None;
            }
        }
        let (fx, fy) = self.distort(x, y);
        ((fx - xd).hypot(fy - yd) < 1e-10).then_some((x, y))
    }

    /// The ideal radius up to which the radial part keeps growing with the
    /// radius (where the model is invertible); beyond it the polynomial folds
    /// back and sends far-off points into the image. Infinite when it never
    /// folds.
    pub fn max_radius(&self) -> f64 {
        // d/dr [r (1 + k1 r² + k2 r⁴ + k3 r⁶)] = 1 + 3 k1 s + 5 k2 s² + 7 k3 s³, s = r²
        let (a, b, c) = (3.0 * self.k1, 5.0 * self.k2, 7.0 * self.k3);
        if c == 0.0 {
            // smallest positive root of 1 + a s + b s²
            let roots: Vec<f64> = if b == 0.0 {
                vec![-1.0 / a]
            } else {
                let disc = a * a - 4.0 * b;
                if disc < 0.0 { vec![] } else { vec![(-a - disc.sqrt()) / (2.0 * b), (-a + disc.sqrt()) / (2.0 * b)] }
            };
            return roots.into_iter().filter(|s| *s > 0.0 && s.is_finite()).fold(f64::INFINITY, f64::min).sqrt();
        }
        let f = |s: f64| 1.0 + s * (a + s * (b + s * c));
        let (mut lo, mut step) = (0.0_f64, 1e-3);
        while lo < 1e4 {
            let hi = lo + step;
            if f(hi) <= 0.0 {
                let (mut x, mut y) = (lo, hi);
                for _ in 0..60 {
                    let m = 0.5 * (x + y);
                    if f(m) > 0.0 { x = m } else { y = m }
                }
                return x.sqrt();
            }
            lo = hi;
            step *= 1.05;
        }
        f64::INFINITY
    }
}

/// A calibrated camera.
#[derive(Clone, Debug, PartialEq)]
pub struct Camera {
    pub width: u32,
    pub height: u32,
    pub intrinsics: Intrinsics,
    pub distortion: Distortion,
    /// World -> camera rotation.
    pub rotation: Mat3,
    /// World -> camera translation in metres.
    pub translation: Vec3,
}

/// A ray in world coordinates: `origin + s · direction`, `s >= 0`,
/// `direction` of unit length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ray {
    pub origin: Vec3,
    pub direction: Vec3,
}

impl Ray {
    /// Where the ray meets the horizontal plane `z = height`; `None` when it
    /// runs parallel to it or away from it.
    pub fn hit_plane_z(&self, height: f64) -> Option<Vec3> {
        let dz = self.direction[2];
        if dz.abs() < 1e-12 {
            return None;
        }
        let s = (height - self.origin[2]) / dz;
        (s >= 0.0).then(|| add(self.origin, scale(self.direction, s)))
    }

    /// Where the ray meets the floor (`z = 0`).
    pub fn hit_floor(&self) -> Option<Vec3> {
        self.hit_plane_z(0.0)
    }
}

impl Camera {
    /// The camera's position in the world: `-Rᵀ t`.
    pub fn centre(&self) -> Vec3 {
        scale(mat_vec(&transpose(&self.rotation), self.translation), -1.0)
    }

    /// The viewing direction (camera +z) in world coordinates.
    pub fn optical_axis(&self) -> Vec3 {
        self.rotation[2]
    }

    pub fn world_to_camera(&self, p: Vec3) -> Vec3 {
        add(mat_vec(&self.rotation, p), self.translation)
    }

    /// World point -> pixel (with distortion). `None` for points behind the
    /// camera or outside the region where the distortion model is valid.
    pub fn project(&self, p: Vec3) -> Option<[f64; 2]> {
        let c = self.world_to_camera(p);
        if c[2] <= 1e-9 {
            return None;
        }
        let (x, y) = (c[0] / c[2], c[1] / c[2]);
        if x.hypot(y) >= self.distortion.max_radius() {
            return None;
        }
        let (xd, yd) = self.distortion.distort(x, y);
        let k = &self.intrinsics;
        Some([k.fx * xd + k.cx, k.fy * yd + k.cy])
    }

    /// Pixel -> ideal (undistorted) normalised coordinates `(x, y)`, the ray
    /// `(x, y, 1)` in the camera frame.
    pub fn undistort_pixel(&self, px: [f64; 2]) -> Option<(f64, f64)> {
        let k = &self.intrinsics;
        let (xd, yd) = ((px[0] - k.cx) / k.fx, (px[1] - k.cy) / k.fy);
        let (x, y) = self.distortion.undistort(xd, yd)?;
        (x.hypot(y) < self.distortion.max_radius()).then_some((x, y))
    }

    /// The world ray through a pixel.
    pub fn pixel_ray(&self, px: [f64; 2]) -> Option<Ray> {
        let (x, y) = self.undistort_pixel(px)?;
        let d = mat_vec(&transpose(&self.rotation), [x, y, 1.0]);
        Some(Ray { origin: self.centre(), direction: scale(d, 1.0 / norm(d)) })
    }

    /// The point at height `z` (metres) seen at a pixel, e.g. a foot on the
    /// floor (`z = 0`) or a hand over a shelf.
    pub fn pixel_to_plane(&self, px: [f64; 2], z: f64) -> Option<Vec3> {
        self.pixel_ray(px)?.hit_plane_z(z)
    }

    /// Whether a pixel lies inside the image.
    pub fn in_image(&self, px: [f64; 2]) -> bool {
        px[0] >= -0.5 && px[1] >= -0.5 && px[0] < self.width as f64 - 0.5 && px[1] < self.height as f64 - 0.5
    }

    /// Distance from the camera centre along the optical axis (depth) of a
    /// world point.
    pub fn depth(&self, p: Vec3) -> f64 {
        dot(self.rotation[2], p) + self.translation[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::math::{Rigid, sub};

    /// A camera 2.4 m up at (1, -1), looking down-ish towards +x +y, with
    /// AiFi-like wide-angle distortion.
    fn test_camera(distortion: Distortion) -> Camera {
        // camera -> world: columns are the camera axes in world coordinates
        let forward = [0.6, 0.5, -0.62];
        let f = scale(forward, 1.0 / norm(forward));
        let right = {
            let r = [f[1], -f[0], 0.0];
            scale(r, 1.0 / norm(r))
        };
        let down =
            [f[1] * right[2] - f[2] * right[1], f[2] * right[0] - f[0] * right[2], f[0] * right[1] - f[1] * right[0]];
        let c2w = Rigid {
            rotation: [[right[0], down[0], f[0]], [right[1], down[1], f[1]], [right[2], down[2], f[2]]],
            translation: [1.0, -1.0, 2.4],
        };
        let w2c = c2w.inverse();
        Camera {
            width: 640,
            height: 360,
            intrinsics: Intrinsics { fx: 511.0, fy: 511.0, cx: 320.0, cy: 165.0 },
            distortion,
            rotation: w2c.rotation,
            translation: w2c.translation,
        }
    }

    const AIFI_LIKE: Distortion = Distortion { k1: -0.47, k2: 0.2, p1: 0.001, p2: -0.0005, k3: 0.0 };

    #[test]
    fn world_pixel_ray_plane_round_trip() {
        let cam = test_camera(AIFI_LIKE);
        let mut checked = 0;
        for i in 0..15 {
            for j in 0..15 {
                for z in [0.0, 0.33, 1.2, 1.65] {
                    let p = [0.5 + 0.3 * i as f64, -1.5 + 0.3 * j as f64, z];
                    let Some(px) = cam.project(p) else { continue };
                    if !cam.in_image(px) {
                        continue;
                    }
                    let back = cam.pixel_to_plane(px, z).expect("ray hits the plane");
                    assert!(norm(sub(back, p)) < 1e-6, "{p:?} -> {px:?} -> {back:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} points in view");
    }

    #[test]
    fn distortion_round_trips_over_the_image() {
        let cam = test_camera(AIFI_LIKE);
        for u in (0..640).step_by(16) {
            for v in (0..360).step_by(12) {
                let px = [u as f64, v as f64];
                let (x, y) = cam.undistort_pixel(px).expect("invertible inside the image");
                let (xd, yd) = cam.distortion.distort(x, y);
                let k = cam.intrinsics;
                assert!((k.fx * xd + k.cx - px[0]).abs() < 1e-8 && (k.fy * yd + k.cy - px[1]).abs() < 1e-8);
            }
        }
    }

    #[test]
    fn centre_and_axis_follow_the_pose() {
        let cam = test_camera(Distortion::default());
        assert!(norm(sub(cam.centre(), [1.0, -1.0, 2.4])) < 1e-12);
        assert!(cam.optical_axis()[2] < 0.0, "looks down");
        assert!(cam.project([1.0, -1.0, 3.0]).is_none(), "point behind the camera");
        // the principal point sees along the optical axis
        let ray = cam.pixel_ray([320.0, 165.0]).unwrap();
        assert!(norm(sub(ray.direction, cam.optical_axis())) < 1e-12);
    }

    #[test]
    fn folding_distortion_has_a_finite_valid_radius() {
        // AiFi camera 5: k2 is too small to keep r(1 + k1 r² + k2 r⁴) growing
        let d = Distortion { k1: -0.483463, k2: 0.0766268, ..Default::default() };
        let r = d.max_radius();
        assert!((0.9..1.0).contains(&r), "{r}");
        assert!(Distortion { k1: -0.47, k2: 0.2, ..Default::default() }.max_radius().is_infinite());
        // the numeric search (k3 != 0) agrees with the closed form
        let tiny_k3 = Distortion { k3: 1e-12, ..d };
        assert!((tiny_k3.max_radius() - r).abs() < 1e-6, "{} vs {r}", tiny_k3.max_radius());
        let cam = test_camera(d);
        assert!(cam.undistort_pixel([0.0, 0.0]).is_none(), "corner beyond the fold");
    }
}
