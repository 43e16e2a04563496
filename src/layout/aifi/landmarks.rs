//! The landmarks behind the re-estimated AiFi camera poses:
//! `calibration/aifi-landmarks.csv` (format in its header and in
//! `docs/calibration.md`), compiled into the importer so that
//! `walkout import aifi` gives the same cameras from anywhere.
//!
//! Each row is one point seen by one camera (by its recorder file index):
//! a `world` point of the AiFi store geometry, or a `tie`: an unknown point
//! seen by several cameras under one name, with only its height known (the
//! red floor sticker, the shopper's ankles at one frame time). `fit` rows
//! estimate the poses; `check` rows are held out and only measured.

use crate::layout::math::Vec3;
use serde::Deserialize;

/// The committed landmarks file.
pub const LANDMARKS_CSV: &str = include_str!("../../../calibration/aifi-landmarks.csv");

/// Where a landmark is in the world.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A known point of the store geometry, metres.
    World(Vec3),
    /// An unknown point shared by every row with the same name; `z` its height.
    Tie { name: String, z: f64 },
}

/// One point seen by one camera.
#[derive(Clone, Debug, PartialEq)]
pub struct Landmark {
    pub file_index: u32,
    /// `still` or `frame N`.
    pub source: String,
    pub name: String,
    pub target: Target,
    pub pixel: [f64; 2],
    /// Used in the fit (`fit`) or held out (`check`).
    pub fit: bool,
}

#[derive(Debug, Deserialize)]
struct Row {
    file_index: u32,
    source: String,
    kind: String,
    name: String,
    x: Option<f64>,
    y: Option<f64>,
    z: f64,
    u: f64,
    v: f64,
    #[serde(rename = "use")]
    use_: String,
}

/// Parses the landmarks CSV; errors name the line.
pub fn parse_landmarks(text: &str) -> Result<Vec<Landmark>, String> {
    let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut out = Vec::new();
    for row in reader.deserialize::<Row>() {
        let r = row.map_err(|e| e.to_string())?;
        let at = || format!("landmark {:?} (camera_{} {})", r.name, r.file_index, r.source);
        let target = match (r.kind.as_str(), r.x, r.y) {
            ("world", Some(x), Some(y)) => Target::World([x, y, r.z]),
            ("world", _, _) => return Err(format!("{}: a world point needs x and y", at())),
            ("tie", None, None) => Target::Tie { name: r.name.clone(), z: r.z },
            ("tie", _, _) => return Err(format!("{}: a tie point's x and y are unknown: leave them empty", at())),
            (other, _, _) => return Err(format!("{}: kind must be world or tie, not {other:?}", at())),
        };
        let fit = match r.use_.as_str() {
            "fit" => true,
            "check" => false,
            other => return Err(format!("{}: use must be fit or check, not {other:?}", at())),
        };
        if ![r.z, r.u, r.v].iter().all(|v| v.is_finite())
            || !(0.0..640.0).contains(&r.u)
            || !(0.0..360.0).contains(&r.v)
        {
            return Err(format!("{}: pixel ({}, {}) is outside the 640x360 image", at(), r.u, r.v));
        }
        out.push(Landmark { file_index: r.file_index, source: r.source, name: r.name, target, pixel: [r.u, r.v], fit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "file_index,source,kind,name,x,y,z,u,v,use\n";

    #[test]
    fn the_committed_file_parses() {
        let marks = parse_landmarks(LANDMARKS_CSV).unwrap();
        assert!(marks.iter().any(|m| matches!(m.target, Target::World(_)) && !m.fit), "held-out world points");
        assert!(marks.iter().filter(|m| m.name == "red floor sticker").count() >= 3);
        for k in [1, 3, 5, 7] {
            assert!(marks.iter().filter(|m| m.file_index == k && m.fit).count() >= 5, "test-1 camera {k}");
        }
    }

    #[test]
    fn rows_are_checked() {
        let ok = format!("{HEADER}1,still,world,a,1,2,0.5,10,20,fit\n2,frame 3,tie,b,,,0.08,30,40,check\n");
        let marks = parse_landmarks(&ok).unwrap();
        assert_eq!(marks[0].target, Target::World([1.0, 2.0, 0.5]));
        assert_eq!(marks[1].target, Target::Tie { name: "b".into(), z: 0.08 });
        assert!(!marks[1].fit);
        for (bad, says) in [
            ("1,still,world,a,,,0,1,1,fit", "needs x and y"),
            ("1,still,tie,a,1,2,0,1,1,fit", "leave them empty"),
            ("1,still,point,a,1,2,0,1,1,fit", "kind must be"),
            ("1,still,world,a,1,2,0,1,1,maybe", "use must be"),
            ("1,still,world,a,1,2,0,700,1,fit", "outside the 640x360"),
        ] {
            let err = parse_landmarks(&format!("{HEADER}{bad}\n")).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
