//! One code path live and offline: a simulated store's inputs run once
//! straight through the store loop (`StoreRunner`) and once the way
//! `walkout serve` receives them: plate batches and vision frames published
//! to a real MQTT broker (the embedded `rumqttd`; also the machine's
//! Mosquitto when `WALKOUT_TEST_MOSQUITTO=host:port` is set), subscribed by
//! the live feed and run by the loop on its own thread. The carts and
//! review flags must be the same. The frames carry hand crops.

use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use walkout::catalog::Catalog;
use walkout::config::MqttConfig;
use walkout::fusion::FusionParams;
use walkout::fusion::live;
use walkout::fusion::runner::{StoreInput, StoreOutput, StoreRunner};
use walkout::ids::VisitId;
use walkout::mqtt::{EmbeddedBroker, client_options};
use walkout::sim::crops::CropBank;
use walkout::sim::feed::{SimInput, camera_observations, inputs};
use walkout::sim::{Scenario, SimConfig, World, simulate};
use walkout::telemetry::{ShelfMetrics, VisionMetrics};
use walkout::vision::feed;
use walkout::vision::tracker::TrackerParams;

/// Per visit: (kind, sku, quantity) of each cart event in order, and the flags.
type Carts = BTreeMap<VisitId, (Vec<(String, String, i64)>, Vec<String>)>;

/// Plate batches of one second (60 samples) keep the broker run short.
const PER_BATCH: usize = 60;
/// Messages published but not yet relayed, at most.
const MAX_IN_BROKER: usize = 400;

fn setup() -> (Catalog, World) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("calibration/demo-store");
    let catalog = Catalog::load(&dir).unwrap();
    let world = simulate(SimConfig { scenario: Scenario::Standard, seed: 11, parties: 3 }, &catalog);
    // Hand crops travel in the vision frames too.
    let bank = CropBank::load(&dir.join("hand-crops.json")).expect("the demo store's hand-crop bank");
    (catalog, world.with_crop_bank(Arc::new(bank)))
}

fn runner(catalog: &Catalog, world: &World) -> StoreRunner {
    StoreRunner::new(catalog, &world.layout, FusionParams::default(), TrackerParams::default(), ShelfMetrics::default())
}

fn visit_of(party: u32) -> VisitId {
    VisitId::from(format!("party-{party}").as_str())
}

fn collect(carts: &mut Carts, out: &StoreOutput) {
    for c in &out.closed {
        let events = c.events.iter().map(|e| (e.kind.as_str().to_owned(), e.sku.to_string(), e.quantity)).collect();
        carts.insert(c.visit.clone(), (events, c.flags.clone()));
    }
}

fn offline(catalog: &Catalog, world: &World) -> Carts {
    let mut r = runner(catalog, world);
    let mut carts = Carts::new();
    for input in inputs(world, catalog, PER_BATCH) {
        let input = match input {
            SimInput::Plates { topic, payload, .. } => StoreInput::Plates { topic, payload },
            SimInput::Scan { t, party } => {
                StoreInput::Scan { t, visit: visit_of(party.index), guests: party.guests.len() as u8 }
            }
            SimInput::Frame(step) => StoreInput::Frame { t: step.t, observations: camera_observations(step) },
        };
        collect(&mut carts, &r.input(input));
    }
    collect(&mut carts, &r.input(StoreInput::End { t: world.end }));
    carts
}

