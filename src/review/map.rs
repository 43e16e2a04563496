//! The store's floor map as SVG, from its geometry (`calibration/<store>/
//! geometry.json`): zones, gondolas, the plates' floor outlines (degraded
//! ones marked), and the shoppers' positions at render time. The `<svg>`
//! carries its floor-to-pixel mapping in `data-` attributes, so the page's
//! script moves the shoppers as server-sent events arrive.

use super::chart::escape;
use super::live::LiveTrack;
use crate::ids::PlateId;
use crate::layout::StoreGeometry;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Pixels per metre.
const SCALE: f64 = 80.0;
const PAD: f64 = 20.0;

/// Floor metres to SVG pixels (y flipped: north is up).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloorFrame {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl FloorFrame {
    /// The geometry's bounds, else the box around every gondola, plate and zone.
    pub fn of(g: &StoreGeometry) -> Self {
        if let Some([x0, y0, x1, y1]) = g.bounds {
            return Self { x0, y0, x1, y1 };
        }
        let points = g
            .gondolas
            .iter()
            .flat_map(|go| go.footprint.iter().copied())
            .chain(g.plates.values().flat_map(|p| p.corners.iter().map(|c| [c[0], c[1]])))
            .chain(g.zones.iter().flat_map(|z| z.polygon.iter().copied()));
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for [x, y] in points {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        if x0 > x1 { Self { x0: 0.0, y0: 0.0, x1: 1.0, y1: 1.0 } } else { Self { x0, y0, x1, y1 } }
    }

    pub fn to_px(&self, x: f64, y: f64) -> (f64, f64) {
        ((x - self.x0) * SCALE + PAD, (self.y1 - y) * SCALE + PAD)
    }

    pub fn size_px(&self) -> (f64, f64) {
        ((self.x1 - self.x0) * SCALE + 2.0 * PAD, (self.y1 - self.y0) * SCALE + 2.0 * PAD)
    }
}

