//! The shelf detector and the noise model against the 202 real plates of
//! the AiFi Nanostore test 1 (gondolas 3-5, 60 Hz, 33.6 s, no pick or
//! put-back on them: real noise, shakes and touches only).
//!
//! Skips (prints `SKIPPED: ...` and passes) where `../shared/data/aifi-nanostore`
//! is absent: the data is not part of the repository.

use std::collections::BTreeMap;
use std::path::Path;
use walkout::ids::PlateId;
use walkout::shelf::Sample;
use walkout::shelf::aifi::{read_plate_dir, read_products};
use walkout::shelf::detector::{DetectorParams, Phase, PlateDetector};
use walkout::shelf::merger::ShelfMerger;
use walkout::shelf::noise::{self, NoiseModel, PlateSetStats};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/aifi-nanostore");

fn weights_dir() -> String {
    format!("{DATA}/weights/cps-test-01")
}

fn real_plates() -> Option<BTreeMap<PlateId, Vec<Sample>>> {
    let dir = weights_dir();
    if !Path::new(&dir).is_dir() {
        println!("SKIPPED: {dir} is absent (the AiFi sample data is not in the repository)");
        return None;
    }
    Some(read_plate_dir(Path::new(&dir)).expect("the AiFi plate CSVs parse"))
}

/// Adjacent plates that carry the same product in the test-1 planogram.
fn planogram_links() -> Vec<(PlateId, PlateId)> {
    let path = format!("{DATA}/products-cps-test-01.csv");
    if !Path::new(&path).is_file() {
        println!("(no {path}: the merger runs without links)");
        return Vec::new();
    }
    let products = read_products(Path::new(&path)).expect("catalogue parses");
    let on: BTreeMap<PlateId, &str> = products.iter().map(|p| (p.plate, p.name.as_str())).collect();
    on.iter()
        .filter_map(|(p, name)| {
            let next = PlateId::new(p.gondola, p.shelf, p.plate + 1);
            (on.get(&next) == Some(name)).then_some((*p, next))
        })
        .collect()
}

#[test]
fn the_detector_reports_nothing_on_any_real_plate() {
    let Some(plates) = real_plates() else { return };
    assert_eq!(plates.len(), 202);
    let links = planogram_links();
    println!("{} planogram links (products spanning plates)", links.len());
    let params = DetectorParams::default();
    let mut merger = ShelfMerger::new(links, &params);
    let (mut plate_changes, mut shelf_changes, mut changing, mut samples) = (vec![], vec![], 0usize, 0usize);
    for (plate, stream) in &plates {
        let mut d = PlateDetector::new(*plate, params.clone());
        for s in stream {
            if let Some(c) = d.push(*s) {
                plate_changes.push(c.clone());
                shelf_changes.extend(merger.push(c));
            }
            changing += usize::from(d.is_changing());
        }
        samples += stream.len();
        assert_eq!(d.rejected(), 0, "{plate}: every real sample is usable");
        assert_ne!(d.phase(), Phase::WarmingUp, "{plate} found its stable weight");
    }
    shelf_changes.extend(merger.flush());
    println!(
        "real plates: {} plates, {} samples, {} plate changes, {} shelf changes, changing {:.1} % of the time",
        plates.len(),
        samples,
        plate_changes.len(),
        shelf_changes.len(),
        100.0 * changing as f64 / samples as f64
    );
    assert!(plate_changes.is_empty(), "false plate changes: {plate_changes:#?}");
    assert!(shelf_changes.is_empty(), "false shelf changes: {shelf_changes:#?}");
}

