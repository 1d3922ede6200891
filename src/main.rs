#![deny(unsafe_code)]
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
    if matches!(args.command, release_gate::cli::Command::Controller { .. }) {
        return_freed_memory_at_once();
    }
    release_gate::cli::run(args)
}

/// mimalloc's `purge_delay` option (its position in `mi_option_t`, the same in v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// In the controllers' process, freed memory goes back to the system at once rather than after
/// mimalloc's default 10 ms: a burst of 1,000 releases peaked at 67 MiB resident with the delay
/// and 53 MiB without it, in the same time. Not where the webhook serves: there it cost a
/// quarter more CPU per request (388 -> 482 µs at 1,000 requests/s). `MIMALLOC_PURGE_DELAY` in
/// the environment still decides when set.
#[allow(unsafe_code)]
fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set stores an integer in mimalloc's option table; it has no memory
    // preconditions, and runs here before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}
