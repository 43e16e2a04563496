//! MQTT plumbing shared by the stages: the embedded broker (`rumqttd`, on
//! its own thread, so nothing has to be installed), client options from
//! config (host, port, TLS, credentials) for an external broker, and a
//! subscriber that polls the event loop forever, reconnects with backoff and
//! subscribes again after every reconnect.

use crate::config::MqttConfig;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Largest MQTT packet we send or accept: a full plate batch is ~25 KiB.
pub const MAX_PACKET_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("embedded MQTT broker: {0}")]
    Broker(String),
    #[error("mqtt.ca_file {path}: {reason}")]
    Tls { path: String, reason: String },
    #[error("MQTT client: {0}")]
    Client(#[from] rumqttc::ClientError),
}

/// An in-process broker listening on `addr`; it lives as long as the process.
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts `rumqttd` on its own thread and waits (up to 5 s) until it accepts connections.
    pub fn start(listen: SocketAddr) -> Result<Self, MqttError> {
        let config = broker_config(listen);
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(%e, "embedded MQTT broker stopped");
                }
            })
            .map_err(|e| MqttError::Broker(e.to_string()))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !answers_mqtt_connect(listen) {
            if std::time::Instant::now() > deadline {
                return Err(MqttError::Broker(format!("not accepting MQTT connections on {listen} after 5 s")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!(%listen, "embedded MQTT broker up");
        Ok(Self { addr: listen })
    }

    /// Starts a broker on a free loopback port (tests, benchmarks, the demo).
    pub fn start_on_free_port() -> Result<Self, MqttError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| MqttError::Broker(e.to_string()))?
            .port();
        Self::start(SocketAddr::from(([127, 0, 0, 1], port)))
    }
}

/// True when an MQTT CONNECT to `addr` is answered with a CONNACK.
fn answers_mqtt_connect(addr: SocketAddr) -> bool {
    let probe = std::thread::spawn(move || {
        let opts =
            MqttOptions::new(format!("walkout-probe-{}", std::process::id()), addr.ip().to_string(), addr.port());
        let (client, mut connection) = rumqttc::Client::new(opts, 1);
        let ok = connection
            .recv_timeout(Duration::from_secs(2))
            .is_ok_and(|event| matches!(event, Ok(Event::Incoming(Packet::ConnAck(_)))));
        let _ = client.disconnect();
        let _ = connection.recv_timeout(Duration::from_millis(100));
        ok
    });
    probe.join().unwrap_or(false)
}

fn broker_config(listen: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PACKET_BYTES,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "walkout-v4".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 1_000,
            max_outgoing_packet_count: 1_000,
            // Bounded memory: 4 segments of 16 MiB of retained log per filter.
            max_segment_size: 16 * 1024 * 1024,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some([("1".to_owned(), server)].into_iter().collect()),
        ..Default::default()
    }
}

/// Client options for the configured broker (the embedded one listens on the same host and port).
pub fn client_options(cfg: &MqttConfig, client_id: &str) -> Result<MqttOptions, MqttError> {
    let mut opts = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
    opts.set_keep_alive(Duration::from_secs(15));
    opts.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    opts.set_clean_session(true);
    if !cfg.username.is_empty() {
        opts.set_credentials(cfg.username.clone(), cfg.password.expose().to_owned());
    }
    if cfg.tls {
        opts.set_transport(Transport::Tls(tls_configuration(&cfg.ca_file)?));
    }
    Ok(opts)
}

fn tls_configuration(ca_file: &str) -> Result<TlsConfiguration, MqttError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let fail = |reason: String| MqttError::Tls { path: ca_file.to_owned(), reason };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca_file).map_err(|e| fail(e.to_string()))?;
    for cert in certs {
        roots.add(cert.map_err(|e| fail(e.to_string()))?).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("no certificates in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(config)))
}

/// A message as received.
#[derive(Clone, Debug)]
pub struct Message {
    pub topic: String,
    pub payload: bytes::Bytes,
}

/// Subscribes to `filter` (QoS 1) and forwards every publish into `tx` until
/// `shutdown` turns true or `tx` is closed. Connection errors are logged and
/// retried with exponential backoff (100 ms doubling to 10 s); the
/// subscription is renewed on every (re)connect. A full `tx` blocks the
/// event loop, so the broker holds back QoS 1 messages instead of anyone dropping them.
pub async fn subscribe_forever(
    opts: MqttOptions,
    filter: String,
    tx: mpsc::Sender<Message>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let mut backoff = Duration::from_millis(100);
    loop {
        let event = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(100);
                tracing::info!(%filter, "MQTT connected; subscribing");
                if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                    tracing::error!(%e, "MQTT subscribe request failed");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let message = Message { topic: p.topic, payload: p.payload };
                if tx.send(message).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(%e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection lost; reconnecting");
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    let _ = client.try_disconnect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_without_a_readable_ca_file_names_the_key() {
        let cfg = MqttConfig { tls: true, ca_file: "/nonexistent/ca.pem".into(), ..Default::default() };
        let err = client_options(&cfg, "t").unwrap_err().to_string();
        assert!(err.contains("mqtt.ca_file") && err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn tls_with_the_system_roots_builds() {
        let cfg = MqttConfig { tls: true, ..Default::default() };
        if std::path::Path::new(&cfg.ca_file).exists() {
            client_options(&cfg, "t").unwrap();
        }
    }
}
