//! `walkout serve`: opens storage, installs the store's catalogue, starts the
//! embedded MQTT broker (unless an external one is configured) and the live
//! store loop (plates and vision frames from MQTT, scans from the gate,
//! fusion, exit: [`crate::fusion::live`]), binds the HTTP API, and runs until SIGINT or SIGTERM;
//! then it stops ingest, drains in-flight requests and closes the database.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::db::Storage;
use crate::fusion::FusionParams;
use crate::fusion::live;
use crate::fusion::runner::{StoreOutput, StoreRunner};
use crate::http::{AppState, app};
use crate::mqtt::{EmbeddedBroker, MqttError, client_options};
use crate::shelf::pipeline::ShelfEvent;
use crate::telemetry::Metrics;
use crate::vision::tracker::TrackerParams;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Storage(#[from] crate::db::DbError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Mqtt(#[from] MqttError),
    #[error(transparent)]
    Payments(#[from] crate::payments::ProviderError),
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    #[error("store: {0}")]
    Store(String),
    #[error("mqtt.host / mqtt.port: {0}")]
    BrokerAddress(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Server(std::io::Error),
}

/// Starts the in-process broker on `mqtt.host:mqtt.port`, refusing a port
/// that something else (another broker) already holds.
fn start_embedded_broker(config: &Config) -> Result<EmbeddedBroker, ServeError> {
    let addr: SocketAddr = format!("{}:{}", config.mqtt.host, config.mqtt.port)
        .parse()
        .map_err(|_| ServeError::BrokerAddress("the embedded broker needs an IP address as mqtt.host".into()))?;
    std::net::TcpListener::bind(addr).map_err(|e| {
        ServeError::BrokerAddress(format!(
            "cannot listen on {addr} ({e}); another broker there? set mqtt.mode = \"external\" to use it, or another mqtt.port"
        ))
    })?;
    Ok(EmbeddedBroker::start(addr)?)
}

/// Runs the service until a shutdown signal arrives.
pub async fn serve(config: &Config) -> Result<(), ServeError> {
    let storage = crate::open_storage(&config.database).await?;
    let catalog = Catalog::load(&config.store.calibration_dir)?;
    catalog.install(&storage, crate::now_ms()).await?;
    let _broker = if config.mqtt.mode == "embedded" { Some(start_embedded_broker(config)?) } else { None };
    let backend = storage.backend();
    let storage = Arc::new(storage);
    let metrics = Arc::new(Metrics::default());

    let (stop_tx, stop_rx) = watch::channel(false);
    let store_id = catalog.store.id.to_string();
    let layout = crate::layout::StoreLayout::load(&config.store.calibration_dir)
        .map_err(|e| ServeError::Store(format!("{}: {e}", config.store.calibration_dir.display())))?;
    let mut fusion = FusionParams::from_config(&config.fusion);
    if let Some(rates) = crate::fusion::items::measured_rates(&config.store.calibration_dir)
        .map_err(|e| ServeError::Store(format!("{}: {e}", config.store.calibration_dir.display())))?
    {
        fusion.items.rates = Arc::new(rates);
    }
    let runner = StoreRunner::new(&catalog, &layout, fusion, TrackerParams::default(), metrics.shelf.clone());
    let (inputs_tx, inputs_rx) = mpsc::channel(live::INPUT_QUEUE);
    let (outputs_tx, outputs_rx) = mpsc::channel(256);
    let store_loop = live::spawn_runner(runner, inputs_rx, outputs_tx);
    let opts = client_options(&config.mqtt, &format!("walkout-store-{}", std::process::id()))?;
    let ingest = tokio::spawn(live::forward_mqtt(
        opts,
        store_id.clone(),
        inputs_tx.clone(),
        metrics.vision.clone(),
        stop_rx.clone(),
    ));
    let fusion_gate = Arc::new(live::FusionGate { inputs: inputs_tx });
    let commerce = Commerce::start(config, &catalog, storage.clone(), fusion_gate, stop_rx.clone()).await?;
    let (console, evidence_retention) = crate::review::start(
        config,
        &catalog,
        layout.geometry.clone(),
        storage.clone(),
        commerce.exit.clone(),
        stop_rx.clone(),
    );
    let settler = tokio::spawn(settle_outputs(
        outputs_rx,
        storage.clone(),
        catalog.store.id.clone(),
        commerce.exit.clone(),
        console.live.clone(),
    ));
    let notify_worker = tokio::spawn(async move {
        let clock: Arc<dyn crate::notify::Clock> = Arc::new(crate::notify::SystemClock);
        commerce.worker.run(clock, std::time::Duration::from_secs(5), commerce.stop).await;
    });
    let mut state = AppState::new(storage.clone(), metrics, backend);
    state.payment_provider = if config.payments.provider == "stripe" { "stripe" } else { "sandbox" };
    state.gate = Some(commerce.gate);
    state.vapid_public_key = Some(commerce.vapid_public_key);
    state.payments = Some(commerce.payments);
    state.auto_refund_max_minor = config.payments.auto_refund_max_minor;
    state.console = Some(console);
    if !config.payments.stripe_webhook_secret.expose().is_empty() {
        let verifier = crate::payments::WebhookVerifier::new(config.payments.stripe_webhook_secret.clone());
        state.stripe_webhooks = Some(Arc::new(verifier));
    }
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.http.listen.clone(), source })?;
    let local = listener.local_addr().map_err(ServeError::Server)?;
    tracing::info!(%local, backend, store = %store_id, mqtt = %config.mqtt.mode, "walkout serving; /healthz and /metrics are up");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await.map_err(ServeError::Server)?;
    let _ = stop_tx.send(true);
    let _ = ingest.await;
    // The gate (inside the router) and the MQTT feed are gone: the store loop
    // decides what is pending, closes open visits for review and stops.
    let _ = tokio::task::spawn_blocking(move || store_loop.join()).await;
    let _ = settler.await;
    let _ = notify_worker.await;
    let _ = evidence_retention.await;
    storage.close().await;
    tracing::info!("walkout stopped");
    Ok(())
}

