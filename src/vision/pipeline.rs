//! The offline tracking pipeline behind `walkout vision track`: the video
//! files of one recording (`<name>camK.<ext>`, all starting together at a
//! given unix time; `K` is the camera's `file_index` in `cameras.json`) ->
//! capture threads -> MoveNet MultiPose (and optionally a clothing embedding
//! of each torso, and of each wrist matched against a product gallery) -> frames aligned by timestamp across cameras -> the floor
//! tracker -> one [`StepReport`] per frame time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbImage;

use super::capture::{self, CaptureConfig, CaptureError, CaptureHandle, CapturedFrame, Source};
use super::decode::{BoxPx, Decoded, Person};
use super::hand_crop::crops_of;
use super::model::{self, Frame, Model, ModelError};
use super::tracker::{CameraObservation, ObservationOutcome, TrackState, Tracker, TrackerParams};
use crate::catalog::gallery::{Gallery, GalleryIndex};
use crate::ids::CameraId;
use crate::layout::{LayoutError, StoreLayout};
use crate::telemetry::VisionMetrics;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot list {path}: {source}")]
    List { path: PathBuf, source: std::io::Error },
    #[error("{0}: no video files named <recording>camK.mp4 (or .avi/.mkv/.mov)")]
    NoVideos(PathBuf),
    #[error("{dir}: no recording named {name:?}; found: {found}")]
    UnknownRecording { dir: PathBuf, name: String, found: String },
    #[error("{file}: no camera has file_index {index} in the calibration")]
    UnmappedCamera { file: PathBuf, index: u32 },
    #[error("{file}: frames are {got}, camera {camera} is calibrated for {want}")]
    FrameSize { file: PathBuf, camera: CameraId, got: String, want: String },
    #[error("{0}")]
    Output(String),
    #[error("hand-crop gallery: {0}")]
    Gallery(String),
}

/// The video files of one recording, by file camera index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recording {
    pub name: String,
    pub files: BTreeMap<u32, PathBuf>,
}

const VIDEO_EXTENSIONS: [&str; 4] = ["mp4", "avi", "mkv", "mov"];

/// `cps-test-01-nodepth-cam5.mp4` -> (`cps-test-01-nodepth-`, 5).
pub fn parse_video_name(file_name: &str) -> Option<(String, u32)> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    if !VIDEO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) {
        return None;
    }
    let at = stem.rfind("cam")?;
    let index = stem[at + 3..].parse().ok()?;
    Some((stem[..at].to_owned(), index))
}

/// Every recording in a folder, largest (most cameras) first, then by name.
pub fn find_recordings(dir: &Path) -> Result<Vec<Recording>, PipelineError> {
    let list = |source| PipelineError::List { path: dir.to_owned(), source };
    let mut by_name: BTreeMap<String, BTreeMap<u32, PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        let Some((name, index)) = path.file_name().and_then(|n| n.to_str()).and_then(parse_video_name) else {
            continue;
        };
        by_name.entry(name).or_default().insert(index, path);
    }
    let mut out: Vec<Recording> = by_name.into_iter().map(|(name, files)| Recording { name, files }).collect();
    out.sort_by(|a, b| b.files.len().cmp(&a.files.len()).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// The recording named `name`, or the one with the most cameras.
pub fn pick_recording(dir: &Path, name: Option<&str>) -> Result<Recording, PipelineError> {
    let all = find_recordings(dir)?;
    let Some(name) = name else { return all.into_iter().next().ok_or_else(|| PipelineError::NoVideos(dir.to_owned())) };
    let found = all.iter().map(|r| r.name.clone()).collect::<Vec<_>>().join(", ");
    all.into_iter().find(|r| r.name == name).ok_or_else(|| PipelineError::UnknownRecording {
        dir: dir.to_owned(),
        name: name.to_owned(),
        found,
    })
}

#[derive(Clone, Debug)]
pub struct TrackOptions {
    pub videos: PathBuf,
    /// Which recording of the folder (the file name before `camK`); default:
    /// the one with the most cameras.
    pub recording: Option<String>,
    pub calibration: PathBuf,
    /// Unix seconds of the recording's first frame.
    pub start_unix: f64,
    /// The pose model's manifest.
    pub model: PathBuf,
    /// The clothing-embedding model's manifest (`None`: no appearance).
    pub appearance_model: Option<PathBuf>,
    /// A product gallery made with the appearance model: each visible
    /// wrist's crop is matched against it (`None`: no hand crops).
    pub hand_gallery: Option<PathBuf>,
    /// Process every n-th frame time (1 = all).
    pub every: u32,
    /// ONNX Runtime library path from the config (empty: the default lookup).
    pub onnxruntime: String,
    pub params: TrackerParams,
}

/// One detection at one frame time, and what the tracker made of it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Detection {
    pub frame: u64,
    pub person: Person,
    pub outcome: ObservationOutcome,
}

