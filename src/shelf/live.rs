//! The live shelf path: MQTT plate messages -> [`ShelfPipeline`] -> events.
//! Same pipeline as the offline run; only the source of batches differs.

use super::codec;
use super::pipeline::{ShelfEvent, ShelfPipeline};
use crate::mqtt::{Message, subscribe_forever};
use rumqttc::MqttOptions;
use tokio::sync::{mpsc, watch};

/// Messages buffered between the MQTT event loop and the pipeline; when it
/// is full the event loop waits and the broker holds QoS 1 messages back.
pub const INGEST_QUEUE: usize = 1024;

/// Subscribes to every plate of `store` and runs the pipeline until
/// `shutdown`; each event goes to `events` (bounded: a slow consumer slows
/// ingest, nothing is dropped). Returns the pipeline (with its stock) at the end.
pub async fn run(
    opts: MqttOptions,
    store: String,
    mut pipeline: ShelfPipeline,
    events: mpsc::Sender<ShelfEvent>,
    shutdown: watch::Receiver<bool>,
) -> ShelfPipeline {
    let (tx, mut rx) = mpsc::channel::<Message>(INGEST_QUEUE);
    let subscriber = tokio::spawn(subscribe_forever(opts, codec::store_filter(&store), tx, shutdown));
    while let Some(message) = rx.recv().await {
        for event in pipeline.handle_message(&message.topic, &message.payload) {
            if events.send(event).await.is_err() {
                tracing::warn!("shelf event consumer gone; stopping ingest");
                subscriber.abort();
                return pipeline;
            }
        }
    }
    let _ = subscriber.await;
    for event in pipeline.finish() {
        let _ = events.send(event).await;
    }
    pipeline
}
