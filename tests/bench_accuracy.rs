//! `walkout bench accuracy` end to end on small scenarios: the simulator's
//! sensor streams through the shelf pipeline, the tracker, fusion and the
//! real gate and exit, scored against the simulator's truth. Checks that
//! the run is deterministic for a seed, that every visit is decided, and
//! that the plots are real PNGs.

use std::path::{Path, PathBuf};
use walkout::bench::accuracy::{AccuracyOptions, run};
use walkout::fusion::FusionParams;
use walkout::sim::Scenario;

fn options(scenario: Scenario, seed: u64, parties: usize) -> AccuracyOptions {
    AccuracyOptions {
        scenario,
        seed,
        parties,
        calibration: Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store"),
        fusion: FusionParams::default(),
        review_below_confidence: 0.9,
        progress: false,
        receipts_dir: None,
        keep_evidence: false,
        hand_crops: true,
    }
}

#[test]
fn same_seed_same_receipts_and_every_visit_is_decided() {
    let opts = options(Scenario::Standard, 11, 2);
    let (a, world) = run(&opts).expect("first run");
    let (b, _) = run(&opts).expect("second run");
    assert_eq!(a.outcomes, b.outcomes, "same seed, same receipts");
    assert_eq!(a.score, b.score);
    assert_eq!(a.outcomes.len(), 2);
    assert!(a.shelf_events > 0, "the shelves saw the picks");
    let truth_items: i64 = world.truth().values().flat_map(|m| m.values()).sum();
    assert_eq!(a.score.items_true, truth_items);
    for o in &a.outcomes {
        assert!(o.exit_to_decision_s.is_some(), "{} was seen leaving and decided", o.visit);
    }
    // Everyone was followed nearly all the time, with few tracks following nobody.
    let t = &a.tracking;
    assert_eq!(t.people, world.people.len());
    assert!(t.coverage > 0.9, "{t:?}");
    assert!(t.false_track_steps * 20 < t.person_steps, "{t:?}");
    println!("standard seed 11, 2 parties: {}", serde_json::to_string(&a.score).unwrap());
}

#[test]
fn plots_are_written_as_png() {
    let (report, world) = run(&options(Scenario::Adversarial, 2, 2)).expect("run");
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<PathBuf> = walkout::bench::accuracy::plot::write_plots(&report, &world, dir.path()).unwrap();
    assert_eq!(written.len(), 3, "crowding, map and trade-off: {written:?}");
    assert_eq!(report.tradeoff.len(), walkout::bench::accuracy::tradeoff::thresholds().len());
    for p in written {
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", p.display());
        let img = image::load_from_memory(&bytes).unwrap();
        assert!(img.width() >= 600 && img.height() >= 400);
    }
}
