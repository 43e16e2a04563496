//! The MQTT plumbing against real brokers: the embedded `rumqttd` always,
//! and the machine's Mosquitto when `WALKOUT_TEST_MOSQUITTO=host:port` is set
//! (CI sets it). Includes a reconnect through a TCP proxy that drops every
//! connection: the subscription must survive.

use rumqttc::{AsyncClient, MqttOptions, QoS};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use walkout::config::MqttConfig;
use walkout::mqtt::{EmbeddedBroker, Message, client_options, subscribe_forever};

fn config_for(addr: std::net::SocketAddr) -> MqttConfig {
    MqttConfig { mode: "external".into(), host: addr.ip().to_string(), port: addr.port(), ..Default::default() }
}

fn mosquitto() -> Option<std::net::SocketAddr> {
    match std::env::var("WALKOUT_TEST_MOSQUITTO") {
        Ok(addr) => Some(addr.parse().expect("WALKOUT_TEST_MOSQUITTO must be host:port")),
        Err(_) => {
            eprintln!("SKIPPED: Mosquitto variant; set WALKOUT_TEST_MOSQUITTO=127.0.0.1:1883 to run it");
            None
        }
    }
}

async fn publisher(addr: std::net::SocketAddr, id: &str) -> AsyncClient {
    let mut opts = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    opts.set_max_packet_size(walkout::mqtt::MAX_PACKET_BYTES, walkout::mqtt::MAX_PACKET_BYTES);
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    tokio::spawn(async move {
        loop {
            if let Err(e) = eventloop.poll().await {
                eprintln!("publisher event loop: {e}");
                break;
            }
        }
    });
    client
}

async fn expect_message(rx: &mut mpsc::Receiver<Message>, publish: impl AsyncFn()) -> Message {
    // Retained-less QoS 1: publish until the subscription is in place.
    for _ in 0..100 {
        publish().await;
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            return m;
        }
    }
    panic!("no message arrived");
}

async fn round_trip(addr: std::net::SocketAddr, topic_root: &str) {
    let (tx, mut rx) = mpsc::channel(16);
    let (stop_tx, stop) = watch::channel(false);
    let id = topic_root.replace('/', "-");
    let opts = client_options(&config_for(addr), &format!("sub-{id}")).unwrap();
    let task = tokio::spawn(subscribe_forever(opts, format!("{topic_root}/+"), tx, stop));
    let publisher = publisher(addr, &format!("pub-{id}")).await;
    let big = vec![b'x'; 30_000]; // larger than a default 10 KiB packet limit
    let m = expect_message(&mut rx, async || {
        publisher.publish(format!("{topic_root}/a"), QoS::AtLeastOnce, false, big.clone()).await.unwrap();
    })
    .await;
    assert_eq!(m.topic, format!("{topic_root}/a"));
    assert_eq!(m.payload.len(), 30_000);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("subscriber stops on shutdown").unwrap();
}

#[tokio::test]
async fn embedded_broker_delivers_large_batches() {
    let broker = EmbeddedBroker::start_on_free_port().unwrap();
    round_trip(broker.addr, "walkout-test/embedded").await;
}

#[tokio::test]
async fn mosquitto_delivers_large_batches() {
    let Some(addr) = mosquitto() else { return };
    round_trip(addr, &format!("walkout-test/{}", uuid::Uuid::new_v4().simple())).await;
}

/// A TCP proxy whose live connections can all be cut at once.
async fn cuttable_proxy(target: std::net::SocketAddr) -> (std::net::SocketAddr, watch::Sender<u32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut_tx, cut_rx) = watch::channel(0u32);
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            let mut cut = cut_rx.clone();
            cut.mark_unchanged();
            tokio::spawn(async move {
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.changed() => {}
                }
            });
        }
    });
    (addr, cut_tx)
}

#[tokio::test]
async fn subscription_survives_a_dropped_connection() {
    let broker = EmbeddedBroker::start_on_free_port().unwrap();
    let (proxy, cut) = cuttable_proxy(broker.addr).await;
    let (tx, mut rx) = mpsc::channel(16);
    let (_stop_tx, stop) = watch::channel(false);
    let opts = client_options(&config_for(proxy), "sub-reconnect").unwrap();
    tokio::spawn(subscribe_forever(opts, "walkout-test/reconnect/+".into(), tx, stop));
    let publisher = publisher(broker.addr, "pub-reconnect").await;
    let publish = async || {
        publisher.publish("walkout-test/reconnect/x", QoS::AtLeastOnce, false, b"before".to_vec()).await.unwrap();
    };
    expect_message(&mut rx, publish).await;
    cut.send(1).unwrap();
    // Drain what was in flight, then prove a fresh message arrives after the reconnect.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while rx.try_recv().is_ok() {}
    let after = async || {
        publisher.publish("walkout-test/reconnect/x", QoS::AtLeastOnce, false, b"after".to_vec()).await.unwrap();
    };
    let m = expect_message(&mut rx, after).await;
    assert_eq!(&m.payload[..], b"after");
}
