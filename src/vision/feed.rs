//! The MQTT contract for camera detections, from the vision node (pose
//! model next to the cameras) to the store's fusion loop (documented in
//! `docs/mqtt.md`). One message per frame time, all cameras together:
//!
//! Topic: `walkout/v1/<store>/vision/frame`.
//! Payload: JSON `{"t": unix_seconds, "observations": [{"camera": "cam1",
//! "person": {bbox, score, keypoints: [17 x {x, y, score, visible}]},
//! "appearance": [f32, ...] | null, "hand_crops": [{"wrist": 9 | 10,
//! "matches": [{"sku", "score"}, ...]}, ...]}, ...]}` (`hand_crops` may be
//! left out). Unknown fields are ignored.
//!
//! A message that is not this shape, has a non-finite number, the wrong
//! keypoint count or more than [`MAX_OBSERVATIONS`] detections is refused
//! whole with a reason the caller counts; nothing in it reaches the tracker.

use super::hand_crop::HandCrop;
use super::tracker::CameraObservation;
use crate::ids::CameraId;
use crate::shelf::codec::TOPIC_VERSION;
use crate::vision::decode::Person;
use serde::{Deserialize, Serialize};

/// More detections than this in one frame is not a store (about 30 people
/// seen by 8 cameras); the message is refused.
pub const MAX_OBSERVATIONS: usize = 256;
/// An appearance embedding longer than this is refused.
pub const MAX_APPEARANCE_LEN: usize = 2048;
const KEYPOINTS: usize = 17;

pub fn frame_topic(store: &str) -> String {
    format!("walkout/{TOPIC_VERSION}/{store}/vision/frame")
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    #[error("topic is not walkout/v1/<store>/vision/frame for this store")]
    BadTopic,
    #[error("payload is not valid JSON for a vision frame: {0}")]
    MalformedJson(String),
    #[error("frame time is not a finite unix time")]
    BadTime,
    #[error("frame has {0} observations; at most {MAX_OBSERVATIONS} are accepted")]
    TooLarge(usize),
    #[error("observation {0}: {1}")]
    BadObservation(usize, &'static str),
}

impl FeedError {
    /// Stable label for metrics and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::BadTopic => "bad_topic",
            Self::MalformedJson(_) => "malformed_json",
            Self::BadTime => "bad_time",
            Self::TooLarge(_) => "too_large",
            Self::BadObservation(..) => "bad_observation",
        }
    }
}

#[derive(Serialize)]
struct FrameOut<'a> {
    t: f64,
    observations: Vec<ObservationOut<'a>>,
}

#[derive(Serialize)]
struct ObservationOut<'a> {
    camera: &'a CameraId,
    person: &'a Person,
    appearance: Option<&'a [f32]>,
    #[serde(skip_serializing_if = "<[HandCrop]>::is_empty")]
    hand_crops: &'a [HandCrop],
}

#[derive(Deserialize)]
struct FrameIn {
    t: f64,
    observations: Vec<ObservationIn>,
}

#[derive(Deserialize)]
struct ObservationIn {
    camera: CameraId,
    person: Person,
    #[serde(default)]
    appearance: Option<Vec<f32>>,
    #[serde(default)]
    hand_crops: Vec<HandCrop>,
}

/// One frame's detections as a payload.
pub fn encode(t: f64, observations: &[CameraObservation]) -> Vec<u8> {
    let frame = FrameOut {
        t,
        observations: observations
            .iter()
            .map(|o| ObservationOut {
                camera: &o.camera,
                person: &o.person,
                appearance: o.appearance.as_deref(),
                hand_crops: &o.hand_crops,
            })
            .collect(),
    };
    serde_json::to_vec(&frame).unwrap_or_default()
}

