//! Vision capture and tracking through the public API.
//!
//! - Capture on a video written here with OpenCV: stream timestamps plus the
//!   start time, frame stride, the live drop-oldest policy and its counters,
//!   clear errors for a missing or unreadable file.
//! - `walkout vision track` on the four AiFi test-1 videos with the imported
//!   calibration: one shopper -> one track from entry to exit, cross-camera
//!   floor agreement (median and 90th percentile printed), coverage of the
//!   frames in which a camera sees the shopper. Skips, saying why, when the
//!   AiFi data or ONNX Runtime is absent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use opencv::core::{Mat, Scalar, Size};
use opencv::prelude::*;
use opencv::videoio;
use walkout::ids::CameraId;
use walkout::telemetry::VisionMetrics;
use walkout::vision::capture::{self, CaptureConfig, CaptureError, Source};
use walkout::vision::pipeline::{self, StepReport, TrackOptions};
use walkout::vision::tracker::{Fate, TrackerParams};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/aifi-nanostore");
/// Test 1 starts at the first weight sample's time.
const TEST1_START: f64 = 1580250245.15;

/// Writes `n` frames of 64x48 at 10 fps whose grey level is 10 * index.
fn write_video(path: &Path, n: usize) {
    let fourcc = videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut w = videoio::VideoWriter::new(path.to_str().unwrap(), fourcc, 10.0, Size::new(64, 48), true).unwrap();
    assert!(w.is_opened().unwrap(), "OpenCV cannot write MJPG");
    for i in 0..n {
        let v = 10.0 * i as f64;
        let frame = Mat::new_rows_cols_with_default(48, 64, opencv::core::CV_8UC3, Scalar::new(v, v, v, 0.0)).unwrap();
        w.write(&frame).unwrap();
    }
    w.release().unwrap();
}

fn config(path: &Path, start: Option<f64>, queue: usize, every: u32) -> CaptureConfig {
    CaptureConfig {
        camera: CameraId::from("c1"),
        source: Source::File(path.to_owned()),
        start_unix: start,
        queue,
        every,
    }
}

#[test]
fn capture_stamps_frames_from_the_stream_and_start_time() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("rec-cam1.avi");
    write_video(&video, 25);
    let metrics = VisionMetrics::default();
    let handle = capture::open(config(&video, Some(1000.0), 2, 1), Some(metrics.clone())).unwrap();
    assert_eq!((handle.info.width, handle.info.height), (64, 48));
    let frames: Vec<_> = handle.frames.iter().map(|f| f.unwrap()).collect();
    assert_eq!(frames.len(), 25, "a file source blocks instead of dropping");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.index, i as u64);
        assert!((f.t - (1000.0 + 0.1 * i as f64)).abs() < 1e-6, "frame {i} at {}", f.t);
        let grey = f.image.get_pixel(32, 24)[0] as f64;
        assert!((grey - 10.0 * i as f64).abs() < 6.0, "frame {i} grey {grey}");
    }
    assert_eq!(metrics.frames_count("c1"), 25);
    assert_eq!(metrics.dropped_count("c1", "queue_full"), 0);

    let every3 = capture::open(config(&video, Some(0.0), 4, 3), None).unwrap();
    let idx: Vec<u64> = every3.frames.iter().map(|f| f.unwrap().index).collect();
    assert_eq!(idx, (0..25).step_by(3).collect::<Vec<u64>>());
}

#[test]
fn a_live_source_drops_the_oldest_frames_when_the_consumer_is_slow() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("live.avi");
    write_video(&video, 25);
    let metrics = VisionMetrics::default();
    // A file opened as a live source: it cannot be paused, and its end looks
    // like a stream that stopped sending.
    let cfg = CaptureConfig { source: Source::Live(video.to_str().unwrap().to_owned()), ..config(&video, None, 2, 1) };
    let handle = capture::open(cfg, Some(metrics.clone())).unwrap();
    // Nobody reads until the stream has given up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !handle.is_finished() {
        assert!(std::time::Instant::now() < deadline, "the live capture did not give up");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let items: Vec<_> = handle.frames.iter().collect();
    assert_eq!(items.len(), 2, "the queue holds the newest two items");
    assert_eq!(items[0].as_ref().unwrap().index, 24, "the newest frame survives");
    assert!(matches!(items[1], Err(CaptureError::Stalled { .. })), "{:?}", items[1].as_ref().err());
    assert_eq!(metrics.frames_count("c1"), 25);
    assert_eq!(metrics.dropped_count("c1", "queue_full"), 24);
    assert_eq!(metrics.dropped_count("c1", "bad_frame"), u64::from(capture::LIVE_MAX_BAD_READS));
}

#[test]
fn odd_videos_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = capture::open(config(&dir.path().join("nope.mp4"), None, 2, 1), None).err().unwrap();
    assert!(matches!(missing, CaptureError::Missing { .. }), "{missing}");
    assert!(missing.to_string().contains("nope.mp4"), "{missing}");
    let junk = dir.path().join("junk-cam1.mp4");
    std::fs::write(&junk, b"this is not a video").unwrap();
    let err = capture::open(config(&junk, None, 2, 1), None).err().unwrap();
    assert!(matches!(err, CaptureError::Open { .. } | CaptureError::NoFrames { .. }), "{err}");
    assert!(err.to_string().contains("junk-cam1.mp4"), "{err}");
}

