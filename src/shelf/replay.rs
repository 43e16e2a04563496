//! `walkout replay aifi`: publishes recorded plate CSVs over MQTT exactly as
//! live shelf hardware would: one topic per plate, 100 ms batches of 60 Hz
//! samples, QoS 1, in time order, paced in real time or accelerated.
//! Returns once the broker has acknowledged every batch.

use super::Sample;
use super::codec::{Payload, plate_topic};
use super::offline::interleaved_batches;
use crate::ids::PlateId;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("MQTT: {0}")]
    Client(#[from] rumqttc::ClientError),
    #[error("MQTT connection failed: {0}")]
    Connection(String),
    #[error("{0} batches were not acknowledged within 30 s of the last publish")]
    Unacknowledged(u64),
}

/// How a replay went (JSON on stdout).
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    pub plates: usize,
    pub batches: u64,
    pub samples: u64,
    pub acknowledged: u64,
    pub wall_s: f64,
    pub samples_per_s: f64,
}

/// Publishes `plates` for `store`; `speed` 1.0 is real time, 10.0 ten times
/// faster, 0 (or less) as fast as the broker acknowledges.
pub async fn replay(
    opts: MqttOptions,
    store: &str,
    plates: &BTreeMap<PlateId, Vec<Sample>>,
    speed: f64,
) -> Result<ReplayReport, ReplayError> {
    let batches = interleaved_batches(plates);
    let (client, mut eventloop) = AsyncClient::new(opts, 256);
    let (acks_tx, mut acks_rx) = tokio::sync::watch::channel(0u64);
    let (connected_tx, mut connected_rx) = tokio::sync::watch::channel(false);
    let pump = tokio::spawn(async move {
        let mut acked = 0u64;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = connected_tx.send(true);
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    acked += 1;
                    let _ = acks_tx.send(acked);
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                // rumqttc retransmits unacknowledged QoS 1 publishes after reconnecting.
                Err(e) => {
                    tracing::warn!(%e, "replay connection error; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    if tokio::time::timeout(Duration::from_secs(5), connected_rx.wait_for(|c| *c)).await.is_err() {
        pump.abort();
        return Err(ReplayError::Connection("no CONNACK from the broker within 5 s".into()));
    }
    let started = Instant::now();
    let t0 = batches.first().and_then(|b| b.samples.first()).map_or(0.0, |s| s.t);
    let (mut published, mut samples) = (0u64, 0u64);
    for batch in &batches {
        let Some(last) = batch.samples.last() else { continue };
        if speed > 0.0 {
            // A batch goes out when its last sample has been "measured".
            let due = Duration::from_secs_f64(((last.t - t0) / speed).max(0.0));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        let payload = Payload::from_samples(&batch.samples, batch.seq.unwrap_or(published));
        client.publish(plate_topic(store, batch.plate), QoS::AtLeastOnce, false, payload.to_json()).await?;
        published += 1;
        samples += batch.samples.len() as u64;
    }
    let all_acked = tokio::time::timeout(Duration::from_secs(30), acks_rx.wait_for(|n| *n >= published))
        .await
        .is_ok_and(|r| r.is_ok());
    let acknowledged = *acks_rx.borrow();
    let wall_s = started.elapsed().as_secs_f64();
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
    if !all_acked {
        return Err(ReplayError::Unacknowledged(published.saturating_sub(acknowledged)));
    }
    Ok(ReplayReport {
        plates: plates.len(),
        batches: published,
        samples,
        acknowledged,
        wall_s,
        samples_per_s: samples as f64 / wall_s.max(1e-9),
    })
}
