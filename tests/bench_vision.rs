//! `walkout bench vision` on a few frames of the AiFi test-1 videos: the
//! report has every stage and the Python reference, and both runtimes
//! computed the same outputs from the same tensors. Skips (printing
//! `SKIPPED:`) without the AiFi data, the ONNX Runtime library or the
//! reference's Python environment (`make bench-setup`). Speed is printed,
//! never asserted.

use std::path::PathBuf;
use walkout::bench::vision::{VisionBenchOptions, run};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn options() -> Option<VisionBenchOptions> {
    let root = PathBuf::from(ROOT);
    let videos = root.join("../shared/data/aifi-nanostore/video");
    let python = root.join(".local/venv/bin/python");
    let needs = [
        (videos.join("cps-test-01-nodepth-cam1.mp4"), "the AiFi videos"),
        (root.join(".local/onnxruntime/libonnxruntime.so"), "ONNX Runtime (make setup)"),
        (python.clone(), "the reference's Python (make bench-setup)"),
    ];
    for (path, what) in needs {
        if !path.exists() {
            println!("SKIPPED: {what} not found at {}", path.display());
            return None;
        }
    }
    Some(VisionBenchOptions {
        videos,
        calibration: None,
        frames: 2,
        model: root.join("models/movenet-multipose.toml"),
        python,
        script: root.join("scripts/ort_reference.py"),
        onnxruntime: String::new(),
    })
}

#[test]
fn bench_reports_every_stage_beside_the_reference() {
    let Some(opts) = options() else { return };
    let report = run(&opts).expect("bench runs");
    let json = serde_json::to_value(&report).unwrap();
    println!("{}", serde_json::to_string_pretty(&json).unwrap());
    assert_eq!(json["frames"], 8, "2 frame times x 4 cameras");
    assert_eq!(json["cameras"].as_object().unwrap().len(), 4);
    for stage in ["decode", "preprocess", "inference", "postprocess", "tracking"] {
        let fps = json["stages"][stage]["frames_per_s_per_core"].as_f64().unwrap();
        assert!(fps.is_finite() && fps > 0.0, "{stage}: {fps}");
    }
    let reference = &json["reference"];
    assert!(reference["runtime"].as_str().unwrap().starts_with("python onnxruntime"));
    assert_eq!(reference["frames"], 8);
    assert_eq!(reference["intra_op_threads"], 1);
    let ratio = json["ratio_rust_total_to_reference_inference"].as_f64().unwrap();
    let expected = json["rust_total_frames_per_s_per_core"].as_f64().unwrap()
        / reference["inference_frames_per_s_per_core"].as_f64().unwrap();
    assert!((ratio - expected).abs() < 1e-9);
    // same model, same tensors: the two runtimes agree to float noise
    let diff = json["max_output_difference"].as_f64().unwrap();
    assert!(diff < 1e-3, "Rust and Python outputs differ by {diff}");
}

#[test]
fn a_missing_reference_environment_is_a_clear_error() {
    let Some(mut opts) = options() else { return };
    opts.python = PathBuf::from(ROOT).join(".local/no-such-venv/bin/python");
    let err = run(&opts).unwrap_err().to_string();
    assert!(err.contains("make bench-setup"), "{err}");
}
