//! Intrinsics and distortion from checkerboard images: OpenCV
//! `findChessboardCorners` + `cornerSubPix` per image, then
//! `calibrateCamera` over every image where the whole board was found
//! (pinhole `fx, fy, cx, cy` and the five-coefficient distortion
//! `k1, k2, p1, p2, k3`, the model of `layout::Camera`).

use super::board::Board;
use super::{CalibrateError, cv};
use crate::layout::camera::{Camera, Distortion, Intrinsics};
use crate::layout::math::rodrigues;
use opencv::core::{Mat, Point2f, Point3f, Size, TermCriteria, TermCriteria_Type, Vector};
use opencv::prelude::*;
use std::path::{Path, PathBuf};

/// Fewest images with a found board that [`calibrate_images`] accepts.
pub const MIN_VIEWS: usize = 5;

/// One image used in the calibration.
#[derive(Clone, Debug, serde::Serialize)]
pub struct View {
    pub image: PathBuf,
    /// RMS reprojection error of this image's corners, pixels.
    pub rms_px: f64,
}

/// The result of [`calibrate_images`].
#[derive(Clone, Debug)]
pub struct IntrinsicsCalibration {
    pub board: Board,
    pub width: u32,
    pub height: u32,
    pub intrinsics: Intrinsics,
    pub distortion: Distortion,
    /// RMS reprojection error over all corners of all used images, pixels.
    pub rms_px: f64,
    pub views: Vec<View>,
    /// Images left out, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// The image files of a folder (png, jpg, jpeg, bmp, tif, tiff), sorted.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, CalibrateError> {
    let read = |e: std::io::Error| CalibrateError::Read { path: dir.to_owned(), source: e };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg" | "bmp" | "tif" | "tiff")) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn criteria(count: i32, eps: f64) -> Result<TermCriteria, CalibrateError> {
    TermCriteria::new((TermCriteria_Type::COUNT as i32) | (TermCriteria_Type::EPS as i32), count, eps).map_err(cv)
}

/// The board's inner corners in a grey image, refined to sub-pixel
/// precision, in OpenCV's order; `None` when the whole board is not found.
pub fn find_corners(gray: &Mat, board: &Board) -> Result<Option<Vec<[f64; 2]>>, CalibrateError> {
    let pattern = Size::new(board.cols as i32, board.rows as i32);
    let mut corners: Vector<Point2f> = Vector::new();
    let flags = opencv::calib3d::CALIB_CB_ADAPTIVE_THRESH | opencv::calib3d::CALIB_CB_NORMALIZE_IMAGE;
    if !opencv::calib3d::find_chessboard_corners(gray, pattern, &mut corners, flags).map_err(cv)? {
        return Ok(None);
    }
    // search window: under half the spacing of neighbouring corners, 2..=11 px
    let spacing = corners
        .iter()
        .zip(corners.iter().skip(1))
        .enumerate()
        .filter(|(i, _)| (i + 1) % board.cols as usize != 0)
        .map(|(_, (a, b))| f64::from((a.x - b.x).hypot(a.y - b.y)))
        .fold(f64::INFINITY, f64::min);
    let half = (spacing * 0.4).floor().clamp(2.0, 11.0) as i32;
    opencv::imgproc::corner_sub_pix(gray, &mut corners, Size::new(half, half), Size::new(-1, -1), criteria(60, 1e-4)?)
        .map_err(cv)?;
    Ok(Some(corners.iter().map(|p| [f64::from(p.x), f64::from(p.y)]).collect()))
}

/// Reads one image as grey; `Ok(None)` when OpenCV cannot decode it.
fn read_gray(path: &Path) -> Result<Option<Mat>, CalibrateError> {
    let name = path.to_str().ok_or_else(|| CalibrateError::Input(format!("{}: not a UTF-8 path", path.display())))?;
    let img = opencv::imgcodecs::imread(name, opencv::imgcodecs::IMREAD_GRAYSCALE).map_err(cv)?;
    Ok((!img.empty()).then_some(img))
}

/// Corners found in each image (all of one size), and the images left out.
type Detections = (Size, Vec<(PathBuf, Vec<[f64; 2]>)>, Vec<(PathBuf, String)>);

