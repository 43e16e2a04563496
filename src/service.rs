//! `walkout serve`: opens storage, binds the HTTP API and runs until SIGINT
//! or SIGTERM, then drains in-flight requests and closes the database.

use crate::config::Config;
use crate::http::{AppState, app};
use crate::telemetry::Metrics;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Storage(#[from] crate::db::DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("server failed: {0}")]
    Server(std::io::Error),
}

/// Runs the service until a shutdown signal arrives.
pub async fn serve(config: &Config) -> Result<(), ServeError> {
    let storage = crate::open_storage(&config.database).await?;
    let backend = storage.backend();
    let storage = Arc::new(storage);
    let state = AppState { storage: storage.clone(), metrics: Arc::new(Metrics::default()), backend };
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(|source| ServeError::Bind { addr: config.http.listen.clone(), source })?;
    let local = listener.local_addr().map_err(ServeError::Server)?;
    tracing::info!(%local, backend, "walkout serving; /healthz and /metrics are up");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown_signal()).await.map_err(ServeError::Server)?;
    storage.close().await;
    tracing::info!("walkout stopped");
    Ok(())
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