/// One processed frame time.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepReport {
    pub t: f64,
    pub tracks: Vec<TrackState>,
    /// The cameras that delivered a frame for this time.
    pub cameras: Vec<CameraId>,
    pub detections: Vec<Detection>,
}

/// Totals of a run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RunSummary {
    pub recording: String,
    pub cameras: BTreeMap<u32, CameraId>,
    pub steps: u64,
    pub frames: u64,
    pub detections: u64,
    pub tracker: super::tracker::TrackerStats,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    t: f64,
    tracks: Vec<LineTrack<'a>>,
}

#[derive(serde::Serialize)]
struct LineTrack<'a> {
    id: &'a crate::ids::TrackId,
    x: f64,
    y: f64,
    hands: Vec<[f64; 3]>,
    conf: f64,
}

/// The JSON line of one step: `{"t", "tracks": [{"id", "x", "y", "hands", "conf"}]}`,
/// times to the millisecond, positions to the millimetre.
pub fn json_line(step: &StepReport) -> String {
    let r = |v: f64| (v * 1000.0).round() / 1000.0;
    let tracks = step
        .tracks
        .iter()
        .map(|tr| LineTrack {
            id: &tr.id,
            x: r(tr.x),
            y: r(tr.y),
            hands: tr.hands.iter().map(|h| h.map(r)).collect(),
            conf: r(tr.conf),
        })
        .collect();
    serde_json::to_string(&Line { t: r(step.t), tracks }).unwrap_or_default()
}

struct Models {
    pose: Model,
    appearance: Option<Model>,
    gallery: Option<GalleryIndex>,
}

/// Runs the whole recording, calling `on_step` after every frame time.
pub fn run(
    opts: &TrackOptions,
    mut on_step: impl FnMut(&StepReport) -> Result<(), PipelineError>,
) -> Result<RunSummary, PipelineError> {
    let layout = StoreLayout::load(&opts.calibration)?;
    let recording = pick_recording(&opts.videos, opts.recording.as_deref())?;
    let env = model::environment(&opts.onnxruntime)?;
    let appearance = opts.appearance_model.as_deref().map(|m| Model::load(m, env)).transpose()?;
    let gallery = match (&opts.hand_gallery, &appearance) {
        (None, _) => None,
        (Some(path), Some(m)) => {
            let g = Gallery::load(path).map_err(|e| PipelineError::Gallery(e.to_string()))?;
            g.check_model(&m.manifest().name, &m.manifest().sha256)
                .map_err(|e| PipelineError::Gallery(e.to_string()))?;
            Some(g.index())
        }
        (Some(_), None) => {
            return Err(PipelineError::Gallery("hand crops need the embedding model (--appearance-model)".into()));
        }
    };
    let mut models = Models { pose: Model::load(&opts.model, env)?, appearance, gallery };
    let captures = open_captures(&layout, &recording, opts)?;
    let mut summary = RunSummary {
        recording: recording.name.clone(),
        cameras: recording
            .files
            .keys()
            .filter_map(|k| Some((*k, layout.camera_by_file_index(*k)?.0.clone())))
            .collect(),
        ..Default::default()
    };
    let mut tracker = Tracker::new(&layout, opts.params.clone());
    let mut aligner = Aligner::new(captures, frame_tolerance_s(opts.every));
    while let Some(frames) = aligner.next_group()? {
        let t = frames.iter().map(|f| f.t).fold(f64::INFINITY, f64::min);
        let (observations, frame_of) = detect(&mut models, &frames)?;
        let tracks = tracker.update(t, &observations);
        let detections = observations
            .into_iter()
            .zip(tracker.outcomes().iter().cloned())
            .zip(frame_of)
            .map(|((o, outcome), frame)| Detection { frame, person: o.person, outcome })
            .collect::<Vec<_>>();
        summary.steps += 1;
        summary.frames += frames.len() as u64;
        summary.detections += detections.len() as u64;
        let cameras = frames.iter().map(|f| f.camera.clone()).collect();
        on_step(&StepReport { t, tracks, cameras, detections })?;
    }
    summary.tracker = tracker.stats().clone();
    Ok(summary)
}

