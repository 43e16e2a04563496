//! `walkout calibrate` against exact ground truth: checkerboards rendered
//! through a known camera (intrinsics, distortion, poses) are calibrated by
//! the real OpenCV pipeline, and a known ceiling camera's pose is recovered
//! from noisy marked points, through the library and through the binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use walkout::ids::CameraId;
use walkout::layout::calibrate::{self, Board, UndistortGrid, commands, render_board};
use walkout::layout::math::{Mat3, Vec3, norm, sub};
use walkout::layout::{Camera, Distortion, Intrinsics};

fn truth_camera() -> Camera {
    Camera {
        width: 640,
        height: 480,
        intrinsics: Intrinsics { fx: 520.0, fy: 517.0, cx: 323.5, cy: 236.0 },
        distortion: Distortion { k1: -0.28, k2: 0.09, p1: 0.0008, p2: -0.0005, k3: 0.0 },
        rotation: walkout::layout::math::IDENTITY,
        translation: [0.0; 3],
    }
}

/// World -> camera pose of a camera at `pos` looking at `target`, image x
/// along the board's x, turned by `roll` radians about its axis.
fn look_at(pos: Vec3, target: Vec3, roll: f64) -> (Mat3, Vec3) {
    let f = sub(target, pos);
    let z = f.map(|v| v / norm(f));
    let ex = [1.0, 0.0, 0.0];
    let d = ex[0] * z[0];
    let x0 = [ex[0] - d * z[0], -d * z[1], -d * z[2]];
    let x0 = x0.map(|v| v / norm(x0));
    let y0 = [z[1] * x0[2] - z[2] * x0[1], z[2] * x0[0] - z[0] * x0[2], z[0] * x0[1] - z[1] * x0[0]];
    let (s, c) = roll.sin_cos();
    let x = [0, 1, 2].map(|i| c * x0[i] + s * y0[i]);
    let y = [0, 1, 2].map(|i| -s * x0[i] + c * y0[i]);
    let r = [x, y, z];
    let t = [0, 1, 2].map(|i| -(r[i][0] * pos[0] + r[i][1] * pos[1] + r[i][2] * pos[2]));
    (r, t)
}

/// Renders `views` board images into `dir` (plus `blanks` images without a board).
fn render_views(dir: &Path, board: &Board, views: usize, blanks: usize) -> Camera {
    let cam = truth_camera();
    let grid = UndistortGrid::new(&cam);
    let centre = [4.0 * board.square_m, 2.5 * board.square_m, 0.0];
    let mut written = 0;
    for i in 0..views {
        let a = [0.0_f64, 22.0, 30.0, 36.0][i % 4].to_radians();
        let b = (i as f64 * 67.0).to_radians();
        let dist = 0.5 + 0.05 * (i % 3) as f64;
        let pos = [centre[0] + dist * a.sin() * b.cos(), centre[1] + dist * a.sin() * b.sin(), -dist * a.cos()];
        // aim a little off the board centre so the board visits the image corners
        let target = [centre[0] + 0.11 * (b * 2.0).cos(), centre[1] + 0.08 * (b * 3.0).sin(), 0.0];
        let (rotation, translation) = look_at(pos, target, ((i as f64) * 0.35).sin() * 0.3);
        let view = Camera { rotation, translation, ..cam.clone() };
        let img = render_board(&view, &grid, board).unwrap();
        img.save(dir.join(format!("view{i:02}.png"))).unwrap();
        written += 1;
    }
    for i in 0..blanks {
        image::GrayImage::from_pixel(cam.width, cam.height, image::Luma([120]))
            .save(dir.join(format!("blank{i}.png")))
            .unwrap();
    }
    assert_eq!(written, views);
    cam
}

/// Largest difference, in pixels at the focal length, between the rays two
/// cameras give the same pixels (intrinsics + distortion as a whole), over
/// the part of the image the boards covered.
fn ray_difference_px(a: &Camera, b: &Camera) -> f64 {
    let mut worst: f64 = 0.0;
    for u in (60..=580).step_by(40) {
        for v in (40..=440).step_by(40) {
            let px = [u as f64, v as f64];
            let (p, q) = (a.undistort_pixel(px).unwrap(), b.undistort_pixel(px).expect("inside the fitted lens model"));
            worst = worst.max((p.0 - q.0).hypot(p.1 - q.1) * a.intrinsics.fx);
        }
    }
    worst
}

#[test]
fn intrinsics_from_rendered_checkerboards_match_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let board = Board::parse("9x6", 30.0).unwrap();
    let truth = render_views(dir.path(), &board, 14, 1);
    let out = dir.path().join("intrinsics.json");
    let report = commands::intrinsics(dir.path(), "9x6", 30.0, &out).unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.skipped.len(), 1, "only the blank image is left out: {:?}", report.skipped);
    assert!(report.skipped[0].1.contains("not found"));
    assert!(report.rms_px < 0.5, "RMS {} px", report.rms_px);
    assert!(report.views.iter().all(|v| v.rms_px < 0.5), "{:?}", report.views);
    assert!((report.fx / 520.0 - 1.0).abs() < 0.01 && (report.fy / 517.0 - 1.0).abs() < 0.01, "{report:?}");
    assert!((report.cx - 323.5).abs() < 3.0 && (report.cy - 236.0).abs() < 3.0, "{report:?}");
    assert!((report.dist[0] - -0.28).abs() < 0.03, "k1 {}", report.dist[0]);
    let file = calibrate::read_intrinsics(&out).unwrap();
    let fitted = file.camera();
    let diff = ray_difference_px(&truth, &fitted);
    assert!(diff < 1.0, "the calibrated lens bends rays up to {diff} px away from the true one");
}

