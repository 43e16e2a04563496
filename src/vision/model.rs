//! A model = a manifest + its ONNX file in an `ort` session. A frame (RGB
//! bytes) is pre-processed per the manifest by the pure [`preprocess`], run,
//! and the raw outputs go to the pure decoder ([`super::decode::decode`]).
//! Sessions block: call them from a dedicated thread, never inside async tasks.

use std::path::Path;

use image::{RgbImage, imageops::FilterType};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;

use super::decode::{self, BoxPx, DecodeError, Decoded, FrameTransform, RawOutputs, RawTensor};
use super::manifest::{ColourOrder, DType, InputSpec, Layout, Manifest, ManifestError, SizeRule};
use super::runtime::{self, RuntimeError};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("model {model}: {reason}")]
    Ort { model: String, reason: String },
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("bad frame: {0}")]
    Frame(String),
}

/// Borrowed packed RGB8 pixels, row-major, no row padding.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub rgb: &'a [u8],
    pub width: u32,
    pub height: u32,
}

impl<'a> From<&'a RgbImage> for Frame<'a> {
    fn from(img: &'a RgbImage) -> Self {
        Frame { rgb: img.as_raw(), width: img.width(), height: img.height() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum InputData {
    I32(Vec<i32>),
    F32(Vec<f32>),
}

/// A model input built from a frame, and how to map results back.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// `[1, H, W, 3]` (NHWC) or `[1, 3, H, W]` (NCHW).
    pub shape: [usize; 4],
    pub data: InputData,
    pub transform: FrameTransform,
}

/// Frame size -> (scaled size, input size) under a size rule.
fn plan(rule: SizeRule, w: u32, h: u32) -> ((u32, u32), (u32, u32)) {
    match rule {
        SizeRule::PadToMultiple { multiple: m } => ((w, h), (w.div_ceil(m) * m, h.div_ceil(m) * m)),
        SizeRule::Letterbox { width, height } => {
            let s = (width as f64 / w as f64).min(height as f64 / h as f64);
            let sw = ((w as f64 * s).round() as u32).clamp(1, width);
            let sh = ((h as f64 * s).round() as u32).clamp(1, height);
            ((sw, sh), (width, height))
        }
        SizeRule::Stretch { width, height } => ((width, height), (width, height)),
    }
}

/// Resize, pad (black, bottom/right), reorder colours, normalise and lay out
/// a frame as the manifest's input says. Pure.
pub fn preprocess(spec: &InputSpec, frame: Frame) -> Result<Prepared, ModelError> {
    let (w, h) = (frame.width, frame.height);
    if w == 0 || h == 0 || frame.rgb.len() != w as usize * h as usize * 3 {
        return Err(ModelError::Frame(format!(
            "{w}x{h} RGB needs {} bytes, got {}",
            w as u64 * h as u64 * 3,
            frame.rgb.len()
        )));
    }
    let ((sw, sh), (iw, ih)) = plan(spec.size, w, h);
    let resized;
    let (pixels, pw) = if (sw, sh) == (w, h) {
        (frame.rgb, w)
    } else {
        let img =
            RgbImage::from_raw(w, h, frame.rgb.to_vec()).ok_or_else(|| ModelError::Frame("size mismatch".into()))?;
        resized = image::imageops::resize(&img, sw, sh, FilterType::Triangle);
        (resized.as_raw().as_slice(), sw)
    };
    let order: [usize; 3] = match spec.colour {
        ColourOrder::Rgb => [0, 1, 2],
        ColourOrder::Bgr => [2, 1, 0],
    };
    let (iw_, ih_) = (iw as usize, ih as usize);
    let index = |x: usize, y: usize, c: usize| match spec.layout {
        Layout::Nhwc => (y * iw_ + x) * 3 + c,
        Layout::Nchw => c * iw_ * ih_ + y * iw_ + x,
    };
    // Raw values first (padding stays 0), normalised afterwards so padding is
    // "black" in the model's own units, as training letterboxes were.
    let mut raw = vec![0u8; iw_ * ih_ * 3];
    for y in 0..sh as usize {
        for x in 0..sw as usize {
            let p = (y * pw as usize + x) * 3;
            for (c, &src) in order.iter().enumerate() {
                raw[index(x, y, c)] = pixels[p + src];
            }
        }
    }
    let channel_of = |i: usize| match spec.layout {
        Layout::Nhwc => i % 3,
        Layout::Nchw => i / (iw_ * ih_),
    };
    let data = match (spec.dtype, &spec.normalise) {
        (DType::Int32, _) => InputData::I32(raw.iter().map(|&v| v as i32).collect()),
        (DType::Float32, None) => InputData::F32(raw.iter().map(|&v| v as f32).collect()),
        (DType::Float32, Some(n)) => InputData::F32(
            raw.iter()
                .enumerate()
                .map(|(i, &v)| (v as f32 * n.scale - n.mean[channel_of(i)]) / n.std[channel_of(i)])
                .collect(),
        ),
    };
    let shape = match spec.layout {
        Layout::Nhwc => [1, ih_, iw_, 3],
        Layout::Nchw => [1, 3, ih_, iw_],
    };
    let transform = FrameTransform {
        frame_w: w,
        frame_h: h,
        input_w: iw,
        input_h: ih,
        scale_x: sw as f32 / w as f32,
        scale_y: sh as f32 / h as f32,
    };
    Ok(Prepared { shape, data, transform })
}

/// The process-wide `ort` environment for model sessions (the one
/// [`runtime::init`] creates: `ort` allows one per process).
pub fn environment(configured: &str) -> Result<&'static Environment, ModelError> {
    Ok(runtime::environment(configured)?)
}

