//! The checkerboard target: its size spec (`COLSxROWS` inner corners and the
//! square size), the corners' positions on the board, and a renderer that
//! draws the board as a calibrated [`Camera`] sees it (anti-aliased, with the
//! camera's lens distortion), so that calibration can be tested against
//! images whose true intrinsics, distortion and poses are known.
//!
//! Board frame: the board lies in the plane z = 0; inner corner (c, r) is at
//! `(c · square, r · square, 0)`, c along x (columns), r along y (rows).

use super::CalibrateError;
use crate::layout::camera::Camera;
use crate::layout::math::Vec3;
use image::{GrayImage, Luma};

/// A checkerboard: `cols` x `rows` inner corners (OpenCV's pattern size),
/// i.e. `(cols + 1) x (rows + 1)` squares of `square_m` metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Board {
    pub cols: u32,
    pub rows: u32,
    pub square_m: f64,
}

impl Board {
    /// `"9x6"` (inner corners, columns x rows) and the square size in millimetres.
    pub fn parse(spec: &str, square_mm: f64) -> Result<Self, CalibrateError> {
        let bad = || {
            CalibrateError::Input(format!(
                "board {spec:?}: expected COLSxROWS inner corners, e.g. 9x6 (each at least 2, one of them odd \
                 and the other even so that the board's orientation is unambiguous)"
            ))
        };
        let (c, r) = spec.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let (cols, rows): (u32, u32) = (c.trim().parse().map_err(|_| bad())?, r.trim().parse().map_err(|_| bad())?);
        if cols < 2 || rows < 2 || cols > 100 || rows > 100 {
            return Err(bad());
        }
        if !(square_mm.is_finite() && square_mm > 0.0) {
            return Err(CalibrateError::Input(format!("square size must be a positive number of mm, got {square_mm}")));
        }
        Ok(Board { cols, rows, square_m: square_mm / 1000.0 })
    }

    pub fn corner_count(&self) -> usize {
        (self.cols * self.rows) as usize
    }

    /// The inner corners in the board frame, row by row (OpenCV's order).
    pub fn object_points(&self) -> Vec<Vec3> {
        (0..self.rows)
            .flat_map(|r| (0..self.cols).map(move |c| [c as f64 * self.square_m, r as f64 * self.square_m, 0.0]))
            .collect()
    }

    /// Grey level of the printed board at board coordinates (metres): black
    /// and white squares, a white margin of one square around them, and a
    /// mid-grey background beyond the paper.
    fn shade(&self, x: f64, y: f64) -> f64 {
        let s = self.square_m;
        let (i, j) = ((x / s).floor() + 1.0, (y / s).floor() + 1.0);
        let (nx, ny) = (f64::from(self.cols) + 1.0, f64::from(self.rows) + 1.0);
        if i < -1.0 || j < -1.0 || i > nx || j > ny {
            return BACKGROUND;
        }
        if i < 0.0 || j < 0.0 || i >= nx || j >= ny {
            return WHITE;
        }
        if (i as i64 + j as i64) % 2 == 0 { BLACK } else { WHITE }
    }
}

const BLACK: f64 = 20.0;
const WHITE: f64 = 235.0;
const BACKGROUND: f64 = 110.0;
/// Sub-samples per pixel side where a pixel straddles an edge.
const SUPERSAMPLE: usize = 6;

/// For every pixel corner `(u - 0.5, v - 0.5)` of a camera's image, the
/// ideal normalised coordinates `(x, y)` (distortion removed), or `None`
/// beyond the lens model. Computed once per camera and reused for each view,
/// since only the pose changes between views.
pub struct UndistortGrid {
    width: u32,
    height: u32,
    points: Vec<Option<(f64, f64)>>,
}

impl UndistortGrid {
    pub fn new(camera: &Camera) -> Self {
        let (w, h) = (camera.width, camera.height);
        let mut points = Vec::with_capacity(((w + 1) * (h + 1)) as usize);
        for v in 0..=h {
            for u in 0..=w {
                points.push(camera.undistort_pixel([u as f64 - 0.5, v as f64 - 0.5]));
            }
        }
        UndistortGrid { width: w, height: h, points }
    }

    fn at(&self, u: u32, v: u32) -> Option<(f64, f64)> {
        self.points[(v * (self.width + 1) + u) as usize]
    }
}

/// The board plane seen through a camera pose: ideal normalised camera
/// coordinates -> board coordinates, the inverse of the homography
/// `[r1 r2 t]` (board z = 0).
fn board_from_normalised(camera: &Camera) -> Option<[[f64; 3]; 3]> {
    let r = &camera.rotation;
    let t = camera.translation;
    let h = [[r[0][0], r[0][1], t[0]], [r[1][0], r[1][1], t[1]], [r[2][0], r[2][1], t[2]]];
    let m = nalgebra::Matrix3::from_fn(|i, j| h[i][j]);
    let inv = m.try_inverse()?;
    Some(std::array::from_fn(|i| std::array::from_fn(|j| inv[(i, j)])))
}