/// Payments, notifications, the gate and the exit, built from config.
pub struct Commerce {
    pub gate: Arc<crate::visit::gate::Gate>,
    pub payments: Arc<crate::payments::PaymentService>,
    pub exit: Arc<crate::visit::exit::Exit>,
    pub worker: crate::notify::OutboxWorker,
    pub vapid_public_key: String,
    stop: watch::Receiver<bool>,
}

impl Commerce {
    pub async fn start(
        config: &Config,
        catalog: &Catalog,
        storage: Arc<dyn Storage>,
        tracks: Arc<dyn crate::visit::gate::GateTracks>,
        stop: watch::Receiver<bool>,
    ) -> Result<Self, ServeError> {
        use crate::payments::{PaymentService, SystemClock, provider_from_config};
        let rules = catalog.pricing.clone().ok_or_else(|| {
            ServeError::Store(format!(
                "{}: no pricing.toml, so nothing can be charged",
                config.store.calibration_dir.display()
            ))
        })?;
        let provider = provider_from_config(&config.payments, Arc::new(SystemClock)).await?;
        let payments = Arc::new(PaymentService::new(storage.clone(), provider, Arc::new(SystemClock)));
        let notify = crate::notify::from_config(&config.notify, storage.clone())?;
        let holds = crate::visit::hold::PaymentHolds {
            storage: storage.clone(),
            payments: payments.clone(),
            per_person_minor: config.payments.hold_per_person_minor,
            currency: catalog.currency,
        };
        let gate = crate::visit::gate::Gate {
            storage: storage.clone(),
            store: catalog.store.id.clone(),
            payments: Arc::new(holds),
            tracks,
            skew_s: 5,
        };
        let exit = crate::visit::exit::Exit {
            storage,
            payments: payments.clone(),
            notifier: notify.notifier,
            rules,
            timezone: catalog.store.timezone.clone(),
            review_below_confidence: config.fusion.review_below_confidence,
        };
        Ok(Self {
            gate: Arc::new(gate),
            payments,
            exit: Arc::new(exit),
            worker: notify.worker,
            vapid_public_key: notify.vapid_public_key,
            stop,
        })
    }
}

/// The store loop's outputs: closed visits go to the exit (charged, or
/// parked for review), shelf events are logged and kept as stock levels,
/// tracks and degraded plates go to the staff console's live view.
async fn settle_outputs(
    mut outputs: mpsc::Receiver<StoreOutput>,
    storage: Arc<dyn Storage>,
    store: crate::ids::StoreId,
    exit: Arc<crate::visit::exit::Exit>,
    live_view: Arc<crate::review::live::LiveView>,
) {
    while let Some(out) = outputs.recv().await {
        for event in &out.shelf_events {
            record_shelf_event(event, &*storage, &store).await;
            for p in &event.plates {
                let plate = crate::ids::PlateId::new(event.gondola, event.shelf, *p);
                live_view.set_plate_health(plate, event.degraded.then(|| "degraded readings".to_owned()));
            }
        }
        for moved in &out.stock_corrections {
            tracing::info!(plate = %moved.plate, sku = %moved.sku, units = moved.units, "stock corrected by fusion");
            if let Err(e) =
                storage.adjust_stock(&store, &moved.plate.to_string(), &moved.sku, moved.units, crate::now_ms()).await
            {
                tracing::error!(%e, "cannot record a stock correction");
            }
        }
        for signal in &out.stock_signals {
            tracing::warn!(?signal, "stock");
        }
        if !out.tracks.is_empty() {
            live_view.update_tracks(crate::now_ms(), &out.tracks);
            for (track, visit) in &out.links {
                live_view.link_track(track, visit);
            }
        }
        for closed in &out.closed {
            match exit.close_fused(closed).await {
                Ok(outcome) => tracing::info!(visit = %closed.visit, outcome = outcome.label(), "visit settled"),
                Err(e) => tracing::error!(visit = %closed.visit, error = %e, "closing a visit failed; it stays open"),
            }
        }
    }
}

/// Logs one shelf event and books its stock movement.
async fn record_shelf_event(event: &ShelfEvent, storage: &dyn Storage, store: &crate::ids::StoreId) {
    let best = event.candidates.first().map(|c| format!("{} x{} (p={:.3})", c.name, c.qty, c.p));
    tracing::info!(
        t = event.t,
        gondola = event.gondola,
        shelf = event.shelf,
        plates = ?event.plates,
        delta_g = event.delta_g,
        best = best.as_deref().unwrap_or("unexplained"),
        ambiguous = event.ambiguous,
        degraded = event.degraded,
        "shelf event"
    );
    if let Some(moved) = &event.booked {
        let plate = moved.plate.to_string();
        if let Err(e) = storage.adjust_stock(store, &plate, &moved.sku, moved.units, crate::now_ms()).await {
            tracing::error!(%e, "cannot record a stock movement");
        }
    }
    for signal in &event.stock {
        tracing::warn!(?signal, "stock");
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(%e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(%e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
}
