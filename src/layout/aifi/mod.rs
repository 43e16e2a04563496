//! Importer for the AiFi Nanostore data (CPS-IoT Week 2020 autonomous
//! checkout competition): `store_meta/{Gondolas,Shelves,Plates}.json`,
//! `store_meta/calibration.json` and the products CSV, converted into the
//! project's own `calibration/<store>/` files.
//!
//! The AiFi conventions, each settled by evidence in `docs/calibration.md`:
//!
//! - geometry: metres; gondola in the world, shelf in its gondola, plate in
//!   its shelf, each `p_parent = R(rodrigues) · p_child + t`; a plate's frame
//!   sits at its front-left corner with x along the shelf and y to the back;
//! - `K` is normalised: row 0 times the image width, row 1 times the height
//!   (the RGB ceiling cameras 1-12 stream 640 x 360);
//! - `Tw` maps camera -> world (its last column is the camera centre);
//!   camera axes are OpenCV's (x right, y down, z forward);
//! - `Tw`'s translation, `look_at` and `world_ltrb` are in inches.
//!
//! AiFi's poses do not reproduce the recorded images, so the importer
//! re-estimates them ([`poses`]) from the committed landmarks
//! ([`landmarks`], `calibration/aifi-landmarks.csv`).

mod adjust;
pub mod landmarks;
pub mod poses;
mod products;

pub use landmarks::{LANDMARKS_CSV, Landmark, Target, parse_landmarks};
pub use poses::{PoseReport, reestimate};
pub use products::{CatalogImport, convert_products, slug};

use super::LayoutError;
use super::camera::{Camera, Distortion, Intrinsics};
use super::files::{cameras_file, geometry_file, write_json};
use super::geometry::{GondolaGeometry, PLATE_DEPTH_M, PLATE_WIDTH_M, PlateGeometry, StoreGeometry};
use super::math::{Rigid, Vec3, norm, sub};
use crate::ids::{CameraId, PlateId};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One inch in metres: the unit of `Tw`'s translation, `look_at` and
/// `world_ltrb` in `calibration.json`.
pub const INCH_M: f64 = 0.0254;
/// Frame size of the RGB ceiling cameras (stills and videos of the data set).
pub const IMAGE_WIDTH: u32 = 640;
pub const IMAGE_HEIGHT: u32 = 360;

/// Recorder file number (`...-camK.mp4`, `camera_K.png`) -> calibration id:
/// 1-6 settled by what the stills show, 7 and 8 the best guess (they may be
/// 11 and 12); evidence in `docs/calibration.md`.
pub const FILE_INDEX_TO_CAMERA: &[(u32, &str)] =
    &[(1, "1"), (2, "2"), (3, "5"), (4, "6"), (5, "7"), (6, "8"), (7, "9"), (8, "10")];

#[derive(Debug, Deserialize)]
struct Xyz {
    x: f64,
    y: f64,
    z: f64,
}

impl Xyz {
    fn v(&self) -> Vec3 {
        [self.x, self.y, self.z]
    }
}

#[derive(Debug, Deserialize)]
struct Transform {
    translation: Xyz,
    rotation: Xyz,
}

#[derive(Debug, Deserialize)]
struct Coordinates {
    transform: Transform,
    #[serde(default)]
    dim_x: f64,
    #[serde(default)]
    dim_y: f64,
    #[serde(default)]
    dim_z: f64,
}

impl Coordinates {
    fn rigid(&self) -> Rigid {
        Rigid::from_rodrigues(self.transform.rotation.v(), self.transform.translation.v())
    }
}

#[derive(Debug, Deserialize)]
struct GondolaKey {
    id: u16,
}

#[derive(Debug, Deserialize)]
struct ShelfKey {
    gondola_id: GondolaKey,
    shelf_index: u16,
}

#[derive(Debug, Deserialize)]
struct PlateKey {
    shelf_id: ShelfKey,
    plate_index: u16,
}

#[derive(Debug, Deserialize)]
struct Record<K> {
    id: K,
    coordinates: Coordinates,
}

#[derive(Debug, Deserialize)]
struct GondolasFile {
    gondolas: Vec<Record<GondolaKey>>,
}

#[derive(Debug, Deserialize)]
struct ShelvesFile {
    shelves: Vec<Record<ShelfKey>>,
}

#[derive(Debug, Deserialize)]
struct PlatesFile {
    plates: Vec<Record<PlateKey>>,
}

