//! Re-estimating the AiFi camera poses from the committed landmarks
//! ([`super::landmarks`]), because AiFi's own poses miss the stills by
//! 70-180 px (`docs/calibration.md`, "Camera poses").
//!
//! The model, chosen by the evidence: every camera keeps AiFi's centre (the
//! mounts did not move; the cameras were re-aimed), gets a new rotation, and
//! all cameras share one focal-length scale `s` applied to AiFi's
//! intrinsics in the way that keeps each lens's pixel-space distortion
//! (`f -> s f`, `k1 -> s² k1`, `k2 -> s⁴ k2`, `k3 -> s⁶ k3`, `p -> s p`),
//! so straight lines stay as straight as AiFi's calibration made them.
//! Rotations, `s` and the tie points' floor positions are fitted together
//! by Levenberg-Marquardt on the reprojection error of the `fit` landmarks
//! ([`super::adjust`]); the `check` landmarks only measure the result.

use super::adjust::{self, Observation, Problem};
use super::landmarks::{Landmark, Target};
use super::{FILE_INDEX_TO_CAMERA, ImportedCamera};
use crate::ids::CameraId;
use crate::layout::camera::Camera;
use crate::layout::math::{Vec3, norm, sub};
use serde::Serialize;
use std::collections::BTreeMap;

/// Fewest `fit` observations for a camera's rotation to be re-estimated;
/// cameras with fewer keep AiFi's.
pub const MIN_OBSERVATIONS: usize = 3;

/// How one camera came out.
#[derive(Clone, Debug, Serialize)]
pub struct CameraPose {
    pub id: CameraId,
    pub file_index: u32,
    pub fit_observations: usize,
    /// RMS reprojection error of its `fit` world points, AiFi's pose vs re-estimated, pixels.
    pub world_fit_rms_px: Option<[f64; 2]>,
    /// The same for its held-out world points.
    pub world_check_rms_px: Option<[f64; 2]>,
    /// RMS reprojection error of its `fit` tie observations after the fit, pixels.
    pub tie_fit_rms_px: Option<f64>,
    pub rotation_change_deg: f64,
}

/// Distances between the floor points different cameras give one held-out
/// tie (e.g. the shopper's ankles at one frame time), metres.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Agreement {
    pub pairs: usize,
    pub median_m: f64,
    pub p90_m: f64,
    pub max_m: f64,
}

/// What [`reestimate`] did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PoseReport {
    /// The fitted focal-length scale applied to every camera's AiFi intrinsics.
    pub focal_scale: f64,
    pub cameras: Vec<CameraPose>,
    /// All world points: RMS reprojection error, AiFi's poses vs re-estimated, pixels.
    pub world_fit_rms_px: [f64; 2],
    pub world_check_rms_px: [f64; 2],
    /// The same fit with AiFi's focal lengths kept (scale 1): world points'
    /// RMS, fitted and held out, pixels. The evidence for the scale.
    pub aifi_focal_world_rms_px: [f64; 2],
    /// Held-out ties: how far apart the cameras place them, AiFi's poses vs re-estimated.
    pub check_ties: [Agreement; 2],
    /// Cameras that keep AiFi's rotation (no or too few landmarks).
    pub unchanged: Vec<CameraId>,
    /// Fitted floor positions (x, y) of the tie points (the sticker, the shopper's ankles).
    pub tie_points: BTreeMap<String, [f64; 2]>,
    pub iterations: usize,
}

