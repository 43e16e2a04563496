//! Pure decoders: raw output tensors (flat `f32` slices plus their shape) to
//! people, detections and embeddings in ORIGINAL frame pixels. No runtime
//! here, so each decoder is unit-tested on tensors recorded from the real
//! models on real frames (`tests/fixtures/`).

pub mod movenet;
pub mod nanodet;

use std::collections::BTreeMap;

use super::manifest::{DecoderSpec, Manifest};

pub use movenet::{Keypoint, MovenetParams, Person, decode_movenet_multipose};
pub use nanodet::{Detection, Level, NanodetParams, decode_nanodet, iou, nms};

/// One output tensor as the runtime returned it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Everything a decoder needs from one run: the outputs by name and how the
/// input was made from the frame. Serialisable, so a run on a real frame can
/// be recorded as a test fixture and decoded later without a runtime.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RawOutputs {
    pub transform: FrameTransform,
    pub tensors: BTreeMap<String, RawTensor>,
}

impl RawOutputs {
    pub fn get(&self, name: &str) -> Result<&RawTensor, DecodeError> {
        self.tensors.get(name).ok_or_else(|| DecodeError::Missing(name.to_owned()))
    }
}

/// What a model's decoder produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Decoded {
    People(Vec<Person>),
    Detections(Vec<Detection>),
    /// One unit vector per batch row.
    Embeddings(Vec<Vec<f32>>),
}

/// Runs the manifest's decoder with the manifest's thresholds.
pub fn decode(manifest: &Manifest, raw: &RawOutputs) -> Result<Decoded, DecodeError> {
    match &manifest.decoder {
        DecoderSpec::MovenetMultipose { person_score, keypoint_score, .. } => {
            let out = raw.get(&manifest.outputs[0])?;
            let p = MovenetParams { person_score: *person_score, keypoint_score: *keypoint_score };
            decode_movenet_multipose(&out.shape, &out.data, &raw.transform, p).map(Decoded::People)
        }
        DecoderSpec::Nanodet { score_threshold, nms_iou, max_detections, bins, levels, classes } => {
            let mut views = Vec::with_capacity(levels.len());
            for l in levels {
                let (s, b) = (raw.get(&l.scores)?, raw.get(&l.boxes)?);
                views.push(Level { stride: l.stride, scores: (&s.shape, &s.data), boxes: (&b.shape, &b.data) });
            }
            let p = NanodetParams {
                score_threshold: *score_threshold,
                nms_iou: *nms_iou,
                max_detections: *max_detections,
                bins: *bins,
                classes,
            };
            decode_nanodet(&views, &p, &raw.transform).map(Decoded::Detections)
        }
        DecoderSpec::Embedding { dim } => {
            let name = &manifest.outputs[0];
            let out = raw.get(name)?;
            decode_embeddings(&out.shape, &out.data, *dim, name).map(Decoded::Embeddings)
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("output `{name}` has shape {actual:?}, expected {expected}")]
    Shape { name: String, actual: Vec<usize>, expected: String },
    #[error("output `{0}` is missing")]
    Missing(String),
}

/// How model-input pixels map back to the frame: the input was the frame
/// scaled by (`scale_x`, `scale_y`) and padded bottom/right to `input_w` x `input_h`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameTransform {
    pub frame_w: u32,
    pub frame_h: u32,
    pub input_w: u32,
    pub input_h: u32,
    pub scale_x: f32,
    pub scale_y: f32,
}

impl FrameTransform {
    /// Model-input pixels to frame pixels, clamped to the frame.
    pub fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        let fx = (x / self.scale_x).clamp(0.0, self.frame_w as f32);
        let fy = (y / self.scale_y).clamp(0.0, self.frame_h as f32);
        (fx, fy)
    }

    /// Coordinates normalised to the (padded) model input to frame pixels.
    pub fn normalised_to_frame(&self, nx: f32, ny: f32) -> (f32, f32) {
        self.to_frame(nx * self.input_w as f32, ny * self.input_h as f32)
    }
}

/// An axis-aligned box in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BoxPx {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BoxPx {
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
}

/// Unit length (cosine similarity becomes a dot product). A zero vector stays zero.
pub fn l2_normalise(v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() { v.iter().map(|x| x / norm).collect() } else { vec![0.0; v.len()] }
}

/// `[batch, dim]` output to one unit vector per row.
pub fn decode_embeddings(shape: &[usize], data: &[f32], dim: usize, name: &str) -> Result<Vec<Vec<f32>>, DecodeError> {
    if shape.len() != 2 || shape[1] != dim || data.len() != shape[0] * dim {
        return Err(DecodeError::Shape {
            name: name.into(),
            actual: shape.to_vec(),
            expected: format!("[batch, {dim}]"),
        });
    }
    Ok(data.chunks_exact(dim).map(l2_normalise).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_rows_are_unit_length() {
        let rows = decode_embeddings(&[2, 2], &[3.0, 4.0, 0.0, 0.0], 2, "e").unwrap();
        assert_eq!(rows[0], vec![0.6, 0.8]);
        assert_eq!(rows[1], vec![0.0, 0.0]);
        assert!(decode_embeddings(&[1, 3], &[1.0; 3], 2, "e").is_err());
    }

    #[test]
    fn transform_undoes_scale_and_clamps_padding() {
        let t = FrameTransform { frame_w: 640, frame_h: 360, input_w: 416, input_h: 416, scale_x: 0.65, scale_y: 0.65 };
        assert_eq!(t.to_frame(208.0, 117.0), (320.0, 180.0));
        assert_eq!(t.to_frame(416.0, 416.0), (640.0, 360.0));
        let m = FrameTransform { frame_w: 640, frame_h: 360, input_w: 640, input_h: 384, scale_x: 1.0, scale_y: 1.0 };
        assert_eq!(m.normalised_to_frame(0.5, 0.5), (320.0, 192.0));
    }
}
