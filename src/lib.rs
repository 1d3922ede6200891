#![forbid(unsafe_code)]
//! release-gate: a Kubernetes operator and validating admission webhook that lets a cluster run
//! only releases with verified evidence, and runs canary drills that roll back by themselves.
//!
//! The crate is one library with folders that mirror the architecture (see DESIGN.md): pure
//! cores (verification, policy, window judging, admission decisions) and thin shells
//! (reconcilers, HTTP servers, the CLI) around them.

pub mod admission;
pub mod api;
pub mod canary;
pub mod cli;
pub mod events;
pub mod evidence;
pub mod policy;
pub mod reconcile;
pub mod release;
pub mod shutdown;
pub mod telemetry;

/// Installs rustls' process-wide crypto provider (ring). Must run before any TLS client or
/// server is built; calling it twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
