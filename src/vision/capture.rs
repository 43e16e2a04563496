//! Frame capture: OpenCV `VideoCapture` (FFmpeg) for recorded files and live
//! streams (RTSP/HTTP URLs), one thread per camera, each feeding a bounded
//! queue of RGB frames with timestamps.
//!
//! - **Timestamps** come from the stream (`CAP_PROP_POS_MSEC`, the position
//!   of the frame just read). A recording adds its configured start time
//!   (unix seconds of its first frame); a live stream anchors its first frame
//!   to the wall clock and follows the stream's clock from there (re-anchoring
//!   if the two drift apart by more than [`LIVE_REANCHOR_S`]).
//! - **Back-pressure**: a file source blocks when its queue is full (nothing
//!   is lost: the file waits). A live source cannot wait, so when the
//!   consumer is slow it drops the **oldest** queued frame to make room for
//!   the newest (fresh frames matter more than complete ones) and counts it
//!   (`walkout_vision_frames_dropped_total{camera, cause="queue_full"}`).
//! - **Bad input** never panics: a missing file, a stream that does not open
//!   or yields no frame fails [`open`] with a [`CaptureError`] naming it; an
//!   empty (zero-size) frame ends a file and is counted and skipped on a live
//!   stream (`cause="bad_frame"`), which gives up after
//!   [`LIVE_MAX_BAD_READS`] failures in a row.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError, bounded};
use image::RgbImage;
use opencv::core::Mat;
use opencv::prelude::*;
use opencv::{imgproc, videoio};

use crate::ids::CameraId;
use crate::telemetry::VisionMetrics;

/// A live stream whose clock strays this far from the wall clock is re-anchored.
pub const LIVE_REANCHOR_S: f64 = 5.0;
/// Failed or empty reads in a row after which a live stream is given up.
pub const LIVE_MAX_BAD_READS: u32 = 50;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("camera {camera}: video file {path} does not exist")]
    Missing { camera: CameraId, path: PathBuf },
    #[error("camera {camera}: cannot open {source_name}")]
    Open { camera: CameraId, source_name: String },
    #[error("camera {camera}: {source_name} opened but yields no frame")]
    NoFrames { camera: CameraId, source_name: String },
    #[error("camera {camera}: {source_name}: frame {index} is not 8-bit BGR ({detail})")]
    BadFrame { camera: CameraId, source_name: String, index: u64, detail: String },
    #[error("camera {camera}: {source_name}: OpenCV: {reason}")]
    OpenCv { camera: CameraId, source_name: String, reason: String },
    #[error("camera {camera}: {source_name}: {n} bad reads in a row, giving up")]
    Stalled { camera: CameraId, source_name: String, n: u32 },
    #[error("camera {camera}: the capture thread could not start: {reason}")]
    Thread { camera: CameraId, reason: String },
}

/// Where frames come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// A URL (`rtsp://`, `http://`, ...): a live camera.
    Live(String),
}

impl Source {
    /// A URL (anything with `://`) is live, anything else a file path.
    pub fn parse(s: &str) -> Self {
        if s.contains("://") { Source::Live(s.to_owned()) } else { Source::File(PathBuf::from(s)) }
    }

    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Live(url) => url.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CaptureConfig {
    pub camera: CameraId,
    pub source: Source,
    /// Unix seconds of a recording's first frame (ignored for live streams;
    /// a recording without one starts at 0).
    pub start_unix: Option<f64>,
    /// Frames the queue holds (at least 1).
    pub queue: usize,
    /// Deliver every n-th frame (1 = all); the others are grabbed but not
    /// converted.
    pub every: u32,
}

/// One delivered frame.
#[derive(Clone, Debug)]
pub struct CapturedFrame {
    pub camera: CameraId,
    /// 0-based number of the frame in the stream.
    pub index: u64,
    /// Unix seconds.
    pub t: f64,
    pub image: RgbImage,
}

/// What the stream says about itself at opening (0 where it does not say).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct StreamInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frame_count: u64,
}

/// Frame clock: stream position to unix seconds.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamClock {
    /// A recording: start + position.
    Recording { start_unix: f64 },
    /// A live stream: anchored to the wall clock at (stream ms, unix s).
    Live { anchor: Option<(f64, f64)> },
}

impl StreamClock {
    /// The time of a frame at stream position `pos_ms` (`fallback_ms`, e.g.
    /// index / fps, when the stream reports none), read at wall time `now`.
    pub fn stamp(&mut self, pos_ms: f64, fallback_ms: f64, now: f64) -> f64 {
        let pos = if pos_ms.is_finite() && pos_ms >= 0.0 { Some(pos_ms) } else { None };
        match self {
            StreamClock::Recording { start_unix } => *start_unix + pos.unwrap_or(fallback_ms) / 1000.0,
            StreamClock::Live { anchor } => {
                let Some(pos) = pos else { return now };
                if let Some((a_ms, a_unix)) = *anchor {
                    let t = a_unix + (pos - a_ms) / 1000.0;
                    if pos > a_ms && (t - now).abs() <= LIVE_REANCHOR_S {
                        return t;
                    }
                }
                *anchor = Some((pos, now));
                now
            }
        }
    }
}

