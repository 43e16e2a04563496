//! The three models through `ort`, driven by their manifests, on a real
//! AiFi ceiling frame (cam 1 of test 1), plus the MoveNet decoder against an
//! output tensor recorded from the real model on that frame (no runtime).
//! Skips, saying why, when the AiFi data or ONNX Runtime is absent.

use std::path::{Path, PathBuf};

use opencv::{core::Mat, imgproc, prelude::*, videoio};
use walkout::vision::decode::{self, BoxPx, Decoded, Person, RawOutputs, iou};
use walkout::vision::manifest::{DecoderSpec, Manifest};
use walkout::vision::model::{self, Frame, Model};

const VIDEO: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/aifi-nanostore/video/cps-test-01-nodepth-cam1.mp4");
/// The shopper stands mid-frame, walking in (x ~305-455, y ~0-200 px; checked by eye).
const SHOPPER_FRAME: usize = 50;
/// The store is empty; a person's legs show beyond the glass at the top.
const EMPTY_FRAME: usize = 250;
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/movenet_cam1_frame50.json");

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn manifest(name: &str) -> Manifest {
    Manifest::load(&models_dir().join(format!("{name}.toml"))).unwrap()
}

fn person_score(m: &Manifest) -> f32 {
    match m.decoder {
        DecoderSpec::MovenetMultipose { person_score, .. } => person_score,
        _ => panic!("not a MoveNet manifest"),
    }
}

/// Frames 0..=last of the cam-1 video as RGB, or `None` (after saying why).
fn read_frames(last: usize) -> Option<Vec<image::RgbImage>> {
    if !Path::new(VIDEO).is_file() {
        println!("SKIPPED: {VIDEO} is absent (AiFi sample data not installed)");
        return None;
    }
    let mut cap = videoio::VideoCapture::from_file_def(VIDEO).unwrap();
    let (mut bgr, mut rgb, mut out) = (Mat::default(), Mat::default(), Vec::new());
    while out.len() <= last && cap.read(&mut bgr).unwrap() && !bgr.empty() {
        imgproc::cvt_color_def(&bgr, &mut rgb, imgproc::COLOR_BGR2RGB).unwrap();
        let (w, h) = (rgb.cols() as u32, rgb.rows() as u32);
        out.push(image::RgbImage::from_raw(w, h, rgb.data_bytes().unwrap().to_vec()).unwrap());
    }
    assert_eq!(out.len(), last + 1, "the video is shorter than expected");
    Some(out)
}

fn environment() -> Option<&'static ort::environment::Environment> {
    match model::environment("") {
        Ok(env) => Some(env),
        Err(e) => {
            println!("SKIPPED: ONNX Runtime cannot be loaded: {e}");
            None
        }
    }
}

fn load(name: &str, env: &ort::environment::Environment) -> Model {
    Model::load(&models_dir().join(format!("{name}.toml")), env).unwrap()
}

fn assert_inside(b: &BoxPx, w: f32, h: f32) {
    for v in [b.x0, b.y0, b.x1, b.y1] {
        assert!(v.is_finite(), "{b:?}");
    }
    assert!(0.0 <= b.x0 && b.x0 <= b.x1 && b.x1 <= w && 0.0 <= b.y0 && b.y0 <= b.y1 && b.y1 <= h, "{b:?}");
}

fn assert_people_sane(people: &[Person], w: f32, h: f32) {
    for p in people {
        assert_inside(&p.bbox, w, h);
        assert_eq!(p.keypoints.len(), 17);
        for k in &p.keypoints {
            assert!(k.x.is_finite() && k.y.is_finite() && (0.0..=1.0).contains(&k.score), "{k:?}");
            assert!((0.0..=w).contains(&k.x) && (0.0..=h).contains(&k.y), "{k:?}");
        }
    }
}

