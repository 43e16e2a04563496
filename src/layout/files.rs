//! The project's own calibration files under `calibration/<store>/`
//! (documented in `docs/calibration.md`):
//!
//! - `cameras.json`: per camera its image size, pinhole intrinsics in pixels,
//!   distortion `[k1, k2, p1, p2, k3]` and the world -> camera pose in metres;
//! - `geometry.json`: gondola outlines, every plate's world corners, floor
//!   zones.
//!
//! Loading validates every number and names the file and the field at fault.

use super::LayoutError;
use super::camera::{Camera, Distortion, Intrinsics};
use super::geometry::{GondolaGeometry, PlateGeometry, StoreGeometry, Zone};
pub use super::json::write_json;
use super::json::{round, round_vec};
use super::math::{norm, rotation_defect, sub};
use crate::ids::{CameraId, PlateId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const CAMERAS_FORMAT: &str = "walkout.cameras.v1";
pub const GEOMETRY_FORMAT: &str = "walkout.geometry.v1";
pub const UNITS: &str = "metres";

/// `cameras.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CamerasFile {
    pub format: String,
    pub units: String,
    /// Where the numbers come from and anything a reader should know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub cameras: Vec<CameraEntry>,
}

/// One camera of `cameras.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraEntry {
    pub id: CameraId,
    /// The number the recorder gives this camera in its file names (AiFi:
    /// `...-camK.mp4`, `camera_K.png`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_index: Option<u32>,
    pub image_width: u32,
    pub image_height: u32,
    pub fx: f64,
    pub fy: f64,
    pub cx: f64,
    pub cy: f64,
    /// `[k1, k2, p1, p2, k3]`, OpenCV's model on normalised coordinates.
    pub dist: [f64; 5],
    /// World -> camera rotation, row-major.
    pub rotation: [[f64; 3]; 3],
    /// World -> camera translation, metres.
    pub translation: [f64; 3],
    /// The camera centre in the world (`-Rᵀ t`), metres: informative; checked
    /// against the pose when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<[f64; 3]>,
}

/// `geometry.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeometryFile {
    pub format: String,
    pub units: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Floor area worth tracking `[x_min, y_min, x_max, y_max]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<[f64; 4]>,
    pub gondolas: Vec<GondolaGeometry>,
    pub plates: Vec<PlateEntry>,
    #[serde(default)]
    pub zones: Vec<Zone>,
}

/// One plate of `geometry.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateEntry {
    /// `gondola.shelf.plate`, e.g. `"3.2.11"`.
    pub id: PlateId,
    /// Front-left, front-right, back-right, back-left (facing the shelf).
    pub corners: [[f64; 3]; 4],
    /// Mean of the corners: informative; checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<[f64; 3]>,
}

/// A store's cameras and geometry as loaded from `calibration/<store>/`.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreLayout {
    pub geometry: StoreGeometry,
    pub cameras: BTreeMap<CameraId, Camera>,
    /// Recorder file number -> camera id (from `file_index`).
    pub file_index: BTreeMap<u32, CameraId>,
}

impl StoreLayout {
    /// Loads `cameras.json` and `geometry.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, LayoutError> {
        let CameraSet { cameras, file_index } = load_cameras(&dir.join("cameras.json"))?;
        let geometry = load_geometry(&dir.join("geometry.json"))?;
        Ok(Self { geometry, cameras, file_index })
    }

    /// The camera the recorder calls `file_index` (e.g. `cam5` -> its id).
    pub fn camera_by_file_index(&self, file_index: u32) -> Option<(&CameraId, &Camera)> {
        let id = self.file_index.get(&file_index)?;
        self.cameras.get_key_value(id)
    }
}

/// Position tolerance when checking informative copies (1 mm).
const COPY_TOLERANCE_M: f64 = 1e-3;

/// The cameras of one `cameras.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct CameraSet {
    pub cameras: BTreeMap<CameraId, Camera>,
    /// Recorder file number -> camera id.
    pub file_index: BTreeMap<u32, CameraId>,
}