/// A running capture: its frames arrive on `frames`; the channel closes at
/// the end of the stream (after an `Err` if it ended badly).
pub struct CaptureHandle {
    pub camera: CameraId,
    pub info: StreamInfo,
    pub frames: Receiver<Result<CapturedFrame, CaptureError>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CaptureHandle {
    /// Asks the thread to stop after its current frame.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the capture thread has ended (end of stream, error or stop).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl Drop for CaptureHandle {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now_unix() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Opens the source on its own thread and starts delivering frames; fails
/// (without a thread left running) when the source cannot be opened or
/// yields no first frame.
pub fn open(config: CaptureConfig, metrics: Option<VisionMetrics>) -> Result<CaptureHandle, CaptureError> {
    if let Source::File(path) = &config.source
        && !path.is_file()
    {
        return Err(CaptureError::Missing { camera: config.camera.clone(), path: path.clone() });
    }
    let (tx, rx) = bounded(config.queue.max(1));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let camera = config.camera.clone();
    let worker = Worker { config, metrics: metrics.unwrap_or_default(), tx, drain: rx.clone(), stop: stop.clone() };
    let thread = std::thread::Builder::new()
        .name(format!("capture-{camera}"))
        .spawn(move || worker.run(ready_tx))
        .map_err(|e| CaptureError::Thread { camera: camera.clone(), reason: e.to_string() })?;
    match ready_rx.recv() {
        Ok(Ok(info)) => Ok(CaptureHandle { camera, info, frames: rx, stop, thread: Some(thread) }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(CaptureError::Thread { camera, reason: "the capture thread ended before opening".into() })
        }
    }
}

type Ready = std::sync::mpsc::Sender<Result<StreamInfo, CaptureError>>;

struct Worker {
    config: CaptureConfig,
    metrics: VisionMetrics,
    tx: Sender<Result<CapturedFrame, CaptureError>>,
    /// The queue's own receiver, to drop the oldest frame of a live stream.
    drain: Receiver<Result<CapturedFrame, CaptureError>>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn err(&self, reason: opencv::Error) -> CaptureError {
        CaptureError::OpenCv {
            camera: self.config.camera.clone(),
            source_name: self.config.source.name(),
            reason: reason.to_string(),
        }
    }

    fn run(self, ready: Ready) {
        let (mut cap, info, first) = match self.start() {
            Ok(started) => started,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(info));
        let live = matches!(self.config.source, Source::Live(_));
        let mut clock = if live {
            StreamClock::Live { anchor: None }
        } else {
            StreamClock::Recording { start_unix: self.config.start_unix.unwrap_or(0.0) }
        };
        if let Err(e) = self.pump(&mut cap, info, first, &mut clock, live) {
            self.deliver(Err(e), live);
        }
    }

    /// Opens the source and reads its first frame.
    fn start(&self) -> Result<(videoio::VideoCapture, StreamInfo, Mat), CaptureError> {
        let (camera, name) = (self.config.camera.clone(), self.config.source.name());
        let mut cap = videoio::VideoCapture::from_file(&name, videoio::CAP_FFMPEG).map_err(|e| self.err(e))?;
        if !cap.is_opened().map_err(|e| self.err(e))? {
            return Err(CaptureError::Open { camera, source_name: name });
        }
        let mut first = Mat::default();
        let got = cap.read(&mut first).map_err(|e| self.err(e))?;
        if !got || first.empty() || first.cols() <= 0 || first.rows() <= 0 {
            return Err(CaptureError::NoFrames { camera, source_name: name });
        }
        let prop = |p| cap.get(p).unwrap_or(0.0);
        let info = StreamInfo {
            width: first.cols() as u32,
            height: first.rows() as u32,
            fps: prop(videoio::CAP_PROP_FPS).max(0.0),
            frame_count: prop(videoio::CAP_PROP_FRAME_COUNT).max(0.0) as u64,
        };
        Ok((cap, info, first))
    }

    /// Reads until the end of the stream, a stop request or a dead consumer.
    fn pump(
        &self,
        cap: &mut videoio::VideoCapture,
        info: StreamInfo,
        first: Mat,
        clock: &mut StreamClock,
        live: bool,
    ) -> Result<(), CaptureError> {
        let every = u64::from(self.config.every.max(1));
        let frame_ms = if info.fps > 0.0 { 1000.0 / info.fps } else { 100.0 };
        let (mut bgr, mut index) = (first, 0u64);
        loop {
            // `bgr` holds frame `index`, just read: the stream position is its own.
            if index % every == 0 {
                let pos_ms = cap.get(videoio::CAP_PROP_POS_MSEC).unwrap_or(f64::NAN);
                let t = clock.stamp(pos_ms, index as f64 * frame_ms, now_unix());
                self.metrics.frame(self.config.camera.as_str());
                let image = self.to_rgb(&bgr, index)?;
                let frame = CapturedFrame { camera: self.config.camera.clone(), index, t, image };
                if !self.deliver(Ok(frame), live) {
                    return Ok(());
                }
            }
            if !self.advance(cap, &mut bgr, (index + 1) % every == 0, live)? {
                return Ok(());
            }
            index += 1;
        }
    }

    /// Moves to the next frame, decoding it only when `want`ed. False at the
    /// end of a file or on a stop request; a live stream skips bad reads
    /// (counted) until it gives up.
    fn advance(
        &self,
        cap: &mut videoio::VideoCapture,
        bgr: &mut Mat,
        want: bool,
        live: bool,
    ) -> Result<bool, CaptureError> {
        let mut bad = 0u32;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let ok = (if want { cap.read(bgr) } else { cap.grab() }).map_err(|e| self.err(e))?;
            if ok && (!want || !bgr.empty()) {
                return Ok(true);
            }
            if !live {
                return Ok(false);
            }
            self.metrics.drop(self.config.camera.as_str(), "bad_frame");
            bad += 1;
            if bad >= LIVE_MAX_BAD_READS {
                let (camera, source_name) = (self.config.camera.clone(), self.config.source.name());
                return Err(CaptureError::Stalled { camera, source_name, n: bad });
            }
        }
    }

    fn to_rgb(&self, bgr: &Mat, index: u64) -> Result<RgbImage, CaptureError> {
        let bad = |detail: String| CaptureError::BadFrame {
            camera: self.config.camera.clone(),
            source_name: self.config.source.name(),
            index,
            detail,
        };
        if bgr.typ() != opencv::core::CV_8UC3 {
            return Err(bad(format!("OpenCV type {}", bgr.typ())));
        }
        let mut rgb = Mat::default();
        imgproc::cvt_color_def(bgr, &mut rgb, imgproc::COLOR_BGR2RGB).map_err(|e| self.err(e))?;
        let (w, h) = (rgb.cols() as u32, rgb.rows() as u32);
        let bytes = rgb.data_bytes().map_err(|e| self.err(e))?.to_vec();
        RgbImage::from_raw(w, h, bytes).ok_or_else(|| bad(format!("{w}x{h} buffer of the wrong size")))
    }

    /// Queues one item: a file blocks (checking for stop), a live stream drops
    /// its oldest queued frame when full. False when nobody listens any more.
    fn deliver(&self, mut item: Result<CapturedFrame, CaptureError>, live: bool) -> bool {
        loop {
            if live {
                match self.tx.try_send(item) {
                    Ok(()) => return true,
                    Err(TrySendError::Disconnected(_)) => return false,
                    Err(TrySendError::Full(back)) => {
                        item = back;
                        if self.drain.try_recv().is_ok() {
                            self.metrics.drop(self.config.camera.as_str(), "queue_full");
                        }
                    }
                }
            } else {
                match self.tx.send_timeout(item, Duration::from_millis(100)) {
                    Ok(()) => return true,
                    Err(SendTimeoutError::Disconnected(_)) => return false,
                    Err(SendTimeoutError::Timeout(back)) => item = back,
                }
                if self.stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_live_and_paths_are_files() {
        assert_eq!(Source::parse("rtsp://10.0.0.5/stream1"), Source::Live("rtsp://10.0.0.5/stream1".into()));
        assert_eq!(Source::parse("video/cam1.mp4"), Source::File("video/cam1.mp4".into()));
    }

    #[test]
    fn recording_clock_adds_the_start_and_falls_back_to_the_frame_number() {
        let mut c = StreamClock::Recording { start_unix: 1580250245.15 };
        assert_eq!(c.stamp(0.0, 0.0, 9e9), 1580250245.15);
        assert!((c.stamp(1500.0, 0.0, 9e9) - 1580250246.65).abs() < 1e-6);
        assert!((c.stamp(f64::NAN, 200.0, 9e9) - 1580250245.35).abs() < 1e-6);
    }

    #[test]
    fn live_clock_follows_the_stream_from_a_wall_clock_anchor() {
        let mut c = StreamClock::Live { anchor: None };
        assert_eq!(c.stamp(5000.0, 0.0, 100.0), 100.0);
        // the stream clock, not the (late) wall clock, orders frames
        assert!((c.stamp(5100.0, 0.0, 100.3) - 100.1).abs() < 1e-9);
        // a stream clock jump (camera restarted) re-anchors
        assert_eq!(c.stamp(10.0, 0.0, 101.0), 101.0);
        assert!((c.stamp(110.0, 0.0, 101.2) - 101.1).abs() < 1e-9);
        // and so does drifting away from the wall clock
        assert_eq!(c.stamp(60_000.0, 0.0, 101.3), 101.3);
        assert_eq!(c.stamp(f64::NAN, 0.0, 101.4), 101.4);
    }
}
