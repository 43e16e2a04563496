//! Store geometry in world coordinates (metres, z up, floor at z = 0):
//! gondolas, their weighing plates as rectangles in space, and floor zones.
//!
//! Importers build it from hierarchical transforms (gondola in the world,
//! shelf in its gondola, plate in its shelf); the project's own
//! `geometry.json` stores the resulting world corners.

use super::math::{Rigid, Vec3, add, norm, scale, sub};
use crate::ids::PlateId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Plate width along the shelf (4 in).
pub const PLATE_WIDTH_M: f64 = 0.1016;
/// Plate depth from the shelf front to the back (16 in).
pub const PLATE_DEPTH_M: f64 = 0.4064;

/// One weighing plate as a rectangle in the world.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateGeometry {
    pub id: PlateId,
    /// In plate-local order (0,0), (w,0), (w,d), (0,d): front-left,
    /// front-right, back-right, back-left for a shopper facing the shelf.
    pub corners: [Vec3; 4],
}

impl PlateGeometry {
    /// The rectangle of a `width` x `depth` plate whose local frame (origin at
    /// its front-left corner, x along the shelf, y towards the back) sits at
    /// `world_from_plate`.
    pub fn from_frame(id: PlateId, world_from_plate: &Rigid, width: f64, depth: f64) -> Self {
        let local = [[0.0, 0.0, 0.0], [width, 0.0, 0.0], [width, depth, 0.0], [0.0, depth, 0.0]];
        Self { id, corners: local.map(|p| world_from_plate.apply(p)) }
    }

    pub fn centre(&self) -> Vec3 {
        let sum = self.corners.iter().fold([0.0; 3], |acc, c| add(acc, *c));
        scale(sum, 0.25)
    }

    /// Midpoint of the front edge (where a hand reaches in).
    pub fn front_centre(&self) -> Vec3 {
        scale(add(self.corners[0], self.corners[1]), 0.5)
    }
}

/// A gondola's outline: its box footprint on the floor and its height.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GondolaGeometry {
    pub id: u16,
    /// Floor corners of the gondola body (without shelves), counter-clockwise
    /// or clockwise, metres.
    pub footprint: [[f64; 2]; 4],
    pub height: f64,
}

/// What a floor zone is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneKind {
    /// Where a visit opens (the gate).
    Entry,
    /// Where a track leaving the store closes its visit.
    Exit,
    /// Anything else worth naming (staff area, ...).
    Other,
}

/// A named floor polygon (metres, z ignored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub name: String,
    pub kind: ZoneKind,
    pub polygon: Vec<[f64; 2]>,
}

impl Zone {
    /// Even-odd point-in-polygon test on the floor.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let n = self.polygon.len();
        let mut inside = false;
        for i in 0..n {
            let [xi, yi] = self.polygon[i];
            let [xj, yj] = self.polygon[(i + n - 1) % n];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
        }
        inside
    }

    /// Floor distance (m) from `(x, y)` to the zone: zero inside, else to
    /// its nearest edge.
    pub fn distance(&self, x: f64, y: f64) -> f64 {
        if self.contains(x, y) {
            return 0.0;
        }
        let n = self.polygon.len();
        (0..n)
            .map(|i| {
                let ([ax, ay], [bx, by]) = (self.polygon[i], self.polygon[(i + 1) % n]);
                let (dx, dy) = (bx - ax, by - ay);
                let len2 = dx * dx + dy * dy;
                let f = if len2 > 0.0 { (((x - ax) * dx + (y - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
                (x - (ax + f * dx)).hypot(y - (ay + f * dy))
            })
            .fold(f64::INFINITY, f64::min)
    }
}

/// Everything physical about one store except its cameras.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoreGeometry {
    pub gondolas: Vec<GondolaGeometry>,
    pub plates: BTreeMap<PlateId, PlateGeometry>,
    pub zones: Vec<Zone>,
    /// Floor area worth tracking `[x_min, y_min, x_max, y_max]`, metres.
    pub bounds: Option<[f64; 4]>,
}

impl StoreGeometry {
    pub fn plate(&self, id: &PlateId) -> Option<&PlateGeometry> {
        self.plates.get(id)
    }

    /// Plates of one gondola, in id order.
    pub fn gondola_plates(&self, gondola: u16) -> impl Iterator<Item = &PlateGeometry> {
        self.plates.values().filter(move |p| p.id.gondola == gondola)
    }

    /// The plate whose centre is nearest to `p`, with that distance.
    pub fn nearest_plate(&self, p: Vec3) -> Option<(PlateId, f64)> {
        self.plates.values().map(|plate| (plate.id, norm(sub(plate.centre(), p)))).min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The zones that contain a floor point.
    pub fn zones_at(&self, x: f64, y: f64) -> impl Iterator<Item = &Zone> {
        self.zones.iter().filter(move |z| z.contains(x, y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::math::rodrigues;

    #[test]
    fn a_zone_is_at_distance_zero_inside_and_to_its_nearest_edge_outside() {
        let z = Zone {
            name: "entry".into(),
            kind: ZoneKind::Entry,
            polygon: vec![[0.0, 0.0], [1.3, 0.0], [1.3, 1.2], [0.0, 1.2]],
        };
        assert_eq!(z.distance(0.6, 0.6), 0.0);
        assert!((z.distance(1.33, 0.74) - 0.03).abs() < 1e-9);
        assert!((z.distance(1.6, 1.6) - 0.5).abs() < 1e-9, "to the corner");
    }

    #[test]
    fn plate_corners_follow_the_frame() {
        let frame =
            Rigid { rotation: rodrigues([0.0, 0.0, -std::f64::consts::FRAC_PI_2]), translation: [4.0, -0.3, 0.33] };
        let p = PlateGeometry::from_frame(PlateId::new(5, 1, 1), &frame, PLATE_WIDTH_M, PLATE_DEPTH_M);
        // a quarter turn clockwise: local x runs along -y, local y (depth) along +x
        assert!(norm(sub(p.corners[1], [4.0, -0.3 - PLATE_WIDTH_M, 0.33])) < 1e-12);
        assert!(norm(sub(p.corners[3], [4.0 + PLATE_DEPTH_M, -0.3, 0.33])) < 1e-12);
        assert!(norm(sub(p.centre(), [4.0 + PLATE_DEPTH_M / 2.0, -0.3 - PLATE_WIDTH_M / 2.0, 0.33])) < 1e-12);
    }

    #[test]
    fn zone_contains_points_inside_only() {
        let z = Zone {
            name: "exit".into(),
            kind: ZoneKind::Exit,
            polygon: vec![[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]],
        };
        assert!(z.contains(1.0, 0.5));
        assert!(!z.contains(2.5, 0.5));
        assert!(!z.contains(1.0, -0.1));
    }
}
