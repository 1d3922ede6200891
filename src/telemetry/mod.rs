//! Observability: tracing setup, the Prometheus metrics registry, and the small HTTP server that
//! exposes `/metrics`, `/healthz` and `/readyz`.

mod http;
mod metrics;

pub use http::serve_health;
pub use metrics::{Metrics, ReconcileTimer};

use clap::{Args, ValueEnum};

/// Logging flags shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter in `tracing` syntax, e.g. `info` or `release_gate=debug,kube=info`.
    #[arg(long, env = "RELEASE_GATE_LOG", default_value = "info", global = true)]
    pub log_level: String,
    /// Log line format.
    #[arg(long, env = "RELEASE_GATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global tracing subscriber. Errors name the bad filter.
pub fn init_tracing(args: &LogArgs) -> Result<(), String> {
    use tracing_subscriber::{EnvFilter, fmt};
    let filter = EnvFilter::try_new(&args.log_level).map_err(|e| {
        format!(
            "--log-level {:?} is not a valid filter: {e}",
            args.log_level
        )
    })?;
    // Colour only for a person at a terminal; log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let res = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    res.map_err(|e| format!("cannot install the log subscriber: {e}"))
}