#[test]
fn too_few_boards_or_mixed_sizes_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let board = Board::parse("9x6", 30.0).unwrap();
    render_views(dir.path(), &board, 3, 2);
    let err = commands::intrinsics(dir.path(), "9x6", 30.0, &dir.path().join("i.json")).unwrap_err().to_string();
    assert!(
        err.contains("found in 3 of 5 images") && err.contains("at least 5") && err.contains("blank0.png"),
        "{err}"
    );
    // a wrong board spec finds nothing
    let err = commands::intrinsics(dir.path(), "7x4", 30.0, &dir.path().join("i.json")).unwrap_err().to_string();
    assert!(err.contains("found in 0 of 5"), "{err}");
    image::GrayImage::new(320, 240).save(dir.path().join("small.png")).unwrap();
    let err = commands::intrinsics(dir.path(), "9x6", 30.0, &dir.path().join("i.json")).unwrap_err().to_string();
    assert!(err.contains("320x240") && err.contains("one camera mode"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    assert!(commands::intrinsics(empty.path(), "9x6", 30.0, &empty.path().join("i.json")).is_err());
    assert!(Board::parse("9by6", 30.0).is_err());
}

/// A ceiling camera 2.45 m up, aimed down the aisle (image x to the right
/// of the viewing direction, y down).
fn ceiling_camera(intrinsics: &Camera) -> Camera {
    let (pos, target) = ([0.8, -1.2, 2.45], [2.6, -0.2, 0.6]);
    let f = sub(target, pos);
    let z = f.map(|v| v / norm(f));
    let right = [z[1], -z[0], 0.0];
    let x = right.map(|v| v / norm(right));
    let y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]];
    let rotation = [x, y, z];
    let translation = [0, 1, 2].map(|i| -(rotation[i][0] * pos[0] + rotation[i][1] * pos[1] + rotation[i][2] * pos[2]));
    Camera { rotation, translation, ..intrinsics.clone() }
}

/// Floor and shelf points in view, marked with up to +-1 px error.
fn marked_points_csv(camera: &Camera, path: &Path) -> usize {
    let mut text = String::from("# floor marks and shelf corners\nx,y,z,u,v,label\n");
    let mut n = 0;
    let mut k = 0u32;
    for x in [1.2, 2.0, 2.8, 3.6] {
        for (y, z) in [(-1.0, 0.0), (0.0, 0.0), (0.4, 0.9), (0.4, 1.6)] {
            let Some(p) = camera.project([x, y, z]).filter(|p| camera.in_image(*p)) else { continue };
            // deterministic "noise" within +-1 px
            k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let (du, dv) = ((k % 200) as f64 / 100.0 - 1.0, ((k / 200) % 200) as f64 / 100.0 - 1.0);
            text += &format!("{x},{y},{z},{:.2},{:.2},mark {n}\n", p[0] + du, p[1] + dv);
            n += 1;
        }
    }
    std::fs::write(path, text).unwrap();
    n
}

fn walkout() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_walkout"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout.into_owned()
}

#[test]
fn commands_calibrate_then_place_a_camera() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let board = Board::parse("9x6", 30.0).unwrap();
    let truth = render_views(&images, &board, 10, 0);
    let intrinsics = dir.path().join("cam7-intrinsics.json");
    let out = run_ok(
        walkout()
            .args(["calibrate", "intrinsics", "--board", "9x6", "--square-mm", "30"])
            .arg("--images")
            .arg(&images)
            .arg("--out")
            .arg(&intrinsics),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["rms_px"].as_f64().unwrap() < 0.5, "{v}");

    let scene = ceiling_camera(&truth);
    let points = dir.path().join("points.csv");
    let n = marked_points_csv(&scene, &points);
    assert!(n >= 8, "{n} points in view");
    let cameras: PathBuf = dir.path().join("cameras.json");
    let out = run_ok(
        walkout()
            .args(["calibrate", "extrinsics", "--camera", "7"])
            .arg("--intrinsics")
            .arg(&intrinsics)
            .arg("--points")
            .arg(&points)
            .arg("--out")
            .arg(&cameras),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["rms_px"].as_f64().unwrap() < 1.5, "{v}");
    let set = walkout::layout::load_cameras(&cameras).unwrap();
    let placed = &set.cameras[&CameraId::from("7")];
    assert!(norm(sub(placed.centre(), scene.centre())) < 0.05, "centre {:?} vs {:?}", placed.centre(), scene.centre());
    assert!(calibrate::rotation_angle_deg(&placed.rotation, &scene.rotation) < 0.5);

    // re-aim only, keeping the stored centre
    let out = run_ok(
        walkout()
            .args(["calibrate", "extrinsics", "--camera", "7", "--keep-centre"])
            .arg("--points")
            .arg(&points)
            .arg("--out")
            .arg(&cameras),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["centre_change_m"].as_f64().unwrap() < 1e-9, "{v}");
    assert!(v["rotation_change_deg"].as_f64().unwrap() < 0.5);

    // three points are not enough: a clear message, no file change
    std::fs::write(dir.path().join("three.csv"), "x,y,z,u,v\n1,0,0,100,100\n2,0,0,200,120\n2,1,0,220,200\n").unwrap();
    let before = std::fs::read_to_string(&cameras).unwrap();
    let fail = walkout()
        .args(["calibrate", "extrinsics", "--camera", "7"])
        .arg("--points")
        .arg(dir.path().join("three.csv"))
        .arg("--out")
        .arg(&cameras)
        .output()
        .unwrap();
    assert!(!fail.status.success());
    assert!(String::from_utf8_lossy(&fail.stderr).contains("at least 4"), "{}", String::from_utf8_lossy(&fail.stderr));
    assert_eq!(std::fs::read_to_string(&cameras).unwrap(), before);
}
