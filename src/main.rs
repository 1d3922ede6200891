#![forbid(unsafe_code)]
//! Entry point: installs the TLS crypto provider, parses the command line and hands over to the
//! library. Everything with behaviour lives in `release_gate::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    release_gate::install_crypto_provider();
    let args = release_gate::cli::Cli::parse();
    release_gate::cli::run(args)
}
