//! The AiFi Nanostore import checked against the real data: the landmarks
//! of `calibration/aifi-landmarks.csv` (read by eye on the `camera_angles`
//! stills, and the shopper's ankles on test-1 frames) against the projection
//! with AiFi's poses and with the re-estimated ones, held-out landmarks
//! included, and the importer's output read back by the loaders. Every test
//! skips (printing a `SKIPPED:` line) when `../shared/data/aifi-nanostore`
//! is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use walkout::ids::{CameraId, PlateId, Sku};
use walkout::layout::aifi::{self, INCH_M};
use walkout::layout::calibrate::{Correspondence, solve_rotation};
use walkout::layout::{Camera, StoreLayout, import_aifi};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/aifi-nanostore");

fn data() -> Option<PathBuf> {
    let dir = PathBuf::from(DATA);
    if dir.join("store_meta/calibration.json").is_file() {
        Some(dir)
    } else {
        println!("SKIPPED: AiFi data not found at {DATA}");
        None
    }
}

/// A world point read by eye on a still, from the committed landmarks file.
struct Landmark {
    what: String,
    world: [f64; 3],
    pixel: [f64; 2],
    held_out: bool,
}

/// The world landmarks of `calibration/aifi-landmarks.csv` per still `camera_K.png`.
fn landmarks() -> BTreeMap<u32, Vec<Landmark>> {
    let mut out: BTreeMap<u32, Vec<Landmark>> = BTreeMap::new();
    for m in aifi::parse_landmarks(aifi::LANDMARKS_CSV).unwrap() {
        if let aifi::Target::World(world) = m.target {
            let l = Landmark { what: m.name, world, pixel: m.pixel, held_out: !m.fit };
            out.entry(m.file_index).or_default().push(l);
        }
    }
    out
}

/// RMS pixel error of a still's landmarks seen by `camera`; `None` when a
/// landmark is behind it or outside its lens model.
fn rms(camera: &Camera, marks: &[Landmark]) -> Option<f64> {
    let mut sum = 0.0;
    for m in marks {
        let p = camera.project(m.world)?;
        sum += (p[0] - m.pixel[0]).powi(2) + (p[1] - m.pixel[1]).powi(2);
    }
    Some((sum / marks.len() as f64).sqrt())
}

fn import_into(dir: &Path) -> (PathBuf, walkout::layout::ImportReport) {
    let data = PathBuf::from(DATA);
    let out = dir.join("aifi-nanostore");
    let report = import_aifi(&data.join("store_meta"), &data.join("products-cps-test-01.csv"), &out).expect("import");
    (out, report)
}

/// Largest error (px) of any world landmark, fitted or held out, with the
/// re-estimated poses. The rest is the eye-reading (+-4 px) and gondola 5,
/// which the stills show about 20 % wider than `Gondolas.json` makes it
/// (docs/calibration.md, "Camera poses"). With AiFi's own poses the errors
/// were 60-190 px (the test's tolerance was 200 px).
const TOLERANCE_PX: f64 = 30.0;
/// RMS (px) of the held-out world landmarks after the re-estimation (9.1 px
/// measured; 103 px with AiFi's poses).
const HELD_OUT_RMS_PX: f64 = 12.0;

#[test]
fn eye_read_landmarks_land_near_their_projection() {
    let Some(_) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (out, report) = import_into(tmp.path());
    let layout = StoreLayout::load(&out).unwrap();
    let (mut checked, mut held_out_sq, mut held_out_n) = (0, 0.0, 0);
    for (still, marks) in landmarks() {
        let (id, camera) = layout.camera_by_file_index(still).expect("mapped still");
        for m in &marks {
            let p = camera.project(m.world).expect("landmark in view");
            let err = (p[0] - m.pixel[0]).hypot(p[1] - m.pixel[1]);
            println!(
                "camera_{still}.png as camera {id}: {:<58} {} read ({:>3}, {:>3}) projected ({:>6.1}, {:>6.1}) error {err:>5.1} px",
                m.what,
                if m.held_out { "check" } else { "fit  " },
                m.pixel[0],
                m.pixel[1],
                p[0],
                p[1]
            );
            assert!(err < TOLERANCE_PX, "camera_{still}.png {}: {err:.1} px", m.what);
            if m.held_out {
                held_out_sq += err * err;
                held_out_n += 1;
            }
            checked += 1;
        }
    }
    assert!(checked >= 20 && held_out_n >= 4, "{checked} landmarks, {held_out_n} held out");
    let held_out = (held_out_sq / held_out_n as f64).sqrt();
    println!("held-out world landmarks: {held_out:.1} px RMS; import report: {:?}", report.poses.world_check_rms_px);
    assert!(held_out < HELD_OUT_RMS_PX, "held-out RMS {held_out:.1} px");
    let [before, after] = report.poses.world_check_rms_px;
    assert!(before > 60.0 && (after - held_out).abs() < 1e-6, "{before} -> {after}");
    // the shared focal-length scale is what the stills ask for: the same fit
    // with AiFi's focal lengths kept reproduces the world points far worse
    let [fit_kept, check_kept] = report.poses.aifi_focal_world_rms_px;
    println!("with AiFi's focal lengths kept: {fit_kept:.1} px fitted, {check_kept:.1} px held out");
    assert!(fit_kept > 2.0 * report.poses.world_fit_rms_px[1] && check_kept > 2.0 * after, "{fit_kept} {check_kept}");
}

