//! `release-gate policy`: test, evaluate and digest a Rego policy bundle.

use clap::Args;
use std::process::ExitCode;

/// Flags of `policy`.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {}

pub fn run(_args: PolicyArgs) -> ExitCode {
    eprintln!("release-gate policy: not available yet");
    ExitCode::from(2)
}