/// Loads `cameras.json`.
pub fn load_cameras(path: &Path) -> Result<CameraSet, LayoutError> {
    let file: CamerasFile = read_json(path)?;
    check_header(path, &file.format, CAMERAS_FORMAT, &file.units)?;
    let mut cameras = BTreeMap::new();
    let mut file_index = BTreeMap::new();
    for (i, entry) in file.cameras.iter().enumerate() {
        let at = |field: &str| format!("cameras[{i}] ({}).{field}", entry.id);
        let camera = camera_from_entry(path, entry, &at)?;
        if let Some(k) = entry.file_index
            && let Some(other) = file_index.insert(k, entry.id.clone())
        {
            return Err(LayoutError::invalid(path, at("file_index"), format!("{k} is also camera {other}'s")));
        }
        if cameras.insert(entry.id.clone(), camera).is_some() {
            return Err(LayoutError::invalid(path, at("id"), "appears twice".into()));
        }
    }
    Ok(CameraSet { cameras, file_index })
}

fn camera_from_entry(path: &Path, e: &CameraEntry, at: &dyn Fn(&str) -> String) -> Result<Camera, LayoutError> {
    let bad = |field: &str, message: String| LayoutError::invalid(path, at(field), message);
    if e.id.as_str().is_empty() {
        return Err(bad("id", "empty".into()));
    }
    if e.image_width == 0 || e.image_height == 0 {
        return Err(bad("image_width", "image size must be positive".into()));
    }
    for (name, v) in [("fx", e.fx), ("fy", e.fy)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(bad(name, format!("focal length must be a positive number of pixels, got {v}")));
        }
    }
    for (name, v) in [("cx", e.cx), ("cy", e.cy)] {
        if !v.is_finite() {
            return Err(bad(name, format!("not a finite number: {v}")));
        }
    }
    if let Some(k) = e.dist.iter().position(|v| !v.is_finite()) {
        return Err(bad("dist", format!("coefficient {k} is not finite")));
    }
    finite_all(e.rotation.iter().flatten().copied()).map_err(|m| bad("rotation", m))?;
    finite_all(e.translation.iter().copied()).map_err(|m| bad("translation", m))?;
    let (defect, det) = rotation_defect(&e.rotation);
    if defect > 1e-6 || (det - 1.0).abs() > 1e-6 {
        return Err(bad("rotation", format!("not a rotation (|RᵀR - I| = {defect:.2e}, det = {det:.6})")));
    }
    let camera = Camera {
        width: e.image_width,
        height: e.image_height,
        intrinsics: Intrinsics { fx: e.fx, fy: e.fy, cx: e.cx, cy: e.cy },
        distortion: Distortion::from_array(e.dist),
        rotation: e.rotation,
        translation: e.translation,
    };
    if let Some(p) = e.position {
        let off = norm(sub(p, camera.centre()));
        if off.is_nan() || off > COPY_TOLERANCE_M {
            return Err(bad("position", format!("is {off:.4} m from -Rᵀt {:?}", camera.centre())));
        }
    }
    Ok(camera)
}

/// Loads `geometry.json`.
pub fn load_geometry(path: &Path) -> Result<StoreGeometry, LayoutError> {
    let file: GeometryFile = read_json(path)?;
    check_header(path, &file.format, GEOMETRY_FORMAT, &file.units)?;
    let mut geometry = StoreGeometry { bounds: file.bounds, ..Default::default() };
    if let Some(b) = file.bounds {
        finite_all(b.iter().copied()).map_err(|m| LayoutError::invalid(path, "bounds".into(), m))?;
        if !(b[0] < b[2] && b[1] < b[3]) {
            return Err(LayoutError::invalid(path, "bounds".into(), "expected [x_min, y_min, x_max, y_max]".into()));
        }
    }
    let mut gondola_ids = BTreeSet::new();
    for (i, g) in file.gondolas.into_iter().enumerate() {
        let at = format!("gondolas[{i}] ({})", g.id);
        finite_all(g.footprint.iter().flatten().copied().chain([g.height]))
            .map_err(|m| LayoutError::invalid(path, at.clone(), m))?;
        if g.id == 0 || !gondola_ids.insert(g.id) {
            return Err(LayoutError::invalid(path, format!("{at}.id"), "must be unique and positive".into()));
        }
        geometry.gondolas.push(g);
    }
    for (i, p) in file.plates.into_iter().enumerate() {
        let at = |field: &str| format!("plates[{i}] ({}).{field}", p.id);
        finite_all(p.corners.iter().flatten().copied()).map_err(|m| LayoutError::invalid(path, at("corners"), m))?;
        if !gondola_ids.contains(&p.id.gondola) {
            return Err(LayoutError::invalid(path, at("id"), format!("gondola {} is not listed", p.id.gondola)));
        }
        let plate = PlateGeometry { id: p.id, corners: p.corners };
        if let Some(c) = p.centre {
            let off = norm(sub(c, plate.centre()));
            if off.is_nan() || off > COPY_TOLERANCE_M {
                return Err(LayoutError::invalid(path, at("centre"), format!("is {off:.4} m from the corners' mean")));
            }
        }
        if geometry.plates.insert(p.id, plate).is_some() {
            return Err(LayoutError::invalid(path, at("id"), "appears twice".into()));
        }
    }
    let mut names = BTreeSet::new();
    for (i, z) in file.zones.into_iter().enumerate() {
        let at = format!("zones[{i}] ({})", z.name);
        if z.polygon.len() < 3 {
            return Err(LayoutError::invalid(path, format!("{at}.polygon"), "needs at least 3 points".into()));
        }
        finite_all(z.polygon.iter().flatten().copied()).map_err(|m| LayoutError::invalid(path, at.clone(), m))?;
        if !names.insert(z.name.clone()) {
            return Err(LayoutError::invalid(path, format!("{at}.name"), "appears twice".into()));
        }
        geometry.zones.push(z);
    }
    Ok(geometry)
}