/// The shopper of frame 50: one person above the manifest's threshold, box
/// where the shopper is (by eye) and of a person's size at this range.
fn assert_shopper_found(people: &[Person], threshold: f32) -> BoxPx {
    let best = people.first().expect("MoveNet finds the shopper");
    assert!(best.score >= threshold, "{}", best.score);
    let b = best.bbox;
    let cx = (b.x0 + b.x1) / 2.0;
    assert!((300.0..=460.0).contains(&cx) && b.y0 < 40.0 && (120.0..=300.0).contains(&b.y1), "{b:?}");
    assert!((60.0..=250.0).contains(&b.width()) && (100.0..=320.0).contains(&b.height()), "{b:?}");
    // Feet (ankles 15, 16) sit in the lower half of a standing shopper's box.
    let ankles = [&best.keypoints[15], &best.keypoints[16]];
    assert!(ankles.iter().all(|k| k.y > b.y0 + b.height() / 2.0), "{ankles:?}");
    assert!(best.visible().count() >= 5, "{best:?}");
    b
}

#[test]
fn movenet_decoder_on_a_tensor_recorded_from_the_real_model() {
    let raw: RawOutputs = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    assert_eq!(raw.tensors["output_0"].shape, vec![1, 6, 56]);
    assert_eq!((raw.transform.input_w, raw.transform.input_h), (640, 384));
    let m = manifest("movenet-multipose");
    let Decoded::People(people) = decode::decode(&m, &raw).unwrap() else { panic!("people expected") };
    assert_people_sane(&people, 640.0, 360.0);
    assert_eq!(people.len(), 1, "one shopper in the store: {people:?}");
    assert_shopper_found(&people, person_score(&m));
}

