#![forbid(unsafe_code)]
//! Entry point: installs the TLS crypto provider, parses the command line and hands over to the
//! library. Everything with behaviour lives in `release_gate::cli`.

use clap::Parser;

/// mimalloc instead of glibc's allocator: the webhook and the controllers allocate many small,
/// short-lived values per request (JSON, policy values) from several threads, where glibc spent
/// a fifth of the webhook's CPU and kept freed memory in per-thread arenas (see the README's
/// performance section for the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    release_gate::install_crypto_provider();
    let args = release_gate::cli::Cli::parse();
    release_gate::cli::run(args)
}