/// The held-out ties (the shopper's ankles at frames the fit did not use,
/// seen by two or more test-1 cameras) land on one floor spot: within
/// 0.1 m (median) and 0.3 m (worst) with the re-estimated poses, where
/// AiFi's put them metres apart.
#[test]
fn cameras_agree_on_held_out_floor_points() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (out, report) = import_into(tmp.path());
    let [before, after] = &report.poses.check_ties;
    println!("held-out ankles, AiFi poses: {before:?}\nre-estimated: {after:?}");
    assert!(after.pairs >= 15, "{after:?}");
    assert!(after.median_m < 0.1 && after.p90_m < 0.15 && after.max_m < 0.3, "{after:?}");
    assert!(before.median_m > 1.0, "AiFi's poses disagree by metres: {before:?}");
    // the loaders give the same figure from the written cameras.json
    let layout = StoreLayout::load(&out).unwrap();
    let marks = aifi::parse_landmarks(aifi::LANDMARKS_CSV).unwrap();
    let again = aifi::poses::tie_agreement(&layout.cameras, &marks);
    assert!((again.median_m - after.median_m).abs() < 1e-6, "{again:?}");
    // the shared focal-length scale and the aim changes stay physical
    assert!((0.6..0.8).contains(&report.poses.focal_scale), "{}", report.poses.focal_scale);
    for c in &report.poses.cameras {
        assert!(c.rotation_change_deg < 40.0, "camera {} re-aimed by {:.1} degrees", c.id, c.rotation_change_deg);
        let centre = layout.cameras[&c.id].centre();
        let aifi = aifi::read_cameras(&data.join("store_meta")).unwrap().cameras;
        let given = aifi.iter().find(|a| a.id == c.id).unwrap().camera.centre();
        assert!((0..3).all(|i| (centre[i] - given[i]).abs() < 1e-6), "camera {} keeps its centre", c.id);
    }
}

/// The two naive mappings fail outright: with calibration id = K (the
/// still's own number) the landmarks of stills 4-6 lie behind the camera (ids
/// 4-6 look the other way); with id = K + 1 those of still 5 lie behind
/// camera 6 and those of still 2 land hundreds of pixels off in camera 3.
#[test]
fn naive_camera_mappings_are_rejected() {
    let Some(data) = data() else { return };
    let cameras = aifi::read_cameras(&data.join("store_meta")).unwrap().cameras;
    let camera = |id: u32| &cameras.iter().find(|c| c.id == CameraId::from(id.to_string())).expect("camera").camera;
    let marks = landmarks();
    let fit = |still: u32, id: u32| rms(camera(id), &marks[&still]);
    for still in [4, 5, 6] {
        assert_eq!(fit(still, still), None, "camera_{still}.png: camera {still} should not see these landmarks");
    }
    assert_eq!(fit(5, 6), None, "K+1: camera 6 should not see gondola 5");
    assert!(fit(2, 3).unwrap() > 500.0, "K+1: camera 3 {:?}", fit(2, 3));
    for (still, marks) in &marks {
        let settled = cameras.iter().find(|c| c.file_index == Some(*still)).expect("mapped");
        let e = rms(&settled.camera, marks).expect("the settled camera sees its still's landmarks");
        println!("camera_{still}.png = camera {}: landmark RMS {e:.0} px", settled.id);
    }
}

/// Refitting only the aim of the two stills with the most world points, at
/// AiFi's focal lengths and at 0.7 of them: the shorter focal length fits
/// several times better, on each still alone (the joint fit's `s = 0.700`
/// is no artefact of mixing cameras).
#[test]
fn aim_only_fits_prefer_the_shorter_focal_length() {
    let Some(data) = data() else { return };
    let cameras = aifi::read_cameras(&data.join("store_meta")).unwrap().cameras;
    let marks = landmarks();
    for (still, id) in [(2, "2"), (4, "6")] {
        let camera = &cameras.iter().find(|c| c.id == CameraId::from(id)).unwrap().camera;
        let points: Vec<Correspondence> = marks[&still]
            .iter()
            .map(|m| Correspondence { world: m.world, pixel: m.pixel, label: m.what.clone() })
            .collect();
        let at = |s: f64| solve_rotation(&aifi::poses::scale_intrinsics(camera, s), &points).unwrap().rms_px;
        let (aifi_f, short_f) = (at(1.0), at(0.7));
        println!(
            "camera_{still}.png (camera {id}), aim refitted: {aifi_f:.1} px at AiFi's focal length, {short_f:.1} px at 0.7 of it"
        );
        assert!(short_f < aifi_f / 2.5, "camera_{still}.png: {short_f} vs {aifi_f}");
    }
}

