//! NanoDet: per stride a `[1, N, C]` class-score map (already sigmoid) and a
//! `[1, N, 4 * bins]` distance distribution (left, top, right, bottom; softmax
//! over the bins, expected value x stride) on a square grid of cells centred
//! at `(col + 0.5, row + 0.5) * stride`; then class-wise NMS.

use super::{BoxPx, DecodeError, FrameTransform};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub class_id: usize,
    pub class: String,
    pub score: f32,
    pub bbox: BoxPx,
}

/// One stride's outputs as recorded: `(shape, data)` for scores and boxes.
pub struct Level<'a> {
    pub stride: u32,
    pub scores: (&'a [usize], &'a [f32]),
    pub boxes: (&'a [usize], &'a [f32]),
}

pub struct NanodetParams<'a> {
    pub score_threshold: f32,
    pub nms_iou: f32,
    pub max_detections: usize,
    pub bins: usize,
    pub classes: &'a [String],
}

pub fn decode_nanodet(levels: &[Level], p: &NanodetParams, t: &FrameTransform) -> Result<Vec<Detection>, DecodeError> {
    let mut candidates = Vec::new();
    for level in levels {
        decode_level(level, p, t, &mut candidates)?;
    }
    let mut kept = nms(candidates, p.nms_iou);
    kept.truncate(p.max_detections);
    Ok(kept)
}

fn decode_level(
    level: &Level,
    p: &NanodetParams,
    t: &FrameTransform,
    out: &mut Vec<Detection>,
) -> Result<(), DecodeError> {
    let classes = p.classes.len();
    let (s_shape, scores) = level.scores;
    let (b_shape, boxes) = level.boxes;
    let cells = s_shape.get(1).copied().unwrap_or(0);
    let bad = |name: &str, shape: &[usize], expected: String| DecodeError::Shape {
        name: format!("{name} (stride {})", level.stride),
        actual: shape.to_vec(),
        expected,
    };
    if s_shape.len() != 3 || s_shape[2] != classes || scores.len() != cells * classes {
        return Err(bad("scores", s_shape, format!("[1, N, {classes}]")));
    }
    let side = 4 * p.bins;
    if b_shape.len() != 3 || b_shape[1] != cells || b_shape[2] != side || boxes.len() != cells * side {
        return Err(bad("boxes", b_shape, format!("[1, {cells}, {side}]")));
    }
    let grid = (cells as f64).sqrt().round() as usize;
    if grid * grid != cells {
        return Err(bad("scores", s_shape, "a square grid of cells".into()));
    }
    let stride = level.stride as f32;
    for (cell, row) in scores.chunks_exact(classes).enumerate() {
        let Some((class_id, &score)) = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else { continue };
        if !(score >= p.score_threshold && score.is_finite()) {
            continue;
        }
        let cx = ((cell % grid) as f32 + 0.5) * stride;
        let cy = ((cell / grid) as f32 + 0.5) * stride;
        let dist = &boxes[cell * side..(cell + 1) * side];
        let d: Vec<f32> = dist.chunks_exact(p.bins).map(|bins| expected_bin(bins) * stride).collect();
        let (x0, y0) = t.to_frame(cx - d[0], cy - d[1]);
        let (x1, y1) = t.to_frame(cx + d[2], cy + d[3]);
        let bbox = BoxPx { x0, y0, x1, y1 };
        if bbox.area() > 0.0 {
            out.push(Detection { class_id, class: p.classes[class_id].clone(), score, bbox });
        }
    }
    Ok(())
}

/// Softmax over the bins, then the expected bin index.
pub fn expected_bin(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().enumerate().map(|(i, e)| i as f32 * e).sum::<f32>() / sum
}

pub fn iou(a: &BoxPx, b: &BoxPx) -> f32 {
    let inter = BoxPx { x0: a.x0.max(b.x0), y0: a.y0.max(b.y0), x1: a.x1.min(b.x1), y1: a.y1.min(b.y1) }.area();
    let union = a.area() + b.area() - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Greedy class-wise non-maximum suppression; best first.
pub fn nms(mut candidates: Vec<Detection>, max_iou: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for c in candidates {
        if !kept.iter().any(|k| k.class_id == c.class_id && iou(&k.bbox, &c.bbox) > max_iou) {
            kept.push(c);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(size: u32) -> FrameTransform {
        FrameTransform { frame_w: size, frame_h: size, input_w: size, input_h: size, scale_x: 1.0, scale_y: 1.0 }
    }

    #[test]
    fn softmax_expectation() {
        assert!((expected_bin(&[0.0; 11]) - 5.0).abs() < 1e-5);
        assert!((expected_bin(&[-50.0, -50.0, 50.0, -50.0]) - 2.0).abs() < 1e-4);
    }

    #[test]
    fn one_confident_cell_becomes_one_box() {
        // 2x2 grid at stride 8, 2 classes, 4 bins; cell 3 (col 1, row 1), centre (12, 12).
        let classes = vec!["person".to_string(), "cup".to_string()];
        let scores = [0.0, 0.0, 0.1, 0.0, 0.0, 0.2, 0.1, 0.9];
        let mut boxes = vec![0.0f32; 4 * 16];
        let peak = |bin: usize| (0..4).map(|i| if i == bin { 50.0 } else { -50.0 }).collect::<Vec<f32>>();
        boxes[48..64].copy_from_slice(&[peak(1), peak(0), peak(2), peak(1)].concat());
        let level = Level { stride: 8, scores: (&[1, 4, 2], &scores), boxes: (&[1, 4, 16], &boxes) };
        let p = NanodetParams { score_threshold: 0.5, nms_iou: 0.5, max_detections: 10, bins: 4, classes: &classes };
        let d = decode_nanodet(&[level], &p, &identity(100)).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].class.as_str(), d[0].score), ("cup", 0.9));
        let b = d[0].bbox;
        for (got, want) in [(b.x0, 4.0), (b.y0, 12.0), (b.x1, 28.0), (b.y1, 20.0)] {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_same_class_boxes() {
        let det = |class_id, score, x0| Detection {
            class_id,
            class: String::new(),
            score,
            bbox: BoxPx { x0, y0: 0.0, x1: x0 + 10.0, y1: 10.0 },
        };
        let kept = nms(vec![det(0, 0.5, 1.0), det(0, 0.9, 0.0), det(1, 0.4, 0.0), det(0, 0.3, 50.0)], 0.5);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.4, 0.3]);
        assert_eq!(iou(&kept[0].bbox, &kept[0].bbox), 1.0);
    }
}
