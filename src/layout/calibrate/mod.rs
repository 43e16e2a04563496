//! Camera calibration tools (`walkout calibrate ...`), writing the project's
//! own formats (`docs/calibration.md`, "Calibrating a camera"):
//!
//! - [`intrinsics`]: focal lengths, principal point and distortion from
//!   checkerboard images (OpenCV `findChessboardCorners`, `cornerSubPix`,
//!   `calibrateCamera`);
//! - [`extrinsics`]: a camera's pose from marked world points (OpenCV
//!   `solvePnP` + `solvePnPRefineLM`), or its aim alone with its centre kept;
//! - [`board`]: the checkerboard spec and a renderer that draws a board
//!   through a known camera, for tests with exact ground truth;
//! - [`files`]: the intrinsics file, the marked points CSV, and storing a
//!   fitted pose in `cameras.json`;
//! - [`commands`]: the two commands as library calls, with their reports.
//!
//! OpenCV calls block and are for command-line tools and tests, not for
//! async tasks.

pub mod board;
pub mod commands;
pub mod extrinsics;
pub mod files;
pub mod intrinsics;

pub use board::{Board, UndistortGrid, render_board};
pub use extrinsics::{Correspondence, PoseFit, rotation_angle_deg, solve_pose, solve_rotation};
pub use files::{IntrinsicsFile, parse_points_csv, read_intrinsics, read_points_csv, store_camera, write_intrinsics};
pub use intrinsics::{IntrinsicsCalibration, calibrate_images, find_corners, image_files};

use super::LayoutError;
use std::path::PathBuf;

/// Why a calibration could not be done; input errors say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The input cannot give a calibration (too few views or points,
    /// degenerate points, mixed image sizes, ...).
    #[error("{0}")]
    Input(String),
    /// The fit ran but its result is unusable.
    #[error("{0}")]
    Fit(String),
    #[error("OpenCV: {0}")]
    OpenCv(String),
}

pub(crate) fn cv(e: opencv::Error) -> CalibrateError {
    CalibrateError::OpenCv(e.to_string())
}
