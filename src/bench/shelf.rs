//! `walkout bench shelf`: the plate change detector's samples per second on
//! one core, the whole offline pipeline's, and end-to-end samples per second
//! through a real broker (the embedded one, and Mosquitto when given) with a
//! loss count, on synthetic plates from the fitted noise model with picks.

use crate::config::MqttConfig;
use crate::ids::{PlateId, Sku};
use crate::mqtt::{EmbeddedBroker, client_options};
use crate::shelf::Sample;
use crate::shelf::detector::PlateDetector;
use crate::shelf::inference::{ProductWeight, ShelfCatalog};
use crate::shelf::noise::{NoiseModel, PlateSpec, ScriptedChange, StreamSpec};
use crate::shelf::pipeline::{PipelineParams, ShelfPipeline};
use crate::shelf::replay::ReplayError;
use crate::telemetry::ShelfMetrics;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[derive(Clone, Debug)]
pub struct ShelfBenchOptions {
    /// Plates in the synthetic store (350: a large store).
    pub plates: u16,
    /// Seconds of 60 Hz readings per plate.
    pub duration_s: f64,
    pub seed: u64,
    /// Also measure through this external broker (e.g. Mosquitto).
    pub external_broker: Option<SocketAddr>,
}

#[derive(Debug, Serialize)]
pub struct ShelfBenchReport {
    pub plates: u16,
    pub duration_s: f64,
    pub samples: u64,
    pub build: &'static str,
    /// `PlateDetector::push` alone, one thread, median of 5 rounds.
    pub detector_samples_per_s_per_core: f64,
    /// Batches through the full pipeline (detector, merger, inference, stock), one thread.
    pub pipeline_samples_per_s_per_core: f64,
    pub events_detected: usize,
    pub broker: Vec<BrokerRun>,
}

