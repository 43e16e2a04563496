//! `walkout bench vision`: per-stage throughput of the vision pipeline on
//! the AiFi test-1 videos, one thread, in frames per second per core:
//! decode (OpenCV `VideoCapture` + BGR -> RGB), pre-processing (the
//! manifest-driven `model::preprocess` and the input tensor), inference
//! (MoveNet MultiPose through `ort`, one intra-op thread), post-processing
//! (reading the output and the pure decoder) and tracking (the floor
//! tracker, one update per frame time for all cameras). Beside it, the
//! reference: the same model run by Python's `onnxruntime` on the same
//! pre-processed input tensors in the same run (`scripts/ort_reference.py`,
//! also one thread), timing inference only. Their outputs are compared, so
//! the two runtimes demonstrably ran the same model on the same input.

use crate::ids::CameraId;
use crate::layout::StoreLayout;
use crate::vision::decode::{self, Decoded, RawOutputs, RawTensor};
use crate::vision::manifest::Manifest;
use crate::vision::model::{self, Frame, InputData};
use crate::vision::pipeline::pick_recording;
use crate::vision::tracker::{CameraObservation, Tracker, TrackerParams};
use image::RgbImage;
use opencv::prelude::*;
use opencv::{core::Mat, imgproc, videoio};
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::Tensor;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod npy;
mod reference;

pub use reference::Reference;
use reference::run_reference;

#[derive(Clone, Debug)]
pub struct VisionBenchOptions {
    /// Folder of one recording's `<name>camK.mp4` files.
    pub videos: PathBuf,
    /// Calibration folder; default: the AiFi store imported from `<videos>/..`.
    pub calibration: Option<PathBuf>,
    /// Frame times per camera.
    pub frames: usize,
    pub model: PathBuf,
    /// The Python of the reference's environment (`make bench-setup`).
    pub python: PathBuf,
    pub script: PathBuf,
    /// ONNX Runtime library path from the config (empty: the default lookup).
    pub onnxruntime: String,
}

/// One stage's figures over all frames. "Per core" figures use the
/// process's CPU time (what the cores spent on it, FFmpeg's decoding threads
/// included, whatever else the machine ran); the wall-clock figure is beside it.
#[derive(Debug, Default, Serialize)]
pub struct Stage {
    pub frames_per_s_per_core: f64,
    pub median_ms_per_frame: f64,
    pub cpu_s: f64,
    pub wall_frames_per_s: f64,
}

#[derive(Debug, Serialize)]
pub struct Stages {
    pub decode: Stage,
    pub preprocess: Stage,
    pub inference: Stage,
    pub postprocess: Stage,
    /// Per frame: one tracker update per frame time, divided over its frames.
    pub tracking: Stage,
}