pub struct Model {
    manifest: Manifest,
    session: Session,
}

impl Model {
    /// Reads `manifest_path`, checks the model file's sha256, opens a session.
    pub fn load(manifest_path: &Path, env: &Environment) -> Result<Self, ModelError> {
        let manifest = Manifest::load(manifest_path)?;
        let dir = manifest_path.parent().unwrap_or(Path::new("."));
        let file = manifest.verify_model(dir)?;
        let session = Session::builder(env)
            .and_then(|mut b| b.commit_from_file(&file))
            .map_err(|e| ModelError::Ort { model: manifest.name.clone(), reason: e.to_string() })?;
        Ok(Model { manifest, session })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Pre-processes and runs; the outputs named in the manifest, undecoded.
    pub fn run_raw(&mut self, frame: Frame) -> Result<RawOutputs, ModelError> {
        let prepared = preprocess(&self.manifest.input, frame)?;
        let name = self.manifest.name.clone();
        let err = |e: ort::Error| ModelError::Ort { model: name.clone(), reason: e.to_string() };
        let shape = prepared.shape.to_vec();
        let input = match prepared.data {
            InputData::I32(v) => Tensor::from_array((shape, v)).map_err(err)?.upcast(),
            InputData::F32(v) => Tensor::from_array((shape, v)).map_err(err)?.upcast(),
        };
        let outputs = self.session.run(ort::inputs![self.manifest.input.name.as_str() => input]).map_err(err)?;
        let mut tensors = std::collections::BTreeMap::new();
        for out in &self.manifest.outputs {
            let value = outputs.get(out).ok_or_else(|| DecodeError::Missing(out.clone()))?;
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(err)?;
            let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
            tensors.insert(out.clone(), RawTensor { shape, data: data.to_vec() });
        }
        Ok(RawOutputs { transform: prepared.transform, tensors })
    }

    /// Runs and decodes with the manifest's decoder and thresholds.
    pub fn infer(&mut self, frame: Frame) -> Result<Decoded, ModelError> {
        let raw = self.run_raw(frame)?;
        Ok(decode::decode(&self.manifest, &raw)?)
    }

    /// The embedding of one region of a frame (a person's or a product's box).
    pub fn embed_region(&mut self, frame: &RgbImage, region: BoxPx) -> Result<Vec<f32>, ModelError> {
        let x0 = (region.x0.max(0.0) as u32).min(frame.width().saturating_sub(1));
        let y0 = (region.y0.max(0.0) as u32).min(frame.height().saturating_sub(1));
        let w = ((region.width() as u32).max(1)).min(frame.width() - x0);
        let h = ((region.height() as u32).max(1)).min(frame.height() - y0);
        let crop = image::imageops::crop_imm(frame, x0, y0, w, h).to_image();
        match self.infer(Frame::from(&crop))? {
            Decoded::Embeddings(mut rows) if rows.len() == 1 => Ok(rows.remove(0)),
            other => Err(ModelError::Ort {
                model: self.manifest.name.clone(),
                reason: format!("not an embedding: {other:?}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::manifest::Normalise;

    fn spec(
        layout: Layout,
        dtype: DType,
        colour: ColourOrder,
        size: SizeRule,
        normalise: Option<Normalise>,
    ) -> InputSpec {
        InputSpec { name: "input".into(), layout, dtype, colour, size, normalise }
    }

    /// 2x1 frame: red then blue.
    const RED_BLUE: [u8; 6] = [255, 0, 0, 0, 0, 255];

    #[test]
    fn pads_bottom_right_to_a_multiple_in_nhwc_int32() {
        let s = spec(Layout::Nhwc, DType::Int32, ColourOrder::Rgb, SizeRule::PadToMultiple { multiple: 4 }, None);
        let p = preprocess(&s, Frame { rgb: &RED_BLUE, width: 2, height: 1 }).unwrap();
        assert_eq!(p.shape, [1, 4, 4, 3]);
        let InputData::I32(v) = &p.data else { panic!("int32 expected") };
        assert_eq!(&v[..6], &[255, 0, 0, 0, 0, 255]);
        assert!(v[6..].iter().all(|&x| x == 0), "padding is black");
        assert_eq!((p.transform.scale_x, p.transform.input_h), (1.0, 4));
        // 640x360 -> 640x384, as PROVENANCE measured.
        assert_eq!(plan(SizeRule::PadToMultiple { multiple: 32 }, 640, 360), ((640, 360), (640, 384)));
    }

    #[test]
    fn nchw_bgr_normalised_planes() {
        let n = Normalise { scale: 1.0, mean: [10.0, 20.0, 30.0], std: [5.0, 5.0, 5.0] };
        let s = spec(Layout::Nchw, DType::Float32, ColourOrder::Bgr, SizeRule::PadToMultiple { multiple: 1 }, Some(n));
        let p = preprocess(&s, Frame { rgb: &RED_BLUE, width: 2, height: 1 }).unwrap();
        assert_eq!(p.shape, [1, 3, 1, 2]);
        let InputData::F32(v) = &p.data else { panic!("f32 expected") };
        // Plane 0 is blue: red pixel 0 -> (0-10)/5, blue pixel 255 -> 49.
        assert_eq!(v, &vec![-2.0, 49.0, -4.0, -4.0, 45.0, -6.0]);
    }

    #[test]
    fn letterbox_keeps_aspect_and_stretch_does_not() {
        assert_eq!(plan(SizeRule::Letterbox { width: 416, height: 416 }, 640, 360), ((416, 234), (416, 416)));
        assert_eq!(plan(SizeRule::Stretch { width: 224, height: 224 }, 64, 128), ((224, 224), (224, 224)));
        let s = spec(Layout::Nchw, DType::Float32, ColourOrder::Rgb, SizeRule::Letterbox { width: 8, height: 8 }, None);
        let frame = vec![200u8; 4 * 2 * 3];
        let p = preprocess(&s, Frame { rgb: &frame, width: 4, height: 2 }).unwrap();
        let InputData::F32(v) = &p.data else { panic!() };
        // 4x2 -> 8x4 content, rows 4..8 padding, in every plane.
        assert!(v[..32].iter().all(|&x| (x - 200.0).abs() < 1.0));
        assert!(v[32..64].iter().all(|&x| x == 0.0));
        assert_eq!((p.transform.scale_x, p.transform.scale_y), (2.0, 2.0));
    }

    #[test]
    fn imagenet_normalisation_of_white() {
        let n = Normalise { scale: 1.0 / 255.0, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
        let s =
            spec(Layout::Nchw, DType::Float32, ColourOrder::Rgb, SizeRule::Stretch { width: 1, height: 1 }, Some(n));
        let p = preprocess(&s, Frame { rgb: &[255, 255, 255], width: 1, height: 1 }).unwrap();
        let InputData::F32(v) = &p.data else { panic!() };
        for (got, want) in v.iter().zip([(1.0 - 0.485) / 0.229, (1.0 - 0.456) / 0.224, (1.0 - 0.406) / 0.225]) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn a_short_buffer_is_rejected() {
        let s = spec(Layout::Nhwc, DType::Int32, ColourOrder::Rgb, SizeRule::PadToMultiple { multiple: 32 }, None);
        assert!(matches!(preprocess(&s, Frame { rgb: &[0; 5], width: 2, height: 1 }), Err(ModelError::Frame(_))));
    }
}
