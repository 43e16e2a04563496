//! A one-line progress bar on stderr for runs longer than a couple of
//! seconds; silent when stderr is not a terminal (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: &'static str,
    total: f64,
    started: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
}

/// Nothing is drawn before this much time has passed.
const QUIET_FOR: Duration = Duration::from_secs(2);
const WIDTH: usize = 40;

impl Progress {
    pub fn new(label: &'static str, total: f64, wanted: bool) -> Self {
        Self {
            label,
            total,
            started: Instant::now(),
            last_draw: None,
            enabled: wanted && std::io::stderr().is_terminal(),
        }
    }

    pub fn set(&mut self, done: f64) {
        if !self.enabled || self.started.elapsed() < QUIET_FOR {
            return;
        }
        if self.last_draw.is_some_and(|t| t.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.last_draw = Some(Instant::now());
        eprint!("\r{}", bar(self.label, done, self.total, self.started.elapsed()));
        let _ = std::io::stderr().flush();
    }

    pub fn done(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            eprintln!("\r{}", bar(self.label, self.total, self.total, self.started.elapsed()));
        }
    }
}

/// `label [#####.....]  50 % 12 s`
fn bar(label: &str, done: f64, total: f64, elapsed: Duration) -> String {
    let f = if total > 0.0 { (done / total).clamp(0.0, 1.0) } else { 1.0 };
    let filled = (f * WIDTH as f64).round() as usize;
    format!(
        "{label} [{}{}] {:>3.0} % {:>4} s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        100.0 * f,
        elapsed.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_with_progress_and_clamps() {
        let half = bar("x", 5.0, 10.0, Duration::from_secs(3));
        assert!(half.contains(&"#".repeat(20)) && half.contains(" 50 %"), "{half}");
        assert!(bar("x", 20.0, 10.0, Duration::ZERO).contains("100 %"));
    }
}