impl PoseReport {
    /// What `cameras.json` says about where its numbers come from.
    pub fn note(&self) -> String {
        let poses = self;
        let refit: Vec<&str> = poses.cameras.iter().map(|c| c.id.as_str()).collect();
        let unchanged: Vec<&str> = poses.unchanged.iter().map(|c| c.as_str()).collect();
        format!(
            "Imported from AiFi store_meta/calibration.json: K scaled by 640x360; Tw (camera->world, inches) inverted and \
         converted to metres; file_index maps the recorder's camK / camera_K.png numbers. Re-estimated by walkout import \
         aifi from calibration/aifi-landmarks.csv (docs/calibration.md, Camera poses): every camera keeps AiFi's centre; \
         focal lengths scaled by {:.4} (distortion scaled to keep its pixel-space shape) for all cameras; rotations \
         re-fitted for cameras {} (world landmarks {:.1} px RMS before, {:.1} px after; held out {:.1} -> {:.1} px); \
         cameras {} keep AiFi's rotation (too few landmarks).",
            poses.focal_scale,
            refit.join(", "),
            poses.world_fit_rms_px[0],
            poses.world_fit_rms_px[1],
            poses.world_check_rms_px[0],
            poses.world_check_rms_px[1],
            unchanged.join(", ")
        )
    }
}

/// Scales AiFi's intrinsics by `s` keeping the pixel-space distortion.
pub fn scale_intrinsics(camera: &Camera, s: f64) -> Camera {
    let mut c = camera.clone();
    c.intrinsics.fx *= s;
    c.intrinsics.fy *= s;
    let d = &mut c.distortion;
    (d.k1, d.k2, d.k3, d.p1, d.p2) = (d.k1 * s * s, d.k2 * s.powi(4), d.k3 * s.powi(6), d.p1 * s, d.p2 * s);
    c
}

fn camera_of(file_index: u32) -> Option<CameraId> {
    FILE_INDEX_TO_CAMERA.iter().find(|(k, _)| *k == file_index).map(|(_, id)| CameraId::from(*id))
}

/// Re-estimates the poses of `cameras` (as imported from AiFi) in place and
/// says how well the landmarks are reproduced before and after.
pub fn reestimate(cameras: &mut [ImportedCamera], landmarks: &[Landmark]) -> Result<PoseReport, String> {
    let before: BTreeMap<CameraId, Camera> = cameras.iter().map(|c| (c.id.clone(), c.camera.clone())).collect();
    let mut counts: BTreeMap<CameraId, usize> = BTreeMap::new();
    for m in landmarks.iter().filter(|m| m.fit) {
        let id = camera_of(m.file_index)
            .ok_or_else(|| format!("landmark {:?}: no camera has file index {}", m.name, m.file_index))?;
        *counts.entry(id).or_default() += 1;
    }
    let active: Vec<CameraId> =
        counts.iter().filter(|(_, n)| **n >= MIN_OBSERVATIONS).map(|(id, _)| id.clone()).collect();
    let observations: Vec<Observation> = landmarks
        .iter()
        .filter(|m| m.fit)
        .filter_map(|m| {
            let id = camera_of(m.file_index)?;
            let camera = active.iter().position(|a| *a == id)?;
            Some(Observation { camera, target: m.target.clone(), pixel: m.pixel })
        })
        .collect();
    let bases: Vec<Camera> = active.iter().map(|id| before[id].clone()).collect();
    let kept =
        adjust::solve(&Problem { cameras: bases.clone(), observations: observations.clone(), fit_scale: false })?;
    let fitted = adjust::solve(&Problem { cameras: bases, observations, fit_scale: true })?;
    let with_aifi_focal: BTreeMap<CameraId, Camera> = before
        .iter()
        .map(|(id, c)| {
            (id.clone(), active.iter().position(|a| a == id).map_or_else(|| c.clone(), |i| kept.cameras[i].clone()))
        })
        .collect();
    for c in cameras.iter_mut() {
        c.camera = match active.iter().position(|a| *a == c.id) {
            Some(i) => fitted.cameras[i].clone(),
            None => scale_intrinsics(&c.camera, fitted.focal_scale),
        };
    }
    let after: BTreeMap<CameraId, Camera> = cameras.iter().map(|c| (c.id.clone(), c.camera.clone())).collect();
    let mut report = PoseReport {
        focal_scale: fitted.focal_scale,
        unchanged: cameras.iter().map(|c| c.id.clone()).filter(|id| !active.contains(id)).collect(),
        iterations: fitted.iterations,
        tie_points: fitted.ties.iter().map(|(n, p)| (n.clone(), p.map(|v| (v * 1000.0).round() / 1000.0))).collect(),
        ..Default::default()
    };
    for (i, id) in active.iter().enumerate() {
        let file_index = FILE_INDEX_TO_CAMERA.iter().find(|(_, c)| *c == id.as_str()).map_or(0, |(k, _)| *k);
        let mine = |fit: bool| landmarks.iter().filter(move |m| m.file_index == file_index && m.fit == fit);
        let rms_pair = |fit: bool| {
            let pts: Vec<&Landmark> = mine(fit).filter(|m| matches!(m.target, Target::World(_))).collect();
            (!pts.is_empty()).then(|| [world_rms(&before[id], &pts), world_rms(&after[id], &pts)])
        };
        report.cameras.push(CameraPose {
            id: id.clone(),
            file_index,
            fit_observations: counts[id],
            world_fit_rms_px: rms_pair(true),
            world_check_rms_px: rms_pair(false),
            tie_fit_rms_px: fitted.tie_rms_px[i],
            rotation_change_deg: crate::layout::calibrate::rotation_angle_deg(
                &before[id].rotation,
                &after[id].rotation,
            ),
        });
    }
    let worlds = |fit: bool| landmarks.iter().filter(move |m| m.fit == fit && matches!(m.target, Target::World(_)));
    let rms_all = |cams: &BTreeMap<CameraId, Camera>, fit: bool| {
        let (mut sum, mut n) = (0.0, 0usize);
        for m in worlds(fit) {
            if let (Some(id), Target::World(w)) = (camera_of(m.file_index), &m.target) {
                sum += pixel_error(&cams[&id], *w, m.pixel).powi(2);
                n += 1;
            }
        }
        (sum / n.max(1) as f64).sqrt()
    };
    report.world_fit_rms_px = [rms_all(&before, true), rms_all(&after, true)];
    report.world_check_rms_px = [rms_all(&before, false), rms_all(&after, false)];
    report.aifi_focal_world_rms_px = [rms_all(&with_aifi_focal, true), rms_all(&with_aifi_focal, false)];
    report.check_ties = [tie_agreement(&before, landmarks), tie_agreement(&after, landmarks)];
    Ok(report)
}