#[test]
fn conventions_reproduce_aifi_look_at_and_ceiling_height() {
    let Some(data) = data() else { return };
    let aifi::CameraImport { cameras, skipped } = aifi::read_cameras(&data.join("store_meta")).unwrap();
    assert_eq!(cameras.len(), 12);
    assert!(skipped.iter().any(|(id, _)| id == "21-depth"));
    for c in &cameras {
        let z = c.camera.centre()[2];
        assert!((2.35..2.6).contains(&z), "camera {} at {z} m: one ceiling, ~95 in", c.id);
        let e = c.look_at_error_m.expect("look_at given");
        assert!(e < 0.001, "camera {}: look_at off by {e} m", c.id);
        assert!(c.camera.optical_axis()[2] < -0.3, "camera {} looks down", c.id);
    }
    // world_ltrb is the camera bounding box widened by 50 in, truncated to whole inches
    let geometry = aifi::read_geometry(&data.join("store_meta")).unwrap();
    let b = geometry.bounds.unwrap();
    assert!((b[0] / INCH_M - -64.0).abs() < 1e-9 && (b[3] / INCH_M - 56.0).abs() < 1e-9);
}

#[test]
fn import_round_trips_through_the_loaders() {
    let Some(_) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (out, report) = import_into(tmp.path());
    assert_eq!((report.gondolas, report.plates, report.cameras), (5, 306, 12));
    assert!(report.look_at_max_error_m < 0.001, "{report:?}");
    let layout = StoreLayout::load(&out).unwrap();
    assert_eq!(layout.geometry.plates.len(), 306);
    let p = layout.geometry.plate(&PlateId::new(5, 6, 4)).unwrap();
    assert!((p.centre()[2] - 1.6478).abs() < 1e-6);
    // gondola 5 is turned a quarter clockwise: its plates run along -y, shelves face -x
    assert!(p.corners[1][1] < p.corners[0][1] && p.corners[3][0] > p.corners[0][0]);
    let fresh = aifi::read_geometry(&PathBuf::from(DATA).join("store_meta")).unwrap();
    for (id, plate) in &fresh.plates {
        let loaded = &layout.geometry.plates[id];
        for (a, b) in plate.corners.iter().zip(&loaded.corners) {
            assert!((0..3).all(|i| (a[i] - b[i]).abs() < 1e-6), "{id}");
        }
    }
    let mut cams = aifi::read_cameras(&PathBuf::from(DATA).join("store_meta")).unwrap().cameras;
    aifi::reestimate(&mut cams, &aifi::parse_landmarks(aifi::LANDMARKS_CSV).unwrap()).unwrap();
    for c in &cams {
        let loaded = &layout.cameras[&c.id];
        let probe = [2.0, -0.5, 1.0];
        let (a, b) = (c.camera.project(probe), loaded.project(probe));
        assert_eq!(a.is_some(), b.is_some());
        // intrinsics are written to the micro-pixel
        if let (Some(a), Some(b)) = (a, b) {
            assert!((a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3, "camera {}: {a:?} vs {b:?}", c.id);
        }
    }
    let catalog = walkout::catalog::Catalog::load(&out).expect("the catalogue loader accepts the import");
    assert_eq!(catalog.currency.code(), "USD");
    assert_eq!(catalog.store.tax_mode, "exclusive");
    // test 1 stocks every plate but gondola 3's top shelf
    assert_eq!(catalog.planogram.len(), 294);
    assert!(catalog.planogram.keys().all(|p| layout.geometry.plates.contains_key(p)));
    assert!(report.warnings.iter().all(|w| !w.contains("not in the store geometry")), "{:?}", report.warnings);
    assert!(catalog.planogram[&PlateId::new(1, 6, 1)].contains(&Sku::from("fiji-nat-artsn-wtr-1-5l")));
    assert_eq!(catalog.products.len(), report.products);
}

#[test]
fn overlays_are_drawn_for_the_mapped_stills() {
    let Some(data) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = import_into(tmp.path());
    let layout = StoreLayout::load(&out).unwrap();
    let stills = walkout::layout::overlay::find_stills(&layout, &data.join("camera_angles")).unwrap();
    assert_eq!(stills.len(), 8);
    // WALKOUT_OVERLAY_DIR keeps the PNGs for a look
    let dir = std::env::var_os("WALKOUT_OVERLAY_DIR").map(PathBuf::from).unwrap_or_else(|| tmp.path().join("overlays"));
    let reports = walkout::layout::overlay_stills(&layout, &stills, &dir).unwrap();
    for r in &reports {
        println!("{} -> {} ({} plates)", r.image.display(), r.output.display(), r.plates_drawn);
        assert!(r.output.is_file());
    }
    assert!(reports.iter().filter(|r| r.plates_drawn > 50).count() >= 6);
}
