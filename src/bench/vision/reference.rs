//! The reference of `walkout bench vision`: `scripts/ort_reference.py`
//! run with the Python of `.local/venv` on the tensors the Rust side wrote,
//! and its JSON report.

use super::{VisionBenchError, VisionBenchOptions};
use crate::vision::manifest::Manifest;
use serde::Serialize;
use std::path::Path;

/// The Python `onnxruntime` reference, as `scripts/ort_reference.py` reports it.
#[derive(Debug, serde::Deserialize, Serialize)]
pub struct Reference {
    pub runtime: String,
    pub frames: usize,
    pub intra_op_threads: u32,
    /// `session.run` alone, by the process's CPU time.
    pub inference_frames_per_s_per_core: f64,
    pub median_ms_per_frame: f64,
    pub cpu_s: f64,
    pub wall_frames_per_s: f64,
}

/// Runs the reference script on the tensors; its JSON report.
pub(super) fn run_reference(
    opts: &VisionBenchOptions,
    inputs: &Path,
    outputs: &Path,
) -> Result<Reference, VisionBenchError> {
    let manifest = Manifest::load(&opts.model)?;
    let model_file = manifest.verify_model(opts.model.parent().unwrap_or(Path::new(".")))?;
    let who = format!("{} {}", opts.python.display(), opts.script.display());
    let out = std::process::Command::new(&opts.python)
        .arg(&opts.script)
        .arg("--model")
        .arg(&model_file)
        .arg("--inputs")
        .arg(inputs)
        .args(["--input-name", &manifest.input.name, "--dtype", "int32", "--warmup", "3"])
        .arg("--outputs")
        .arg(outputs)
        .output()
        .map_err(|e| VisionBenchError::Reference(who.clone(), e.to_string()))?;
    if !out.status.success() {
        return Err(VisionBenchError::Reference(who, String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| VisionBenchError::Reference(who, format!("bad JSON: {e}")))
}
