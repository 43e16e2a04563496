//! `walkout bench accuracy`: a simulated scenario through the real
//! pipeline, scored receipt by receipt. The simulator's plate readings go
//! as MQTT payloads into the shelf pipeline, its pose observations into the
//! multi-camera tracker, its gate scans through the real gate; fusion
//! builds the carts; the real exit prices, charges or sends to review. The
//! scorer ([`score`]) compares every visit with the simulator's truth.

pub mod attribution;
pub mod cli;
pub mod linking;
pub mod plot;
pub mod score;
pub mod shop;
pub mod tracking;
pub mod tradeoff;

use crate::catalog::Catalog;
use crate::fusion::runner::{StoreInput, StoreRunner};
use crate::fusion::{ClosedVisit, Fusion, FusionParams, FusionStats};
use crate::ids::{TrackId, VisitId};
use crate::sim::feed::SimInput;
use crate::sim::{self, Scenario, SimConfig, World};
use crate::telemetry::ShelfMetrics;
use crate::vision::tracker::TrackerParams;
use score::{Score, VisitOutcome};
use serde::Serialize;
use shop::{Decision, Shop};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum AccuracyError {
    #[error("catalogue: {0}")]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error("store: {0}")]
    Shop(#[from] crate::bench::checkout::CheckoutBenchError),
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("{0} (build it with `walkout gallery demo`, or run without hand crops)")]
    CropBank(#[from] crate::sim::crops::CropBankError),
    #[error("{0}")]
    Gallery(#[from] crate::catalog::gallery::GalleryError),
}

#[derive(Clone, Debug)]
pub struct AccuracyOptions {
    pub scenario: Scenario,
    pub seed: u64,
    pub parties: usize,
    /// The demo store's `calibration/demo-store`.
    pub calibration: PathBuf,
    pub fusion: FusionParams,
    /// Events below this confidence send a visit to review.
    pub review_below_confidence: f64,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Write each charged receipt here as text.
    pub receipts_dir: Option<PathBuf>,
    /// Keep each shelf event's track evidence (`attribution.fit_cases`).
    pub keep_evidence: bool,
    /// The cameras report hand crops, drawn from the calibration folder's
    /// `hand-crops.json` (the demo gallery's matches of rendered crops).
    pub hand_crops: bool,
}

/// The benchmark's result (also written as JSON and Markdown).
#[derive(Clone, Debug, Serialize)]
pub struct AccuracyReport {
    pub scenario: Scenario,
    pub seed: u64,
    pub parties: usize,
    pub people: usize,
    pub simulated_s: f64,
    pub build: &'static str,
    pub wall_s: f64,
    pub hard_cases: BTreeMap<String, usize>,
    pub shelf_events: u64,
    pub fusion: FusionStats,
    /// How well the tracker followed the simulated people.
    pub tracking: tracking::TrackingQuality,
    /// Whether tracks were linked to the right visits (by the detections' truth).
    pub linking: linking::LinkingQuality,
    /// Whether each shelf event went to the right visit (by the simulator's truth).
    pub attribution: attribution::AttributionQuality,
    pub score: Score,
    /// Review rate against wrong-and-unflagged visits over review thresholds.
    pub tradeoff: Vec<tradeoff::TradeoffPoint>,
    /// How many reviewed visits gave each reason (by its code).
    pub review_reasons: BTreeMap<String, usize>,
    pub outcomes: Vec<VisitOutcome>,
    /// How fusion decided every shelf event.
    pub events: Vec<crate::fusion::EventDecision>,
    /// Per true shelf action: people in the store and whether its cart line came out right.
    #[serde(skip)]
    pub actions: Vec<ActionResult>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActionResult {
    pub t: f64,
    pub people_in_store: usize,
    pub right: bool,
    pub x: f64,
    pub y: f64,
}

/// Runs one scenario end to end and scores it.
pub fn run(opts: &AccuracyOptions) -> Result<(AccuracyReport, World), AccuracyError> {
    let started = Instant::now();
    let catalog = Catalog::load(&opts.calibration)?;
    let mut world =
        sim::simulate(SimConfig { scenario: opts.scenario, seed: opts.seed, parties: opts.parties }, &catalog);
    let mut fusion = opts.fusion.clone();
    if opts.hand_crops {
        let bank = sim::crops::CropBank::load(&opts.calibration.join("hand-crops.json"))?;
        let gallery = crate::catalog::gallery::Gallery::load(&opts.calibration.join("gallery.json"))?;
        bank.check_gallery(&gallery)?;
        world = world.with_crop_bank(std::sync::Arc::new(bank));
        if let Some(rates) = gallery.rates {
            fusion.items.rates = std::sync::Arc::new(rates);
        }
    }
    let scratch = tempfile::tempdir().map_err(|e| write_err(Path::new("(temp dir)"), e))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| write_err(Path::new("(runtime)"), e))?;
    let mut shop = rt.block_on(Shop::open(&catalog, scratch.path(), opts.review_below_confidence))?;
    if let Some(dir) = &opts.receipts_dir {
        std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
        shop.receipts_dir = Some(dir.clone());
    }
    let mut runner =
        StoreRunner::new(&catalog, &world.layout, fusion, TrackerParams::default(), ShelfMetrics::default());
    runner.fusion.keep_evidence = opts.keep_evidence;
    runner.fusion.keep_history = true;
    let mut visit_party: BTreeMap<VisitId, u32> = BTreeMap::new();
    let mut decisions: BTreeMap<u32, (Decision, f64)> = BTreeMap::new();
    let mut tracking = tracking::TrackingScorer::default();
    let mut linking = linking::LinkingScorer::default();
    let mut frame_people = attribution::FramePeople::new();
    let mut progress = crate::bench::progress::Progress::new("simulating", world.end - world.t0, opts.progress);
    for input in sim::feed::inputs(&world, &catalog, 6) {
        match input {
            SimInput::Plates { topic, payload, .. } => {
                runner.input(StoreInput::Plates { topic, payload });
            }
            SimInput::Scan { t, party } => {
                let guests = party.guests.len() as u8;
                let visit = rt.block_on(shop.scan(party.index, guests, t))?;
                visit_party.insert(visit.clone(), party.index);
                runner.input(StoreInput::Scan { t, visit, guests });
            }
            SimInput::Frame(step) => {
                let t = step.t;
                let truths: Vec<Option<u32>> = step.observations.iter().map(|o| o.truth).collect();
                let observations = sim::feed::camera_observations(step);
                let out = runner.input(StoreInput::Frame { t, observations });
                linking.step(t, &truths, runner.tracker.outcomes());
                if opts.keep_evidence {
                    attribution::note_frame(&mut frame_people, t, &truths, runner.tracker.outcomes());
                }
                let on_floor: Vec<(u32, f64, f64)> =
                    world.people.iter().filter_map(|p| p.floor_at(t).map(|(x, y, _)| (p.id, x, y))).collect();
                tracking.step(&on_floor, &out.tracks);
                close(&rt, &shop, &visit_party, out.closed, opts.fusion.grace_s, &mut decisions)?;
                progress.set(t - world.t0);
            }
        }
    }
    let out = runner.input(StoreInput::End { t: world.end });
    close(&rt, &shop, &visit_party, out.closed, opts.fusion.grace_s, &mut decisions)?;
    progress.done();
    let fusion = &runner.fusion;
    let mut report = assemble(opts, &world, &shop, fusion, decisions, started)?;
    report.tracking = tracking.finish(world.people.len());
    let person_party: BTreeMap<u32, u32> = world.people.iter().map(|p| (p.id, p.party)).collect();
    let members = runner.fusion.visit_members();
    let track_party: BTreeMap<TrackId, u32> = members
        .iter()
        .filter_map(|(visit, _, tracks)| visit_party.get(visit).map(|party| (tracks, *party)))
        .flat_map(|(tracks, party)| tracks.iter().map(move |(track, _)| (track.clone(), party)))
        .collect();
    let truth = attribution::Truth {
        visit_party: &visit_party,
        track_people: &linking.track_people(),
        track_party: &track_party,
        frame_people: &frame_people,
    };
    report.attribution = attribution::score(&runner.fusion.decisions, &world.actions, &truth);
    report.linking = linking.finish(&members, &visit_party, &person_party);
    rt.block_on(shop.storage.close());
    Ok((report, world))
}

fn close(
    rt: &tokio::runtime::Runtime,
    shop: &Shop,
    visit_party: &BTreeMap<VisitId, u32>,
    closed: Vec<ClosedVisit>,
    grace_s: f64,
    decisions: &mut BTreeMap<u32, (Decision, f64)>,
) -> Result<(), AccuracyError> {
    for c in closed {
        let decision = rt.block_on(shop.exit(&c))?;
        if let Some(party) = visit_party.get(&c.visit) {
            decisions.insert(*party, (decision, c.closed_at + grace_s));
        }
    }
    Ok(())
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> AccuracyError {
    AccuracyError::Write { path: path.to_owned(), message: e.to_string() }
}

fn assemble(
    opts: &AccuracyOptions,
    world: &World,
    shop: &Shop,
    fusion: &Fusion,
    decisions: BTreeMap<u32, (Decision, f64)>,
    started: Instant,
) -> Result<AccuracyReport, AccuracyError> {
    let truth = world.truth();
    let mut outcomes = Vec::new();
    let mut review_reasons: BTreeMap<String, usize> = BTreeMap::new();
    for party in &world.parties {
        let true_items = truth.get(&party.index).cloned().unwrap_or_default();
        let true_minor = shop.price(&true_items)?;
        let (cart, reviewed, charged_minor, latency, reasons, min_event_confidence) = match decisions.get(&party.index)
        {
            Some((d, decided_at)) => {
                for r in &d.reasons {
                    *review_reasons.entry(r.split(':').next().unwrap_or(r).to_owned()).or_insert(0) += 1;
                }
                let latency = Some(decided_at - party.exit_t);
                (d.cart.clone(), d.reviewed, d.charged_minor, latency, d.reasons.clone(), d.min_confidence)
            }
            // The gate refused the party or fusion never closed the visit: staff must look.
            None => {
                *review_reasons.entry("never_decided".into()).or_insert(0) += 1;
                (BTreeMap::new(), true, 0, None, vec!["never_decided".to_owned()], None)
            }
        };
        outcomes.push(VisitOutcome {
            visit: format!("party-{:05}", party.index),
            truth: true_items,
            cart,
            reviewed,
            charged_minor,
            true_minor,
            exit_to_decision_s: latency,
            reasons,
            min_event_confidence,
        });
    }
    let by_party: BTreeMap<u32, &VisitOutcome> = world.parties.iter().map(|p| p.index).zip(&outcomes).collect();
    let actions = world
        .actions
        .iter()
        .map(|a| {
            let right = by_party.get(&a.party).is_some_and(|o| o.cart.get(&a.sku) == o.truth.get(&a.sku));
            let people_in_store = world.people.iter().filter(|p| p.present(a.t)).count();
            let (x, y) = world.person(a.person).and_then(|p| p.floor_at(a.t)).map_or((0.0, 0.0), |(x, y, _)| (x, y));
            ActionResult { t: a.t, people_in_store, right, x, y }
        })
        .collect();
    Ok(AccuracyReport {
        scenario: opts.scenario,
        seed: opts.seed,
        parties: world.parties.len(),
        people: world.people.len(),
        simulated_s: world.end - world.t0,
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        wall_s: started.elapsed().as_secs_f64(),
        hard_cases: world.hard_cases().into_iter().map(|(k, v)| (format!("{k:?}"), v)).collect(),
        shelf_events: fusion.stats.shelf_events,
        fusion: fusion.stats.clone(),
        tracking: tracking::TrackingQuality::default(),
        linking: linking::LinkingQuality::default(),
        attribution: attribution::AttributionQuality::default(),
        score: score::score(&outcomes),
        tradeoff: tradeoff::curve(&outcomes, &tradeoff::thresholds()),
        review_reasons,
        outcomes,
        events: fusion.decisions.clone(),
        actions,
    })
}

/// The report's headline as a Markdown table row set.
pub fn markdown(reports: &[AccuracyReport]) -> String {
    let mut md = String::from(
        "| scenario | seed | visits | item F1 (product and shopper) | precision | recall | exact receipts | review rate (for doubt) | wrong and unflagged | money error | exit to decision p50 |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in reports {
        let s = &r.score;
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} % | {:.1} % | {:.1} % | {:.1} % | {:.1} % ({:.1} %) | {} ({:.1} %) | {:.2} | {} |\n",
            r.scenario,
            r.seed,
            s.visits,
            100.0 * s.f1,
            100.0 * s.precision,
            100.0 * s.recall,
            100.0 * s.exact_receipt_rate,
            100.0 * s.review_rate,
            100.0 * s.review_for_doubt_rate,
            s.wrong_unflagged,
            100.0 * s.wrong_unflagged_rate,
            s.money_error_minor as f64 / 100.0,
            s.exit_to_decision_p50_s.map_or("-".into(), |v| format!("{v:.1} s")),
        ));
    }
    md
}