fn polygon(frame: &FloorFrame, points: impl Iterator<Item = [f64; 2]>) -> String {
    points
        .map(|[x, y]| {
            let (px, py) = frame.to_px(x, y);
            format!("{px:.1},{py:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One shopper's marker (also what the page's script draws for new tracks).
pub fn shopper_marker(frame: &FloorFrame, t: &LiveTrack) -> String {
    let (px, py) = frame.to_px(t.x, t.y);
    let label = t.visit.as_deref().map(short_id).unwrap_or_else(|| t.id.clone());
    format!(
        r##"<g class="shopper" data-track="{id}" transform="translate({px:.1} {py:.1})"><circle r="9" fill="#1f5fa8" stroke="#ffffff" stroke-width="2"/><text x="12" y="4" font-size="12" fill="#1f2d3d">{label}</text></g>"##,
        id = escape(&t.id),
        label = escape(&label)
    )
}

/// The first 8 characters of an id, for labels.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// The whole map.
pub fn floor_map_svg(g: &StoreGeometry, degraded: &BTreeSet<PlateId>, tracks: &[LiveTrack]) -> String {
    let frame = FloorFrame::of(g);
    let (w, h) = frame.size_px();
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="floor" class="floor-map" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="Store floor map" data-x0="{}" data-y1="{}" data-scale="{SCALE}" data-pad="{PAD}"><title>Store floor map</title>"##,
        frame.x0, frame.y1
    );
    let outline = polygon(
        &frame,
        [[frame.x0, frame.y0], [frame.x1, frame.y0], [frame.x1, frame.y1], [frame.x0, frame.y1]].into_iter(),
    );
    let _ = write!(out, r##"<polygon class="floor" points="{outline}" fill="#fafafa" stroke="#999999"/>"##);
    for z in &g.zones {
        let (cx, cy) = centroid(&z.polygon);
        let (px, py) = frame.to_px(cx, cy);
        let _ = write!(
            out,
            r##"<polygon class="zone" points="{}" fill="#e8f4e8" stroke="#5a9a5a" stroke-dasharray="6 4"/><text class="zone-label" x="{px:.1}" y="{py:.1}" font-size="12" text-anchor="middle" fill="#3d6e3d">{}</text>"##,
            polygon(&frame, z.polygon.iter().copied()),
            escape(&z.name)
        );
    }
    for go in &g.gondolas {
        let points = polygon(&frame, go.footprint.iter().copied());
        let _ = write!(out, r##"<polygon class="gondola" points="{points}" fill="#d9dde3" stroke="#6b7785"/>"##);
    }
    for p in g.plates.values() {
        let bad = degraded.contains(&p.id);
        let (class, fill, opacity) =
            if bad { ("plate degraded", "#e74c3c", "0.85") } else { ("plate", "#8fa3b8", "0.25") };
        let _ = write!(
            out,
            r##"<polygon id="plate-{id}" class="{class}" points="{}" fill="{fill}" fill-opacity="{opacity}" stroke="#6b7785" stroke-width="0.5"><title>plate {id}</title></polygon>"##,
            polygon(&frame, p.corners.iter().map(|c| [c[0], c[1]])),
            id = p.id
        );
    }
    for go in &g.gondolas {
        // Labels over the plates, outlined so they read on any fill.
        let (cx, cy) = centroid(&go.footprint);
        let (px, py) = frame.to_px(cx, cy);
        let _ = write!(
            out,
            r##"<text class="gondola-label" x="{px:.1}" y="{:.1}" font-size="12" font-weight="bold" text-anchor="middle" fill="#1f2d3d" stroke="#ffffff" stroke-width="3" paint-order="stroke">gondola {}</text>"##,
            py + 4.0,
            go.id
        );
    }
    out.push_str(r#"<g id="shoppers">"#);
    for t in tracks {
        out.push_str(&shopper_marker(&frame, t));
    }
    out.push_str("</g></svg>");
    out
}

fn centroid(points: &[[f64; 2]]) -> (f64, f64) {
    let n = points.len().max(1) as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), p| (a + p[0], b + p[1]));
    (sx / n, sy / n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{GondolaGeometry, Zone, ZoneKind};

    fn store() -> StoreGeometry {
        let mut g = StoreGeometry {
            gondolas: vec![GondolaGeometry {
                id: 1,
                footprint: [[1.0, 1.0], [3.0, 1.0], [3.0, 1.5], [1.0, 1.5]],
                height: 2.0,
            }],
            zones: vec![Zone {
                name: "exit <E>".into(),
                kind: ZoneKind::Exit,
                polygon: vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
            }],
            bounds: Some([0.0, 0.0, 5.0, 4.0]),
            ..Default::default()
        };
        let id: PlateId = "1.1.1".parse().unwrap();
        let corners = [[1.0, 1.0, 0.3], [1.1, 1.0, 0.3], [1.1, 1.4, 0.3], [1.0, 1.4, 0.3]];
        g.plates.insert(id, crate::layout::PlateGeometry { id, corners });
        g
    }

    #[test]
    fn the_floor_maps_north_up_inside_the_padding() {
        let f = FloorFrame::of(&store());
        assert_eq!(f.to_px(0.0, 4.0), (PAD, PAD), "the north-west corner is top left");
        assert_eq!(f.to_px(5.0, 0.0), (5.0 * SCALE + PAD, 4.0 * SCALE + PAD));
        assert_eq!(f.size_px(), (5.0 * SCALE + 2.0 * PAD, 4.0 * SCALE + 2.0 * PAD));
        let unbounded = StoreGeometry { bounds: None, ..store() };
        assert_eq!(FloorFrame::of(&unbounded), FloorFrame { x0: 0.0, y0: 0.0, x1: 3.0, y1: 1.5 });
    }

    #[test]
    fn the_map_draws_gondolas_zones_degraded_plates_and_shoppers() {
        let g = store();
        let track = LiveTrack { id: "t-9".into(), x: 2.0, y: 2.0, conf: 1.0, visit: Some("visit-123456789".into()) };
        let degraded = BTreeSet::from(["1.1.1".parse().unwrap()]);
        let svg = floor_map_svg(&g, &degraded, std::slice::from_ref(&track));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("class=\"gondola\"") && svg.contains("gondola 1"));
        assert!(svg.contains("exit &lt;E&gt;"));
        assert!(svg.contains(r#"id="plate-1.1.1" class="plate degraded""#), "{svg}");
        let (px, py) = FloorFrame::of(&g).to_px(2.0, 2.0);
        assert!(svg.contains(&format!(r#"data-track="t-9" transform="translate({px:.1} {py:.1})""#)));
        assert!(svg.contains(">visit-12</text>"), "labelled with the visit's short id");
        let healthy = floor_map_svg(&g, &BTreeSet::new(), &[]);
        assert!(healthy.contains(r#"class="plate" "#) && !healthy.contains("degraded"));
        assert!(!svg.contains("style="));
    }
}
