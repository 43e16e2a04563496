//! The shelf pipeline through its public API: bad input is counted by cause
//! and never stops ingest; a silent plate is degraded; and the live MQTT path
//! (replay -> broker -> subscriber -> pipeline) gives the same events as the
//! offline run on the same recording, through the embedded broker and, when
//! `WALKOUT_TEST_MOSQUITTO` is set, through Mosquitto.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use walkout::config::MqttConfig;
use walkout::ids::{PlateId, Sku};
use walkout::mqtt::{EmbeddedBroker, client_options};
use walkout::shelf::Sample;
use walkout::shelf::codec::{Payload, plate_topic};
use walkout::shelf::inference::{ProductWeight, ShelfCatalog};
use walkout::shelf::pipeline::{PipelineParams, ShelfEvent, ShelfPipeline};
use walkout::telemetry::ShelfMetrics;

const STORE: &str = "test-store";

/// Three plates on one shelf: water spans plates 1-2, chips on plate 3.
fn catalog() -> ShelfCatalog {
    let mut c = ShelfCatalog::default();
    for (sku, w, plates) in [("water", 1540.0, vec![1, 2]), ("chips", 180.0, vec![3])] {
        let sku_id = Sku::from(sku);
        c.products.insert(
            sku_id.clone(),
            ProductWeight { sku: sku_id.clone(), name: sku.into(), unit_weight_g: w, sigma_g: w * 0.015 },
        );
        for p in plates {
            c.facings.entry(PlateId::new(1, 1, p)).or_default().push(sku_id.clone());
        }
    }
    c
}

fn pipeline(metrics: &ShelfMetrics) -> ShelfPipeline {
    ShelfPipeline::new(STORE, catalog(), PipelineParams::with_defaults(), metrics.clone())
}

/// 20 s at 60 Hz with small deterministic noise and the given steps (t, Δg).
fn stream(base: f64, steps: &[(f64, f64)], seed: u64) -> Vec<Sample> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let t0 = 1_700_000_000.0;
    (0..1200)
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 2.0; // ±1 g
            let t = t0 + f64::from(i) / 60.0;
            let level: f64 = steps.iter().filter(|(ts, _)| t - t0 >= *ts).map(|(_, d)| d).sum();
            Sample { t, grams: base + level + noise }
        })
        .collect()
}

fn recording() -> BTreeMap<PlateId, Vec<Sample>> {
    BTreeMap::from([
        // One bottle of water taken off plates 1 and 2 together at t=5 s, two bags of chips at t=12 s.
        (PlateId::new(1, 1, 1), stream(3000.0, &[(5.0, -770.0)], 1)),
        (PlateId::new(1, 1, 2), stream(3100.0, &[(5.0, -770.0)], 2)),
        (PlateId::new(1, 1, 3), stream(900.0, &[(12.0, -360.0)], 3)),
    ])
}

fn summary(events: &[ShelfEvent]) -> Vec<(Vec<u16>, String, u32, i64)> {
    let mut s: Vec<_> = events
        .iter()
        .map(|e| (e.plates.clone(), e.candidates[0].name.clone(), e.candidates[0].qty, (e.t * 10.0).round() as i64))
        .collect();
    s.sort();
    s
}

#[test]
fn offline_run_finds_the_picks_with_product_and_quantity() {
    let metrics = ShelfMetrics::default();
    let events = walkout::shelf::offline::run(&mut pipeline(&metrics), &recording());
    let got = summary(&events);
    assert_eq!(got.len(), 2, "{events:#?}");
    assert_eq!((got[0].0.clone(), got[0].1.as_str(), got[0].2), (vec![1, 2], "water", 1));
    assert_eq!((got[1].0.clone(), got[1].1.as_str(), got[1].2), (vec![3], "chips", 2));
    assert!(events.iter().all(|e| e.delta_g < 0.0 && !e.degraded));
    assert_eq!(metrics.samples_accepted.get(), 3 * 1200);
}