#[test]
fn models_on_a_real_aifi_frame() {
    let Some(frames) = read_frames(EMPTY_FRAME) else { return };
    let Some(env) = environment() else { return };
    let frame = &frames[SHOPPER_FRAME];
    let (w, h) = (frame.width() as f32, frame.height() as f32);

    let mut movenet = load("movenet-multipose", env);
    let raw = movenet.run_raw(Frame::from(frame)).unwrap();
    assert_eq!(raw.tensors["output_0"].shape, vec![1, 6, 56]);
    if std::env::var_os("WALKOUT_RECORD_FIXTURES").is_some() {
        std::fs::write(FIXTURE, serde_json::to_string(&raw).unwrap()).unwrap();
    }
    let recorded: RawOutputs = serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let drift = raw.tensors["output_0"].data.iter().zip(&recorded.tensors["output_0"].data).map(|(a, b)| (a - b).abs());
    assert!(drift.fold(0.0f32, f32::max) < 1e-2, "the model no longer matches the recorded fixture");
    let Decoded::People(people) = decode::decode(movenet.manifest(), &raw).unwrap() else { panic!() };
    assert_people_sane(&people, w, h);
    let threshold = person_score(movenet.manifest());
    let shopper = assert_shopper_found(&people, threshold);
    println!("movenet frame {SHOPPER_FRAME}: {:?}", people.iter().map(|p| (p.score, p.bbox)).collect::<Vec<_>>());

    let Decoded::People(empty) = movenet.infer(Frame::from(&frames[EMPTY_FRAME])).unwrap() else { panic!() };
    assert!(empty.is_empty(), "nobody in the store at frame {EMPTY_FRAME}: {empty:?}");

    let mut nanodet = load("nanodet", env);
    let raw = nanodet.run_raw(Frame::from(frame)).unwrap();
    for (name, n) in [("Identity:0", 2704), ("Identity_1:0", 676), ("Identity_2:0", 169)] {
        assert_eq!(raw.tensors[name].shape, vec![1, n, 80]);
    }
    for (name, n) in [("Identity_3:0", 2704), ("Identity_4:0", 676), ("Identity_5:0", 169)] {
        assert_eq!(raw.tensors[name].shape, vec![1, n, 44]);
    }
    let Decoded::Detections(dets) = decode::decode(nanodet.manifest(), &raw).unwrap() else { panic!() };
    println!(
        "nanodet frame {SHOPPER_FRAME}: {:?}",
        dets.iter().map(|d| (&d.class, d.score, d.bbox)).collect::<Vec<_>>()
    );
    for d in &dets {
        assert_inside(&d.bbox, w, h);
        assert!(d.score.is_finite() && (0.0..=1.0).contains(&d.score));
    }
    let person = dets.iter().find(|d| d.class == "person").expect("NanoDet sees the shopper too");
    assert!(iou(&person.bbox, &shopper) > 0.4, "{:?} vs {shopper:?}", person.bbox);

    let mut embed = load("mobilenetv2-embed", env);
    let raw = embed.run_raw(Frame::from(frame)).unwrap();
    assert_eq!(raw.tensors["embedding"].shape, vec![1, 1280]);
    let a = embed.embed_region(frame, shopper).unwrap();
    let b = embed.embed_region(&frames[SHOPPER_FRAME + 10], shopper).unwrap();
    let floor = embed.embed_region(&frames[EMPTY_FRAME], shopper).unwrap();
    for v in [&a, &b, &floor] {
        assert_eq!(v.len(), 1280);
        assert!(v.iter().all(|x| x.is_finite()));
        assert!((v.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
    }
    let cos = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
    let (same, other) = (cos(&a, &b), cos(&a, &floor));
    println!("embedding cosine: shopper/shopper+1s {same:.3}, shopper/empty floor {other:.3}");
    assert!(
        same > other + 0.1,
        "the shopper's crop should look more like the shopper a second later than like the floor"
    );
}

/// The measurements behind the thresholds in the manifests (docs/models.md):
/// `cargo test --test vision_models survey -- --ignored --nocapture`.
#[test]
#[ignore = "prints a per-frame survey; run by hand"]
fn survey() {
    let Some(frames) = read_frames(337) else { return };
    let Some(env) = environment() else { return };
    let (mut movenet, mut nanodet) = (load("movenet-multipose", env), load("nanodet", env));
    let mut loose = manifest("movenet-multipose");
    if let DecoderSpec::MovenetMultipose { person_score, .. } = &mut loose.decoder {
        *person_score = 0.0;
    }
    for (i, f) in frames.iter().enumerate().step_by(10) {
        let raw = movenet.run_raw(Frame::from(f)).unwrap();
        let Decoded::People(people) = decode::decode(&loose, &raw).unwrap() else { panic!() };
        let Decoded::Detections(dets) = nanodet.infer(Frame::from(f)).unwrap() else { panic!() };
        let p = &people[0];
        let d: Vec<String> = dets
            .iter()
            .map(|d| {
                format!(
                    "{} {:.2} x{:.0}-{:.0} y{:.0}-{:.0}",
                    d.class, d.score, d.bbox.x0, d.bbox.x1, d.bbox.y0, d.bbox.y1
                )
            })
            .collect();
        println!(
            "{i:3} movenet {:.2} x{:.0}-{:.0} y{:.0}-{:.0} | nanodet {d:?}",
            p.score, p.bbox.x0, p.bbox.x1, p.bbox.y0, p.bbox.y1
        );
    }
}

/// The shipped demo gallery is what the real model makes of the rendered
/// photos: re-embedding one photo gives its stored entry, and the gallery
/// names that product first for it.
#[test]
fn the_demo_gallery_is_the_real_model_on_the_rendered_photos() {
    use walkout::catalog::{Catalog, gallery::Gallery};
    use walkout::sim::looks::{Look, photo};
    use walkout::vision::gallery_cmd::Embedder;
    if environment().is_none() {
        return;
    }
    let calibration = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store");
    let catalog = Catalog::load(&calibration).unwrap();
    let gallery = Gallery::load(&calibration.join("gallery.json")).expect("the demo gallery");
    let mut embedder = Embedder::load(&models_dir().join("mobilenetv2-embed.toml"), "").unwrap();
    let index = gallery.index();
    for sku in ["DM-0002", "DM-0137"] {
        let product = &catalog.products[&sku.into()];
        let fresh = embedder.embed(&photo(&Look::of(product), 0)).unwrap();
        let stored = gallery.entries.iter().find(|e| e.sku.as_str() == sku && e.source == "demo:view0").unwrap();
        let norm = fresh.iter().map(|v| v * v).sum::<f32>().sqrt();
        let cos: f32 = fresh.iter().zip(&stored.embedding).map(|(a, b)| a * b).sum::<f32>() / norm;
        assert!(cos > 0.99, "{sku}: stored photo embedding differs from the model's (cos {cos})");
        assert_eq!(index.best(&fresh, 5)[0].sku.as_str(), sku);
    }
    assert!(gallery.rates.is_some(), "the demo gallery carries its measured crop rates");
}
