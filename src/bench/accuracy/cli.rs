//! The `walkout bench accuracy` command: runs each scenario, writes the
//! full JSON report and a Markdown table (and plots) under `out`, and
//! returns the headline figures for stdout.

use super::{AccuracyError, AccuracyOptions, AccuracyReport, markdown, plot, run};
use crate::sim::Scenario;
use std::path::Path;

/// `standard`, `crowded`, `adversarial` or `all`.
pub fn scenarios(arg: &str) -> Result<Vec<Scenario>, String> {
    if arg == "all" {
        return Ok(Scenario::ALL.to_vec());
    }
    arg.split(',').map(|s| s.trim().parse()).collect()
}

/// Runs every scenario; returns `{"reports": [headline, ...], "written": [...]}`.
/// `template` gives everything but the scenario.
pub fn run_all(
    scenarios: &[Scenario],
    template: &AccuracyOptions,
    out: &Path,
    plot_dir: Option<&Path>,
) -> Result<serde_json::Value, AccuracyError> {
    let seed = template.seed;
    let write_err =
        |path: &Path, e: &dyn std::fmt::Display| AccuracyError::Write { path: path.to_owned(), message: e.to_string() };
    std::fs::create_dir_all(out).map_err(|e| write_err(out, &e))?;
    let mut reports: Vec<AccuracyReport> = Vec::new();
    let mut written = Vec::new();
    for &scenario in scenarios {
        let receipts = out.join(format!("receipts-{scenario}-seed{seed}"));
        let opts = AccuracyOptions { scenario, receipts_dir: Some(receipts.clone()), ..template.clone() };
        let (report, world) = run(&opts)?;
        let json_path = out.join(format!("accuracy-{scenario}-seed{seed}.json"));
        let json = serde_json::to_string_pretty(&report).map_err(|e| write_err(&json_path, &e))?;
        std::fs::write(&json_path, json).map_err(|e| write_err(&json_path, &e))?;
        written.push(json_path.display().to_string());
        written.push(format!("{}/ ({} receipts)", receipts.display(), report.score.visits - report.score.reviewed));
        if let Some(dir) = plot_dir {
            let dir = dir.join(format!("{scenario}-seed{seed}"));
            for p in plot::write_plots(&report, &world, &dir).map_err(|e| write_err(&dir, &e))? {
                written.push(p.display().to_string());
            }
        }
        reports.push(report);
    }
    let md_path = out.join(format!("accuracy-seed{seed}.md"));
    std::fs::write(&md_path, markdown(&reports)).map_err(|e| write_err(&md_path, &e))?;
    written.push(md_path.display().to_string());
    let headlines: Vec<serde_json::Value> = reports.iter().map(headline).collect();
    Ok(serde_json::json!({ "reports": headlines, "written": written, "table": markdown(&reports) }))
}

/// A report without its per-visit outcomes.
fn headline(r: &AccuracyReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.remove("outcomes");
        map.remove("events");
        if let Some(linking) = map.get_mut("linking").and_then(|l| l.as_object_mut()) {
            for detail in ["wrong", "unlinked", "visits"] {
                linking.remove(detail);
            }
        }
        if let Some(attribution) = map.get_mut("attribution").and_then(|l| l.as_object_mut()) {
            attribution.remove("wrong_list");
            attribution.remove("hand_evidence");
            attribution.remove("fit_cases");
        }
    }
    v
}