/// The `cameras.json` document for a set of cameras.
pub fn cameras_file(cameras: &[(CameraId, Option<u32>, Camera)], note: Option<String>) -> CamerasFile {
    let entries = cameras
        .iter()
        .map(|(id, file_index, c)| CameraEntry {
            id: id.clone(),
            file_index: *file_index,
            image_width: c.width,
            image_height: c.height,
            fx: round(c.intrinsics.fx, 1e-6),
            fy: round(c.intrinsics.fy, 1e-6),
            cx: round(c.intrinsics.cx, 1e-6),
            cy: round(c.intrinsics.cy, 1e-6),
            dist: c.distortion.to_array(),
            rotation: c.rotation,
            translation: c.translation,
            position: Some(round_vec(c.centre(), 1e-6)),
        })
        .collect();
    CamerasFile { format: CAMERAS_FORMAT.into(), units: UNITS.into(), note, cameras: entries }
}

/// The `geometry.json` document for a store's geometry (corners rounded to
/// the micrometre).
pub fn geometry_file(geometry: &StoreGeometry, note: Option<String>) -> GeometryFile {
    let plates = geometry
        .plates
        .values()
        .map(|p| PlateEntry {
            id: p.id,
            corners: p.corners.map(|c| round_vec(c, 1e-6)),
            centre: Some(round_vec(p.centre(), 1e-6)),
        })
        .collect();
    GeometryFile {
        format: GEOMETRY_FORMAT.into(),
        units: UNITS.into(),
        note,
        bounds: geometry.bounds.map(|b| b.map(|v| round(v, 1e-6))),
        gondolas: geometry
            .gondolas
            .iter()
            .map(|g| GondolaGeometry {
                id: g.id,
                footprint: g.footprint.map(|p| p.map(|v| round(v, 1e-6))),
                height: round(g.height, 1e-6),
            })
            .collect(),
        plates,
        zones: geometry.zones.clone(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LayoutError> {
    let text = std::fs::read_to_string(path).map_err(|source| LayoutError::Read { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|source| LayoutError::Json { path: path.to_owned(), source })
}

fn check_header(path: &Path, format: &str, expected: &str, units: &str) -> Result<(), LayoutError> {
    if format != expected {
        return Err(LayoutError::invalid(path, "format".into(), format!("expected {expected:?}, got {format:?}")));
    }
    if units != UNITS {
        return Err(LayoutError::invalid(path, "units".into(), format!("expected {UNITS:?}, got {units:?}")));
    }
    Ok(())
}

fn finite_all(values: impl IntoIterator<Item = f64>) -> Result<(), String> {
    match values.into_iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("not a finite number: {v}")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_camera() -> CameraEntry {
        CameraEntry {
            id: CameraId::from("1"),
            file_index: Some(1),
            image_width: 640,
            image_height: 360,
            fx: 511.0,
            fy: 511.0,
            cx: 320.0,
            cy: 165.0,
            dist: [-0.47, 0.2, 0.0, 0.0, 0.0],
            rotation: [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]],
            translation: [-1.0, 2.0, 2.5],
            position: Some([1.0, 2.0, 2.5]),
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn cameras_round_trip_and_bad_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let good = CamerasFile {
            format: CAMERAS_FORMAT.into(),
            units: UNITS.into(),
            note: None,
            cameras: vec![sample_camera()],
        };
        let path = dir.path().join("cameras.json");
        write_json(&path, &good, 3).unwrap();
        let set = load_cameras(&path).unwrap();
        assert_eq!(set.cameras[&CameraId::from("1")].centre(), [1.0, 2.0, 2.5]);
        assert_eq!(set.file_index[&1], CameraId::from("1"));

        let mut bad = good.clone();
        bad.cameras[0].fy = -3.0;
        write_json(&path, &bad, 3).unwrap();
        let err = load_cameras(&path).unwrap_err().to_string();
        assert!(err.contains("cameras.json") && err.contains("cameras[0] (1).fy"), "{err}");

        let mut bad = good.clone();
        bad.cameras[0].rotation[0][0] = 2.0;
        write_json(&path, &bad, 3).unwrap();
        assert!(load_cameras(&path).unwrap_err().to_string().contains("rotation"));

        let mut bad = good.clone();
        bad.cameras[0].position = Some([0.0, 0.0, 0.0]);
        write_json(&path, &bad, 3).unwrap();
        assert!(load_cameras(&path).unwrap_err().to_string().contains(".position"));

        let p = write(
            dir.path(),
            "c.json",
            r#"{"format": "walkout.cameras.v1", "units": "metres", "cameras": [{"id": "1"}]}"#,
        );
        let err = load_cameras(&p).unwrap_err().to_string();
        assert!(err.contains("c.json") && err.contains("missing field `image_width`"), "{err}");

        let p = write(dir.path(), "u.json", r#"{"format": "walkout.cameras.v1", "units": "inches", "cameras": []}"#);
        assert!(load_cameras(&p).unwrap_err().to_string().contains("units"));
    }

    #[test]
    fn geometry_checks_plates_and_zones() {
        let dir = tempfile::tempdir().unwrap();
        let doc = |plates: &str, zones: &str| {
            format!(
                r#"{{"format": "walkout.geometry.v1", "units": "metres",
                    "gondolas": [{{"id": 1, "footprint": [[0,0],[1,0],[1,0.1],[0,0.1]], "height": 2.0}}],
                    "plates": [{plates}], "zones": [{zones}]}}"#
            )
        };
        let plate = r#"{"id": "1.1.1", "corners": [[0,0,0.3],[0.1,0,0.3],[0.1,0.4,0.3],[0,0.4,0.3]], "centre": [0.05,0.2,0.3]}"#;
        let exit = r#"{"name": "exit", "kind": "exit", "polygon": [[0,-2],[1,-2],[1,-1]]}"#;
        let p = write(dir.path(), "geometry.json", &doc(plate, exit));
        let g = load_geometry(&p).unwrap();
        assert_eq!(g.plates.len(), 1);
        assert_eq!(g.zones_at(0.9, -1.9).count(), 1);

        let moved = plate.replace("[0.05,0.2,0.3]", "[0.5,0.2,0.3]");
        let err = load_geometry(&write(dir.path(), "g.json", &doc(&moved, ""))).unwrap_err().to_string();
        assert!(err.contains("g.json") && err.contains("plates[0] (1.1.1).centre"), "{err}");

        let orphan = plate.replace("\"1.1.1\"", "\"2.1.1\"");
        let err = load_geometry(&write(dir.path(), "g.json", &doc(&orphan, ""))).unwrap_err().to_string();
        assert!(err.contains("gondola 2 is not listed"), "{err}");

        let twice = format!("{plate}, {plate}");
        assert!(
            load_geometry(&write(dir.path(), "g.json", &doc(&twice, ""))).unwrap_err().to_string().contains("twice")
        );

        let line = r#"{"name": "exit", "kind": "exit", "polygon": [[0,0],[1,1]]}"#;
        let err = load_geometry(&write(dir.path(), "g.json", &doc(plate, line))).unwrap_err().to_string();
        assert!(err.contains("zones[0] (exit).polygon"), "{err}");

        let bad_id = plate.replace("\"1.1.1\"", "\"1.1\"");
        let err = load_geometry(&write(dir.path(), "g.json", &doc(&bad_id, ""))).unwrap_err().to_string();
        assert!(err.contains("g.json") && err.contains("invalid plate id"), "{err}");
    }
}