/// Half a frame period at 10 fps times the stride: frames of different
/// cameras closer than this are the same instant.
fn frame_tolerance_s(every: u32) -> f64 {
    0.05 * f64::from(every.max(1))
}

fn open_captures(
    layout: &StoreLayout,
    recording: &Recording,
    opts: &TrackOptions,
) -> Result<Vec<CaptureHandle>, PipelineError> {
    let metrics = VisionMetrics::default();
    let mut out = Vec::new();
    for (&index, file) in &recording.files {
        let Some((id, cam)) = layout.camera_by_file_index(index) else {
            return Err(PipelineError::UnmappedCamera { file: file.clone(), index });
        };
        let config = CaptureConfig {
            camera: id.clone(),
            source: Source::File(file.clone()),
            start_unix: Some(opts.start_unix),
            queue: 4,
            every: opts.every.max(1),
        };
        let handle = capture::open(config, Some(metrics.clone()))?;
        if (handle.info.width, handle.info.height) != (cam.width, cam.height) {
            return Err(PipelineError::FrameSize {
                file: file.clone(),
                camera: id.clone(),
                got: format!("{}x{}", handle.info.width, handle.info.height),
                want: format!("{}x{}", cam.width, cam.height),
            });
        }
        out.push(handle);
    }
    Ok(out)
}

/// Runs the pose model (and the embedder) on each frame; the observations
/// and, for each, the frame number it came from.
fn detect(models: &mut Models, frames: &[CapturedFrame]) -> Result<(Vec<CameraObservation>, Vec<u64>), ModelError> {
    let (mut out, mut frame_of) = (Vec::new(), Vec::new());
    for f in frames {
        let Decoded::People(people) = models.pose.infer(Frame::from(&f.image))? else {
            return Err(ModelError::Frame(format!("{} is not a pose model", models.pose.manifest().name)));
        };
        for person in people {
            let appearance = match (&mut models.appearance, torso_box(&person, &f.image)) {
                (Some(m), Some(b)) => Some(m.embed_region(&f.image, b)?),
                _ => None,
            };
            let hand_crops = match (&mut models.appearance, &models.gallery) {
                (Some(m), Some(g)) => crops_of(&person, &f.image, m, g)?,
                _ => Vec::new(),
            };
            out.push(CameraObservation { camera: f.camera.clone(), person, appearance, hand_crops });
            frame_of.push(f.index);
        }
    }
    Ok((out, frame_of))
}

