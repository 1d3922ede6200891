//! Plain-HTTP endpoints for probes and scraping: `/healthz` (the process is alive), `/readyz`
//! (the component finished starting) and `/metrics`.

use super::Metrics;
use axum::{Router, extract::State, http::StatusCode, routing::get};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
struct HealthState {
    metrics: Metrics,
    ready: Arc<AtomicBool>,
}

/// Serves the health and metrics endpoints on `addr` until `shutdown` resolves. `ready` is
/// flipped by the component once it is serving.
pub async fn serve_health(
    addr: SocketAddr,
    metrics: Metrics,
    ready: Arc<AtomicBool>,
    shutdown: crate::shutdown::Shutdown,
) -> std::io::Result<()> {
    let state = HealthState { metrics, ready };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<HealthState>| async move {
                if s.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "starting")
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(s): State<HealthState>| async move {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    s.metrics.encode(),
                )
            }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
