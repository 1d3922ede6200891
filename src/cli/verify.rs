//! `release-gate verify`: checks an image's signature and attestations, as CI would.

use clap::Args;
use std::process::ExitCode;

/// Flags of `verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The image reference to verify.
    pub image: String,
}

pub fn run(_args: VerifyArgs) -> ExitCode {
    eprintln!("release-gate verify: not available yet");
    ExitCode::from(2)
}