/// The clothing region: shoulders to hips when those are seen, else the top
/// half of the person's box; `None` when smaller than 8 x 8 px.
pub fn torso_box(person: &Person, image: &RgbImage) -> Option<BoxPx> {
    let pts: Vec<(f32, f32)> = [5, 6, 11, 12]
        .iter()
        .filter_map(|&i| person.keypoints.get(i))
        .filter(|k| k.visible)
        .map(|k| (k.x, k.y))
        .collect();
    let b = if pts.len() >= 3 {
        let (x0, x1) = pts.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
        let (y0, y1) = pts.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
        let pad = 0.15 * (x1 - x0).max(y1 - y0);
        BoxPx { x0: x0 - pad, y0: y0 - pad, x1: x1 + pad, y1: y1 + pad }
    } else {
        let bb = person.bbox;
        BoxPx { y1: bb.y0 + bb.height() / 2.0, ..bb }
    };
    let (w, h) = (image.width() as f32, image.height() as f32);
    let clipped = BoxPx { x0: b.x0.max(0.0), y0: b.y0.max(0.0), x1: b.x1.min(w), y1: b.y1.min(h) };
    (clipped.width() >= 8.0 && clipped.height() >= 8.0).then_some(clipped)
}

/// Merges the cameras' frame queues by timestamp: each group holds at most
/// one frame per camera, all within `tolerance` of the group's earliest.
struct Aligner {
    captures: Vec<CaptureHandle>,
    heads: Vec<Option<CapturedFrame>>,
    done: Vec<bool>,
    tolerance: f64,
}

impl Aligner {
    fn new(captures: Vec<CaptureHandle>, tolerance: f64) -> Self {
        let n = captures.len();
        Self { captures, heads: vec![None; n], done: vec![false; n], tolerance }
    }

    fn next_group(&mut self) -> Result<Option<Vec<CapturedFrame>>, CaptureError> {
        for (i, cap) in self.captures.iter().enumerate() {
            if self.heads[i].is_none() && !self.done[i] {
                match cap.frames.recv() {
                    Ok(Ok(frame)) => self.heads[i] = Some(frame),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => self.done[i] = true,
                }
            }
        }
        let Some(t0) = self.heads.iter().flatten().map(|f| f.t).min_by(f64::total_cmp) else { return Ok(None) };
        let group = self
            .heads
            .iter_mut()
            .filter(|h| h.as_ref().is_some_and(|f| f.t - t0 <= self.tolerance))
            .filter_map(Option::take)
            .collect();
        Ok(Some(group))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_names_give_recording_and_camera_index() {
        assert_eq!(parse_video_name("cps-test-01-nodepth-cam5.mp4"), Some(("cps-test-01-nodepth-".into(), 5)));
        assert_eq!(parse_video_name("cps-test-2-all-cam6.MP4"), Some(("cps-test-2-all-".into(), 6)));
        assert_eq!(parse_video_name("notes.txt"), None);
        assert_eq!(parse_video_name("camX.mp4"), None);
    }

    #[test]
    fn recordings_are_grouped_and_the_largest_comes_first() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["a-cam1.mp4", "a-cam3.mp4", "b-cam6.mp4", "readme.md"] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let all = find_recordings(dir.path()).unwrap();
        assert_eq!(all.iter().map(|r| (r.name.as_str(), r.files.len())).collect::<Vec<_>>(), [("a-", 2), ("b-", 1)]);
        assert_eq!(pick_recording(dir.path(), Some("b-")).unwrap().files.keys().copied().collect::<Vec<_>>(), [6]);
        let err = pick_recording(dir.path(), Some("c-")).unwrap_err().to_string();
        assert!(err.contains("a-, b-"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(pick_recording(empty.path(), None), Err(PipelineError::NoVideos(_))));
    }

    #[test]
    fn json_line_rounds_and_keeps_the_issue_format() {
        let step = StepReport {
            t: 1580250245.2500002,
            tracks: vec![TrackState {
                id: "t1".into(),
                x: 1.23456,
                y: -0.5,
                hands: vec![[1.0, 2.0, 0.98765]],
                hand_crops: vec![],
                conf: 0.81234,
                appearance: Some(vec![1.0, 0.0]),
            }],
            cameras: vec![],
            detections: vec![],
        };
        assert_eq!(
            json_line(&step),
            r#"{"t":1580250245.25,"tracks":[{"id":"t1","x":1.235,"y":-0.5,"hands":[[1.0,2.0,0.988]],"conf":0.812}]}"#
        );
    }
}
