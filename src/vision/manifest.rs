//! Model manifests: one TOML file beside each ONNX model (`models/*.toml`)
//! that says how to feed it (input name, layout, dtype, size rule, colour
//! order, normalisation), which outputs to read and which pure decoder turns
//! them into people, detections or embeddings. Replacing a model means
//! replacing the file and its manifest, not code.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid manifest {path}: {source}")]
    Parse { path: PathBuf, source: Box<toml::de::Error> },
    #[error("manifest field `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{path}: sha256 is {actual}, the manifest expects {expected}")]
    Checksum { path: PathBuf, expected: String, actual: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Invalid { field, reason: reason.into() }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    /// The ONNX file, relative to the manifest's folder.
    pub file: String,
    /// Lower-case hex; checked on load.
    pub sha256: String,
    pub outputs: Vec<String>,
    pub input: InputSpec,
    pub decoder: DecoderSpec,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub layout: Layout,
    pub dtype: DType,
    pub colour: ColourOrder,
    pub size: SizeRule,
    /// Absent: raw 0-255 values.
    #[serde(default)]
    pub normalise: Option<Normalise>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nhwc,
    Nchw,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Int32,
    Float32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ColourOrder {
    Rgb,
    Bgr,
}

/// How a frame becomes the model's input size. Padding is always black and
/// bottom/right, so model coordinates map back to the frame by a scale only.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum SizeRule {
    /// Native size, padded up to a multiple of `multiple` on both axes.
    PadToMultiple { multiple: u32 },
    /// Scaled to fit `width` x `height` keeping the aspect ratio, then padded.
    Letterbox { width: u32, height: u32 },
    /// Scaled to exactly `width` x `height` (aspect ratio not kept).
    Stretch { width: u32, height: u32 },
}