/// `calibration.json`.
#[derive(Debug, Deserialize)]
pub struct AifiCalibration {
    /// `[left, top, right, bottom]` = `[x_min, y_min, x_max, y_max]`, inches.
    pub world_ltrb: [f64; 4],
    pub cameras: BTreeMap<String, AifiCamera>,
}

/// One camera of `calibration.json`, as written.
#[derive(Debug, Deserialize)]
pub struct AifiCamera {
    /// Intrinsics normalised by the image size.
    #[serde(rename = "K")]
    pub k: [[f64; 3]; 3],
    /// Camera -> world, translation in inches.
    #[serde(rename = "Tw")]
    pub tw: [[f64; 4]; 4],
    pub dist_coeffs: [f64; 5],
    /// Where the ray through the image centre meets the floor, inches.
    #[serde(default)]
    pub look_at: Option<[f64; 3]>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LayoutError> {
    let text = std::fs::read_to_string(path).map_err(|source| LayoutError::Read { path: path.to_owned(), source })?;
    serde_json::from_str(&text).map_err(|source| LayoutError::Json { path: path.to_owned(), source })
}

/// Reads `Gondolas.json`, `Shelves.json` and `Plates.json` (and the
/// tracking bounds from `calibration.json`) into world geometry.
pub fn read_geometry(store_meta: &Path) -> Result<StoreGeometry, LayoutError> {
    let gondolas_path = store_meta.join("Gondolas.json");
    let shelves_path = store_meta.join("Shelves.json");
    let plates_path = store_meta.join("Plates.json");
    let gondolas: GondolasFile = read_json(&gondolas_path)?;
    let shelves: ShelvesFile = read_json(&shelves_path)?;
    let plates: PlatesFile = read_json(&plates_path)?;

    let mut geometry = StoreGeometry::default();
    let mut gondola_frames = BTreeMap::new();
    for (i, g) in gondolas.gondolas.iter().enumerate() {
        let frame = g.coordinates.rigid();
        let c = &g.coordinates;
        let footprint = [[0.0, 0.0], [c.dim_x, 0.0], [c.dim_x, c.dim_y], [0.0, c.dim_y]].map(|[x, y]| {
            let p = frame.apply([x, y, 0.0]);
            [p[0], p[1]]
        });
        if gondola_frames.insert(g.id.id, frame).is_some() {
            return Err(LayoutError::invalid(
                &gondolas_path,
                format!("gondolas[{i}].id"),
                format!("{} twice", g.id.id),
            ));
        }
        geometry.gondolas.push(GondolaGeometry { id: g.id.id, footprint, height: c.dim_z });
    }
    let mut shelf_frames = BTreeMap::new();
    for (i, s) in shelves.shelves.iter().enumerate() {
        let (g, k) = (s.id.gondola_id.id, s.id.shelf_index);
        let Some(gondola) = gondola_frames.get(&g) else {
            let msg = format!("gondola {g} is not in Gondolas.json");
            return Err(LayoutError::invalid(&shelves_path, format!("shelves[{i}] ({g}.{k})"), msg));
        };
        shelf_frames.insert((g, k), gondola.then_inner(&s.coordinates.rigid()));
    }
    for (i, p) in plates.plates.iter().enumerate() {
        let (g, k, n) = (p.id.shelf_id.gondola_id.id, p.id.shelf_id.shelf_index, p.id.plate_index);
        let at = format!("plates[{i}] ({g}.{k}.{n})");
        let Some(shelf) = shelf_frames.get(&(g, k)) else {
            return Err(LayoutError::invalid(&plates_path, at, format!("shelf {g}.{k} is not in Shelves.json")));
        };
        if g == 0 || k == 0 || n == 0 {
            return Err(LayoutError::invalid(&plates_path, at, "ids are 1-based".into()));
        }
        let c = &p.coordinates;
        let width = if c.dim_x > 0.0 { c.dim_x } else { PLATE_WIDTH_M };
        let depth = if c.dim_y > 0.0 { c.dim_y } else { PLATE_DEPTH_M };
        let id = PlateId::new(g, k, n);
        let plate = PlateGeometry::from_frame(id, &shelf.then_inner(&c.rigid()), width, depth);
        if geometry.plates.insert(id, plate).is_some() {
            return Err(LayoutError::invalid(&plates_path, at, "appears twice".into()));
        }
    }
    let calibration: AifiCalibration = read_json(&store_meta.join("calibration.json"))?;
    geometry.bounds = Some(calibration.world_ltrb.map(|v| v * INCH_M));
    Ok(geometry)
}

/// The camera an AiFi `calibration.json` entry describes, in the project's
/// conventions: pixels, world -> camera, metres.
pub fn camera_from_aifi(c: &AifiCamera, width: u32, height: u32) -> Camera {
    let (w, h) = (width as f64, height as f64);
    let intrinsics = Intrinsics { fx: c.k[0][0] * w, fy: c.k[1][1] * h, cx: c.k[0][2] * w, cy: c.k[1][2] * h };
    let c2w = Rigid {
        rotation: [0, 1, 2].map(|r| [c.tw[r][0], c.tw[r][1], c.tw[r][2]]),
        translation: [c.tw[0][3] * INCH_M, c.tw[1][3] * INCH_M, c.tw[2][3] * INCH_M],
    };
    let w2c = c2w.inverse();
    Camera {
        width,
        height,
        intrinsics,
        distortion: Distortion::from_array(c.dist_coeffs),
        rotation: w2c.rotation,
        translation: w2c.translation,
    }
}

/// AiFi's `look_at` recomputed from a converted camera: where the ray
/// through the image centre (normalised (0.5, 0.5), undistorted) meets the
/// floor, as AiFi's `Camera.look_at` computes it.
pub fn look_at(camera: &Camera) -> Option<Vec3> {
    camera.pixel_to_plane([camera.width as f64 / 2.0, camera.height as f64 / 2.0], 0.0)
}

/// A camera as imported.
#[derive(Clone, Debug)]
pub struct ImportedCamera {
    pub id: CameraId,
    pub file_index: Option<u32>,
    pub camera: Camera,
    /// Distance between AiFi's `look_at` and the one recomputed under the
    /// settled conventions, metres (a check of the conventions).
    pub look_at_error_m: Option<f64>,
}

/// The cameras of `calibration.json` as imported.
#[derive(Clone, Debug)]
pub struct CameraImport {
    pub cameras: Vec<ImportedCamera>,
    /// Ids left out, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Reads the RGB ceiling cameras (ids 1-12) of `calibration.json`; the
/// others (ids 21-26 and their `-depth` twins) are listed as skipped with
/// the reason.
pub fn read_cameras(store_meta: &Path) -> Result<CameraImport, LayoutError> {
    let path = store_meta.join("calibration.json");
    let calibration: AifiCalibration = read_json(&path)?;
    let mut imported = Vec::new();
    let mut skipped = Vec::new();
    for (key, c) in &calibration.cameras {
        if !matches!(key.parse::<u32>(), Ok(1..=12)) {
            let why = "not one of the 640x360 RGB ceiling cameras 1-12: no frames of it in the data, so its pixel size is unknown";
            skipped.push((key.clone(), why.to_string()));
            continue;
        }
        let camera = camera_from_aifi(c, IMAGE_WIDTH, IMAGE_HEIGHT);
        let (defect, det) = super::math::rotation_defect(&camera.rotation);
        if defect > 1e-6 || (det - 1.0).abs() > 1e-6 {
            let msg = format!("Tw's rotation block is not a rotation (|RᵀR - I| = {defect:.1e}, det = {det:.4})");
            return Err(LayoutError::invalid(&path, format!("cameras.{key}.Tw"), msg));
        }
        let look_at_error_m =
            c.look_at.zip(look_at(&camera)).map(|(given, ours)| norm(sub(given.map(|v| v * INCH_M), ours)));
        let file_index = FILE_INDEX_TO_CAMERA.iter().find(|(_, id)| id == key).map(|(k, _)| *k);
        imported.push(ImportedCamera { id: CameraId::from(key.as_str()), file_index, camera, look_at_error_m });
    }
    imported.sort_by_key(|c| c.id.as_str().parse::<u32>().unwrap_or(u32::MAX));
    Ok(CameraImport { cameras: imported, skipped })
}

/// What [`import_aifi`] wrote and left out.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImportReport {
    pub files: Vec<PathBuf>,
    pub gondolas: usize,
    pub plates: usize,
    pub cameras: usize,
    /// Camera ids left out, with the reason.
    pub skipped_cameras: Vec<(String, String)>,
    /// Largest distance between AiFi's `look_at` and ours, metres.
    pub look_at_max_error_m: f64,
    pub products: usize,
    pub facings: usize,
    /// Products left out of `products.csv`, with the reason.
    pub skipped_products: Vec<String>,
    pub warnings: Vec<String>,
    /// How the camera poses were re-estimated from the landmarks.
    pub poses: PoseReport,
}

/// `walkout import aifi`: converts AiFi's store metadata and products CSV
/// into `out/{cameras.json, geometry.json, products.csv, planogram.csv,
/// store.toml}`. The store id is `out`'s folder name.
pub fn import_aifi(store_meta: &Path, products_csv: &Path, out: &Path) -> Result<ImportReport, LayoutError> {
    let geometry = read_geometry(store_meta)?;
    let CameraImport { mut cameras, skipped: skipped_cameras } = read_cameras(store_meta)?;
    let catalog = convert_products(products_csv, &geometry)?;
    std::fs::create_dir_all(out).map_err(|source| LayoutError::Write { path: out.to_owned(), source })?;

    let mut report = ImportReport {
        gondolas: geometry.gondolas.len(),
        plates: geometry.plates.len(),
        cameras: cameras.len(),
        skipped_cameras,
        products: catalog.products,
        facings: catalog.facings,
        skipped_products: catalog.skipped,
        warnings: catalog.warnings,
        ..Default::default()
    };
    for c in &cameras {
        if let Some(e) = c.look_at_error_m {
            report.look_at_max_error_m = report.look_at_max_error_m.max(e);
            if e > 0.01 {
                report.warnings.push(format!("camera {}: look_at is {e:.3} m from the recomputed one", c.id));
            }
        }
    }

    let landmarks_path = Path::new("calibration/aifi-landmarks.csv");
    let bad_landmarks = |message: String| LayoutError::invalid(landmarks_path, "landmarks".into(), message);
    let landmarks = parse_landmarks(LANDMARKS_CSV).map_err(bad_landmarks)?;
    report.poses = reestimate(&mut cameras, &landmarks).map_err(bad_landmarks)?;
    if !report.poses.unchanged.is_empty() {
        let ids: Vec<&str> = report.poses.unchanged.iter().map(|c| c.as_str()).collect();
        report.warnings.push(format!(
            "cameras {} keep AiFi's aim (fewer than {} landmarks: no stills or video of them, or only the sticker): \
             unverified, expect errors of 10-30 degrees",
            ids.join(", "),
            poses::MIN_OBSERVATIONS
        ));
    }
    let cameras_path = out.join("cameras.json");
    let entries: Vec<_> = cameras.iter().map(|c| (c.id.clone(), c.file_index, c.camera.clone())).collect();
    write_json(&cameras_path, &cameras_file(&entries, Some(report.poses.note())), 3)?;
    let geometry_path = out.join("geometry.json");
    write_json(&geometry_path, &geometry_file(&geometry, Some(GEOMETRY_NOTE.into())), 2)?;
    let products_path = out.join("products.csv");
    let planogram_path = out.join("planogram.csv");
    let store_path = out.join("store.toml");
    let store_id = out.file_name().map(|n| slug(&n.to_string_lossy())).filter(|s| !s.is_empty());
    for (path, text) in [
        (&products_path, catalog.products_csv),
        (&planogram_path, catalog.planogram_csv),
        (&store_path, store_toml(store_id.as_deref().unwrap_or("aifi-nanostore"))),
    ] {
        std::fs::write(path, text).map_err(|source| LayoutError::Write { path: path.clone(), source })?;
    }
    report.files = vec![cameras_path, geometry_path, products_path, planogram_path, store_path];
    Ok(report)
}

const GEOMETRY_NOTE: &str = concat!(
    "Imported from AiFi store_meta/{Gondolas,Shelves,Plates}.json. bounds: AiFi world_ltrb (inches -> metres). ",
    "No zones: the data does not say where the entry and exit are; add them by hand."
);

fn store_toml(id: &str) -> String {
    format!(
        "# The AiFi Nanostore of the CPS-IoT Week 2020 autonomous checkout data, imported by `walkout import aifi`.\n\
         id = \"{id}\"\n\
         name = \"AiFi Nanostore\"\n\
         address = \"unknown: the AiFi sample data gives no address\"\n\
         vat_number = \"\"\n\
         currency = \"USD\"\n\
         tax_mode = \"exclusive\"   # US sales tax: shelf prices exclude tax\n\
         timezone = \"America/Los_Angeles\"   # assumed: AiFi is based in Santa Clara, California\n"
    )
}
