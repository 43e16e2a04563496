//! The live side of the store loop (`walkout serve`): plate batches and the
//! vision node's frames arrive on MQTT, gate scans from the HTTP gate; all
//! become [`StoreInput`]s for one [`StoreRunner`] on its own thread (the
//! tracker and detectors are synchronous CPU work, kept off the async
//! runtime). Its outputs go back to async tasks: closed visits to the exit
//! (charged, or parked for review), shelf events to stock keeping, tracks
//! to whoever watches the floor. Bounded channels throughout: a slow stage
//! slows the MQTT event loop and the broker holds QoS 1 messages back;
//! nothing is dropped in between.

use super::runner::{StoreInput, StoreOutput, StoreRunner};
use crate::mqtt::{Message, subscribe_forever};
use crate::shelf::codec::TOPIC_VERSION;
use crate::telemetry::VisionMetrics;
use crate::vision::feed;
use rumqttc::MqttOptions;
use tokio::sync::{mpsc, watch};

/// Inputs buffered in front of the runner.
pub const INPUT_QUEUE: usize = 1024;

/// The filter that takes a store's plate batches and vision frames.
pub fn store_filter(store: &str) -> String {
    format!("walkout/{TOPIC_VERSION}/{store}/#")
}

/// One MQTT message as a store input: vision frames are decoded (a bad one
/// is refused with its cause), everything else goes to the shelf pipeline
/// as it came (which counts and logs what it cannot use).
pub fn to_input(store: &str, message: Message) -> Result<StoreInput, feed::FeedError> {
    if message.topic == feed::frame_topic(store) {
        let (t, observations) = feed::decode(store, &message.topic, &message.payload)?;
        return Ok(StoreInput::Frame { t, observations });
    }
    Ok(StoreInput::Plates { topic: message.topic, payload: message.payload.to_vec() })
}

/// Subscribes to the store's topics and forwards them as inputs until
/// `shutdown`; refused vision frames are counted in `/metrics`
/// (`walkout_vision_frames_dropped_total{camera="feed"}`) and logged.
pub async fn forward_mqtt(
    opts: MqttOptions,
    store: String,
    inputs: mpsc::Sender<StoreInput>,
    metrics: VisionMetrics,
    shutdown: watch::Receiver<bool>,
) {
    let (tx, mut rx) = mpsc::channel::<Message>(INPUT_QUEUE);
    let subscriber = tokio::spawn(subscribe_forever(opts, store_filter(&store), tx, shutdown));
    while let Some(message) = rx.recv().await {
        let topic = message.topic.clone();
        match to_input(&store, message) {
            Ok(input) => {
                if inputs.send(input).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                metrics.drop("feed", e.cause());
                tracing::warn!(%topic, error = %e, "vision frame refused");
            }
        }
    }
    subscriber.abort();
}

/// Runs the store loop on a dedicated thread until every input sender is
/// gone; then ends the input at the last time seen (pending events are
/// decided, open visits closed for review) and returns the runner.
pub fn spawn_runner(
    mut runner: StoreRunner,
    mut inputs: mpsc::Receiver<StoreInput>,
    outputs: mpsc::Sender<StoreOutput>,
) -> std::thread::JoinHandle<StoreRunner> {
    std::thread::spawn(move || {
        let mut last_t = 0.0_f64;
        while let Some(input) = inputs.blocking_recv() {
            last_t = last_t.max(input_time(&input));
            let end = matches!(input, StoreInput::End { .. });
            let out = runner.input(input);
            if !(out.closed.is_empty()
                && out.shelf_events.is_empty()
                && out.tracks.is_empty()
                && out.stock_corrections.is_empty())
                && outputs.blocking_send(out).is_err()
            {
                tracing::warn!("store loop output consumer gone; stopping");
                return runner;
            }
            if end {
                return runner;
            }
        }
        if last_t > 0.0 {
            let _ = outputs.blocking_send(runner.input(StoreInput::End { t: last_t }));
        }
        runner
    })
}

fn input_time(input: &StoreInput) -> f64 {
    match input {
        StoreInput::Scan { t, .. } | StoreInput::Frame { t, .. } | StoreInput::End { t } => *t,
        StoreInput::Plates { .. } => 0.0,
    }
}

/// The gate's side of the loop: each opened visit becomes a scan input.
pub struct FusionGate {
    pub inputs: mpsc::Sender<StoreInput>,
}

#[async_trait::async_trait]
impl crate::visit::gate::GateTracks for FusionGate {
    async fn track_at_gate(&self, _gate: &str, _at_ms: i64) -> Option<crate::ids::TrackId> {
        // Tracks join visits inside fusion (the next track at the entrance).
        None
    }

    async fn visit_opened(&self, visit: &crate::db::Visit) {
        let guests = u8::try_from(visit.party_size.saturating_sub(1)).unwrap_or(u8::MAX);
        let input = StoreInput::Scan { t: visit.entered_at as f64 / 1000.0, visit: visit.id.clone(), guests };
        if self.inputs.send(input).await.is_err() {
            tracing::error!(visit = %visit.id, "store loop is not running: the visit will not get a cart");
        }
    }
}