async fn publisher(addr: std::net::SocketAddr) -> AsyncClient {
    let mut opts =
        MqttOptions::new(format!("store-loop-pub-{}", std::process::id()), addr.ip().to_string(), addr.port());
    opts.set_max_packet_size(walkout::mqtt::MAX_PACKET_BYTES, walkout::mqtt::MAX_PACKET_BYTES);
    opts.set_inflight(200);
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

/// Publishes the world's plate batches and frames, in order, to `addr`;
/// the gate's scans join the loop's input between them at the same place
/// (after the MQTT messages that preceded them offline).
async fn live(catalog: &Catalog, world: &World, addr: std::net::SocketAddr) -> Carts {
    let store = catalog.store.id.to_string();
    let (to_loop, loop_rx) = mpsc::channel(live::INPUT_QUEUE);
    let (out_tx, mut out_rx) = mpsc::channel(256);
    let handle = live::spawn_runner(runner(catalog, world), loop_rx, out_tx);
    let collector = tokio::spawn(async move {
        let mut carts = Carts::new();
        while let Some(out) = out_rx.recv().await {
            collect(&mut carts, &out);
        }
        carts
    });
    // MQTT -> feed -> relay -> loop; the relay slots each scan in after the
    // n-th message, as the gate's HTTP request would arrive between them.
    let (feed_tx, mut feed_rx) = mpsc::channel(live::INPUT_QUEUE);
    let (stop_tx, stop) = watch::channel(false);
    let cfg =
        MqttConfig { mode: "external".into(), host: addr.ip().to_string(), port: addr.port(), ..Default::default() };
    let opts = client_options(&cfg, &format!("store-loop-sub-{}", std::process::id())).unwrap();
    let metrics = VisionMetrics::default();
    let subscriber = tokio::spawn(live::forward_mqtt(opts, store.clone(), feed_tx, metrics.clone(), stop));
    let client = publisher(addr).await;
    // Subscription in place: a probe frame topic message comes back first.
    let probe_topic = feed::frame_topic(&store);
    let probe = feed::encode(1.0, &[]);
    loop {
        client.publish(&probe_topic, QoS::AtLeastOnce, false, probe.clone()).await.unwrap();
        if let Ok(Some(StoreInput::Frame { t, .. })) =
            tokio::time::timeout(Duration::from_millis(200), feed_rx.recv()).await
            && t == 1.0
        {
            break;
        }
    }
    while tokio::time::timeout(Duration::from_millis(300), feed_rx.recv()).await.is_ok() {}
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let relayed = Arc::new(AtomicUsize::new(0));
    let relay = tokio::spawn(relay(feed_rx, control_rx, to_loop.clone(), relayed.clone()));
    let mut published = 0usize;
    for input in inputs(world, catalog, PER_BATCH) {
        // Keep at most a few hundred messages in the broker: Mosquitto drops
        // QoS 1 messages beyond `max_queued_messages` (1000 by default) for a
        // subscriber that falls behind, as a publisher this fast makes it.
        while published > relayed.load(Ordering::Acquire) + MAX_IN_BROKER {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        match input {
            SimInput::Plates { topic, payload, .. } => {
                client.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
                published += 1;
            }
            SimInput::Scan { t, party } => {
                let scan = StoreInput::Scan { t, visit: visit_of(party.index), guests: party.guests.len() as u8 };
                control_tx.send(Control::ScanAfter(published, scan)).unwrap();
            }
            SimInput::Frame(step) => {
                let payload = feed::encode(step.t, &camera_observations(step));
                client.publish(probe_topic.clone(), QoS::AtLeastOnce, false, payload).await.unwrap();
                published += 1;
            }
        }
    }
    control_tx.send(Control::Published(published)).unwrap();
    relay.await.unwrap();
    to_loop.send(StoreInput::End { t: world.end }).await.unwrap();
    drop(to_loop);
    stop_tx.send(true).unwrap();
    let _ = subscriber.await;
    tokio::task::spawn_blocking(move || handle.join().unwrap()).await.unwrap();
    assert_eq!(metrics.dropped_count("feed", "malformed_json"), 0);
    collector.await.unwrap()
}

enum Control {
    /// Slot this scan in after the n-th MQTT message.
    ScanAfter(usize, StoreInput),
    /// All n messages are published.
    Published(usize),
}

/// Forwards the feed's inputs to the loop, with each scan slotted in where
/// it was made. A scan is announced before the next message is published,
/// so it is always known by the time that message arrives.
async fn relay(
    mut feed_rx: mpsc::Receiver<StoreInput>,
    mut control: mpsc::UnboundedReceiver<Control>,
    to_loop: mpsc::Sender<StoreInput>,
    progress: Arc<AtomicUsize>,
) {
    let (mut relayed, mut total) = (0usize, None);
    let mut scans = std::collections::VecDeque::new();
    loop {
        while scans.front().is_some_and(|(after, _)| *after == relayed) {
            to_loop.send(scans.pop_front().unwrap().1).await.unwrap();
        }
        if total == Some(relayed) {
            assert!(scans.is_empty(), "scans left after the last message");
            return;
        }
        tokio::select! {
            biased;
            Some(c) = control.recv() => match c {
                Control::ScanAfter(after, scan) => scans.push_back((after, scan)),
                Control::Published(n) => total = Some(n),
            },
            input = tokio::time::timeout(Duration::from_secs(30), feed_rx.recv()) => {
                let input = input.unwrap_or_else(|_| panic!("no message for 30 s after {relayed} of {total:?}"));
                to_loop.send(input.expect("the feed stopped")).await.unwrap();
                relayed += 1;
                progress.store(relayed, Ordering::Release);
            }
        }
    }
}

async fn same_carts_through(addr: std::net::SocketAddr) {
    let (catalog, world) = setup();
    let expected = offline(&catalog, &world);
    assert_eq!(expected.len(), world.parties.len(), "every visit closes: {expected:?}");
    assert!(expected.values().any(|(events, _)| !events.is_empty()), "someone took something");
    let crops: usize = inputs(&world, &catalog, PER_BATCH)
        .filter_map(|i| match i {
            SimInput::Frame(step) => Some(step.observations.iter().map(|o| o.hand_crops.len()).sum::<usize>()),
            _ => None,
        })
        .sum();
    assert!(crops > 0, "the frames carry hand crops");
    let got = live(&catalog, &world, addr).await;
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_loop_through_the_embedded_broker_builds_the_offline_carts() {
    let broker = EmbeddedBroker::start_on_free_port().unwrap();
    same_carts_through(broker.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_loop_through_mosquitto_builds_the_offline_carts() {
    let Ok(addr) = std::env::var("WALKOUT_TEST_MOSQUITTO") else {
        eprintln!("SKIPPED: Mosquitto variant; set WALKOUT_TEST_MOSQUITTO=127.0.0.1:1883 to run it");
        return;
    };
    same_carts_through(addr.parse().expect("WALKOUT_TEST_MOSQUITTO must be host:port")).await;
}