/// Renders `board` as `camera` sees it (the camera's pose is board -> camera),
/// anti-aliased by `SUPERSAMPLE`² samples in every pixel that straddles an
/// edge. `grid` must come from a camera with the same intrinsics and size.
pub fn render_board(camera: &Camera, grid: &UndistortGrid, board: &Board) -> Result<GrayImage, CalibrateError> {
    if (grid.width, grid.height) != (camera.width, camera.height) {
        return Err(CalibrateError::Input("undistortion grid of another image size".into()));
    }
    let hinv = board_from_normalised(camera)
        .ok_or_else(|| CalibrateError::Input("the board plane passes through the camera centre".into()))?;
    // Board coordinates of a normalised point; None when the ray misses the board plane.
    let to_board = |(x, y): (f64, f64)| {
        let p = [0, 1, 2].map(|i| hinv[i][0] * x + hinv[i][1] * y + hinv[i][2]);
        // the plane point is in front of the camera when the scale (depth) is positive
        (p[2] > 1e-12).then(|| (p[0] / p[2], p[1] / p[2]))
    };
    let shade_at = |q: Option<(f64, f64)>| q.and_then(to_board).map_or(BACKGROUND, |(bx, by)| board.shade(bx, by));
    let mut img = GrayImage::new(camera.width, camera.height);
    for v in 0..camera.height {
        for u in 0..camera.width {
            let corners = [grid.at(u, v), grid.at(u + 1, v), grid.at(u, v + 1), grid.at(u + 1, v + 1)];
            let shades = corners.map(shade_at);
            let value =
                if shades.iter().all(|s| *s == shades[0]) { shades[0] } else { supersample(&corners, &shade_at) };
            img.put_pixel(u, v, Luma([value.round().clamp(0.0, 255.0) as u8]));
        }
    }
    Ok(img)
}

/// Mean shade over a pixel, sampling its interior on a regular grid; the
/// normalised coordinates inside the pixel are interpolated bilinearly from
/// its corners (the undistortion map is smooth at the pixel scale).
fn supersample(corners: &[Option<(f64, f64)>; 4], shade_at: &dyn Fn(Option<(f64, f64)>) -> f64) -> f64 {
    let Some([c00, c10, c01, c11]) =
        corners.iter().copied().collect::<Option<Vec<_>>>().map(|v| [v[0], v[1], v[2], v[3]])
    else {
        return BACKGROUND;
    };
    let n = SUPERSAMPLE;
    let mut sum = 0.0;
    for i in 0..n {
        for j in 0..n {
            let (a, b) = ((i as f64 + 0.5) / n as f64, (j as f64 + 0.5) / n as f64);
            let lerp = |p: f64, q: f64, r: f64, s: f64| {
                (1.0 - a) * (1.0 - b) * p + a * (1.0 - b) * q + (1.0 - a) * b * r + a * b * s
            };
            let x = lerp(c00.0, c10.0, c01.0, c11.0);
            let y = lerp(c00.1, c10.1, c01.1, c11.1);
            sum += shade_at(Some((x, y)));
        }
    }
    sum / (n * n) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::camera::{Distortion, Intrinsics};
    use crate::layout::math::IDENTITY;

    fn camera(translation: Vec3) -> Camera {
        Camera {
            width: 160,
            height: 120,
            intrinsics: Intrinsics { fx: 150.0, fy: 150.0, cx: 80.0, cy: 60.0 },
            distortion: Distortion { k1: -0.2, k2: 0.05, ..Default::default() },
            rotation: IDENTITY,
            translation,
        }
    }

    #[test]
    fn parses_the_board_spec() {
        let b = Board::parse("9x6", 25.0).unwrap();
        assert_eq!((b.cols, b.rows, b.square_m), (9, 6, 0.025));
        assert_eq!(b.object_points()[10], [0.025, 0.025, 0.0]);
        assert_eq!(b.corner_count(), 54);
        for bad in ["9", "9x", "1x6", "axb", "9x6x2"] {
            assert!(Board::parse(bad, 25.0).is_err(), "{bad}");
        }
        assert!(Board::parse("9x6", 0.0).is_err());
    }

    #[test]
    fn rendered_board_shows_its_squares_where_they_project() {
        let board = Board::parse("5x4", 20.0).unwrap();
        // board 1 m in front of the camera, its corner (0, 0) on the optical axis
        let cam = camera([0.0, 0.0, 1.0]);
        let img = render_board(&cam, &UndistortGrid::new(&cam), &board).unwrap();
        // the centre of square (1, 1) (black: i + j even) and of square (2, 1) (white)
        let at = |x: f64, y: f64| {
            let p = cam.project([x, y, 0.0]).unwrap();
            img.get_pixel(p[0].round() as u32, p[1].round() as u32)[0]
        };
        assert_eq!(at(0.01, 0.01), BLACK as u8);
        assert_eq!(at(0.03, 0.01), WHITE as u8);
        assert_eq!(at(-0.03, -0.03), WHITE as u8, "white margin");
        assert_eq!(img.get_pixel(0, 0)[0], BACKGROUND as u8);
        // an edge pixel is a blend
        let edge = cam.project([0.02, 0.01, 0.0]).unwrap();
        let v = img.get_pixel(edge[0].round() as u32, edge[1].round() as u32)[0];
        assert!(v > BLACK as u8 && v < WHITE as u8, "{v}");
    }

    #[test]
    fn a_board_through_the_camera_centre_is_an_error() {
        let board = Board::parse("5x4", 20.0).unwrap();
        let cam = camera([0.0, 0.0, 0.0]);
        assert!(render_board(&cam, &UndistortGrid::new(&cam), &board).is_err());
    }
}