/// `(pixel * scale - mean[c]) / std[c]`, channels in the model's colour order.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Normalise {
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DecoderSpec {
    MovenetMultipose {
        person_score: f32,
        keypoint_score: f32,
        keypoints: Vec<String>,
    },
    Nanodet {
        score_threshold: f32,
        nms_iou: f32,
        max_detections: usize,
        bins: usize,
        levels: Vec<NanodetLevel>,
        classes: Vec<String>,
    },
    Embedding {
        dim: usize,
    },
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NanodetLevel {
    pub stride: u32,
    pub scores: String,
    pub boxes: String,
}

impl Manifest {
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Parse { path: path.to_owned(), source: Box::new(e) })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Reads and validates a manifest file (not the model file: see [`Manifest::verify_model`]).
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Io { path: path.to_owned(), source })?;
        Self::from_toml(&text, path)
    }

    /// Checks the model file beside `manifest_dir` against `sha256`; returns its path.
    pub fn verify_model(&self, manifest_dir: &Path) -> Result<PathBuf, ManifestError> {
        let path = manifest_dir.join(&self.file);
        let bytes = std::fs::read(&path).map_err(|source| ManifestError::Io { path: path.clone(), source })?;
        let actual = sha256_hex(&bytes);
        if actual != self.sha256 {
            return Err(ManifestError::Checksum { path, expected: self.sha256.clone(), actual });
        }
        Ok(path)
    }

    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.file.is_empty() {
            return Err(invalid("file", "must name the ONNX file"));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(invalid("sha256", "must be 64 lower-case hex digits"));
        }
        if self.input.name.is_empty() {
            return Err(invalid("input.name", "must not be empty"));
        }
        if self.outputs.is_empty() {
            return Err(invalid("outputs", "must list at least one output"));
        }
        self.validate_size()?;
        self.validate_normalise()?;
        self.validate_decoder()
    }

    fn validate_size(&self) -> Result<(), ManifestError> {
        match self.input.size {
            SizeRule::PadToMultiple { multiple: 0 } => Err(invalid("input.size.multiple", "must be at least 1")),
            SizeRule::Letterbox { width, height } | SizeRule::Stretch { width, height }
                if width == 0 || height == 0 =>
            {
                Err(invalid("input.size", "width and height must be positive"))
            }
            _ => Ok(()),
        }
    }

    fn validate_normalise(&self) -> Result<(), ManifestError> {
        let Some(n) = &self.input.normalise else { return Ok(()) };
        if self.input.dtype == DType::Int32 {
            return Err(invalid("input.normalise", "an int32 input takes raw 0-255 values"));
        }
        if !(n.scale.is_finite() && n.scale > 0.0) {
            return Err(invalid("input.normalise.scale", "must be positive"));
        }
        if n.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(invalid("input.normalise.std", "every value must be positive"));
        }
        if n.mean.iter().any(|m| !m.is_finite()) {
            return Err(invalid("input.normalise.mean", "every value must be finite"));
        }
        Ok(())
    }

    fn validate_decoder(&self) -> Result<(), ManifestError> {
        let unit = |v: f32| (0.0..=1.0).contains(&v);
        match &self.decoder {
            DecoderSpec::MovenetMultipose { person_score, keypoint_score, keypoints } => {
                if !unit(*person_score) {
                    return Err(invalid("decoder.person_score", "must be within 0..=1"));
                }
                if !unit(*keypoint_score) {
                    return Err(invalid("decoder.keypoint_score", "must be within 0..=1"));
                }
                if keypoints.len() != 17 {
                    return Err(invalid("decoder.keypoints", format!("MoveNet has 17, got {}", keypoints.len())));
                }
            }
            DecoderSpec::Nanodet { score_threshold, nms_iou, bins, levels, classes, .. } => {
                if !unit(*score_threshold) {
                    return Err(invalid("decoder.score_threshold", "must be within 0..=1"));
                }
                if !unit(*nms_iou) {
                    return Err(invalid("decoder.nms_iou", "must be within 0..=1"));
                }
                if *bins < 2 {
                    return Err(invalid("decoder.bins", "must be at least 2"));
                }
                if classes.is_empty() {
                    return Err(invalid("decoder.classes", "must not be empty"));
                }
                if levels.is_empty() {
                    return Err(invalid("decoder.levels", "must not be empty"));
                }
                for l in levels {
                    if l.stride == 0 {
                        return Err(invalid("decoder.levels.stride", "must be positive"));
                    }
                    for name in [&l.scores, &l.boxes] {
                        if !self.outputs.contains(name) {
                            return Err(invalid("decoder.levels", format!("`{name}` is not in `outputs`")));
                        }
                    }
                }
            }
            DecoderSpec::Embedding { dim } if *dim == 0 => return Err(invalid("decoder.dim", "must be positive")),
            DecoderSpec::Embedding { .. } => {}
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Manifest {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(format!("{name}.toml"));
        Manifest::load(&path).unwrap()
    }

    #[test]
    fn the_three_shipped_manifests_parse_and_validate() {
        let m = shipped("movenet-multipose");
        assert_eq!((m.input.layout, m.input.dtype), (Layout::Nhwc, DType::Int32));
        assert_eq!(m.input.size, SizeRule::PadToMultiple { multiple: 32 });
        let n = shipped("nanodet");
        assert_eq!(n.input.colour, ColourOrder::Bgr);
        assert!(
            matches!(&n.decoder, DecoderSpec::Nanodet { classes, levels, .. } if classes.len() == 80 && levels.len() == 3)
        );
        let e = shipped("mobilenetv2-embed");
        assert_eq!(e.decoder, DecoderSpec::Embedding { dim: 1280 });
    }

    fn edited(from: &str, to: &str) -> Result<Manifest, ManifestError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/nanodet.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from}");
        Manifest::from_toml(&text.replacen(from, to, 1), &path)
    }

    #[test]
    fn validation_names_the_field() {
        let e = edited("std = [57.375", "std = [0.0").unwrap_err();
        assert!(e.to_string().contains("input.normalise.std"), "{e}");
        let e = edited("nms_iou = 0.5", "nms_iou = 1.5").unwrap_err();
        assert!(e.to_string().contains("decoder.nms_iou"), "{e}");
        let e = edited("boxes = \"Identity_3:0\"", "boxes = \"nope\"").unwrap_err();
        assert!(e.to_string().contains("decoder.levels") && e.to_string().contains("nope"), "{e}");
        let e = edited("sha256 = \"f", "sha256 = \"X").unwrap_err();
        assert!(e.to_string().contains("sha256"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_enums_are_rejected_with_the_key() {
        let e = edited("layout = \"nchw\"", "layout = \"chw\"").unwrap_err();
        assert!(e.to_string().contains("layout") || e.to_string().contains("chw"), "{e}");
        let e = edited("bins = 11", "bins = 11\nbinz = 3").unwrap_err();
        assert!(e.to_string().contains("binz"), "{e}");
    }

    #[test]
    fn checksum_mismatch_is_reported_with_both_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("nanodet.onnx"), b"not a model").unwrap();
        let m = shipped("nanodet");
        let e = m.verify_model(dir.path()).unwrap_err();
        assert!(matches!(&e, ManifestError::Checksum { expected, .. } if *expected == m.sha256), "{e}");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
