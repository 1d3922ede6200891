//! `release-gate crds`: prints the generated CRDs.

use std::io::Write;
use std::process::ExitCode;

pub fn print() -> ExitCode {
    match crate::api::crds_yaml() {
        Ok(yaml) => {
            // A closed pipe (e.g. `| head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(yaml.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("release-gate: cannot render the CRDs: {e}");
            ExitCode::FAILURE
        }
    }
}
