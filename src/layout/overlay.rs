//! Projected plate outlines drawn over camera stills: the quickest way to
//! see whether a calibration is right (outlines on the shelves) or not.

use super::LayoutError;
use super::camera::Camera;
use super::files::StoreLayout;
use super::geometry::StoreGeometry;
use super::math::{Vec3, add, scale, sub};
use crate::ids::CameraId;
use opencv::core::{Mat, Point, Scalar};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One drawn still.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OverlayReport {
    pub image: PathBuf,
    pub output: PathBuf,
    pub camera: CameraId,
    /// Plates with at least one edge drawn.
    pub plates_drawn: usize,
}

/// BGR colour per gondola, cycling.
const PALETTE: [(f64, f64, f64); 6] = [
    (0.0, 0.0, 255.0),
    (0.0, 200.0, 0.0),
    (255.0, 64.0, 0.0),
    (0.0, 220.0, 255.0),
    (255.0, 0.0, 255.0),
    (255.0, 255.0, 0.0),
];
/// Text in `colour` with a black outline, readable on any background.
fn outlined_text(img: &mut Mat, text: &str, at: Point, colour: Scalar) -> opencv::Result<()> {
    for (thickness, c) in [(3, Scalar::new(0.0, 0.0, 0.0, 0.0)), (1, colour)] {
        imgproc::put_text(img, text, at, imgproc::FONT_HERSHEY_SIMPLEX, 0.6, c, thickness, imgproc::LINE_AA, false)?;
    }
    Ok(())
}

/// Points per plate edge: edges bend under lens distortion.
const EDGE_STEPS: usize = 8;

fn cv_err(path: &Path) -> impl Fn(opencv::Error) -> LayoutError + '_ {
    move |e| LayoutError::Image { path: path.to_owned(), message: e.to_string() }
}

fn colour(gondola: u16) -> Scalar {
    let (b, g, r) = PALETTE[usize::from(gondola) % PALETTE.len()];
    Scalar::new(b, g, r, 0.0)
}

/// Pixel of a world point if it projects near the image (a margin of one
/// image size keeps lines that leave the frame).
fn pixel(camera: &Camera, p: Vec3) -> Option<Point> {
    let [u, v] = camera.project(p)?;
    let (w, h) = (camera.width as f64, camera.height as f64);
    ((-w..2.0 * w).contains(&u) && (-h..2.0 * h).contains(&v)).then(|| Point::new(u.round() as i32, v.round() as i32))
}

/// Draws every plate of `geometry` as `camera` sees it onto the still at
/// `image`, labels gondolas and the camera, and writes a PNG to `out`.
/// Returns the number of plates drawn.
pub fn draw_overlay(
    image: &Path,
    camera: &Camera,
    label: &str,
    geometry: &StoreGeometry,
    out: &Path,
) -> Result<usize, LayoutError> {
    let path_str = image
        .to_str()
        .ok_or_else(|| LayoutError::Image { path: image.to_owned(), message: "path is not UTF-8".into() })?;
    let mut img: Mat = imgcodecs::imread(path_str, imgcodecs::IMREAD_COLOR).map_err(cv_err(image))?;
    if img.empty() {
        return Err(LayoutError::Image { path: image.to_owned(), message: "not a readable image".into() });
    }
    let size = img.size().map_err(cv_err(image))?;
    if (size.width as u32, size.height as u32) != (camera.width, camera.height) {
        let message =
            format!("image is {}x{}, camera {label} is {}x{}", size.width, size.height, camera.width, camera.height);
        return Err(LayoutError::Image { path: image.to_owned(), message });
    }
    let mut drawn = 0;
    let mut label_points: BTreeMap<u16, Vec<Vec3>> = BTreeMap::new();
    for plate in geometry.plates.values() {
        let c = colour(plate.id.gondola);
        let mut any = false;
        for i in 0..4 {
            let (a, b) = (plate.corners[i], plate.corners[(i + 1) % 4]);
            let points: Vec<Option<Point>> = (0..=EDGE_STEPS)
                .map(|s| pixel(camera, add(a, scale(sub(b, a), s as f64 / EDGE_STEPS as f64))))
                .collect();
            for pair in points.windows(2) {
                if let [Some(p), Some(q)] = pair {
                    imgproc::line(&mut img, *p, *q, c, 1, imgproc::LINE_AA, 0).map_err(cv_err(image))?;
                    any = true;
                }
            }
        }
        drawn += usize::from(any);
        label_points.entry(plate.id.gondola).or_default().push(plate.front_centre());
    }
    for (gondola, points) in label_points {
        // label at the middle of the gondola's top shelf front
        let top = points.iter().map(|p| p[2]).fold(f64::MIN, f64::max);
        let front: Vec<_> = points.into_iter().filter(|p| (p[2] - top).abs() < 1e-6).collect();
        let mid = scale(front.iter().fold([0.0; 3], |acc, p| add(acc, *p)), 1.0 / front.len().max(1) as f64);
        if let Some(p) = pixel(camera, mid).filter(|p| camera.in_image([p.x as f64, p.y as f64])) {
            let text = format!("G{gondola}");
            outlined_text(&mut img, &text, p, colour(gondola)).map_err(cv_err(image))?;
        }
    }
    let title = format!("camera {label}");
    outlined_text(&mut img, &title, Point::new(8, 20), Scalar::new(255.0, 255.0, 255.0, 0.0)).map_err(cv_err(image))?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|source| LayoutError::Write { path: dir.to_owned(), source })?;
    }
    let out_str =
        out.to_str().ok_or_else(|| LayoutError::Image { path: out.to_owned(), message: "path is not UTF-8".into() })?;
    if !imgcodecs::imwrite_def(out_str, &img).map_err(cv_err(out))? {
        return Err(LayoutError::Image { path: out.to_owned(), message: "could not write the PNG".into() });
    }
    Ok(drawn)
}

/// The stills in `dir` named like `camera_K.png` / `...camK.png` whose
/// recorder number `K` the layout maps to a camera (`file_index`).
pub fn find_stills(layout: &StoreLayout, dir: &Path) -> Result<Vec<(PathBuf, CameraId)>, LayoutError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LayoutError::Read { path: dir.to_owned(), source })?;
    let mut stills = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| LayoutError::Read { path: dir.to_owned(), source })?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else { continue };
        if !path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png") || e.eq_ignore_ascii_case("jpg")) {
            continue;
        }
        let digits: String =
            stem.chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
        let Ok(k) = digits.parse::<u32>() else { continue };
        if let Some((id, _)) = layout.camera_by_file_index(k) {
            stills.push((path, id.clone()));
        }
    }
    stills.sort();
    Ok(stills)
}

/// Draws each `(still, camera)` pair into `out_dir` as
/// `<still stem>__camera_<id>.png`.
pub fn overlay_stills(
    layout: &StoreLayout,
    stills: &[(PathBuf, CameraId)],
    out_dir: &Path,
) -> Result<Vec<OverlayReport>, LayoutError> {
    let mut reports = Vec::new();
    for (image, id) in stills {
        let camera = layout.cameras.get(id).ok_or_else(|| LayoutError::Image {
            path: image.clone(),
            message: format!("camera {id} is not in the calibration"),
        })?;
        let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let output = out_dir.join(format!("{stem}__camera_{id}.png"));
        let plates_drawn = draw_overlay(image, camera, id.as_str(), &layout.geometry, &output)?;
        reports.push(OverlayReport { image: image.clone(), output, camera: id.clone(), plates_drawn });
    }
    Ok(reports)
}
