//! A constant-velocity Kalman filter on the floor plane: state
//! `(x, y, vx, vy)` in metres and metres per second, measurements `(x, y)`.
//! Process noise is white acceleration (`sigma_accel`, m/s²), the standard
//! discretisation of a piecewise-constant acceleration.

use nalgebra::{Matrix2, Matrix2x4, Matrix4, Vector2, Vector4};

#[derive(Clone, Debug, PartialEq)]
pub struct Kalman {
    pub x: Vector4<f64>,
    pub p: Matrix4<f64>,
}

impl Kalman {
    /// A filter at `(x, y)` at rest, with position spread `sigma_pos` and
    /// velocity spread `sigma_vel`.
    pub fn new(x: f64, y: f64, sigma_pos: f64, sigma_vel: f64) -> Self {
        let (sp, sv) = (sigma_pos * sigma_pos, sigma_vel * sigma_vel);
        Self { x: Vector4::new(x, y, 0.0, 0.0), p: Matrix4::from_diagonal(&Vector4::new(sp, sp, sv, sv)) }
    }

    pub fn position(&self) -> [f64; 2] {
        [self.x[0], self.x[1]]
    }

    pub fn velocity(&self) -> [f64; 2] {
        [self.x[2], self.x[3]]
    }

    /// Advances the state by `dt` seconds (a non-positive or non-finite `dt`
    /// leaves it as it is).
    pub fn predict(&mut self, dt: f64, sigma_accel: f64) {
        if dt.is_nan() || dt <= 0.0 || dt.is_infinite() {
            return;
        }
        let f = Matrix4::new(1.0, 0.0, dt, 0.0, 0.0, 1.0, 0.0, dt, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        let q = sigma_accel * sigma_accel;
        let (a, b, c) = (dt.powi(4) / 4.0 * q, dt.powi(3) / 2.0 * q, dt * dt * q);
        let noise = Matrix4::new(a, 0.0, b, 0.0, 0.0, a, 0.0, b, b, 0.0, c, 0.0, 0.0, b, 0.0, c);
        self.x = f * self.x;
        self.p = f * self.p * f.transpose() + noise;
    }

    fn h() -> Matrix2x4<f64> {
        Matrix2x4::new(1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    }

    /// Innovation covariance of a measurement with isotropic spread `sigma`.
    pub fn innovation_cov(&self, sigma: f64) -> Matrix2<f64> {
        let h = Self::h();
        h * self.p * h.transpose() + Matrix2::identity() * (sigma * sigma)
    }

    /// Squared Mahalanobis distance of a measurement; infinite when the
    /// innovation covariance cannot be inverted.
    pub fn mahalanobis2(&self, z: [f64; 2], sigma: f64) -> f64 {
        let s = self.innovation_cov(sigma);
        let r = Vector2::new(z[0] - self.x[0], z[1] - self.x[1]);
        s.try_inverse().map_or(f64::INFINITY, |inv| (r.transpose() * inv * r)[0])
    }

    /// Folds in one measurement; non-finite input is ignored.
    pub fn update(&mut self, z: [f64; 2], sigma: f64) {
        if !(z[0].is_finite() && z[1].is_finite() && sigma > 0.0) {
            return;
        }
        let h = Self::h();
        let Some(s_inv) = self.innovation_cov(sigma).try_inverse() else { return };
        let k = self.p * h.transpose() * s_inv;
        let r = Vector2::new(z[0] - self.x[0], z[1] - self.x[1]);
        self.x += k * r;
        // Joseph form keeps P symmetric and positive.
        let i_kh = Matrix4::identity() - k * h;
        self.p = i_kh * self.p * i_kh.transpose() + k * Matrix2::identity() * (sigma * sigma) * k.transpose();
    }

    /// Keeps the position, forgets the velocity (a track that was out of
    /// sight: its old heading says little about where it went).
    pub fn stop(&mut self, sigma_vel: f64) {
        self.x[2] = 0.0;
        self.x[3] = 0.0;
        for i in 0..4 {
            for j in 0..4 {
                if (i >= 2 || j >= 2) && i != j {
                    self.p[(i, j)] = 0.0;
                }
            }
        }
        self.p[(2, 2)] = sigma_vel * sigma_vel;
        self.p[(3, 3)] = sigma_vel * sigma_vel;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_a_constant_walk_and_learns_its_velocity() {
        let mut k = Kalman::new(0.0, 0.0, 0.3, 1.0);
        for i in 1..=50 {
            let t = i as f64 * 0.1;
            k.predict(0.1, 1.0);
            // 1.2 m/s along x, 0.3 m/s along y, with +-5 cm alternating noise
            let noise = if i % 2 == 0 { 0.05 } else { -0.05 };
            k.update([1.2 * t + noise, 0.3 * t - noise], 0.1);
        }
        let [vx, vy] = k.velocity();
        assert!((vx - 1.2).abs() < 0.1 && (vy - 0.3).abs() < 0.1, "{vx} {vy}");
        let [x, y] = k.position();
        assert!((x - 6.0).abs() < 0.1 && (y - 1.5).abs() < 0.1, "{x} {y}");
    }

    #[test]
    fn uncertainty_grows_without_measurements_and_gates_widen() {
        let mut k = Kalman::new(1.0, 1.0, 0.1, 0.5);
        let near = k.mahalanobis2([1.5, 1.0], 0.2);
        for _ in 0..20 {
            k.predict(0.1, 1.0);
        }
        assert!(k.mahalanobis2([1.5, 1.0], 0.2) < near);
        assert!(k.p[(0, 0)] > 0.1 * 0.1);
        k.predict(f64::NAN, 1.0);
        k.update([f64::NAN, 0.0], 0.2);
        assert!(k.x.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn stop_zeroes_velocity_and_keeps_covariance_symmetric() {
        let mut k = Kalman::new(0.0, 0.0, 0.2, 1.0);
        k.predict(0.1, 1.0);
        k.update([0.3, 0.0], 0.1);
        k.stop(0.5);
        assert_eq!(k.velocity(), [0.0, 0.0]);
        assert!((k.p - k.p.transpose()).abs().max() < 1e-12);
    }
}
