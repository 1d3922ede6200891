//! `release-gate policy`: test, evaluate and digest a Rego policy bundle, the same way the
//! webhook loads it, so CI checks exactly what the cluster will run.

use crate::policy::{Bundle, PolicyEngine, PolicyInput, run_tests};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `policy`.
#[derive(Debug, Clone, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCommand {
    /// Run every `test_*` rule of the bundle (like `opa test -v`); exits non-zero on any
    /// failure, error or parse error.
    Test {
        /// The bundle directory (holding `.manifest` and the `.rego` files).
        dir: PathBuf,
        /// Print only failures and the summary.
        #[arg(short, long, env = "RELEASE_GATE_POLICY_TEST_QUIET")]
        quiet: bool,
        /// Print the results as JSON instead.
        #[arg(long, env = "RELEASE_GATE_POLICY_TEST_JSON")]
        json: bool,
    },
    /// Evaluate a query against an input document and print the result as JSON.
    Eval {
        /// The bundle directory.
        #[arg(
            long,
            short = 'd',
            default_value = "policies",
            env = "RELEASE_GATE_POLICY_DIR"
        )]
        bundle: PathBuf,
        /// The input document (JSON).
        #[arg(long, short, env = "RELEASE_GATE_POLICY_INPUT")]
        input: Option<PathBuf>,
        /// The query, e.g. `data.releasegate.admission.decision`; a `with` clause may pin the
        /// clock: `... with time.now_ns as 1780272000000000000`.
        #[arg(long, short, env = "RELEASE_GATE_POLICY_QUERY")]
        query: String,
        /// Refuse the bundle unless its digest is this one.
        #[arg(long, env = "RELEASE_GATE_POLICY_DIGEST")]
        digest: Option<String>,
        /// Also load the bundle's tests, examples and fixtures (as `policy test` does), e.g. to
        /// evaluate a test's fixture. The gate itself never loads them.
        #[arg(long, env = "RELEASE_GATE_POLICY_WITH_TESTS")]
        with_tests: bool,
    },
    /// Print the bundle's digest (`sha256:<hex>`, the value to pin) and version.
    Digest {
        /// The bundle directory.
        dir: PathBuf,
    },
}

pub fn run(args: PolicyArgs) -> ExitCode {
    match run_command(args.command) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("release-gate policy: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_command(command: PolicyCommand) -> Result<ExitCode, String> {
    match command {
        PolicyCommand::Test { dir, quiet, json } => {
            let bundle = Bundle::from_dir(&dir).map_err(|e| e.to_string())?;
            let policy = PolicyEngine::load_for_tests(&bundle).map_err(|e| e.to_string())?;
            let report = run_tests(&policy);
            if json {
                let text = serde_json::to_string_pretty(&report.results)
                    .map_err(|e| format!("cannot print the report: {e}"))?;
                println!("{text}");
            } else {
                print!("{}", report.render(!quiet));
            }
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PolicyCommand::Eval {
            bundle,
            input,
            query,
            digest,
            with_tests,
        } => {
            let b = Bundle::from_dir(&bundle).map_err(|e| e.to_string())?;
            if with_tests
                && let Some(pin) = &digest
                && *pin != b.digest()
            {
                return Err(format!(
                    "policy bundle {} has digest {}, not the pinned {pin}",
                    b.origin(),
                    b.digest()
                ));
            }
            let policy = if with_tests {
                PolicyEngine::load_for_tests(&b)
            } else {
                PolicyEngine::load(&b, digest.as_deref())
            }
            .map_err(|e| e.to_string())?;
            let input = match input {
                None => serde_json::Value::Null,
                Some(path) => {
                    let text = std::fs::read(&path)
                        .map_err(|e| format!("cannot read input {}: {e}", path.display()))?;
                    serde_json::from_slice(&text)
                        .map_err(|e| format!("input {} is not valid JSON: {e}", path.display()))?
                }
            };
            let values = policy
                .eval_query(&query, &PolicyInput::from_json(input))
                .map_err(|e| e.to_string())?;
            let out = match values.as_slice() {
                [] => {
                    eprintln!("release-gate policy: {query} is undefined for this input");
                    return Ok(ExitCode::FAILURE);
                }
                [one] => one.clone(),
                many => serde_json::Value::Array(many.to_vec()),
            };
            let text = serde_json::to_string_pretty(&out)
                .map_err(|e| format!("cannot print the result: {e}"))?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Digest { dir } => {
            let bundle = Bundle::from_dir(&dir).map_err(|e| e.to_string())?;
            let version = bundle.version().map_err(|e| e.to_string())?;
            println!("{}", bundle.digest());
            eprintln!(
                "version {} ({} files in {})",
                version
                    .as_deref()
                    .unwrap_or("unversioned (no .manifest revision)"),
                bundle.files().len(),
                bundle.origin()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
