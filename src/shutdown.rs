//! Process shutdown: one future, cloneable, that resolves on SIGTERM or SIGINT, so every
//! server and controller in the process stops on the same signal.

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

/// Resolves once the process receives SIGTERM or SIGINT (Ctrl-C).
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Installs the signal handlers and returns the shared shutdown future.
pub fn signal() -> Shutdown {
    async {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the process");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
        }
    }
    .boxed()
    .shared()
}

/// A shutdown future that never resolves, for tests and embedded use.
pub fn never() -> Shutdown {
    futures::future::pending::<()>().boxed().shared()
}