#[derive(Debug, Serialize)]
pub struct BrokerRun {
    pub broker: String,
    pub samples_published: u64,
    pub samples_received: u64,
    pub lost: u64,
    pub wall_s: f64,
    pub samples_per_s: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Mqtt(#[from] crate::mqtt::MqttError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

const STORE: &str = "bench-store";

/// 12 plates a shelf; each plate carries its own product; a pick every ~10 s per plate.
fn synthetic_store(opts: &ShelfBenchOptions) -> (ShelfCatalog, BTreeMap<PlateId, Vec<Sample>>) {
    let model = NoiseModel::fitted();
    let spec = StreamSpec::new(opts.seed, opts.duration_s);
    let mut catalog = ShelfCatalog::default();
    let mut plates = BTreeMap::new();
    for i in 0..opts.plates {
        let plate = PlateId::new(i / 72 + 1, (i / 12) % 6 + 1, i % 12 + 1);
        let unit = 80.0 + f64::from(i % 17) * 45.0;
        let sku = Sku(format!("P{i:04}"));
        catalog.products.insert(
            sku.clone(),
            ProductWeight { sku: sku.clone(), name: sku.0.clone(), unit_weight_g: unit, sigma_g: unit * 0.015 },
        );
        catalog.facings.insert(plate, vec![sku]);
        let changes = (0..)
            .map(|k| 3.0 + f64::from(k) * 10.0 + f64::from(i % 7))
            .take_while(|t| *t < opts.duration_s - 3.0)
            .map(|t| ScriptedChange { t, delta_g: -unit })
            .collect();
        let spec = StreamSpec { seed: opts.seed.wrapping_add(u64::from(i)), ..spec.clone() };
        plates.insert(plate, model.plate_stream(&spec, &PlateSpec::new(2000.0).with_changes(changes)));
    }
    (catalog, plates)
}

pub async fn run(opts: &ShelfBenchOptions) -> Result<ShelfBenchReport, BenchError> {
    let (catalog, plates) = synthetic_store(opts);
    let samples: u64 = plates.values().map(|s| s.len() as u64).sum();

    let detector_times = super::time_rounds(5, || {
        for (plate, stream) in &plates {
            let mut d = PlateDetector::new(*plate, Default::default());
            for s in stream {
                std::hint::black_box(d.push(*s));
            }
        }
    });
    let mut events_detected = 0;
    let pipeline_times = super::time_rounds(3, || {
        let mut p =
            ShelfPipeline::new(STORE, catalog.clone(), PipelineParams::with_defaults(), ShelfMetrics::default());
        events_detected = crate::shelf::offline::run(&mut p, &plates).len();
    });

    let mut broker = Vec::new();
    let embedded = EmbeddedBroker::start_on_free_port()?;
    broker.push(through_broker("embedded rumqttd", embedded.addr, &catalog, &plates).await?);
    if let Some(addr) = opts.external_broker {
        broker.push(through_broker(&format!("external {addr}"), addr, &catalog, &plates).await?);
    }
    Ok(ShelfBenchReport {
        plates: opts.plates,
        duration_s: opts.duration_s,
        samples,
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        detector_samples_per_s_per_core: samples as f64 / super::median(&detector_times),
        pipeline_samples_per_s_per_core: samples as f64 / super::median(&pipeline_times),
        events_detected,
        broker,
    })
}

/// Most batches published but not yet consumed by the pipeline: below
/// Mosquitto's default per-client queue (1000 messages), so a broker that
/// drops on overflow never has to.
const IN_FLIGHT_BATCHES: u64 = 500;

/// Publishes every plate's 100 ms batches in time order as fast as the live
/// pipeline consumes them (at most [`IN_FLIGHT_BATCHES`] ahead); the clock
/// stops when the pipeline has every sample, or 30 s pass without progress
/// (the rest counts as lost).
async fn through_broker(
    name: &str,
    addr: SocketAddr,
    catalog: &ShelfCatalog,
    plates: &BTreeMap<PlateId, Vec<Sample>>,
) -> Result<BrokerRun, BenchError> {
    let cfg = MqttConfig { host: addr.ip().to_string(), port: addr.port(), ..Default::default() };
    let store = format!("{STORE}-{}", uuid::Uuid::new_v4().simple());
    let metrics = ShelfMetrics::default();
    let pipeline = ShelfPipeline::new(&store, catalog.clone(), PipelineParams::with_defaults(), metrics.clone());
    let (events_tx, mut events_rx) = mpsc::channel(1024);
    let (stop_tx, stop_rx) = watch::channel(false);
    let ingest_opts = client_options(&cfg, &format!("bench-ingest-{}", std::process::id()))?;
    let ingest = tokio::spawn(crate::shelf::live::run(ingest_opts, store.clone(), pipeline, events_tx, stop_rx));
    let drain = tokio::spawn(async move { while events_rx.recv().await.is_some() {} });
    tokio::time::sleep(Duration::from_millis(500)).await; // the subscription is in place

    let mut publish_opts = client_options(&cfg, &format!("bench-publish-{}", std::process::id()))?;
    publish_opts.set_inflight(200);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(publish_opts, 1024);
    let pump = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    let batches = crate::shelf::offline::interleaved_batches(plates);
    let published: u64 = batches.iter().map(|b| b.samples.len() as u64).sum();
    let samples_per_batch = crate::shelf::offline::SAMPLES_PER_BATCH as u64;
    let started = Instant::now();
    let mut sent_samples = 0u64;
    for batch in &batches {
        while sent_samples.saturating_sub(metrics.samples_accepted.get()) > IN_FLIGHT_BATCHES * samples_per_batch {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        let payload = crate::shelf::codec::Payload::from_samples(&batch.samples, batch.seq.unwrap_or(0));
        let topic = crate::shelf::codec::plate_topic(&store, batch.plate);
        client.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload.to_json()).await.map_err(ReplayError::from)?;
        sent_samples += batch.samples.len() as u64;
    }
    let (mut last, mut last_progress) = (0, Instant::now());
    while metrics.samples_accepted.get() < published && last_progress.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(2)).await;
        if metrics.samples_accepted.get() != last {
            last = metrics.samples_accepted.get();
            last_progress = Instant::now();
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let received = metrics.samples_accepted.get();
    let _ = client.disconnect().await;
    pump.abort();
    let _ = stop_tx.send(true);
    let _ = ingest.await;
    let _ = drain.await;
    Ok(BrokerRun {
        broker: name.to_owned(),
        samples_published: published,
        samples_received: received,
        lost: published.saturating_sub(received),
        wall_s,
        samples_per_s: received as f64 / wall_s,
    })
}
