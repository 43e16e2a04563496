//! Where a simulated person is and what their body does at any instant:
//! walking routes through the demo store (corridor, the gaps between
//! gondolas, the central aisle), the heading, and the 3D skeleton with the
//! hands reaching into shelves.

use super::{PersonPlan, Reach};
use crate::layout::math::Vec3;

/// Corridor line (entrance side) and aisle line, y in metres.
const CORRIDOR_Y: f64 = 0.8;
const AISLE_Y: f64 = 3.0;
/// x of the walkable gaps between the gondolas of row A.
const CONNECTORS_X: [f64; 4] = [0.75, 3.4, 5.8, 8.35];

/// The corner points of a walk from `from` to `to` (both excluded from
/// the result except `to`, which ends it).
pub fn route(from: [f64; 2], to: [f64; 2]) -> Vec<[f64; 2]> {
    let in_aisle = |p: [f64; 2]| p[1] > 2.05;
    match (in_aisle(from), in_aisle(to)) {
        (a, b) if a == b => vec![to],
        (from_aisle, _) => {
            let mid = 0.5 * (from[0] + to[0]);
            let cx =
                CONNECTORS_X.into_iter().min_by(|a, b| (a - mid).abs().total_cmp(&(b - mid).abs())).unwrap_or(0.75);
            if from_aisle {
                vec![[cx, AISLE_Y], [cx, CORRIDOR_Y], to]
            } else {
                vec![[cx, CORRIDOR_Y], [cx, AISLE_Y], to]
            }
        }
    }
}

/// A body pose in the world at one instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub x: f64,
    pub y: f64,
    /// Direction the person faces, radians (0 = +x).
    pub heading: f64,
    /// COCO-17 keypoints in world metres.
    pub keypoints: [Vec3; 17],
}

impl PersonPlan {
    /// Whether the person is in the store at `t`.
    pub fn present(&self, t: f64) -> bool {
        match (self.path.first(), self.path.last()) {
            (Some(a), Some(b)) => t >= a.t && t <= b.t,
            _ => false,
        }
    }

    /// Floor position and heading at `t` (None outside the visit).
    pub fn floor_at(&self, t: f64) -> Option<(f64, f64, f64)> {
        if !self.present(t) {
            return None;
        }
        let i = self.path.partition_point(|w| w.t <= t).clamp(1, self.path.len().max(2) - 1);
        let (a, b) = (&self.path[i - 1], self.path.get(i).unwrap_or(&self.path[i - 1]));
        let span = b.t - a.t;
        let f = if span > 1e-9 { ((t - a.t) / span).clamp(0.0, 1.0) } else { 1.0 };
        let (x, y) = (a.x + f * (b.x - a.x), a.y + f * (b.y - a.y));
        let moving = (b.x - a.x).hypot(b.y - a.y) > 1e-6;
        let heading = if moving { (b.y - a.y).atan2(b.x - a.x) } else { a.facing };
        Some((x, y, heading))
    }

    /// The reach in progress at `t`, with its extension in 0..=1.
    fn reach_at(&self, t: f64) -> Option<(&Reach, f64)> {
        let r = self.reaches.iter().find(|r| t >= r.t_start && t <= r.t_end)?;
        let ext = if t < r.t_touch {
            (t - r.t_start) / (r.t_touch - r.t_start).max(1e-6)
        } else {
            1.0 - ((t - r.t_touch) / (r.t_end - r.t_touch).max(1e-6) - 0.7).max(0.0) / 0.3
        };
        Some((r, ext.clamp(0.0, 1.0)))
    }

