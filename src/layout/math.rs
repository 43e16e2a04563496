//! Small fixed-size linear algebra for rigid transforms: 3-vectors, 3x3
//! matrices, Rodrigues rotation vectors. Plain `f64` arrays so the rest of
//! the module (and its files) stay free of a linear-algebra dependency.

/// A point or direction in 3D.
pub type Vec3 = [f64; 3];
/// A row-major 3x3 matrix: `m[row][col]`.
pub type Mat3 = [[f64; 3]; 3];

pub const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

pub fn mat_vec(m: &Mat3, v: Vec3) -> Vec3 {
    [dot(m[0], v), dot(m[1], v), dot(m[2], v)]
}

pub fn transpose(m: &Mat3) -> Mat3 {
    let mut t = [[0.0; 3]; 3];
    for (r, row) in m.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            t[c][r] = *v;
        }
    }
    t
}

pub fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for (r, row) in m.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[r][k] * b[k][c]).sum();
        }
    }
    m
}

pub fn det(m: &Mat3) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Largest deviation of `m`ᵀ`m` from the identity, and the determinant:
/// a rotation has (≈0, ≈+1).
pub fn rotation_defect(m: &Mat3) -> (f64, f64) {
    let mtm = mat_mul(&transpose(m), m);
    let mut worst: f64 = 0.0;
    for r in 0..3 {
        for c in 0..3 {
            worst = worst.max((mtm[r][c] - IDENTITY[r][c]).abs());
        }
    }
    (worst, det(m))
}

/// The rotation matrix of a Rodrigues vector (axis times angle in radians),
/// as OpenCV's `Rodrigues` computes it.
pub fn rodrigues(r: Vec3) -> Mat3 {
    let theta = norm(r);
    if theta < 1e-15 {
        return IDENTITY;
    }
    let k = scale(r, 1.0 / theta);
    let (s, c) = theta.sin_cos();
    let v = 1.0 - c;
    [
        [c + k[0] * k[0] * v, k[0] * k[1] * v - k[2] * s, k[0] * k[2] * v + k[1] * s],
        [k[1] * k[0] * v + k[2] * s, c + k[1] * k[1] * v, k[1] * k[2] * v - k[0] * s],
        [k[2] * k[0] * v - k[1] * s, k[2] * k[1] * v + k[0] * s, c + k[2] * k[2] * v],
    ]
}

/// A rigid transform `p ↦ rotation · p + translation`, e.g. a shelf's frame
/// expressed in its gondola's frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rigid {
    pub rotation: Mat3,
    pub translation: Vec3,
}

impl Rigid {
    pub const IDENTITY: Rigid = Rigid { rotation: IDENTITY, translation: [0.0; 3] };

    pub fn from_rodrigues(rotation: Vec3, translation: Vec3) -> Self {
        Self { rotation: rodrigues(rotation), translation }
    }

    pub fn apply(&self, p: Vec3) -> Vec3 {
        add(mat_vec(&self.rotation, p), self.translation)
    }

    /// `self ∘ inner`: first `inner`, then `self` (parent ∘ child gives the
    /// child's frame in the parent's parent).
    pub fn then_inner(&self, inner: &Rigid) -> Rigid {
        Rigid { rotation: mat_mul(&self.rotation, &inner.rotation), translation: self.apply(inner.translation) }
    }

    pub fn inverse(&self) -> Rigid {
        let rt = transpose(&self.rotation);
        Rigid { rotation: rt, translation: scale(mat_vec(&rt, self.translation), -1.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Vec3, b: Vec3, tol: f64) -> bool {
        norm(sub(a, b)) < tol
    }

    #[test]
    fn rodrigues_quarter_turn_about_z() {
        let r = rodrigues([0.0, 0.0, std::f64::consts::FRAC_PI_2]);
        assert!(close(mat_vec(&r, [1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], 1e-12));
        let (defect, d) = rotation_defect(&r);
        assert!(defect < 1e-12 && (d - 1.0).abs() < 1e-12);
    }

    #[test]
    fn composition_and_inverse_round_trip() {
        let a = Rigid::from_rodrigues([0.1, -0.2, 0.3], [1.0, 2.0, 3.0]);
        let b = Rigid::from_rodrigues([-0.4, 0.5, 0.05], [-0.5, 0.25, 2.0]);
        let p = [0.3, -0.7, 1.1];
        assert!(close(a.then_inner(&b).apply(p), a.apply(b.apply(p)), 1e-12));
        assert!(close(a.inverse().apply(a.apply(p)), p, 1e-12));
    }
}
