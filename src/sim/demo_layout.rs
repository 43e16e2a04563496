//! The demo store's physical layout: six gondolas of four shelves of twelve
//! plates facing one central aisle, an entry gate and an exit, and six
//! ceiling cameras. Generated here (so the numbers have one source) and
//! written as `calibration/demo-store/{geometry,cameras}.json` in the same
//! format as the imported AiFi store; a test keeps the committed files equal
//! to this generator's output.
//!
//! ```text
//!  y=7 ┌───────────────────────────────────────────┐
//!      │                 (back wall)               │
//!  4.4 │   [ G4 ]        [ G5 ]        [ G6 ]       │  row B faces south (-y)
//!  3.95│ ─ ─ ─ ─ ─ ─ central aisle ─ ─ ─ ─ ─ ─ ─ ─  │
//!  2.05│   [ G1 ]        [ G2 ]        [ G3 ]       │  row A faces north (+y)
//!  1.6 │                                           │
//!  1.2 │ ENTRY                               EXIT  │
//!  y=0 └───────────────────────────────────────────┘
//!     x=0                                        x=9
//! ```

use crate::ids::{CameraId, PlateId};
use crate::layout::files::{cameras_file, geometry_file, write_json};
use crate::layout::geometry::{PLATE_DEPTH_M, PLATE_WIDTH_M};
use crate::layout::math::{Rigid, Vec3, cross, norm, scale, sub};
use crate::layout::{Camera, Distortion, GondolaGeometry, Intrinsics, LayoutError, PlateGeometry, StoreGeometry, Zone};
use crate::layout::{StoreLayout, ZoneKind};
use std::collections::BTreeMap;
use std::path::Path;

pub const FLOOR: [f64; 4] = [0.0, 0.0, 9.0, 7.0];
pub const GONDOLAS: u16 = 6;
pub const SHELVES: u16 = 4;
pub const PLATES: u16 = 12;
/// Height of each shelf's plate surface, bottom (shelf 1) to top.
pub const SHELF_HEIGHTS_M: [f64; 4] = [0.35, 0.75, 1.15, 1.55];
pub const GONDOLA_HEIGHT_M: f64 = 1.9;
/// Gondola centres along x.
const GONDOLA_X: [f64; 3] = [2.2, 4.6, 7.0];
/// Row A spans y 1.6-2.05 (front at 2.05), row B 3.95-4.4 (front at 3.95).
const ROW_A_FRONT_Y: f64 = 2.05;
const ROW_B_FRONT_Y: f64 = 3.95;
const GONDOLA_DEPTH_M: f64 = 0.45;
/// Spare body length at each end of a shelf run.
const END_MARGIN_M: f64 = 0.04;

pub const ENTRY_ZONE: [[f64; 2]; 4] = [[0.0, 0.0], [1.3, 0.0], [1.3, 1.2], [0.0, 1.2]];
pub const EXIT_ZONE: [[f64; 2]; 4] = [[7.7, 0.0], [9.0, 0.0], [9.0, 1.2], [7.7, 1.2]];

/// Which way a gondola's shelves face (the side shoppers stand on).
pub fn faces_north(gondola: u16) -> bool {
    gondola <= 3
}

/// y of a gondola's shelf fronts.
pub fn front_y(gondola: u16) -> f64 {
    if faces_north(gondola) { ROW_A_FRONT_Y } else { ROW_B_FRONT_Y }
}

fn gondola_centre_x(gondola: u16) -> f64 {
    GONDOLA_X[usize::from((gondola - 1) % 3)]
}

fn run_length() -> f64 {
    f64::from(PLATES) * PLATE_WIDTH_M
}