#[derive(Debug, Serialize)]
pub struct VisionBenchReport {
    pub build: &'static str,
    pub model: String,
    pub recording: String,
    /// File index -> camera id of the videos used.
    pub cameras: BTreeMap<u32, CameraId>,
    pub frame_times: usize,
    pub frames: usize,
    pub threads: u32,
    pub stages: Stages,
    /// All five stages together: the whole pipeline's frames per second on one core.
    pub rust_total_frames_per_s_per_core: f64,
    /// Share of the Rust pipeline's time spent outside `session.run`.
    pub rust_share_outside_inference: f64,
    pub reference: Reference,
    /// `rust_total_frames_per_s_per_core / reference.inference_frames_per_s_per_core` (goal >= 0.9).
    pub ratio_rust_total_to_reference_inference: f64,
    /// The same ratio by wall-clock time (sensitive to whatever else runs).
    pub wall_ratio_rust_total_to_reference_inference: f64,
    /// Rust inference alone against the reference's, by CPU time.
    pub ratio_rust_inference_to_reference_inference: f64,
    /// Largest |Rust output - Python output| over all frames (same model, same input).
    pub max_output_difference: f32,
    pub people_detected: usize,
    pub tracks_at_end: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum VisionBenchError {
    #[error(transparent)]
    Pipeline(#[from] crate::vision::pipeline::PipelineError),
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
    #[error(transparent)]
    Model(#[from] crate::vision::model::ModelError),
    #[error(transparent)]
    Manifest(#[from] crate::vision::manifest::ManifestError),
    #[error("{0}")]
    Setup(String),
    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),
    #[error("ort: {0}")]
    Ort(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the reference ({0}) failed: {1}")]
    Reference(String, String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VisionBenchError + '_ {
    move |source| VisionBenchError::Io { path: path.to_owned(), source }
}

fn ort_err(e: impl std::fmt::Display) -> VisionBenchError {
    VisionBenchError::Ort(e.to_string())
}

/// The layout to track in: the given calibration, or the AiFi store imported
/// into `scratch` from the data set the videos come from.
fn layout_for(opts: &VisionBenchOptions, scratch: &Path) -> Result<StoreLayout, VisionBenchError> {
    if let Some(dir) = &opts.calibration {
        return Ok(StoreLayout::load(dir)?);
    }
    let data = opts.videos.join("..");
    let (meta, products) = (data.join("store_meta"), data.join("products-cps-test-01.csv"));
    if !meta.is_dir() || !products.is_file() {
        return Err(VisionBenchError::Setup(format!(
            "no --calibration given and {} is not the AiFi data set (store_meta/, products-cps-test-01.csv)",
            data.display()
        )));
    }
    let out = scratch.join("aifi-nanostore");
    crate::layout::import_aifi(&meta, &products, &out)?;
    Ok(StoreLayout::load(&out)?)
}

/// One intra-op thread, sequential execution, all graph optimisations: the
/// settings the reference uses too.
fn single_thread_session(manifest_path: &Path, onnxruntime: &str) -> Result<(Manifest, Session), VisionBenchError> {
    let manifest = Manifest::load(manifest_path)?;
    let file = manifest.verify_model(manifest_path.parent().unwrap_or(Path::new(".")))?;
    let env = model::environment(onnxruntime)?;
    let session = Session::builder(env)
        .map_err(ort_err)?
        .with_intra_threads(1)
        .map_err(ort_err)?
        .with_inter_threads(1)
        .map_err(ort_err)?
        .with_parallel_execution(false)
        .map_err(ort_err)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(ort_err)?
        .commit_from_file(&file)
        .map_err(ort_err)?;
    Ok((manifest, session))
}

/// Reads the next frame as RGB; `None` at the end of the file.
fn decode_next(cap: &mut videoio::VideoCapture, bgr: &mut Mat) -> Result<Option<RgbImage>, VisionBenchError> {
    if !cap.read(bgr)? || bgr.empty() {
        return Ok(None);
    }
    let mut rgb = Mat::default();
    imgproc::cvt_color_def(bgr, &mut rgb, imgproc::COLOR_BGR2RGB)?;
    let (w, h) = (rgb.cols() as u32, rgb.rows() as u32);
    let bytes = rgb.data_bytes()?.to_vec();
    RgbImage::from_raw(w, h, bytes)
        .map(Some)
        .ok_or_else(|| VisionBenchError::Setup("frame buffer of the wrong size".into()))
}

/// Per-frame (wall, CPU) seconds of each stage.
#[derive(Default)]
struct Timings {
    decode: Vec<(f64, f64)>,
    preprocess: Vec<(f64, f64)>,
    inference: Vec<(f64, f64)>,
    postprocess: Vec<(f64, f64)>,
    tracking: Vec<(f64, f64)>,
}

/// The process's CPU time (all its threads), seconds.
fn process_cpu_s() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// A started measurement of wall and process CPU time.
struct Stopwatch(Instant, f64);

impl Stopwatch {
    fn start() -> Self {
        Stopwatch(Instant::now(), process_cpu_s())
    }

    fn read(&self) -> (f64, f64) {
        (self.0.elapsed().as_secs_f64(), process_cpu_s() - self.1)
    }
}

fn timed<T>(into: &mut Vec<(f64, f64)>, f: impl FnOnce() -> T) -> T {
    let watch = Stopwatch::start();
    let out = f();
    into.push(watch.read());
    out
}

fn stage(per_frame: &[(f64, f64)]) -> Stage {
    let wall: f64 = per_frame.iter().map(|t| t.0).sum();
    let cpu_s: f64 = per_frame.iter().map(|t| t.1).sum();
    let mut sorted: Vec<f64> = per_frame.iter().map(|t| t.1).collect();
    sorted.sort_by(f64::total_cmp);
    let n = per_frame.len() as f64;
    Stage {
        frames_per_s_per_core: n / cpu_s,
        median_ms_per_frame: super::median(&sorted) * 1000.0,
        cpu_s,
        wall_frames_per_s: n / wall,
    }
}

/// What the Rust side measured and kept for the comparison.
struct RustRun {
    timings: Timings,
    outputs: Vec<Vec<f32>>,
    people: usize,
    tracks_at_end: usize,
    frames: usize,
}

/// Runs the Rust pipeline on `frames` frame times of every camera, writing
/// each input tensor (as bytes: MoveNet's int32 input holds 0-255) to `npy`.
fn run_rust(
    opts: &VisionBenchOptions,
    layout: &StoreLayout,
    files: &BTreeMap<u32, (CameraId, PathBuf)>,
    npy: &mut npy::Writer,
) -> Result<RustRun, VisionBenchError> {
    let (manifest, mut session) = single_thread_session(&opts.model, &opts.onnxruntime)?;
    warm_up(&manifest, &mut session)?;
    let mut caps = Vec::new();
    for (id, path) in files.values() {
        let cap = videoio::VideoCapture::from_file(path, videoio::CAP_ANY)?;
        if !cap.is_opened()? {
            return Err(VisionBenchError::Setup(format!("OpenCV cannot open {}", path.display())));
        }
        caps.push((id.clone(), cap, Mat::default()));
    }
    let mut tracker = Tracker::new(layout, TrackerParams::default());
    let (mut t, mut outputs, mut people) = (Timings::default(), Vec::new(), 0);
    let output_name = manifest.outputs[0].clone();
    for step in 0..opts.frames {
        let mut observations = Vec::new();
        let mut frames_in_step = 0;
        for (id, cap, bgr) in caps.iter_mut() {
            let watch = Stopwatch::start();
            let Some(rgb) = decode_next(cap, bgr)? else { continue };
            t.decode.push(watch.read());
            let watch = Stopwatch::start();
            let prepared = model::preprocess(&manifest.input, Frame::from(&rgb))?;
            let mut spent = watch.read();
            let InputData::I32(values) = prepared.data else {
                return Err(VisionBenchError::Setup(format!("{} does not take int32 input", manifest.name)));
            };
            npy.append(&values)?; // the reference's copy, outside the timings
            let watch = Stopwatch::start();
            let tensor = Tensor::from_array((prepared.shape.to_vec(), values)).map_err(ort_err)?;
            let more = watch.read();
            spent = (spent.0 + more.0, spent.1 + more.1);
            t.preprocess.push(spent);
            let run = timed(&mut t.inference, || {
                session.run(ort::inputs![manifest.input.name.as_str() => tensor]).map_err(ort_err)
            })?;
            let found = timed(&mut t.postprocess, || -> Result<_, VisionBenchError> {
                let (shape, data) = run[output_name.as_str()].try_extract_tensor::<f32>().map_err(ort_err)?;
                let raw =
                    RawTensor { shape: shape.iter().map(|d| (*d).max(0) as usize).collect(), data: data.to_vec() };
                let raw = RawOutputs { transform: prepared.transform, tensors: [(output_name.clone(), raw)].into() };
                let decoded = decode::decode(&manifest, &raw).map_err(model::ModelError::from)?;
                Ok((decoded, raw.tensors.into_values().next().map(|r| r.data).unwrap_or_default()))
            })?;
            drop(run);
            let (Decoded::People(found), data) = found else {
                return Err(VisionBenchError::Setup(format!("{} is not a pose model", manifest.name)));
            };
            outputs.push(data);
            people += found.len();
            observations.extend(found.into_iter().map(|person| CameraObservation {
                camera: id.clone(),
                person,
                appearance: None,
                hand_crops: Vec::new(),
            }));
            frames_in_step += 1;
        }
        if frames_in_step == 0 {
            break;
        }
        let mut step_time = Vec::new();
        timed(&mut step_time, || tracker.update(step as f64 / 10.0, &observations));
        // the step's time, shared by the frames it consumed
        let share = (step_time[0].0 / frames_in_step as f64, step_time[0].1 / frames_in_step as f64);
        t.tracking.extend(std::iter::repeat_n(share, frames_in_step));
    }
    let frames = t.decode.len().min(outputs.len());
    Ok(RustRun { timings: t, outputs, people, tracks_at_end: tracker.all_tracks().len(), frames })
}

/// Three runs on a black frame before timing (the reference warms up too).
fn warm_up(manifest: &Manifest, session: &mut Session) -> Result<(), VisionBenchError> {
    let black = RgbImage::new(640, 360);
    for _ in 0..3 {
        let p = model::preprocess(&manifest.input, Frame::from(&black))?;
        let InputData::I32(v) = p.data else { return Ok(()) };
        let tensor = Tensor::from_array((p.shape.to_vec(), v)).map_err(ort_err)?;
        session.run(ort::inputs![manifest.input.name.as_str() => tensor]).map_err(ort_err)?;
    }
    Ok(())
}

pub fn run(opts: &VisionBenchOptions) -> Result<VisionBenchReport, VisionBenchError> {
    if opts.frames == 0 {
        return Err(VisionBenchError::Setup("--frames must be at least 1".into()));
    }
    if !opts.python.is_file() || !opts.script.is_file() {
        return Err(VisionBenchError::Setup(format!(
            "the reference needs {} and {}: `make bench-setup` installs its Python environment (onnxruntime, numpy)",
            opts.python.display(),
            opts.script.display()
        )));
    }
    let scratch = tempfile::tempdir().map_err(io(Path::new("temporary folder")))?;
    let layout = layout_for(opts, scratch.path())?;
    let recording = pick_recording(&opts.videos, None)?;
    let mut files = BTreeMap::new();
    for (index, path) in &recording.files {
        let (id, _) = layout
            .camera_by_file_index(*index)
            .ok_or_else(|| VisionBenchError::Setup(format!("{}: no camera has file_index {index}", path.display())))?;
        files.insert(*index, (id.clone(), path.clone()));
    }
    let inputs = scratch.path().join("inputs.npy");
    let mut writer = npy::Writer::create(&inputs, [384, 640, 3])?;
    let rust = run_rust(opts, &layout, &files, &mut writer)?;
    writer.finish()?;
    let outputs_path = scratch.path().join("outputs.npy");
    let reference = run_reference(opts, &inputs, &outputs_path)?;
    let python_outputs = npy::read_f32(&outputs_path)?;
    let per_frame = python_outputs.len() / rust.frames.max(1);
    let max_output_difference = rust
        .outputs
        .iter()
        .zip(python_outputs.chunks(per_frame.max(1)))
        .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0_f32, f32::max);
    let t = &rust.timings;
    let stages = Stages {
        decode: stage(&t.decode),
        preprocess: stage(&t.preprocess),
        inference: stage(&t.inference),
        postprocess: stage(&t.postprocess),
        tracking: stage(&t.tracking),
    };
    let all = [&stages.decode, &stages.preprocess, &stages.inference, &stages.postprocess, &stages.tracking];
    let total_cpu: f64 = all.iter().map(|s| s.cpu_s).sum();
    let total_wall: f64 = all.iter().map(|s| rust.frames as f64 / s.wall_frames_per_s).sum();
    let rust_total = rust.frames as f64 / total_cpu;
    Ok(VisionBenchReport {
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        model: opts.model.display().to_string(),
        recording: recording.name,
        cameras: files.iter().map(|(k, (id, _))| (*k, id.clone())).collect(),
        frame_times: opts.frames,
        frames: rust.frames,
        threads: 1,
        rust_total_frames_per_s_per_core: rust_total,
        rust_share_outside_inference: 1.0 - stages.inference.cpu_s / total_cpu,
        ratio_rust_total_to_reference_inference: rust_total / reference.inference_frames_per_s_per_core,
        wall_ratio_rust_total_to_reference_inference: rust.frames as f64 / total_wall / reference.wall_frames_per_s,
        ratio_rust_inference_to_reference_inference: stages.inference.frames_per_s_per_core
            / reference.inference_frames_per_s_per_core,
        stages,
        reference,
        max_output_difference,
        people_detected: rust.people,
        tracks_at_end: rust.tracks_at_end,
    })
}