/// Reprojection error in pixels; 1000 px when the point does not project.
fn pixel_error(camera: &Camera, world: Vec3, pixel: [f64; 2]) -> f64 {
    camera.project(world).map_or(1000.0, |p| (p[0] - pixel[0]).hypot(p[1] - pixel[1]))
}

fn world_rms(camera: &Camera, marks: &[&Landmark]) -> f64 {
    let sum: f64 = marks
        .iter()
        .map(|m| match m.target {
            Target::World(w) => pixel_error(camera, w, m.pixel).powi(2),
            Target::Tie { .. } => 0.0,
        })
        .sum();
    (sum / marks.len().max(1) as f64).sqrt()
}

/// For every held-out tie seen by two or more cameras: each camera's ray
/// through its pixel meets the tie's height at a floor point; the distances
/// between those points, pair by pair.
pub fn tie_agreement(cameras: &BTreeMap<CameraId, Camera>, landmarks: &[Landmark]) -> Agreement {
    let mut by_name: BTreeMap<&str, Vec<Vec3>> = BTreeMap::new();
    for m in landmarks.iter().filter(|m| !m.fit) {
        let (Target::Tie { name, z }, Some(id)) = (&m.target, camera_of(m.file_index)) else { continue };
        if let Some(p) = cameras.get(&id).and_then(|c| c.pixel_to_plane(m.pixel, *z)) {
            by_name.entry(name.as_str()).or_default().push(p);
        }
    }
    let mut d: Vec<f64> = Vec::new();
    for pts in by_name.values() {
        for (i, a) in pts.iter().enumerate() {
            d.extend(pts[i + 1..].iter().map(|b| norm(sub(*a, *b))));
        }
    }
    d.sort_by(f64::total_cmp);
    let at = |q: f64| d.get(((d.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    Agreement { pairs: d.len(), median_m: at(0.5), p90_m: at(0.9), max_m: d.last().copied().unwrap_or(f64::NAN) }
}