/// The store's geometry: gondolas, every plate, entry and exit zones.
pub fn geometry() -> StoreGeometry {
    let mut plates = BTreeMap::new();
    let mut gondolas = Vec::new();
    for g in 1..=GONDOLAS {
        let cx = gondola_centre_x(g);
        let half = run_length() / 2.0 + END_MARGIN_M;
        let (front, back) = if faces_north(g) {
            (ROW_A_FRONT_Y, ROW_A_FRONT_Y - GONDOLA_DEPTH_M)
        } else {
            (ROW_B_FRONT_Y, ROW_B_FRONT_Y + GONDOLA_DEPTH_M)
        };
        gondolas.push(GondolaGeometry {
            id: g,
            footprint: [[cx - half, front], [cx + half, front], [cx + half, back], [cx - half, back]],
            height: GONDOLA_HEIGHT_M,
        });
        for s in 1..=SHELVES {
            for p in 1..=PLATES {
                let id = PlateId::new(g, s, p);
                plates.insert(id, PlateGeometry::from_frame(id, &plate_frame(g, s, p), PLATE_WIDTH_M, PLATE_DEPTH_M));
            }
        }
    }
    let zone = |name: &str, kind, polygon: [[f64; 2]; 4]| Zone { name: name.into(), kind, polygon: polygon.to_vec() };
    StoreGeometry {
        gondolas,
        plates,
        zones: vec![zone("entry", ZoneKind::Entry, ENTRY_ZONE), zone("exit", ZoneKind::Exit, EXIT_ZONE)],
        bounds: Some(FLOOR),
    }
}

/// A plate's local frame (origin front-left as the shopper faces it, x to
/// the shopper's right, y into the shelf, z up).
fn plate_frame(g: u16, s: u16, p: u16) -> Rigid {
    let z = SHELF_HEIGHTS_M[usize::from(s - 1)];
    let offset = f64::from(p - 1) * PLATE_WIDTH_M;
    let cx = gondola_centre_x(g);
    if faces_north(g) {
        // Facing south from the aisle: the shopper's right is -x, the shelf goes -y.
        Rigid {
            rotation: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [cx + run_length() / 2.0 - offset, ROW_A_FRONT_Y, z],
        }
    } else {
        // Facing north from the aisle: the shopper's right is +x, the shelf goes +y.
        Rigid {
            rotation: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [cx - run_length() / 2.0 + offset, ROW_B_FRONT_Y, z],
        }
    }
}

/// Image size of every demo camera.
pub const IMAGE: (u32, u32) = (640, 360);

/// Six ceiling cameras at 3.2 m: two over the entrance corridor, four
/// along the central aisle looking into the shelves from both sides.
pub fn cameras() -> Vec<(CameraId, Camera)> {
    let spots: [(&str, Vec3, Vec3); 6] = [
        ("1", [0.4, 0.3, 3.2], [2.5, 2.2, 0.6]),
        ("2", [8.6, 0.3, 3.2], [6.5, 2.2, 0.6]),
        ("3", [1.0, 3.0, 3.2], [3.2, 3.0, 0.7]),
        ("4", [8.0, 3.0, 3.2], [5.8, 3.0, 0.7]),
        ("5", [4.6, 6.6, 3.2], [4.6, 2.6, 0.6]),
        ("6", [4.6, 0.2, 3.2], [4.6, 3.6, 0.6]),
    ];
    spots.iter().map(|(id, at, target)| (CameraId::from(*id), look_at(*at, *target))).collect()
}

/// A pinhole camera at `position` looking at `target` (OpenCV axes: x right,
/// y down, z forward), 640x360 with a 88° horizontal field of view and mild
/// barrel distortion.
pub fn look_at(position: Vec3, target: Vec3) -> Camera {
    let forward = normalise(sub(target, position));
    let right = normalise(cross(forward, [0.0, 0.0, 1.0]));
    let down = cross(forward, right);
    let rotation = [right, down, forward];
    let t = [
        -(rotation[0][0] * position[0] + rotation[0][1] * position[1] + rotation[0][2] * position[2]),
        -(rotation[1][0] * position[0] + rotation[1][1] * position[1] + rotation[1][2] * position[2]),
        -(rotation[2][0] * position[0] + rotation[2][1] * position[1] + rotation[2][2] * position[2]),
    ];
    let (w, h) = IMAGE;
    Camera {
        width: w,
        height: h,
        intrinsics: Intrinsics { fx: 330.0, fy: 330.0, cx: f64::from(w) / 2.0, cy: f64::from(h) / 2.0 },
        distortion: Distortion::from_array([-0.05, 0.01, 0.0, 0.0, 0.0]),
        rotation,
        translation: t,
    }
}

