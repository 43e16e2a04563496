//! What the shelves report: 60 Hz readings of every plate from the noise
//! model fitted to the real AiFi plates (`shelf::noise`), with each planned
//! pick and put-back scripted in as a hand action (press, lift, ringing,
//! neighbours feeling the hand), plus random touches that leave nothing.
//! The same streams can be published as the MQTT messages a plate
//! controller sends ([`messages`]).

use super::World;
use crate::catalog::Catalog;
use crate::ids::PlateId;
use crate::shelf::Sample;
use crate::shelf::codec;
use crate::shelf::noise::{NoiseModel, PlateSpec, ScriptedChange, StreamSpec};
use std::collections::BTreeMap;

/// Plate tare under the products (g).
const TARE_G: f64 = 450.0;

/// The plates of one shelf, in plate order.
fn shelf_plates(world: &World, gondola: u16, shelf: u16) -> Vec<PlateId> {
    world.layout.geometry.plates.keys().filter(|p| p.gondola == gondola && p.shelf == shelf).copied().collect()
}

/// Every plate's readings from opening until the last shopper has left.
pub fn readings(world: &World, catalog: &Catalog) -> BTreeMap<PlateId, Vec<Sample>> {
    let model = NoiseModel::fitted();
    let shelves: std::collections::BTreeSet<(u16, u16)> =
        world.layout.geometry.plates.keys().map(|p| (p.gondola, p.shelf)).collect();
    let mut out = BTreeMap::new();
    for (gondola, shelf) in shelves {
        let plates = shelf_plates(world, gondola, shelf);
        let specs: Vec<PlateSpec> = plates.iter().map(|p| plate_spec(world, catalog, *p)).collect();
        let spec = StreamSpec {
            seed: world.config.seed ^ (u64::from(gondola) << 40) ^ (u64::from(shelf) << 32),
            t0: world.t0,
            duration_s: world.end - world.t0,
            touch_rate_hz: world.config.scenario.params().touch_rate_hz,
            ..StreamSpec::new(0, 0.0)
        };
        for (plate, samples) in plates.into_iter().zip(model.shelf_streams(&spec, &specs)) {
            out.insert(plate, samples);
        }
    }
    out
}

/// A plate's opening weight and its scripted hand actions.
fn plate_spec(world: &World, catalog: &Catalog, plate: PlateId) -> PlateSpec {
    let unit_g = catalog
        .planogram
        .get(&plate)
        .and_then(|skus| skus.first())
        .and_then(|sku| catalog.products.get(sku))
        .map_or(0.0, |p| p.unit_weight_g);
    let units = world.initial_units.get(&plate).copied().unwrap_or(0.0);
    let changes = world
        .actions
        .iter()
        .flat_map(|a| {
            a.plates.iter().filter(|(p, _)| *p == plate).map(|(_, g)| ScriptedChange { t: a.t - world.t0, delta_g: *g })
        })
        .collect();
    PlateSpec::new(TARE_G + units * unit_g).with_changes(changes)
}

/// The readings as a plate controller publishes them: one message per plate
/// per `per_batch` samples (6 = ten messages a second at 60 Hz), in time
/// order across plates. Yields (time of the batch's last sample, topic, JSON
/// payload): a controller publishes a batch once its last sample is read.
pub fn messages(
    store: &str,
    readings: BTreeMap<PlateId, Vec<Sample>>,
    per_batch: usize,
) -> impl Iterator<Item = (f64, String, Vec<u8>)> + use<> {
    let per_batch = per_batch.max(1);
    let store = store.to_owned();
    // (plate, its samples, next sample index, batches sent)
    let mut cursors: Vec<(PlateId, Vec<Sample>, usize, u64)> =
        readings.into_iter().map(|(p, s)| (p, s, 0, 0)).collect();
    std::iter::from_fn(move || {
        let next = cursors
            .iter_mut()
            .filter(|(_, samples, at, _)| *at < samples.len())
            .min_by(|a, b| a.1[a.2].t.total_cmp(&b.1[b.2].t).then(a.0.cmp(&b.0)))?;
        let (plate, samples, at, seq) = next;
        let end = (*at + per_batch).min(samples.len());
        let batch = &samples[*at..end];
        *at = end;
        *seq += 1;
        let topic = codec::plate_topic(&store, *plate);
        let sent = batch.last().map_or(0.0, |s| s.t);
        Some((sent, topic, codec::Payload::from_samples(batch, *seq - 1).to_json()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{ActionKind, Scenario, SimConfig, simulate};
    use std::path::Path;

    #[test]
    fn a_pick_shows_as_a_drop_of_its_grams_on_its_plates() {
        let catalog = Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store")).unwrap();
        let world = simulate(SimConfig { scenario: Scenario::Standard, seed: 5, parties: 2 }, &catalog);
        let readings = readings(&world, &catalog);
        assert_eq!(readings.len(), 288);
        let pick = world.actions.iter().find(|a| a.kind == ActionKind::Pick).expect("a pick");
        let (plate, delta) = pick.plates[0];
        let s = &readings[&plate];
        let mean = |from: f64, to: f64| {
            let v: Vec<f64> = s.iter().filter(|x| x.t >= from && x.t < to).map(|x| x.grams).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let before = mean(pick.t - 3.0, pick.t - 1.0);
        let after = mean(pick.t + 6.0, pick.t + 8.0);
        assert!((after - before - delta).abs() < 10.0, "before {before}, after {after}, delta {delta}");
    }

    #[test]
    fn messages_come_in_time_order_and_decode_back() {
        let mut readings = BTreeMap::new();
        let a = PlateId::new(1, 1, 1);
        let b = PlateId::new(1, 1, 2);
        readings.insert(a, (0..10).map(|i| Sample { t: f64::from(i) / 60.0, grams: 1.0 }).collect());
        readings.insert(b, (0..10).map(|i| Sample { t: f64::from(i) / 60.0 + 0.001, grams: 2.0 }).collect());
        let msgs: Vec<_> = messages("demo-store", readings, 4).collect();
        assert_eq!(msgs.len(), 6);
        let mut last = f64::NEG_INFINITY;
        for (_, topic, payload) in &msgs {
            let batch = codec::decode(topic, payload, "demo-store").unwrap();
            assert!(batch.samples[0].t >= last);
            last = batch.samples[0].t;
        }
    }
}
