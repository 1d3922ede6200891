//! The command line: one binary with a subcommand per role. Each subcommand's flags also read
//! environment variables (shown in `--help`), so the Helm chart can configure it either way.

mod controller;
mod crds;
mod keyless;
mod pack;
mod policy;
mod policy_args;
mod verify;
mod webhook;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub use controller::ControllerArgs;
pub use policy_args::PolicyArgs;
pub use webhook::WebhookArgs;

use crate::telemetry::{LogArgs, init_tracing};

/// release-gate admits only releases with verified evidence and runs canary drills that roll
/// back by themselves.
///
/// The controller verifies each HardenedRelease once per digest (signature, SBOM, provenance,
/// vulnerabilities, policy) and records the outcome; the webhook admits workloads by looking the
/// outcome up; CanaryDrills judge a canary window by window and roll back on breach.
#[derive(Debug, Parser)]
#[command(name = "release-gate", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at start-up and matched once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controllers that reconcile HardenedReleases and CanaryDrills: each release is
    /// verified with the keys of the TrustPolicies covering its image and judged by the pinned
    /// policy bundle; each drill runs its canary window by window and rolls back on breach.
    Controller {
        #[command(flatten)]
        controller: ControllerArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Run the HTTPS server of the validating admission webhook: POST /validate judges Pods and
    /// every pod-bearing workload from the release index and the pinned policy (see
    /// --policy-bundle); /healthz and /readyz for probes.
    Webhook {
        #[command(flatten)]
        webhook: WebhookArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Run the controllers and the webhook in one process (the usual single-replica setup).
    Run {
        #[command(flatten)]
        controller: ControllerArgs,
        #[command(flatten)]
        webhook: WebhookArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Print the CustomResourceDefinitions (HardenedRelease, CanaryDrill, Decision) as YAML,
    /// ready for `kubectl apply -f -`.
    Crds,
    /// Verify an image's signature and attestations (SBOM, provenance, vulnerabilities) from its
    /// registry, the checks the controller is built to run; for CI.
    Verify(verify::VerifyArgs),
    /// Verify a Sigstore bundle for a local file, offline, against a trusted_root.json and a
    /// keyless identity (Fulcio certificate subject and OIDC issuer).
    VerifyBundle(keyless::VerifyBundleArgs),
    /// Work with a Rego policy bundle: run its tests, evaluate a query, print its digest.
    Policy(policy::PolicyArgs),
    /// Admission tools: `input` prints the policy input the webhook builds for an
    /// AdmissionReview, to replay a decision with `release-gate policy eval`.
    #[command(subcommand)]
    Admission(AdmissionCommand),
    /// Write the Disclosure Pack (markdown, JSON, SARIF) from the build's SBOM, provenance, Trivy
    /// and OSV reports, judged by the release policy; exits 1 when the release would be blocked.
    Pack(pack::PackArgs),
}

#[derive(Debug, Subcommand)]
pub enum AdmissionCommand {
    /// Print the policy input (JSON) the webhook builds for `--review FILE` from the cluster's
    /// releases, Decisions and Namespaces (KUBECONFIG).
    Input(webhook::AdmissionInputArgs),
}

/// Runs the parsed command line and turns the outcome into the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    if let Command::Crds = cli.command {
        return crds::print();
    }
    if let Err(e) = init_tracing(&cli.log) {
        eprintln!("release-gate: {e}");
        return ExitCode::from(2);
    }
    match cli.command {
        Command::Verify(args) => return verify::run(args),
        Command::Policy(args) => return policy::run(args),
        Command::Pack(args) => return pack::run(args),
        Command::VerifyBundle(args) => return keyless::run_verify_bundle(args),
        _ => {}
    }
    // One blocking thread per core: they run signature checks and the release controller's
    // policy evaluations (pure CPU, so more threads than cores only queue in the kernel instead
    // of here) and file reads; each thread keeps its own allocator heap, so 512 (tokio's
    // default) of them cost memory for nothing. Fewer threads trade the controller's speed in a
    // burst for memory (1,000 releases on two cores: 4 per core 17.9 s / 72 MiB, one per core
    // 22-25 s / 52-54 MiB; README, performance).
    let blocking = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(blocking)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("release-gate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Controller { controller, policy } => {
                let shutdown = crate::shutdown::signal();
                let policy = policy.start(&shutdown)?;
                controller::run(controller, policy, shutdown).await
            }
            Command::Webhook { webhook, policy } => {
                let shutdown = crate::shutdown::signal();
                let policy = policy.start(&shutdown)?;
                webhook::run(webhook, policy, shutdown).await
            }
            Command::Run {
                controller,
                webhook,
                policy,
            } => {
                let shutdown = crate::shutdown::signal();
                // One loaded bundle judges both releases and admission.
                let policy = policy.start(&shutdown)?;
                let (c, w) = tokio::join!(
                    controller::run(controller, policy.clone(), shutdown.clone()),
                    webhook::run(webhook, policy, shutdown)
                );
                c.and(w)
            }
            Command::Admission(AdmissionCommand::Input(args)) => webhook::print_input(args).await,
            Command::Crds
            | Command::Verify(_)
            | Command::Policy(_)
            | Command::VerifyBundle(_)
            | Command::Pack(_) => {
                unreachable!("handled above")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "exiting");
            eprintln!("release-gate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