#[test]
fn refitting_the_real_plates_gives_the_fitted_constants() {
    let Some(plates) = real_plates() else { return };
    let got = noise::fit(&plates).quiet;
    let want = NoiseModel::fitted().quiet;
    println!("re-fitted: {}", serde_json::to_string(&got).unwrap());
    let close = |name: &str, a: f64, b: f64, abs: f64| assert!((a - b).abs() <= abs, "{name}: fit {a} vs fitted() {b}");
    let rel = |name: &str, a: f64, b: f64, r: f64| assert!((a / b - 1.0).abs() <= r, "{name}: fit {a} vs fitted() {b}");
    close("sample_rate_hz", got.sample_rate_hz, want.sample_rate_hz, 0.05);
    close("quantum_g", got.quantum_g, want.quantum_g, 0.001);
    close("sigma_ln_mean", got.sigma_ln_mean, want.sigma_ln_mean, 0.01);
    rel("sigma_ln_sd", got.sigma_ln_sd, want.sigma_ln_sd, 0.02);
    close("student_nu", got.student_nu, want.student_nu, 0.1);
    close("ma[0]", got.ma[0], want.ma[0], 0.005);
    close("ma[1]", got.ma[1], want.ma[1], 0.005);
    rel("drift_g_per_min", got.drift_g_per_min, want.drift_g_per_min, 0.02);
    rel("shake_rate_hz", got.shake_rate_hz, want.shake_rate_hz, 0.02);
    close("shake_amp_ln_mean", got.shake_amp_ln_mean, want.shake_amp_ln_mean, 0.01);
    rel("shake_amp_ln_sd", got.shake_amp_ln_sd, want.shake_amp_ln_sd, 0.02);
    close("shake_dur_ln_mean", got.shake_dur_ln_mean, want.shake_dur_ln_mean, 0.01);
    rel("shake_dur_ln_sd", got.shake_dur_ln_sd, want.shake_dur_ln_sd, 0.02);
    close("shake_dur_max_s", got.shake_dur_max_s, want.shake_dur_max_s, 0.01);
    rel("shake_freq_hz", got.shake_freq_hz, want.shake_freq_hz, 0.02);
    rel("shake_freq_sd_hz", got.shake_freq_sd_hz, want.shake_freq_sd_hz, 0.02);
    rel("shake_offset_sd", got.shake_offset_sd, want.shake_offset_sd, 0.02);
    close("dead_fraction", got.dead_fraction, want.dead_fraction, 0.001);
}

fn quantile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn print_stats(label: &str, s: &PlateSetStats) {
    println!(
        "{label}: {} plates (+{} dead), ln σ {:.3} ± {:.3}, kurtosis {:.2}, rho {:.3} {:.3}, drift |{:.3}| g/min, \
         shakes {:.4}/s, ln(peak/σ) {:.3} ± {:.3}, ln(dur) {:.3} ± {:.3}, {:.1} ± {:.1} Hz",
        s.plates,
        s.dead,
        s.sigma_ln_mean,
        s.sigma_ln_sd,
        s.kurtosis,
        s.rho[0],
        s.rho[1],
        s.drift_abs_g_per_min,
        s.episode_rate_hz,
        s.amp_ln_mean,
        s.amp_ln_sd,
        s.dur_ln_mean,
        s.dur_ln_sd,
        s.freq_hz,
        s.freq_sd_hz
    );
}