#[test]
fn bad_messages_are_counted_by_cause_and_ingest_goes_on() {
    let metrics = ShelfMetrics::default();
    let mut p = pipeline(&metrics);
    let topic = plate_topic(STORE, PlateId::new(1, 1, 3));
    let good = |t: f64| Payload::from_samples(&[Sample { t, grams: 900.0 }, Sample { t: t + 0.016, grams: 900.5 }], 0);
    p.handle_message(&topic, b"{not json");
    p.handle_message(&topic, br#"{"samples": []}"#);
    p.handle_message(&topic, br#"{"samples": [[10.0, null], [10.1, 901.0]]}"#);
    p.handle_message("walkout/v1/test-store/plate/9/9/9", &good(11.0).to_json());
    p.handle_message("walkout/v1/elsewhere/plate/1/1/3", &good(11.0).to_json());
    p.handle_message("nonsense", b"");
    p.handle_message(&topic, &good(20.0).to_json());
    p.handle_message(&topic, &good(20.0).to_json()); // a QoS 1 redelivery
    p.handle_message(&topic, &good(15.0).to_json()); // late
    for (cause, n) in [
        ("malformed_json", 1),
        ("empty_batch", 1),
        ("invalid_sample", 1),
        ("unknown_plate", 1),
        ("other_store", 1),
        ("bad_topic", 1),
        ("duplicate", 2),
        ("out_of_order", 2),
    ] {
        assert_eq!(metrics.dropped_count(cause), n, "{cause}");
    }
    assert_eq!(metrics.samples_accepted.get(), 3, "1 from the partly bad batch, 2 from the first good one");
}

#[test]
fn a_silent_plate_is_degraded_and_recovers() {
    let metrics = ShelfMetrics::default();
    let mut p = pipeline(&metrics);
    let mut plates = recording();
    // Plate 3 stops reporting after 4 s, then resumes at 15 s.
    plates
        .get_mut(&PlateId::new(1, 1, 3))
        .unwrap()
        .retain(|s| s.t - 1_700_000_000.0 < 4.0 || s.t - 1_700_000_000.0 > 15.0);
    let mut degraded_seen = false;
    for batch in walkout::shelf::offline::interleaved_batches(&plates) {
        p.handle_batch("t", batch);
        degraded_seen |= p.degraded_plates() == vec![PlateId::new(1, 1, 3)];
    }
    assert!(degraded_seen, "plate 3 was never marked degraded");
    assert!(p.degraded_plates().is_empty(), "plate 3 recovered when it reported again");
}

async fn live_events(broker: std::net::SocketAddr, store_suffix: &str) -> Vec<ShelfEvent> {
    let cfg = MqttConfig { host: broker.ip().to_string(), port: broker.port(), ..Default::default() };
    let store = format!("{STORE}{store_suffix}");
    let metrics = ShelfMetrics::default();
    let p = ShelfPipeline::new(&store, catalog(), PipelineParams::with_defaults(), metrics.clone());
    let (events_tx, mut events_rx) = mpsc::channel(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let opts = client_options(&cfg, &format!("ingest{store_suffix}")).unwrap();
    let ingest = tokio::spawn(walkout::shelf::live::run(opts, store.clone(), p, events_tx, stop_rx));
    // Let the subscription settle, then publish everything as fast as the broker acknowledges.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let recording = recording();
    let total: u64 = recording.values().map(|s| s.len() as u64).sum();
    let report = walkout::shelf::replay::replay(
        client_options(&cfg, &format!("replay{store_suffix}")).unwrap(),
        &store,
        &recording,
        0.0,
    )
    .await
    .unwrap();
    assert_eq!(report.acknowledged, report.batches);
    for _ in 0..100 {
        if metrics.samples_accepted.get() >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metrics.samples_accepted.get(), total, "every published sample reached the pipeline");
    stop_tx.send(true).unwrap();
    ingest.await.unwrap();
    let mut events = Vec::new();
    while let Ok(e) = events_rx.try_recv() {
        events.push(e);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_path_through_the_embedded_broker_matches_offline() {
    let broker = EmbeddedBroker::start_on_free_port().unwrap();
    let live = live_events(broker.addr, "").await;
    let offline = walkout::shelf::offline::run(&mut pipeline(&ShelfMetrics::default()), &recording());
    assert_eq!(summary(&live), summary(&offline));
    assert_eq!(live.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_path_through_mosquitto_matches_offline() {
    let Ok(addr) = std::env::var("WALKOUT_TEST_MOSQUITTO") else {
        eprintln!("SKIPPED: Mosquitto variant; set WALKOUT_TEST_MOSQUITTO=127.0.0.1:1883 to run it");
        return;
    };
    let suffix = format!("-{}", uuid::Uuid::new_v4().simple());
    let live = live_events(addr.parse().unwrap(), &suffix).await;
    let offline = walkout::shelf::offline::run(&mut pipeline(&ShelfMetrics::default()), &recording());
    assert_eq!(summary(&live), summary(&offline));
}
