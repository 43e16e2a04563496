//! Bounded, time-ordered ring buffers that the live pipeline fills with
//! every camera frame and plate reading, so that when fusion flags an event
//! the evidence around it (the frame nearest the event, the plate's trace a
//! few seconds either side) can still be cut out. Nothing here reaches disk:
//! only [`super::evidence::EvidenceStore`] keeps anything, and only for
//! flagged events. Memory is bounded by count and by age.

use crate::ids::{CameraId, PlateId};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Items stamped with unix milliseconds, oldest first, at most `capacity`
/// and at most `max_age_ms` older than the newest.
#[derive(Clone, Debug)]
pub struct TimeRing<T> {
    items: VecDeque<(i64, T)>,
    capacity: usize,
    max_age_ms: i64,
}

impl<T> TimeRing<T> {
    pub fn new(capacity: usize, max_age_ms: i64) -> Self {
        Self { items: VecDeque::with_capacity(capacity.min(4096)), capacity: capacity.max(1), max_age_ms }
    }

    /// Adds an item; a late one (older than the newest) goes into its place,
    /// one older than the window is dropped. Returns whether it was kept.
    pub fn push(&mut self, t_ms: i64, item: T) -> bool {
        let newest = self.items.back().map_or(t_ms, |(t, _)| (*t).max(t_ms));
        if t_ms < newest - self.max_age_ms {
            return false;
        }
        let at = self.items.partition_point(|(t, _)| *t <= t_ms);
        self.items.insert(at, (t_ms, item));
        while self.items.len() > self.capacity {
            self.items.pop_front();
        }
        while self.items.front().is_some_and(|(t, _)| *t < newest - self.max_age_ms) {
            self.items.pop_front();
        }
        true
    }

    /// Items with `from <= t <= to`, in time order.
    pub fn window(&self, from: i64, to: i64) -> impl Iterator<Item = &(i64, T)> {
        let start = self.items.partition_point(|(t, _)| *t < from);
        self.items.range(start..).take_while(move |(t, _)| *t <= to)
    }

    /// The item closest in time to `t_ms` (the earlier one on a tie).
    pub fn nearest(&self, t_ms: i64) -> Option<&(i64, T)> {
        let at = self.items.partition_point(|(t, _)| *t < t_ms);
        let after = self.items.get(at);
        let before = at.checked_sub(1).and_then(|i| self.items.get(i));
        match (before, after) {
            (Some(b), Some(a)) => Some(if t_ms - b.0 <= a.0 - t_ms { b } else { a }),
            (b, a) => b.or(a),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One decoded camera frame, shared without copying.
pub type Frame = Arc<image::RgbImage>;

/// The live pipeline's recent frames per camera and readings per plate.
#[derive(Debug)]
pub struct EvidenceBuffers {
    frames: BTreeMap<CameraId, TimeRing<Frame>>,
    plates: BTreeMap<PlateId, TimeRing<f64>>,
    frames_per_camera: usize,
    readings_per_plate: usize,
    max_age_ms: i64,
}

impl EvidenceBuffers {
    /// E.g. 20 frames a camera (2 s at 10 fps: 12 cameras of 640 x 360 hold
    /// about 170 MB) and 600 readings a plate (10 s at 60 Hz).
    pub fn new(frames_per_camera: usize, readings_per_plate: usize, max_age_ms: i64) -> Self {
        Self { frames: BTreeMap::new(), plates: BTreeMap::new(), frames_per_camera, readings_per_plate, max_age_ms }
    }

    pub fn push_frame(&mut self, camera: &CameraId, t_ms: i64, frame: Frame) {
        let (n, age) = (self.frames_per_camera, self.max_age_ms);
        self.frames.entry(camera.clone()).or_insert_with(|| TimeRing::new(n, age)).push(t_ms, frame);
    }

    pub fn push_reading(&mut self, plate: PlateId, t_ms: i64, grams: f64) {
        if !grams.is_finite() {
            return;
        }
        let (n, age) = (self.readings_per_plate, self.max_age_ms);
        self.plates.entry(plate).or_insert_with(|| TimeRing::new(n, age)).push(t_ms, grams);
    }

    /// The camera's frame nearest `t_ms`, if one is within `tolerance_ms`.
    pub fn frame_near(&self, camera: &CameraId, t_ms: i64, tolerance_ms: i64) -> Option<(i64, Frame)> {
        let (t, frame) = self.frames.get(camera)?.nearest(t_ms)?;
        ((t - t_ms).abs() <= tolerance_ms).then(|| (*t, frame.clone()))
    }

    /// The plate's readings in `[from, to]`.
    pub fn trace(&self, plate: &PlateId, from: i64, to: i64) -> Vec<(i64, f64)> {
        self.plates.get(plate).map(|r| r.window(from, to).copied().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_by_count_and_by_age() {
        let mut r = TimeRing::new(3, 1_000);
        for t in [0, 100, 200, 300] {
            assert!(r.push(t, t));
        }
        assert_eq!(r.window(i64::MIN, i64::MAX).map(|x| x.0).collect::<Vec<_>>(), [100, 200, 300]);
        r.push(1_250, 1_250);
        assert_eq!(r.window(i64::MIN, i64::MAX).map(|x| x.0).collect::<Vec<_>>(), [300, 1_250], "older than 1 s");
        assert!(!r.push(100, 100), "too old to keep");
        assert!(r.push(900, 900), "late but within the window");
        assert_eq!(r.window(i64::MIN, i64::MAX).map(|x| x.0).collect::<Vec<_>>(), [300, 900, 1_250]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn windows_and_nearest_items_are_found_by_time() {
        let mut r = TimeRing::new(100, 10_000);
        for t in (0..10).map(|i| i * 100) {
            r.push(t, t / 100);
        }
        assert_eq!(r.window(250, 500).map(|x| x.1).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(r.window(2_000, 3_000).count(), 0);
        assert_eq!(r.nearest(340).map(|x| x.0), Some(300));
        assert_eq!(r.nearest(350).map(|x| x.0), Some(300), "a tie takes the earlier");
        assert_eq!(r.nearest(-50).map(|x| x.0), Some(0));
        assert_eq!(r.nearest(5_000).map(|x| x.0), Some(900));
        assert!(TimeRing::<u8>::new(1, 1).nearest(0).is_none());
    }

    #[test]
    fn buffers_answer_per_camera_and_per_plate() {
        let mut b = EvidenceBuffers::new(2, 10, 5_000);
        let cam = CameraId::from("cam-1");
        for t in [0, 100, 200] {
            b.push_frame(&cam, t, Arc::new(image::RgbImage::new(2, 2)));
        }
        assert_eq!(b.frame_near(&cam, 190, 50).map(|f| f.0), Some(200));
        assert!(b.frame_near(&cam, 0, 50).is_none(), "frame 0 fell out of the 2-frame ring");
        assert!(b.frame_near(&CameraId::from("cam-9"), 0, 50).is_none());
        let plate: PlateId = "3.2.1".parse().unwrap();
        for (t, g) in [(0, 1000.0), (16, f64::NAN), (33, 998.0), (50, 500.0)] {
            b.push_reading(plate, t, g);
        }
        assert_eq!(b.trace(&plate, 10, 60), [(33, 998.0), (50, 500.0)]);
    }
}
