//! What the calibration commands read and write:
//!
//! - the intrinsics file `walkout.intrinsics.v1` (JSON) that
//!   `walkout calibrate intrinsics` writes: image size, `fx fy cx cy` in
//!   pixels and `dist`, exactly the intrinsic fields of a `cameras.json`
//!   entry, plus how well the board images fitted;
//! - the marked points CSV of `walkout calibrate extrinsics`: a header
//!   `x,y,z,u,v` (optionally `,label`), then one row per point: world metres,
//!   pixel (x right, y down, (0, 0) the centre of the top-left pixel);
//! - `cameras.json` (`layout::files`), where a fitted pose replaces the
//!   camera's entry or is added as a new one, other cameras untouched.

use super::CalibrateError;
use super::extrinsics::Correspondence;
use super::intrinsics::IntrinsicsCalibration;
use crate::ids::CameraId;
use crate::layout::LayoutError;
use crate::layout::camera::{Camera, Distortion, Intrinsics};
use crate::layout::files::{CAMERAS_FORMAT, CameraEntry, CamerasFile, UNITS, write_json};
use crate::layout::math::IDENTITY;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const INTRINSICS_FORMAT: &str = "walkout.intrinsics.v1";

/// `walkout.intrinsics.v1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrinsicsFile {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub image_width: u32,
    pub image_height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    /// `[k1, k2, p1, p2, k3]`.
    pub dist: [f64; 5],
    /// RMS reprojection error of the board corners, pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rms_px: Option<f64>,
}

impl IntrinsicsFile {
    pub fn from_calibration(c: &IntrinsicsCalibration) -> Self {
        let b = &c.board;
        IntrinsicsFile {
            format: INTRINSICS_FORMAT.into(),
            note: Some(format!(
                "walkout calibrate intrinsics: {}x{} inner corners of {} mm, {} images used, {} left out",
                b.cols,
                b.rows,
                b.square_m * 1000.0,
                c.views.len(),
                c.skipped.len()
            )),
            image_width: c.width,
            image_height: c.height,
            fx: c.intrinsics.fx,
            fy: c.intrinsics.fy,
            cx: c.intrinsics.cx,
            cy: c.intrinsics.cy,
            dist: c.distortion.to_array(),
            rms_px: Some(c.rms_px),
        }
    }

    /// A camera with these intrinsics, placed at the world origin (the pose
    /// is for `calibrate extrinsics` to fit).
    pub fn camera(&self) -> Camera {
        Camera {
            width: self.image_width,
            height: self.image_height,
            intrinsics: Intrinsics { fx: self.fx, fy: self.fy, cx: self.cx, cy: self.cy },
            distortion: Distortion::from_array(self.dist),
            rotation: IDENTITY,
            translation: [0.0; 3],
        }
    }
}

pub fn write_intrinsics(path: &Path, file: &IntrinsicsFile) -> Result<(), CalibrateError> {
    Ok(write_json(path, file, 1)?)
}

pub fn read_intrinsics(path: &Path) -> Result<IntrinsicsFile, CalibrateError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| CalibrateError::Read { path: path.to_owned(), source })?;
    let file: IntrinsicsFile = serde_json::from_str(&text)
        .map_err(|source| CalibrateError::Layout(LayoutError::Json { path: path.to_owned(), source }))?;
    let invalid = |field: &str, message: String| {
        CalibrateError::Layout(LayoutError::Invalid { path: path.to_owned(), field: field.into(), message })
    };
    if file.format != INTRINSICS_FORMAT {
        return Err(invalid("format", format!("expected {INTRINSICS_FORMAT:?}, got {:?}", file.format)));
    }
    if file.image_width == 0 || file.image_height == 0 {
        return Err(invalid("image_width", "image size must be positive".into()));
    }
    if !(file.fx.is_finite() && file.fx > 0.0 && file.fy.is_finite() && file.fy > 0.0) {
        return Err(invalid("fx", "focal lengths must be positive numbers of pixels".into()));
    }
    if ![file.cx, file.cy].iter().chain(&file.dist).all(|v| v.is_finite()) {
        return Err(invalid("dist", "not a finite number".into()));
    }
    Ok(file)
}

#[derive(Debug, Deserialize)]
struct PointRow {
    x: f64,
    y: f64,
    z: f64,
    u: f64,
    v: f64,
    #[serde(default)]
    label: Option<String>,
}

/// Reads a marked points CSV (`x,y,z,u,v[,label]`); errors name the line.
pub fn read_points_csv(path: &Path) -> Result<Vec<Correspondence>, CalibrateError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| CalibrateError::Read { path: path.to_owned(), source })?;
    parse_points_csv(&text).map_err(|m| CalibrateError::Input(format!("{}: {m}", path.display())))
}

/// Parses the text of a marked points CSV; lines starting with `#` are comments.
pub fn parse_points_csv(text: &str) -> Result<Vec<Correspondence>, String> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    for need in ["x", "y", "z", "u", "v"] {
        if !headers.iter().any(|h| h == need) {
            return Err(format!(
                "the header must name x,y,z,u,v (and optionally label); it is {:?}",
                headers.as_slice()
            ));
        }
    }
    let mut out = Vec::new();
    for row in reader.deserialize::<PointRow>() {
        let r = row.map_err(|e| match e.position() {
            Some(p) => format!("line {}: {e}", p.line()),
            None => e.to_string(),
        })?;
        out.push(Correspondence { world: [r.x, r.y, r.z], pixel: [r.u, r.v], label: r.label.unwrap_or_default() });
    }
    Ok(out)
}

/// Writes `camera` as `id`'s entry of the `cameras.json` at `path`: the
/// entry is replaced (keeping its `file_index`) or appended; a missing file
/// is created. `note` is appended to the file's note when given.
pub fn store_camera(path: &Path, id: &CameraId, camera: &Camera, note: Option<&str>) -> Result<(), CalibrateError> {
    let mut file = if path.exists() {
        // validate the whole file first, so a broken file is reported rather than rewritten
        crate::layout::load_cameras(path)?;
        let text =
            std::fs::read_to_string(path).map_err(|source| CalibrateError::Read { path: path.to_owned(), source })?;
        serde_json::from_str::<CamerasFile>(&text)
            .map_err(|source| CalibrateError::Layout(LayoutError::Json { path: path.to_owned(), source }))?
    } else {
        CamerasFile { format: CAMERAS_FORMAT.into(), units: UNITS.into(), note: None, cameras: Vec::new() }
    };
    let existing = file.cameras.iter().position(|c| &c.id == id);
    let file_index = existing.and_then(|i| file.cameras[i].file_index);
    let entry = entry_for(id, file_index, camera);
    match existing {
        Some(i) => file.cameras[i] = entry,
        None => file.cameras.push(entry),
    }
    if let Some(n) = note {
        file.note = Some(match file.note.take() {
            Some(old) if !old.is_empty() => format!("{old} {n}"),
            _ => n.to_owned(),
        });
    }
    write_json(path, &file, 3)?;
    Ok(())
}

fn entry_for(id: &CameraId, file_index: Option<u32>, c: &Camera) -> CameraEntry {
    let one = crate::layout::files::cameras_file(&[(id.clone(), file_index, c.clone())], None);
    one.cameras.into_iter().next().expect("one camera in, one out")
}