/// The AiFi data and ONNX Runtime, or `None` after saying which is missing.
fn aifi_ready() -> Option<PathBuf> {
    let data = PathBuf::from(DATA);
    if !data.join("video/cps-test-01-nodepth-cam1.mp4").is_file() {
        println!("SKIPPED: AiFi test-1 videos not found under {DATA}/video");
        return None;
    }
    if let Err(e) = walkout::vision::model::environment("") {
        println!("SKIPPED: ONNX Runtime cannot be loaded: {e}");
        return None;
    }
    Some(data)
}

/// Per step: the floor points on the store floor, by camera.
fn floor_points(step: &StepReport) -> BTreeMap<CameraId, Vec<[f64; 2]>> {
    let mut out: BTreeMap<CameraId, Vec<[f64; 2]>> = BTreeMap::new();
    for d in &step.detections {
        let o = &d.outcome;
        if let (Some(fp), false) = (o.floor, matches!(o.fate, Fate::OutsideFloor | Fate::NoFloorPoint)) {
            out.entry(o.camera.clone()).or_default().push([fp.x, fp.y]);
        }
    }
    out
}

/// For every pair of cameras seeing someone on the floor at the same
/// instant, the distance between their nearest floor points.
fn cross_camera_distances(steps: &[StepReport]) -> Vec<f64> {
    let mut out = Vec::new();
    for step in steps {
        let by_cam: Vec<Vec<[f64; 2]>> = floor_points(step).into_values().collect();
        for (i, a) in by_cam.iter().enumerate() {
            for b in &by_cam[i + 1..] {
                let d = a.iter().flat_map(|p| b.iter().map(move |q| (p[0] - q[0]).hypot(p[1] - q[1])));
                out.push(d.fold(f64::INFINITY, f64::min));
            }
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Every fourth frame time (2.5 Hz: 85 frame times, 340 MoveNet runs of
/// ~0.2 s) keeps the run near a minute on two cores;
/// `WALKOUT_TRACK_EVERY=1` checks every frame.
fn every() -> u32 {
    std::env::var("WALKOUT_TRACK_EVERY").ok().and_then(|v| v.parse().ok()).filter(|n| *n >= 1).unwrap_or(4)
}

#[test]
fn test1_single_shopper_is_one_track_from_entry_to_exit() {
    let Some(data) = aifi_ready() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let calibration = tmp.path().join("aifi-nanostore");
    walkout::layout::import_aifi(&data.join("store_meta"), &data.join("products-cps-test-01.csv"), &calibration)
        .expect("import");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = TrackOptions {
        videos: data.join("video"),
        recording: Some("cps-test-01-nodepth-".into()),
        calibration,
        start_unix: TEST1_START,
        model: root.join("models/movenet-multipose.toml"),
        appearance_model: Some(root.join("models/mobilenetv2-embed.toml")),
        hand_gallery: None,
        every: every(),
        onnxruntime: String::new(),
        params: TrackerParams::default(),
    };
    let mut steps = Vec::new();
    let summary = pipeline::run(&opts, |s| {
        steps.push(s.clone());
        Ok(())
    })
    .expect("pipeline");
    println!("summary: {}", serde_json::to_string(&summary).unwrap());
    assert_eq!(summary.cameras.len(), 4, "{:?}", summary.cameras);
    assert!((steps[0].t - TEST1_START).abs() < 1e-6, "first frame time {}", steps[0].t);
    let complete = steps.iter().filter(|s| s.cameras.len() == 4).count();
    // the four files differ by at most a frame in length
    assert!(complete + 1 >= steps.len(), "{complete} of {} frame times have all four cameras", steps.len());

    let distances = cross_camera_distances(&steps);
    let (median, p90) = (percentile(&distances, 0.5), percentile(&distances, 0.9));
    println!("cross-camera floor agreement: {} pairs, median {median:.2} m, p90 {p90:.2} m", distances.len());
    let seen: Vec<&StepReport> = steps.iter().filter(|s| !floor_points(s).is_empty()).collect();
    let tracked = seen.iter().filter(|s| !s.tracks.is_empty()).count();
    let coverage = tracked as f64 / seen.len().max(1) as f64;
    let ids: BTreeSet<String> = steps.iter().flat_map(|s| s.tracks.iter().map(|t| t.id.to_string())).collect();
    println!(
        "frame times with the shopper on the floor: {}, tracked: {tracked} ({coverage:.3}), track ids {ids:?}",
        seen.len()
    );
    for s in &steps {
        let seen: Vec<String> = s
            .detections
            .iter()
            .map(|d| {
                let o = &d.outcome;
                let at = o.floor.map(|f| format!("({:.2}, {:.2})", f.x, f.y)).unwrap_or_default();
                format!("cam {} {at} {:?} {}", o.camera, o.fate, o.track.as_ref().map(|t| t.as_str()).unwrap_or(""))
            })
            .collect();
        println!("t+{:.1} {} | {}", s.t - TEST1_START, pipeline::json_line(s), seen.join("; "));
    }
    assert!(!seen.is_empty(), "no camera saw anyone on the floor");
    assert_eq!(ids.len(), 1, "one shopper, one track id: {ids:?}");
    assert!(coverage >= 0.9, "tracked in {coverage:.3} of the frame times in which a camera sees the shopper");
    assert!(p90 <= 0.5, "cross-camera floor agreement: median {median:.2} m, p90 {p90:.2} m (criterion 0.5 m)");
}