    /// The whole skeleton at `t`.
    pub fn body_at(&self, t: f64) -> Option<Body> {
        let (x, y, heading) = self.floor_at(t)?;
        let h = self.height_m;
        let (fx, fy) = (heading.cos(), heading.sin());
        // Lateral unit vector to the person's left.
        let (lx, ly) = (-fy, fx);
        let at = |fwd: f64, left: f64, z: f64| [x + fwd * fx + left * lx, y + fwd * fy + left * ly, z];
        let stride = ((t * 3.5).sin()) * 0.18 * f64::from(u8::from(self.is_walking(t)));
        let mut k = [[0.0; 3]; 17];
        k[0] = at(0.1, 0.0, h * 0.93); // nose
        k[1] = at(0.08, 0.035, h * 0.95);
        k[2] = at(0.08, -0.035, h * 0.95);
        k[3] = at(0.0, 0.08, h * 0.94);
        k[4] = at(0.0, -0.08, h * 0.94);
        k[5] = at(0.0, 0.2, h * 0.82); // left shoulder
        k[6] = at(0.0, -0.2, h * 0.82);
        k[7] = at(-stride * 0.5, 0.24, h * 0.63);
        k[8] = at(stride * 0.5, -0.24, h * 0.63);
        k[9] = at(0.05 - stride * 0.6, 0.24, h * 0.48); // left wrist, hanging
        k[10] = at(0.05 + stride * 0.6, -0.24, h * 0.48);
        k[11] = at(0.0, 0.12, h * 0.53);
        k[12] = at(0.0, -0.12, h * 0.53);
        k[13] = at(stride * 0.5, 0.12, h * 0.28);
        k[14] = at(-stride * 0.5, -0.12, h * 0.28);
        k[15] = at(stride, 0.11, 0.06);
        k[16] = at(-stride, -0.11, 0.06);
        if let Some((reach, ext)) = self.reach_at(t) {
            let (wrist, elbow, shoulder) = if reach.right_hand { (10, 8, 6) } else { (9, 7, 5) };
            let rest = k[wrist];
            let target = reach.target;
            k[wrist] = lerp(rest, target, ext);
            k[elbow] = lerp(k[shoulder], k[wrist], 0.5);
        }
        Some(Body { x, y, heading, keypoints: k })
    }

    fn is_walking(&self, t: f64) -> bool {
        let i = self.path.partition_point(|w| w.t <= t);
        match (i.checked_sub(1).and_then(|j| self.path.get(j)), self.path.get(i)) {
            (Some(a), Some(b)) => (b.x - a.x).hypot(b.y - a.y) > 1e-6,
            _ => false,
        }
    }
}

fn lerp(a: Vec3, b: Vec3, f: f64) -> Vec3 {
    [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Waypoint;

    fn walker() -> PersonPlan {
        PersonPlan {
            id: 0,
            party: 0,
            height_m: 1.75,
            appearance: vec![1.0],
            path: vec![
                Waypoint { t: 0.0, x: 0.0, y: 0.0, facing: 0.0 },
                Waypoint { t: 10.0, x: 10.0, y: 0.0, facing: 1.0 },
                Waypoint { t: 20.0, x: 10.0, y: 0.0, facing: 1.0 },
            ],
            reaches: vec![Reach {
                t_start: 12.0,
                t_touch: 13.0,
                t_end: 15.0,
                right_hand: true,
                target: [10.5, 0.5, 1.2],
            }],
        }
    }

    #[test]
    fn positions_interpolate_along_the_path_and_stop_outside_it() {
        let p = walker();
        let (x, y, heading) = p.floor_at(5.0).unwrap();
        assert!((x - 5.0).abs() < 1e-9 && y.abs() < 1e-9 && heading.abs() < 1e-9);
        assert_eq!(p.floor_at(-1.0), None);
        assert_eq!(p.floor_at(20.5), None);
        let (_, _, facing) = p.floor_at(15.0).unwrap();
        assert!((facing - 1.0).abs() < 1e-9, "dwelling: faces the shelf");
    }

    #[test]
    fn the_reaching_wrist_touches_the_target_and_returns() {
        let p = walker();
        let at_touch = p.body_at(13.0).unwrap().keypoints[10];
        assert!(at_touch.iter().zip([10.5, 0.5, 1.2]).all(|(a, b)| (a - b).abs() < 1e-9));
        let after = p.body_at(16.0).unwrap().keypoints[10];
        assert!(after[2] < 1.0, "hand back down after the reach");
    }

    #[test]
    fn routes_cross_between_corridor_and_aisle_through_a_gap() {
        let r = route([0.5, 0.5], [4.0, 2.5]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0][1], CORRIDOR_Y);
        assert_eq!(r[1][1], AISLE_Y);
        assert_eq!(route([3.0, 2.5], [5.0, 3.5]), vec![[5.0, 3.5]]);
    }
}