/// Synthetic quiet plates from `fitted()` (three per live real plate, a seed
/// the fit never used) look like the real ones: same distribution of
/// per-sample noise, of noise level across plates, of shake amplitudes, and
/// the detector is as restless on them.
#[test]
fn synthetic_quiet_plates_match_the_real_ones() {
    let Some(plates) = real_plates() else { return };
    let model = NoiseModel::fitted();
    let real_stats = noise::measure(plates.values().map(Vec::as_slice));
    let live: Vec<&Vec<Sample>> = plates.values().filter(|s| noise::block_sigma(s) > 0.0).collect();
    assert_eq!(live.len(), real_stats.plates);
    let synth = model.quiet_plates(20_240_601, 3 * live.len(), 33.6);
    let synth_stats = noise::measure(synth.iter().map(Vec::as_slice));
    print_stats("real     ", &real_stats);
    print_stats("synthetic", &synth_stats);

    // Per-sample noise (g), pooled over plates: KS distance and tail quantiles.
    let real_res: Vec<f64> = live.iter().flat_map(|s| noise::quiet_residuals(s)).collect();
    let synth_res: Vec<f64> = synth.iter().flat_map(|s| noise::quiet_residuals(s)).collect();
    let ks_noise = noise::ks_distance(&real_res, &synth_res);
    let (mut ra, mut sa): (Vec<f64>, Vec<f64>) =
        (real_res.iter().map(|x| x.abs()).collect(), synth_res.iter().map(|x| x.abs()).collect());
    // The extreme tail is a little lighter in the model (-14 % at 99.9 %): a
    // few real plates are noisier in some seconds than in others.
    for (p, tolerance) in [(0.5, 0.1), (0.9, 0.1), (0.99, 0.15), (0.999, 0.2)] {
        let (r, s) = (quantile(&mut ra, p), quantile(&mut sa, p));
        println!("|noise| quantile {p}: real {r:.3} g, synthetic {s:.3} g");
        assert!((s / r - 1.0).abs() < tolerance, "|noise| quantile {p}: real {r} synthetic {s}");
    }
    // Noise level across plates.
    let real_sigma: Vec<f64> = live.iter().map(|s| noise::block_sigma(s)).collect();
    let synth_sigma: Vec<f64> = synth.iter().map(|s| noise::block_sigma(s)).collect();
    let ks_sigma = noise::ks_distance(&real_sigma, &synth_sigma);
    // Shake amplitudes (g) and rate.
    let real_eps: Vec<f64> = live.iter().flat_map(|s| noise::episodes(s)).map(|e| e.peak_g).collect();
    let synth_eps: Vec<f64> = synth.iter().flat_map(|s| noise::episodes(s)).map(|e| e.peak_g).collect();
    let ks_amp = noise::ks_distance(&real_eps, &synth_eps);
    let (mut re, mut se) = (real_eps.clone(), synth_eps.clone());
    for p in [0.5, 0.9, 0.99] {
        println!(
            "shake peak quantile {p}: real {:.2} g, synthetic {:.2} g",
            quantile(&mut re, p),
            quantile(&mut se, p)
        );
    }
    println!(
        "KS distances: per-sample noise {ks_noise:.4} (n {} vs {}), plate σ {ks_sigma:.3} ({} vs {}), \
         shake peaks {ks_amp:.3} ({} vs {})",
        real_res.len(),
        synth_res.len(),
        real_sigma.len(),
        synth_sigma.len(),
        real_eps.len(),
        synth_eps.len()
    );
    assert!(ks_noise < 0.03, "per-sample noise KS {ks_noise}");
    assert!(ks_sigma < 0.15, "plate noise level KS {ks_sigma}");
    assert!(ks_amp < 0.1, "shake amplitude KS {ks_amp}");
    let rate = synth_stats.episode_rate_hz / real_stats.episode_rate_hz;
    assert!((rate - 1.0).abs() < 0.2, "shake rate synthetic/real {rate}");

    // The detector: no change on either, and about as often restless.
    let restless = |streams: &[&Vec<Sample>]| {
        let (mut changing, mut total, mut changes) = (0usize, 0usize, 0usize);
        for (i, s) in streams.iter().enumerate() {
            let mut d = PlateDetector::new(PlateId::new(1, 1, 1 + i as u16), DetectorParams::default());
            for x in s.iter() {
                changes += usize::from(d.push(*x).is_some());
                changing += usize::from(d.is_changing());
            }
            total += s.len();
        }
        (changes, changing as f64 / total as f64)
    };
    let (real_changes, real_busy) = restless(&live);
    let (synth_changes, synth_busy) = restless(&synth.iter().collect::<Vec<_>>());
    println!(
        "detector: real {real_changes} changes, changing {:.1} %; synthetic {synth_changes} changes, changing {:.1} %",
        100.0 * real_busy,
        100.0 * synth_busy
    );
    assert_eq!((real_changes, synth_changes), (0, 0));
    assert!((synth_busy / real_busy - 1.0).abs() < 0.35, "time changing: real {real_busy} synthetic {synth_busy}");
}
