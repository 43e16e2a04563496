//! The two `walkout calibrate` commands as library calls: which files to
//! read, what to write, and a JSON-serialisable report of the fit.

use super::CalibrateError;
use super::board::Board;
use super::extrinsics::{Correspondence, PoseFit, rotation_angle_deg, solve_pose, solve_rotation};
use super::files::{IntrinsicsFile, read_intrinsics, read_points_csv, store_camera, write_intrinsics};
use super::intrinsics::{calibrate_images, image_files};
use crate::ids::CameraId;
use crate::layout::camera::Camera;
use crate::layout::math::Vec3;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `walkout calibrate intrinsics` prints.
#[derive(Debug, Serialize)]
pub struct IntrinsicsReport {
    pub out: PathBuf,
    pub image_width: u32,
    pub image_height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    pub dist: [f64; 5],
    pub rms_px: f64,
    pub views: Vec<super::intrinsics::View>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// `walkout calibrate intrinsics --images DIR --board COLSxROWS --square-mm S --out FILE`.
pub fn intrinsics(images: &Path, board: &str, square_mm: f64, out: &Path) -> Result<IntrinsicsReport, CalibrateError> {
    let board = Board::parse(board, square_mm)?;
    let paths = image_files(images)?;
    if paths.is_empty() {
        return Err(CalibrateError::Input(format!("{}: no png/jpg/bmp/tif images", images.display())));
    }
    let c = calibrate_images(&paths, &board)?;
    write_intrinsics(out, &IntrinsicsFile::from_calibration(&c))?;
    let k = c.intrinsics;
    Ok(IntrinsicsReport {
        out: out.to_owned(),
        image_width: c.width,
        image_height: c.height,
        fx: k.fx,
        fy: k.fy,
        cx: k.cx,
        cy: k.cy,
        dist: c.distortion.to_array(),
        rms_px: c.rms_px,
        views: c.views,
        skipped: c.skipped,
    })
}

/// Options of `walkout calibrate extrinsics`.
#[derive(Clone, Debug)]
pub struct ExtrinsicsOptions {
    pub camera: CameraId,
    /// Marked points CSV (`x,y,z,u,v[,label]`).
    pub points: PathBuf,
    /// Intrinsics file; without it the camera's entry in the cameras file supplies them.
    pub intrinsics: Option<PathBuf>,
    /// The cameras file to update (`<calibration>/cameras.json` or `--out`).
    pub cameras_file: PathBuf,
    /// Keep the camera's centre (from its existing entry) and fit its aim only.
    pub keep_centre: bool,
}

/// One marked point after the fit.
#[derive(Debug, Serialize)]
pub struct PointResidual {
    pub label: String,
    pub world: Vec3,
    pub pixel: [f64; 2],
    pub error_px: f64,
}

/// What `walkout calibrate extrinsics` prints.
#[derive(Debug, Serialize)]
pub struct ExtrinsicsReport {
    pub camera: CameraId,
    pub cameras_file: PathBuf,
    pub method: &'static str,
    pub points: usize,
    pub rms_px: f64,
    pub max_error_px: f64,
    /// The fitted camera centre in the world, metres.
    pub centre: Vec3,
    /// The viewing direction in the world (unit vector).
    pub optical_axis: Vec3,
    /// How far the aim moved from the previous entry, degrees (when there was one).
    pub rotation_change_deg: Option<f64>,
    /// How far the centre moved from the previous entry, metres.
    pub centre_change_m: Option<f64>,
    pub residuals: Vec<PointResidual>,
}

fn previous_camera(path: &Path, id: &CameraId) -> Result<Option<Camera>, CalibrateError> {
    if !path.exists() {
        return Ok(None);
    }
    Ok(crate::layout::load_cameras(path)?.cameras.get(id).cloned())
}

/// Fits the camera's pose to the marked points and stores it in the cameras file.
pub fn extrinsics(opts: &ExtrinsicsOptions) -> Result<ExtrinsicsReport, CalibrateError> {
    let previous = previous_camera(&opts.cameras_file, &opts.camera)?;
    let base = match (&opts.intrinsics, &previous) {
        (Some(path), _) => {
            let mut c = read_intrinsics(path)?.camera();
            if let Some(p) = &previous {
                (c.rotation, c.translation) = (p.rotation, p.translation);
            }
            c
        }
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(CalibrateError::Input(format!(
                "camera {} is not in {}: give its intrinsics with --intrinsics FILE",
                opts.camera,
                opts.cameras_file.display()
            )));
        }
    };
    let points = read_points_csv(&opts.points)?;
    let (fit, method) = if opts.keep_centre {
        if previous.is_none() {
            return Err(CalibrateError::Input(format!(
                "--keep-centre needs camera {}'s centre from an existing entry in {}",
                opts.camera,
                opts.cameras_file.display()
            )));
        }
        (solve_rotation(&base, &points)?, "rotation only (centre kept), Kabsch + Gauss-Newton")
    } else {
        (solve_pose(&base, &points)?, "solvePnP (SQPnP) + solvePnPRefineLM")
    };
    let camera = fit.apply(&base);
    let note = format!(
        "Camera {}: pose fitted by walkout calibrate extrinsics to {} marked points ({:.2} px RMS).",
        opts.camera,
        points.len(),
        fit.rms_px
    );
    store_camera(&opts.cameras_file, &opts.camera, &camera, Some(&note))?;
    Ok(report(opts, method, &points, &fit, &camera, previous.as_ref()))
}

fn report(
    opts: &ExtrinsicsOptions,
    method: &'static str,
    points: &[Correspondence],
    fit: &PoseFit,
    camera: &Camera,
    previous: Option<&Camera>,
) -> ExtrinsicsReport {
    let residuals = points
        .iter()
        .zip(&fit.residuals_px)
        .map(|(p, e)| PointResidual { label: p.label.clone(), world: p.world, pixel: p.pixel, error_px: *e })
        .collect();
    ExtrinsicsReport {
        camera: opts.camera.clone(),
        cameras_file: opts.cameras_file.clone(),
        method,
        points: points.len(),
        rms_px: fit.rms_px,
        max_error_px: fit.residuals_px.iter().copied().fold(0.0, f64::max),
        centre: camera.centre(),
        optical_axis: camera.optical_axis(),
        rotation_change_deg: previous.map(|p| rotation_angle_deg(&p.rotation, &camera.rotation)),
        centre_change_m: previous
            .map(|p| crate::layout::math::norm(crate::layout::math::sub(p.centre(), camera.centre()))),
        residuals,
    }
}