/// Checks the topic is this store's frame topic and decodes the payload.
pub fn decode(store: &str, topic: &str, payload: &[u8]) -> Result<(f64, Vec<CameraObservation>), FeedError> {
    if topic != frame_topic(store) {
        return Err(FeedError::BadTopic);
    }
    let frame: FrameIn = serde_json::from_slice(payload).map_err(|e| FeedError::MalformedJson(e.to_string()))?;
    if !frame.t.is_finite() || frame.t <= 0.0 {
        return Err(FeedError::BadTime);
    }
    if frame.observations.len() > MAX_OBSERVATIONS {
        return Err(FeedError::TooLarge(frame.observations.len()));
    }
    let mut out = Vec::with_capacity(frame.observations.len());
    for (i, o) in frame.observations.into_iter().enumerate() {
        check(&o).map_err(|why| FeedError::BadObservation(i, why))?;
        out.push(CameraObservation {
            camera: o.camera,
            person: o.person,
            appearance: o.appearance,
            hand_crops: o.hand_crops,
        });
    }
    Ok((frame.t, out))
}

fn check(o: &ObservationIn) -> Result<(), &'static str> {
    let p = &o.person;
    if p.keypoints.len() != KEYPOINTS {
        return Err("a person needs 17 keypoints (COCO order)");
    }
    let b = &p.bbox;
    let numbers =
        [b.x0, b.y0, b.x1, b.y1, p.score].into_iter().chain(p.keypoints.iter().flat_map(|k| [k.x, k.y, k.score]));
    if !numbers.clone().all(f32::is_finite) {
        return Err("non-finite coordinate or score");
    }
    if o.hand_crops.len() > 2 {
        return Err("more than two hand crops for one person");
    }
    if let Some(why) = o.hand_crops.iter().find_map(HandCrop::problem) {
        return Err(why);
    }
    match &o.appearance {
        Some(a) if a.len() > MAX_APPEARANCE_LEN => Err("appearance embedding too long"),
        Some(a) if !a.iter().all(|v| v.is_finite()) => Err("non-finite appearance value"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::decode::BoxPx;
    use crate::vision::decode::movenet::Keypoint;

    fn observation() -> CameraObservation {
        let k = Keypoint { x: 10.0, y: 20.0, score: 0.8, visible: true };
        CameraObservation {
            camera: CameraId::from("cam1"),
            person: Person {
                bbox: BoxPx { x0: 1.0, y0: 2.0, x1: 30.0, y1: 90.0 },
                score: 0.9,
                keypoints: vec![k; KEYPOINTS],
            },
            appearance: Some(vec![0.6, 0.8]),
            hand_crops: vec![HandCrop {
                wrist: 10,
                matches: vec![crate::catalog::gallery::ItemMatch { sku: "DM-0002".into(), score: 0.75 }],
            }],
        }
    }

    #[test]
    fn a_frame_round_trips_exactly() {
        let obs = vec![observation(), CameraObservation { appearance: None, hand_crops: Vec::new(), ..observation() }];
        let payload = encode(1_768_492_800.25, &obs);
        let (t, back) = decode("demo", &frame_topic("demo"), &payload).unwrap();
        assert_eq!((t, back), (1_768_492_800.25, obs));
    }

    #[test]
    fn malformed_frames_are_refused_with_a_reason() {
        let topic = frame_topic("demo");
        let ok = encode(100.0, &[observation()]);
        assert_eq!(decode("other", &topic, &ok).unwrap_err().cause(), "bad_topic");
        assert_eq!(decode("demo", &topic, b"{\"t\": 1").unwrap_err().cause(), "malformed_json");
        assert_eq!(decode("demo", &topic, b"{\"t\": -1, \"observations\": []}").unwrap_err().cause(), "bad_time");
        let mut short = observation();
        short.person.keypoints.truncate(5);
        assert_eq!(
            decode("demo", &topic, &encode(100.0, &[short])).unwrap_err(),
            FeedError::BadObservation(0, "a person needs 17 keypoints (COCO order)")
        );
        let text = String::from_utf8(ok).unwrap().replace("0.9", "1e999");
        assert_eq!(decode("demo", &topic, text.as_bytes()).unwrap_err().cause(), "malformed_json");
        let mut bad_crop = observation();
        bad_crop.hand_crops[0].wrist = 3;
        assert_eq!(
            decode("demo", &topic, &encode(100.0, &[bad_crop])).unwrap_err(),
            FeedError::BadObservation(0, "hand crop wrist is not keypoint 9 or 10")
        );
        let crowd = vec![observation(); MAX_OBSERVATIONS + 1];
        assert_eq!(decode("demo", &topic, &encode(100.0, &crowd)).unwrap_err().cause(), "too_large");
    }
}