fn normalise(v: Vec3) -> Vec3 {
    scale(v, 1.0 / norm(v))
}

/// The layout as loaded from files (what the rest of the system sees).
pub fn layout() -> StoreLayout {
    let cameras = cameras();
    let file_index = cameras.iter().enumerate().map(|(i, (id, _))| (i as u32 + 1, id.clone())).collect();
    StoreLayout { geometry: geometry(), cameras: cameras.into_iter().collect(), file_index }
}

const NOTE: &str = "Generated by `walkout sim layout` (src/sim/demo_layout.rs): six gondolas facing one \
central aisle, six ceiling cameras at 3.2 m. Edit the generator, not this file.";

/// Writes `geometry.json` and `cameras.json` into `dir`.
pub fn write(dir: &Path) -> Result<(), LayoutError> {
    std::fs::create_dir_all(dir).map_err(|source| LayoutError::Write { path: dir.to_owned(), source })?;
    write_json(&dir.join("geometry.json"), &geometry_file(&geometry(), Some(NOTE.into())), 3)?;
    let cams: Vec<_> = cameras().into_iter().enumerate().map(|(i, (id, c))| (id, Some(i as u32 + 1), c)).collect();
    write_json(&dir.join("cameras.json"), &cameras_file(&cams, Some(NOTE.into())), 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plate_front_faces_the_aisle_and_plates_run_left_to_right() {
        let geo = geometry();
        assert_eq!(geo.plates.len(), 6 * 4 * 12);
        for plate in geo.plates.values() {
            let front = plate.front_centre();
            let centre = plate.centre();
            let aisle_y = 3.0;
            assert!((front[1] - aisle_y).abs() < (centre[1] - aisle_y).abs(), "{} front is nearer the aisle", plate.id);
        }
        // Plate 1 is to the left of plate 2 for a shopper facing the shelf.
        let p1 = geo.plate(&PlateId::new(2, 1, 1)).unwrap().centre();
        let p2 = geo.plate(&PlateId::new(2, 1, 2)).unwrap().centre();
        assert!(p1[0] > p2[0], "row A: facing south, left is +x");
        let p1 = geo.plate(&PlateId::new(5, 1, 1)).unwrap().centre();
        let p2 = geo.plate(&PlateId::new(5, 1, 2)).unwrap().centre();
        assert!(p1[0] < p2[0], "row B: facing north, left is -x");
    }

    #[test]
    fn the_committed_files_are_this_generators_output() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path()).unwrap();
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store");
        for name in ["geometry.json", "cameras.json"] {
            let fresh = std::fs::read_to_string(dir.path().join(name)).unwrap();
            let kept = std::fs::read_to_string(committed.join(name)).unwrap();
            assert!(fresh == kept, "{name} is stale: run `walkout sim layout`");
        }
        let loaded = StoreLayout::load(&committed).unwrap();
        assert_eq!(loaded.geometry.plates.len(), 288);
        assert_eq!(loaded.cameras.len(), 6);
    }

    #[test]
    fn every_camera_sees_part_of_the_aisle() {
        for (id, cam) in cameras() {
            let seen = (0..90)
                .map(|i| [0.5 + f64::from(i) * 0.09, 3.0, 1.0])
                .filter(|p| cam.project(*p).is_some_and(|px| cam.in_image(px)))
                .count();
            assert!(seen > 20, "camera {id} sees {seen} of 90 aisle points");
        }
    }
}