fn detect_all(paths: &[PathBuf], board: &Board) -> Result<Detections, CalibrateError> {
    let mut size: Option<(Size, &Path)> = None;
    let (mut found, mut skipped) = (Vec::new(), Vec::new());
    for path in paths {
        let Some(gray) = read_gray(path)? else {
            skipped.push((path.clone(), "not an image OpenCV can read".into()));
            continue;
        };
        let s = gray.size().map_err(cv)?;
        match size {
            None => size = Some((s, path)),
            Some((first, first_path)) if first != s => {
                return Err(CalibrateError::Input(format!(
                    "{} is {}x{} but {} is {}x{}: calibrate one camera mode (image size) at a time",
                    first_path.display(),
                    first.width,
                    first.height,
                    path.display(),
                    s.width,
                    s.height
                )));
            }
            Some(_) => {}
        }
        match find_corners(&gray, board)? {
            Some(c) => found.push((path.clone(), c)),
            None => skipped.push((path.clone(), format!("{}x{} board not found", board.cols, board.rows))),
        }
    }
    let size = size.map(|(s, _)| s).ok_or_else(|| CalibrateError::Input("no readable image given".into()))?;
    Ok((size, found, skipped))
}

/// Calibrates one camera from checkerboard images.
pub fn calibrate_images(paths: &[PathBuf], board: &Board) -> Result<IntrinsicsCalibration, CalibrateError> {
    let (size, found, skipped) = detect_all(paths, board)?;
    if found.len() < MIN_VIEWS {
        let why: Vec<String> = skipped.iter().map(|(p, r)| format!("{}: {r}", p.display())).collect();
        return Err(CalibrateError::Input(format!(
            "the {}x{} board was found in {} of {} images, need at least {MIN_VIEWS} (10-20 at varied tilts and \
             positions are better){}{}",
            board.cols,
            board.rows,
            found.len(),
            paths.len(),
            if why.is_empty() { "" } else { "; " },
            why.join("; ")
        )));
    }
    let object: Vector<Point3f> =
        board.object_points().iter().map(|p| Point3f::new(p[0] as f32, p[1] as f32, p[2] as f32)).collect();
    let object_points: Vector<Vector<Point3f>> = found.iter().map(|_| object.clone()).collect();
    let image_points: Vector<Vector<Point2f>> =
        found.iter().map(|(_, c)| c.iter().map(|p| Point2f::new(p[0] as f32, p[1] as f32)).collect()).collect();
    let mut k = Mat::default();
    let mut dist = Mat::default();
    let (mut rvecs, mut tvecs): (Vector<Mat>, Vector<Mat>) = (Vector::new(), Vector::new());
    let rms_px = opencv::calib3d::calibrate_camera(
        &object_points,
        &image_points,
        size,
        &mut k,
        &mut dist,
        &mut rvecs,
        &mut tvecs,
        0,
        criteria(200, 1e-12)?,
    )
    .map_err(cv)?;
    let at = |m: &Mat, r: i32, c: i32| m.at_2d::<f64>(r, c).copied().map_err(cv);
    let intrinsics = Intrinsics { fx: at(&k, 0, 0)?, fy: at(&k, 1, 1)?, cx: at(&k, 0, 2)?, cy: at(&k, 1, 2)? };
    let d: Vec<f64> = (0..5).map(|i| dist.at::<f64>(i).copied().map_err(cv)).collect::<Result<_, _>>()?;
    let distortion = Distortion::from_array([d[0], d[1], d[2], d[3], d[4]]);
    let (width, height) = (size.width as u32, size.height as u32);
    let mut views = Vec::new();
    for (i, (path, corners)) in found.iter().enumerate() {
        let vec3 = |m: &Mat| -> Result<[f64; 3], CalibrateError> {
            Ok([m.at::<f64>(0).map_err(cv)?, m.at::<f64>(1).map_err(cv)?, m.at::<f64>(2).map_err(cv)?].map(|v| *v))
        };
        let (r, t) = (vec3(&rvecs.get(i).map_err(cv)?)?, vec3(&tvecs.get(i).map_err(cv)?)?);
        let camera = Camera { width, height, intrinsics, distortion, rotation: rodrigues(r), translation: t };
        views.push(View { image: path.clone(), rms_px: view_rms(&camera, board, corners) });
    }
    Ok(IntrinsicsCalibration { board: *board, width, height, intrinsics, distortion, rms_px, views, skipped })
}

/// RMS distance between found corners and the board corners projected with
/// the calibrated camera (through `layout::Camera`, so the project's own
/// model is what is checked); infinite if a corner does not project.
fn view_rms(camera: &Camera, board: &Board, corners: &[[f64; 2]]) -> f64 {
    let mut sum = 0.0;
    for (w, c) in board.object_points().iter().zip(corners) {
        let Some(p) = camera.project(*w) else { return f64::INFINITY };
        sum += (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
    }
    (sum / corners.len().max(1) as f64).sqrt()
}
