//! Benchmarks: throughput figures printed as JSON (`walkout bench ...`).
//! Tests check behaviour; speed lives here, measured, never asserted.

pub mod accuracy;
pub mod checkout;
pub mod progress;
pub mod shelf;
pub mod vision;

/// Runs `f` `rounds` times and returns the per-round seconds, sorted.
pub fn time_rounds(rounds: usize, mut f: impl FnMut()) -> Vec<f64> {
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// The median of sorted values.
pub fn median(sorted: &[f64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}
