//! Store geometry and the camera model: where every plate is in the world,
//! how each camera sees it, and image <-> floor projection.
//!
//! - [`math`]: 3-vectors, rotations, rigid transforms (Rodrigues).
//! - [`geometry`]: gondolas, plates as world rectangles, floor zones.
//! - [`camera`]: intrinsics, OpenCV distortion, world -> pixel projection,
//!   pixel -> ray -> plane.
//! - [`files`]: the project's own `calibration/<store>/cameras.json` and
//!   `geometry.json` (format in `docs/calibration.md`), with loaders that
//!   name the file and field at fault.
//! - [`aifi`]: the importer for the AiFi Nanostore data (its conventions
//!   settled in `docs/calibration.md`).
//! - [`overlay`]: projected plate outlines drawn on camera stills, to check a
//!   calibration by eye.
//! - [`calibrate`]: intrinsics from checkerboard images and poses from marked
//!   points (OpenCV), written in the project's formats.
//!
//! World frame everywhere: metres, z up, the floor at z = 0.

pub mod aifi;
pub mod calibrate;
pub mod camera;
pub mod files;
pub mod geometry;
mod json;
pub mod math;
pub mod overlay;

pub use aifi::{ImportReport, import_aifi};
pub use camera::{Camera, Distortion, Intrinsics, Ray};
pub use files::{CameraSet, StoreLayout, load_cameras, load_geometry};
pub use geometry::{GondolaGeometry, PlateGeometry, StoreGeometry, Zone, ZoneKind};
pub use overlay::{OverlayReport, draw_overlay, overlay_stills};

use std::path::{Path, PathBuf};

/// Why a layout could not be loaded, imported or drawn.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{path}: {field}: {message}")]
    Invalid { path: PathBuf, field: String, message: String },
    #[error("{path}: {message}")]
    Image { path: PathBuf, message: String },
}

impl LayoutError {
    pub(crate) fn invalid(path: &Path, field: String, message: String) -> Self {
        Self::Invalid { path: path.to_owned(), field, message }
    }
}
