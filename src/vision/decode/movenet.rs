//! MoveNet MultiPose `[1, 6, 56]`: per slot 17 x (y, x, score) then ymin,
//! xmin, ymax, xmax, score, all normalised to the padded input.

use super::{BoxPx, DecodeError, FrameTransform};

const KEYPOINTS: usize = 17;
const STRIDE: usize = KEYPOINTS * 3 + 5;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Keypoint {
    /// Frame pixels.
    pub x: f32,
    pub y: f32,
    pub score: f32,
    /// `score` reaches the manifest's `keypoint_score`.
    pub visible: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub bbox: BoxPx,
    pub score: f32,
    /// COCO order (wrists 9 and 10, ankles 15 and 16); a keypoint under the
    /// keypoint threshold is kept, marked not `visible`, so indices stay stable.
    pub keypoints: Vec<Keypoint>,
}

impl Person {
    /// Visible keypoints with their COCO index.
    pub fn visible(&self) -> impl Iterator<Item = (usize, &Keypoint)> {
        self.keypoints.iter().enumerate().filter(|(_, k)| k.visible)
    }
}

/// Thresholds from the manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MovenetParams {
    pub person_score: f32,
    pub keypoint_score: f32,
}

/// People scoring at least `person_score`, best first. Non-finite slots are dropped.
pub fn decode_movenet_multipose(
    shape: &[usize],
    data: &[f32],
    t: &FrameTransform,
    p: MovenetParams,
) -> Result<Vec<Person>, DecodeError> {
    if shape.len() != 3 || shape[0] != 1 || shape[2] != STRIDE || data.len() != shape[1] * STRIDE {
        return Err(DecodeError::Shape {
            name: "movenet".into(),
            actual: shape.to_vec(),
            expected: "[1, N, 56]".into(),
        });
    }
    let mut people: Vec<Person> = data
        .chunks_exact(STRIDE)
        .filter(|slot| slot.iter().all(|v| v.is_finite()) && slot[STRIDE - 1] >= p.person_score)
        .map(|slot| person(slot, t, p.keypoint_score))
        .collect();
    people.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(people)
}

fn person(slot: &[f32], t: &FrameTransform, keypoint_score: f32) -> Person {
    let keypoints = slot[..KEYPOINTS * 3]
        .chunks_exact(3)
        .map(|k| {
            let (x, y) = t.normalised_to_frame(k[1], k[0]);
            Keypoint { x, y, score: k[2], visible: k[2] >= keypoint_score }
        })
        .collect();
    let b = &slot[KEYPOINTS * 3..];
    let (x0, y0) = t.normalised_to_frame(b[1], b[0]);
    let (x1, y1) = t.normalised_to_frame(b[3], b[2]);
    Person { bbox: BoxPx { x0, y0, x1, y1 }, score: b[4], keypoints }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(score: f32, box_yxyx: [f32; 4], kp: (f32, f32, f32)) -> Vec<f32> {
        let mut s = Vec::new();
        for _ in 0..KEYPOINTS {
            s.extend([kp.0, kp.1, kp.2]);
        }
        s.extend(box_yxyx);
        s.push(score);
        s
    }

    #[test]
    fn undoes_padding_filters_and_sorts() {
        // 640x360 padded to 640x384: y normalised to 384, not 360.
        let t = FrameTransform { frame_w: 640, frame_h: 360, input_w: 640, input_h: 384, scale_x: 1.0, scale_y: 1.0 };
        let mut data = slot(0.3, [0.25, 0.25, 0.75, 0.5], (0.5, 0.5, 0.9));
        data.extend(slot(0.1, [0.0, 0.0, 1.0, 1.0], (0.0, 0.0, 0.0)));
        data.extend(slot(0.6, [0.0, 0.0, 1.0, 1.0], (0.1, 0.2, 0.4)));
        let p = MovenetParams { person_score: 0.2, keypoint_score: 0.5 };
        let people = decode_movenet_multipose(&[1, 3, 56], &data, &t, p).unwrap();
        assert_eq!(people.len(), 2);
        assert_eq!(people[0].score, 0.6);
        // ymax 1.0 -> 384 px, clamped to the frame's 360.
        assert_eq!(people[0].bbox.y1, 360.0);
        let p = &people[1];
        assert_eq!(p.bbox, BoxPx { x0: 160.0, y0: 96.0, x1: 320.0, y1: 288.0 });
        assert_eq!(p.keypoints.len(), 17);
        assert_eq!((p.keypoints[9].x, p.keypoints[9].y), (320.0, 192.0));
        assert_eq!(p.visible().count(), 17);
        assert_eq!(people[0].visible().count(), 0, "0.4 < 0.5");
    }

    const PARAMS: MovenetParams = MovenetParams { person_score: 0.2, keypoint_score: 0.1 };

    #[test]
    fn wrong_shape_and_nan_slots() {
        let t = FrameTransform { frame_w: 10, frame_h: 10, input_w: 32, input_h: 32, scale_x: 1.0, scale_y: 1.0 };
        assert!(decode_movenet_multipose(&[1, 6, 55], &[0.0; 330], &t, PARAMS).is_err());
        let mut data = slot(0.9, [0.0, 0.0, 1.0, 1.0], (0.5, 0.5, 0.5));
        data[0] = f32::NAN;
        assert!(decode_movenet_multipose(&[1, 1, 56], &data, &t, PARAMS).unwrap().is_empty());
    }
}
