//! Offline runs of the shelf pipeline over recorded plate files (`walkout
//! shelf detect`), feeding batches in the order live hardware would send
//! them: every plate's readings cut into 100 ms batches, interleaved by time.

use super::Sample;
use super::aifi::{self, AifiError};
use super::codec::Batch;
use super::pipeline::{PipelineParams, ShelfEvent, ShelfPipeline, batches};
use crate::ids::PlateId;
use crate::telemetry::ShelfMetrics;
use std::collections::BTreeMap;
use std::path::Path;

/// Samples per published batch: 100 ms at 60 Hz.
pub const SAMPLES_PER_BATCH: usize = 6;

/// All plates' batches in publishing order (by first timestamp, then plate).
pub fn interleaved_batches(plates: &BTreeMap<PlateId, Vec<Sample>>) -> Vec<Batch> {
    let mut all: Vec<Batch> = plates.iter().flat_map(|(p, s)| batches(*p, s, SAMPLES_PER_BATCH)).collect();
    all.sort_by(|a, b| {
        let (ta, tb) = (a.samples.first().map_or(0.0, |s| s.t), b.samples.first().map_or(0.0, |s| s.t));
        ta.total_cmp(&tb).then(a.plate.cmp(&b.plate))
    });
    all
}

/// Runs the pipeline over recorded plates and returns every event.
pub fn run(pipeline: &mut ShelfPipeline, plates: &BTreeMap<PlateId, Vec<Sample>>) -> Vec<ShelfEvent> {
    let mut events = Vec::new();
    for batch in interleaved_batches(plates) {
        let topic = batch.plate.to_string();
        events.extend(pipeline.handle_batch(&topic, batch));
    }
    events.extend(pipeline.finish());
    events
}

/// A pipeline for the AiFi store: the catalogue from `products_csv`, the
/// plates of `store_meta/Plates.json` plus any plate present in the data
/// (the recordings hold plates the layout file lacks).
pub fn aifi_pipeline(
    products_csv: &Path,
    store_meta: &Path,
    extra_plates: impl IntoIterator<Item = PlateId>,
    params: PipelineParams,
    metrics: ShelfMetrics,
) -> Result<ShelfPipeline, AifiError> {
    let products = aifi::read_products(products_csv)?;
    let catalog = aifi::shelf_catalog(&products);
    let mut plates = aifi::read_store_plates(store_meta)?;
    let known: std::collections::BTreeSet<PlateId> = plates.iter().copied().collect();
    let extra: Vec<PlateId> = extra_plates.into_iter().filter(|p| !known.contains(p)).collect();
    if !extra.is_empty() {
        tracing::warn!(count = extra.len(), first = %extra[0], "plates in the data are missing from Plates.json; included");
    }
    plates.extend(extra);
    Ok(ShelfPipeline::with_plates("aifi-nanostore", plates, catalog, params, metrics))
}

/// `walkout shelf detect`: every event found in an AiFi plate-CSV folder.
pub fn detect_aifi(
    csv_dir: &Path,
    products_csv: &Path,
    store_meta: &Path,
    params: PipelineParams,
) -> Result<Vec<ShelfEvent>, AifiError> {
    let plates = aifi::read_plate_dir(csv_dir)?;
    let mut pipeline =
        aifi_pipeline(products_csv, store_meta, plates.keys().copied(), params, ShelfMetrics::default())?;
    Ok(run(&mut pipeline, &plates))
}
