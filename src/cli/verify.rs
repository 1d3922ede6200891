//! `release-gate verify`: the cluster's check, run in CI. The signature and attestations are
//! verified with the keys of the TrustPolicies (`--trust-policy`, the same YAML the cluster
//! holds) covering the image, and the facts are judged, with the `--decision` files, by the
//! pinned bundle's release entry point (`data.releasegate.release.decision`), as the
//! controller judges a HardenedRelease. Criticals are never budgeted: an unexpired override
//! Decision naming them is the only way past them.
//!
//! Without `--policy-bundle` only the evidence is checked (signature only with `--require
//! none`), and any critical finding rejects: nothing can accept it without the policy.
//!
//! Exit status: 0 accepted; 1 rejected (each reason printed), also when the image carries more
//! evidence than the fetch limits allow; 2 bad invocation or configuration (unreadable key, bad
//! reference, a TrustPolicy naming a Secret); 3 the registry could not be read (in time: see
//! --deadline).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::api::{Decision, HardenedRelease, HardenedReleaseSpec, VulnerabilityBudget};
use crate::evidence::fetch::FetchLimits;
use crate::evidence::predicates::ProvenanceRequirements;
use crate::evidence::registry::parse_docker_config;
use crate::evidence::vuln_facts::parse_duration;
use crate::evidence::{
    Error, Evidence, ImageRef, Problem, RegistryConfig, Report, Requirements, TrustPolicy,
    TrustedKey, Verifier,
};
use crate::policy::input::ReleaseInput;
use crate::policy::{PolicyHolder, PolicyInput, RELEASE_QUERY, Verdict as PolicyVerdict};
use crate::release::facts::Established;
use crate::release::trust::{self as release_trust, Trust};

/// Flags of `verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The image reference to verify (`nginx`, `registry:5000/app:1.0`, `app@sha256:…`).
    pub image: String,

    /// A trusted public key (PEM: ECDSA, Ed25519 or RSA, as `cosign public-key` prints).
    /// Repeat or comma-separate for several.
    #[arg(long = "key", env = "RELEASE_GATE_VERIFY_KEYS", value_delimiter = ',')]
    pub keys: Vec<PathBuf>,

    /// A TrustPolicy (YAML, as applied to the cluster: `apiVersion: releasegate.dev/v1alpha1`,
    /// `kind: TrustPolicy`). Those whose `spec.images` cover the image give its keys, keyless
    /// authorities, provenance requirement and report age limit; none covering it rejects it.
    /// Keys must be inline (`pem`): a `secretRef` or a keyless `trustedRoot` ConfigMap is in
    /// the cluster, out of the CLI's reach. Repeat or comma-separate.
    #[arg(
        long = "trust-policy",
        env = "RELEASE_GATE_VERIFY_TRUST_POLICIES",
        value_delimiter = ','
    )]
    pub trust_policies: Vec<PathBuf>,

    /// The Rego bundle that judges the release (`data.releasegate.release.decision`), as in
    /// the cluster. Without it only the evidence is checked and any critical finding rejects.
    #[command(flatten)]
    pub bundle: super::policy_args::PolicyArgs,

    /// A Decision (YAML, as applied to the cluster) the policy weighs, e.g. an Override
    /// accepting named criticals until it expires. Needs --policy-bundle. Repeatable.
    #[arg(
        long = "decision",
        env = "RELEASE_GATE_VERIFY_DECISIONS",
        value_delimiter = ',',
        requires = "policy_bundle"
    )]
    pub decisions: Vec<PathBuf>,

    /// The HardenedRelease name the image is checked as (Decisions name it in
    /// `scope.releases`).
    #[arg(long, env = "RELEASE_GATE_VERIFY_RELEASE", default_value = "release")]
    pub release: String,

    /// The namespace of that release (a Decision of another namespace does not apply).
    #[arg(long, env = "RELEASE_GATE_VERIFY_NAMESPACE", default_value = "default")]
    pub namespace: String,

    /// Removed: it named a trust file. Use --trust-policy (a TrustPolicy) and --policy-bundle.
    /// Its old variable is still read, so a CI job that sets it is told what replaced it.
    #[arg(long = "policy", env = "RELEASE_GATE_VERIFY_POLICY", hide = true)]
    pub removed_policy: Option<PathBuf>,

    /// Attestations that must be present, by cosign short name (`cyclonedx`, `spdxjson`,
    /// `slsaprovenance`, `slsaprovenance1`, `vuln`) or predicate type URI. Default, as for a
    /// HardenedRelease: cyclonedx,slsaprovenance,vuln; `none` checks the signature only (the
    /// policy bundle still asks for all three).
    #[arg(long, env = "RELEASE_GATE_VERIFY_REQUIRE", value_delimiter = ',')]
    pub require: Vec<String>,

    /// High vulnerabilities allowed (unlimited when absent), judged by the policy bundle.
    /// Criticals have no budget: an override Decision (--decision) is the only way.
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_HIGH", requires = "policy_bundle")]
    pub max_high: Option<u32>,

    /// Medium vulnerabilities allowed (unlimited when absent), judged by the policy bundle.
    #[arg(
        long,
        env = "RELEASE_GATE_VERIFY_MAX_MEDIUM",
        requires = "policy_bundle"
    )]
    pub max_medium: Option<u32>,

    /// What the evidence must say beyond the signature (boxed: clap's flattened flags).
    #[command(flatten)]
    pub rules: Box<RulesArgs>,

    /// Registry credentials: a docker `config.json` / `.dockerconfigjson` file.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_CONFIG")]
    pub registry_config: Option<PathBuf>,

    /// Registry hosts (host:port) reached over plain HTTP. Repeat or comma-separate.
    #[arg(
        long = "insecure-registry",
        env = "RELEASE_GATE_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,

    /// Extra CA certificates (PEM) trusted for registry TLS.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Timeout of each registry call, in seconds.
    #[arg(long, env = "RELEASE_GATE_REGISTRY_TIMEOUT", default_value_t = 30)]
    pub timeout: u64,

    #[command(flatten)]
    pub keyless: super::keyless::KeylessArgs,

    /// Output format.
    #[arg(long, short = 'o', env = "RELEASE_GATE_VERIFY_OUTPUT", value_enum, default_value_t = Output::Human)]
    pub output: Output,
}

/// Flags of `verify` on the evidence itself: the rest of the vulnerability budget, the age of
/// the report, the provenance's builder and source, and how much evidence is read, for how long.
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    /// Low vulnerabilities allowed (unlimited when absent), judged by the policy bundle.
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_LOW", requires = "policy_bundle")]
    pub max_low: Option<u32>,

    /// Findings of unknown severity allowed (no label and no CVSS v3/v4 score; unlimited when
    /// absent), judged by the policy bundle.
    #[arg(
        long,
        env = "RELEASE_GATE_VERIFY_MAX_UNKNOWN",
        requires = "policy_bundle"
    )]
    pub max_unknown: Option<u32>,

    /// How old the newest vulnerability report may be (`7d`, `36h`, `90m`); older, or undated,
    /// the evidence is stale and the image rejected. Default: the covering TrustPolicies'
    /// `maxVulnerabilityReportAge`, else 7d.
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_REPORT_AGE")]
    pub max_report_age: Option<String>,

    /// The builder every SLSA provenance must name, as slsa-verifier's --builder-id: without
    /// `@ref` any version of that builder matches, with it only that version.
    #[arg(long, env = "RELEASE_GATE_VERIFY_BUILDER_ID")]
    pub builder_id: Option<String>,

    /// The source repository every SLSA provenance must name, as slsa-verifier's --source-uri
    /// (`github.com/org/repo`; scheme, `git+` and `@ref` are ignored).
    #[arg(long, env = "RELEASE_GATE_VERIFY_SOURCE_URI")]
    pub source_uri: Option<String>,

    /// How long one verification may take, in seconds (all its registry calls and checks).
    #[arg(long, env = "RELEASE_GATE_VERIFY_DEADLINE", default_value_t = crate::evidence::DEFAULT_DEADLINE.as_secs())]
    pub deadline: u64,

    /// The most signature, attestation and bundle layers read per image; more is an error.
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_EVIDENCE_LAYERS", default_value_t = crate::evidence::fetch::DEFAULT_MAX_LAYERS)]
    pub max_evidence_layers: usize,

    /// The most bytes of signature, attestation and bundle layers read per image (by their
    /// declared sizes, checked before anything is downloaded); more is an error.
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_EVIDENCE_BYTES", default_value_t = crate::evidence::fetch::DEFAULT_MAX_BYTES)]
    pub max_evidence_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

/// What `verify` was set up to do: verify with `verifier`, then judge.
struct Setup {
    verifier: Verifier,
    req: Requirements,
    /// The covering TrustPolicies' trust (provenance requirement, names); empty without
    /// `--trust-policy`.
    trust: Trust,
    /// The judge and what it weighs, with `--policy-bundle`.
    judge: Option<Judge>,
}

struct Judge {
    holder: std::sync::Arc<PolicyHolder>,
    decisions: Vec<Decision>,
    release: HardenedRelease,
    /// `--max-low` and `--max-unknown` (a HardenedRelease budgets high and medium only).
    extra_budget: Vec<(&'static str, u32)>,
}

/// The outcome: the evidence layer's problems and the policy's verdict, when it judged.
struct Outcome {
    report: Report,
    policy: Option<PolicyVerdict>,
    /// Reasons from the CLI itself (no TrustPolicy covers the image; criticals without a
    /// policy to accept them).
    reasons: Vec<String>,
}

impl Outcome {
    fn accepted(&self) -> bool {
        self.report.verdict.is_accepted()
            && self.reasons.is_empty()
            && self.policy.as_ref().is_none_or(|v| v.allowed)
    }
}

pub fn run(args: VerifyArgs) -> ExitCode {
    let setup = match setup(&args) {
        Ok(Ok(v)) => v,
        Ok(Err(uncovered)) => {
            eprintln!("release-gate verify: {}: rejected: {uncovered}", args.image);
            println!("REJECTED {}:\n  - [NoTrustPolicy] {uncovered}", args.image);
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("release-gate verify: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("release-gate verify: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(setup.verifier.verify(&args.image, &setup.req)) {
        Ok(report) => {
            let outcome = judge(report, &setup);
            match args.output {
                Output::Json => match serde_json::to_string_pretty(&JsonReport::new(&outcome)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("release-gate verify: {e}"),
                },
                Output::Human => print!("{}", render_human(&outcome)),
            }
            if outcome.accepted() {
                ExitCode::SUCCESS
            } else {
                if args.output == Output::Json {
                    for p in &outcome.report.verdict.problems {
                        eprintln!("release-gate verify: rejected: {p}");
                    }
                    for r in outcome.reasons.iter().chain(
                        outcome
                            .policy
                            .iter()
                            .filter(|v| !v.allowed)
                            .flat_map(|v| &v.reasons),
                    ) {
                        eprintln!("release-gate verify: rejected: {r}");
                    }
                }
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("release-gate verify: {}: {e}", args.image);
            match e {
                Error::Limit(_) => ExitCode::from(1),
                Error::Registry(_) | Error::Task(_) | Error::Deadline { .. } => ExitCode::from(3),
                Error::Reference(_) | Error::Trust(_) => ExitCode::from(2),
            }
        }
    }
}

/// The facts of `report` judged as the controller judges a release: the evidence layer's
/// findings folded into the release input, evaluated by the bundle with the Decisions.
fn judge(report: Report, setup: &Setup) -> Outcome {
    let Some(judge) = &setup.judge else {
        // No policy to accept a critical: each one rejects.
        let reasons = match &report.verdict.evidence.vulnerabilities {
            Some(v) if v.critical > 0 => vec![format!(
                "{} critical vulnerabilities ({}) block the image; criticals have no budget: fix them, or judge with the policy bundle (--policy-bundle) and an override Decision naming each of them (--decision)",
                v.critical,
                v.critical_ids.join(", ")
            )],
            _ => Vec::new(),
        };
        return Outcome {
            report,
            policy: None,
            reasons,
        };
    };
    let mut est = Established::new(
        report.verdict.evidence.digest.clone(),
        report.verdict.clone(),
        &setup.trust,
        None,
    );
    // A provenance the CLI's own --builder-id/--source-uri refuse does not count either.
    if est.provenance_problem.is_none() {
        est.provenance_problem =
            report.verdict.problems.iter().find_map(|p| {
                matches!(p, Problem::ProvenanceMismatch { .. }).then(|| p.to_string())
            });
    }
    let mut summary = est.summary(&judge.release);
    for (severity, n) in &judge.extra_budget {
        summary.budget.insert((*severity).to_owned(), *n);
    }
    let verdict =
        match PolicyInput::from_typed(&ReleaseInput::new(summary, judge.decisions.clone())) {
            Ok(input) => judge.holder.decide(RELEASE_QUERY, &input),
            Err(e) => PolicyVerdict::deny(format!("the release input does not serialise: {e}")),
        };
    Outcome {
        report,
        policy: Some(verdict),
        reasons: Vec::new(),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// Reads Decision YAML files (as applied to the cluster); one without a namespace is taken to
/// be in `namespace`.
pub fn read_decisions(paths: &[PathBuf], namespace: &str) -> Result<Vec<Decision>, String> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read(p)
                .map_err(|e| format!("cannot read the Decision {}: {e}", p.display()))?;
            let mut d: Decision = serde_yaml::from_slice(&text)
                .map_err(|e| format!("the Decision {} does not parse: {e}", p.display()))?;
            d.metadata
                .namespace
                .get_or_insert_with(|| namespace.to_owned());
            Ok(d)
        })
        .collect()
}

/// Reads TrustPolicy YAML files (as applied to the cluster).
fn read_trust_policies(paths: &[PathBuf]) -> Result<Vec<crate::api::TrustPolicy>, String> {
    paths
        .iter()
        .map(|p| {
            let tp: crate::api::TrustPolicy = serde_yaml::from_slice(&read(p, "--trust-policy")?)
                .map_err(|e| {
                    format!(
                        "--trust-policy {} is not a TrustPolicy: {e}; give the YAML applied to the cluster (apiVersion: releasegate.dev/v1alpha1, kind: TrustPolicy, metadata.name, spec.images and spec.keys)",
                        p.display()
                    )
                })?;
            if tp.spec.images.is_empty() || tp.spec.keys.len() + tp.spec.keyless.len() == 0 {
                return Err(format!(
                    "--trust-policy {}: spec.images and at least one of spec.keys or spec.keyless are required, as in the cluster",
                    p.display()
                ));
            }
            Ok(tp)
        })
        .collect()
}

/// The trust configuration, requirements and covering TrustPolicies from the flags.
fn trust_and_requirements(
    args: &VerifyArgs,
) -> Result<(TrustPolicy, Requirements, Trust, Option<String>), String> {
    let VerifyArgs {
        image,
        keys,
        trust_policies,
        bundle: _,
        decisions: _,
        release: _,
        namespace: _,
        removed_policy,
        require,
        max_high: _,
        max_medium: _,
        rules,
        registry_config: _,
        insecure_registries: _,
        ca_file: _,
        timeout: _,
        keyless,
        output: _,
    } = args;
    let RulesArgs {
        max_low: _,
        max_unknown: _,
        max_report_age,
        builder_id,
        source_uri,
        max_evidence_layers: _,
        max_evidence_bytes: _,
        deadline: _,
    } = rules.as_ref();
    if let Some(p) = removed_policy {
        return Err(format!(
            "--policy {} is gone: give the trust as a TrustPolicy with --trust-policy FILE, and the Rego bundle that judges with --policy-bundle DIR",
            p.display()
        ));
    }
    let mut trust = TrustPolicy::default();
    let mut covering_trust = Trust::default();
    let mut uncovered = None;
    let mut report_age = None;
    if !trust_policies.is_empty() {
        let all = read_trust_policies(trust_policies)?;
        let name = ImageRef::parse(image)
            .map(|i| format!("{}/{}", i.registry, i.repository))
            .map_err(|e| format!("{image}: {e}"))?;
        let covering = release_trust::covering(&all, &name);
        if covering.is_empty() {
            uncovered = Some(format!(
                "no TrustPolicy covers {name} (given: {}); a TrustPolicy's spec.images must match it",
                all.iter()
                    .map(kube::ResourceExt::name_any)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        covering_trust = release_trust::inline(&covering)?;
        report_age = covering_trust.max_report_age;
        trust
            .keys
            .extend(std::mem::take(&mut covering_trust.authorities.keys));
        trust
            .keyless
            .extend(std::mem::take(&mut covering_trust.authorities.keyless));
    }
    for path in keys {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let pem = read(path, "public key")?;
        trust
            .keys
            .push(TrustedKey::from_pem(name, &pem).map_err(|e| e.to_string())?);
    }
    trust.keyless.extend(keyless.authority()?);
    trust.provenance = ProvenanceRequirements {
        builder_id: builder_id.clone().filter(|s| !s.is_empty()),
        source_uri: source_uri.clone().filter(|s| !s.is_empty()),
    };
    if let Some(age) = max_report_age {
        trust.max_report_age = parse_duration(age).map_err(|e| format!("--max-report-age {e}"))?;
    } else if let Some(age) = report_age {
        trust.max_report_age = age;
    }
    // The evidence layer reports facts; the policy judges them (criticals included).
    let req = Requirements::new(&required_names(require)?);
    Ok((trust, req, covering_trust, uncovered))
}

/// Builds the verifier, the requirements and the judge from the flags; `Ok(Err(why))` when no
/// TrustPolicy covers the image (rejected before anything is fetched).
fn setup(args: &VerifyArgs) -> Result<Result<Setup, String>, String> {
    let (trust, req, covering, uncovered) = trust_and_requirements(args)?;
    if let Some(why) = uncovered {
        return Ok(Err(why));
    }
    let VerifyArgs {
        image,
        keys: _,
        trust_policies: _,
        bundle,
        decisions,
        release,
        namespace,
        removed_policy: _,
        require,
        max_high,
        max_medium,
        rules,
        registry_config,
        insecure_registries,
        ca_file,
        timeout,
        keyless: _,
        output: _,
    } = args;
    let RulesArgs {
        max_low,
        max_unknown,
        max_report_age: _,
        builder_id: _,
        source_uri: _,
        max_evidence_layers,
        max_evidence_bytes,
        deadline,
    } = rules.as_ref();
    let judge = match bundle.holder().map_err(|e| e.to_string())? {
        Some(holder) => {
            if let Err(e) = holder.current() {
                return Err(format!(
                    "the policy bundle {} does not load: {e}",
                    bundle
                        .policy_bundle
                        .as_deref()
                        .unwrap_or(Path::new(""))
                        .display()
                ));
            }
            let mut hr = HardenedRelease::new(
                release,
                HardenedReleaseSpec {
                    image: image.clone(),
                    evidence: crate::api::EvidenceRequirements {
                        require: required_names(require)?,
                        vulnerability_budget: VulnerabilityBudget {
                            high: *max_high,
                            medium: *max_medium,
                        },
                    },
                    policy: None,
                    decisions: Vec::new(),
                    reverify_interval: None,
                },
            );
            hr.metadata.namespace = Some(namespace.clone());
            Some(Judge {
                holder,
                decisions: read_decisions(decisions, namespace)?,
                release: hr,
                extra_budget: [("low", *max_low), ("unknown", *max_unknown)]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect(),
            })
        }
        None => None,
    };
    let credentials = match registry_config {
        Some(p) => parse_docker_config(&read(p, "registry config")?).map_err(|e| e.to_string())?,
        None => Default::default(),
    };
    let extra_ca_pem = match ca_file {
        Some(p) => Some(read(p, "CA file")?),
        None => None,
    };
    let registry = RegistryConfig {
        insecure: insecure_registries.clone(),
        extra_ca_pem,
        credentials,
        timeout: Some(Duration::from_secs((*timeout).max(1))),
    };
    let limits = FetchLimits {
        max_layers: *max_evidence_layers,
        max_bytes: *max_evidence_bytes,
    };
    let verifier = Verifier::new(registry, trust)
        .map_err(|e| e.to_string())?
        .with_limits(limits)
        .with_bounds(
            crate::evidence::DEFAULT_CONCURRENCY,
            Duration::from_secs((*deadline).max(1)),
        );
    Ok(Ok(Setup {
        verifier,
        req,
        trust: covering,
        judge,
    }))
}

/// The attestations to require: those `--require` names, the HardenedRelease default when it
/// names none, nothing for `none`.
fn required_names(from_flags: &[String]) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = from_flags
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if names.iter().any(|n| n == "none") {
        if names.len() > 1 {
            return Err(format!(
                "--require none (signature only) cannot be combined with other attestations ({}); drop one or the other",
                names
                    .iter()
                    .filter(|n| *n != "none")
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        names.clear();
    } else if names.is_empty() {
        names = crate::api::DEFAULT_REQUIRED_PREDICATES
            .map(String::from)
            .to_vec();
    }
    Ok(names)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    image: &'a str,
    accepted: bool,
    evidence: &'a Evidence,
    summary: crate::api::EvidenceSummary,
    problems: Vec<JsonProblem<'a>>,
    /// The policy bundle's decision (`allowed`, `reasons`, `overrides`), with --policy-bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    policy: Option<&'a PolicyVerdict>,
    /// Reasons of the CLI's own (criticals without a policy to accept them).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reasons: &'a [String],
}

#[derive(serde::Serialize)]
struct JsonProblem<'a> {
    reason: &'static str,
    message: String,
    detail: &'a crate::evidence::Problem,
}

impl<'a> JsonReport<'a> {
    fn new(o: &'a Outcome) -> Self {
        let r = &o.report;
        Self {
            image: &r.image,
            accepted: o.accepted(),
            policy: o.policy.as_ref(),
            reasons: &o.reasons,
            evidence: &r.verdict.evidence,
            summary: r.verdict.evidence.summary(),
            problems: r
                .verdict
                .problems
                .iter()
                .map(|p| JsonProblem {
                    reason: p.label(),
                    message: p.to_string(),
                    detail: p,
                })
                .collect(),
        }
    }
}

/// The human summary.
fn render_human(o: &Outcome) -> String {
    use std::fmt::Write as _;
    let r = &o.report;
    let mut out = String::new();
    let ev = &r.verdict.evidence;
    let _ = writeln!(out, "image: {}", r.image);
    for s in &ev.signatures {
        let _ = writeln!(out, "  signature   ok  {} ({})", s.signer, s.origin);
    }
    for a in &ev.attestations {
        let _ = writeln!(
            out,
            "  attestation ok  {} by {} ({})",
            a.predicate_type, a.signer, a.origin
        );
    }
    if let Some(s) = &ev.sbom {
        let mut lic = s
            .licenses
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if s.licenses.len() > 8 {
            lic.push_str(&format!(" and {} more", s.licenses.len() - 8));
        }
        let _ = writeln!(
            out,
            "  sbom        {}: {} components; licences: {}; {}",
            s.format,
            s.components,
            if lic.is_empty() { "none listed" } else { &lic },
            s.digest
        );
    }
    if let Some(p) = &ev.provenance {
        let _ = writeln!(
            out,
            "  provenance  SLSA {}: builder {}; build type {}; source {}{}",
            p.slsa_version,
            p.builder_id,
            p.build_type,
            p.source_repo.as_deref().unwrap_or("unknown"),
            p.source_commit
                .as_deref()
                .map(|c| format!(" @ {c}"))
                .unwrap_or_default()
        );
    }
    if let Some(v) = &ev.vulnerabilities {
        let reports = v
            .reports
            .iter()
            .map(|r| {
                format!(
                    "{} scanned {}",
                    r.format,
                    r.scan_time.as_deref().unwrap_or("at an unknown time")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            out,
            "  vulns       {} critical, {} high, {} medium, {} low, {} unknown{} ({reports})",
            v.critical,
            v.high,
            v.medium,
            v.low,
            v.unknown,
            if v.stale { ", STALE" } else { "" }
        );
        for a in v
            .findings
            .iter()
            .take(crate::evidence::verify::TOP_ADVISORIES)
        {
            let _ = writeln!(
                out,
                "              {} {} in {}{}",
                a.severity.as_str(),
                a.id,
                a.package,
                a.fixed_version
                    .as_deref()
                    .map(|f| format!(" (fixed in {f})"))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(v) = &o.policy {
        let _ = writeln!(
            out,
            "  policy      {} by data.releasegate.release.decision{}",
            if v.allowed { "allowed" } else { "denied" },
            if v.overrides.is_empty() {
                String::new()
            } else {
                format!(" under override Decision {}", v.overrides.join(", "))
            }
        );
    }
    if o.accepted() {
        let _ = writeln!(out, "ACCEPTED {}", ev.digest);
    } else {
        let _ = writeln!(out, "REJECTED {}:", ev.digest);
        for p in &r.verdict.problems {
            let _ = writeln!(out, "  - [{}] {p}", p.label());
        }
        for reason in &o.reasons {
            let _ = writeln!(out, "  - [Criticals] {reason}");
        }
        for reason in o
            .policy
            .iter()
            .filter(|v| !v.allowed)
            .flat_map(|v| &v.reasons)
        {
            let _ = writeln!(out, "  - [Policy] {reason}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VerifyArgs,
    }

    fn pem() -> String {
        let pem = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap()
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        pem.to_string()
    }

    fn args(extra: &[&str]) -> Result<VerifyArgs, String> {
        let mut argv = vec!["verify", "registry.example/team/app:v1"];
        argv.extend(extra);
        Cli::try_parse_from(argv)
            .map(|c| c.args)
            .map_err(|e| e.to_string())
    }

    /// A TrustPolicy file with `keys` (YAML list items) covering `images`.
    fn trust_policy(dir: &Path, images: &str, keys: &str, extra: &str) -> String {
        let path = dir.join(format!("tp-{}.yaml", rand_name()));
        let doc = format!(
            "apiVersion: releasegate.dev/v1alpha1\nkind: TrustPolicy\nmetadata:\n  name: ci\nspec:\n  images: [{images}]\n  keys:\n{keys}{extra}"
        );
        std::fs::write(&path, doc).unwrap();
        path.display().to_string()
    }

    fn rand_name() -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        N.fetch_add(1, Ordering::Relaxed).to_string()
    }

    fn inline_key() -> String {
        let indented: String = pem().lines().map(|l| format!("        {l}\n")).collect();
        format!("    - name: ci-2026\n      pem: |\n{indented}")
    }

    #[test]
    fn a_trust_policy_with_an_inline_key_gives_the_keys_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let tp = trust_policy(
            dir.path(),
            "\"registry.example/team/*\"",
            &inline_key(),
            "  provenance: {builder: https://ci.example/builder}\n  maxVulnerabilityReportAge: 36h\n",
        );
        let (trust, _, covering, uncovered) =
            trust_and_requirements(&args(&["--trust-policy", &tp]).unwrap()).unwrap();
        assert_eq!(uncovered, None);
        assert_eq!(trust.keys.len(), 1);
        assert_eq!(trust.max_report_age, Duration::from_secs(36 * 3600));
        assert_eq!(covering.policies, ["ci"]);
        assert_eq!(covering.provenance.len(), 1);
        // --max-report-age wins over the TrustPolicy.
        let (trust, ..) = trust_and_requirements(
            &args(&["--trust-policy", &tp, "--max-report-age", "1d"]).unwrap(),
        )
        .unwrap();
        assert_eq!(trust.max_report_age, Duration::from_secs(86_400));
    }

    #[test]
    fn an_image_no_trust_policy_covers_is_rejected_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let tp = trust_policy(dir.path(), "\"other.example/**\"", &inline_key(), "");
        let (.., uncovered) =
            trust_and_requirements(&args(&["--trust-policy", &tp]).unwrap()).unwrap();
        let why = uncovered.expect("not covered");
        assert!(
            why.contains("no TrustPolicy covers registry.example/team/app"),
            "{why}"
        );
    }

    #[test]
    fn a_secret_or_config_map_reference_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let tp = trust_policy(
            dir.path(),
            "\"registry.example/**\"",
            "    - name: ci\n      secretRef: {name: signing, key: cosign.pub}\n",
            "",
        );
        let e = trust_and_requirements(&args(&["--trust-policy", &tp]).unwrap()).unwrap_err();
        assert!(
            e.contains("TrustPolicy ci spec.keys[0].secretRef")
                && e.contains("Secret signing/cosign.pub")
                && e.contains("inline the public key as pem"),
            "{e}"
        );
        let tp = trust_policy(
            dir.path(),
            "\"registry.example/**\"",
            "    []\n",
            "  keyless:\n    - trustedRoot: {name: sigstore, key: trusted_root.json}\n      identity: {exact: me@example.com}\n      issuer: {exact: https://issuer.example}\n",
        );
        let e = trust_and_requirements(&args(&["--trust-policy", &tp]).unwrap()).unwrap_err();
        assert!(
            e.contains("spec.keyless[0].trustedRoot") && e.contains("--trusted-root"),
            "{e}"
        );
        // Not a TrustPolicy at all: said so, with what to give.
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "keys: []\n").unwrap();
        let e =
            trust_and_requirements(&args(&["--trust-policy", &bad.display().to_string()]).unwrap())
                .unwrap_err();
        assert!(e.contains("is not a TrustPolicy"), "{e}");
    }

    #[test]
    fn criticals_have_no_flag_and_the_old_trust_file_flag_says_what_replaced_it() {
        let e = args(&["--max-critical", "1"]).expect_err("no such flag");
        assert!(e.contains("--max-critical"), "{e}");
        let e = trust_and_requirements(&args(&["--policy", "trust.yaml"]).unwrap()).unwrap_err();
        assert!(
            e.contains("--trust-policy") && e.contains("--policy-bundle"),
            "{e}"
        );
        // Budgets and Decisions are the policy's to judge.
        for flag in [
            &["--decision", "d.yaml"][..],
            &["--max-high", "3"],
            &["--max-low", "3"],
        ] {
            let e = args(flag).expect_err("needs the bundle");
            assert!(e.contains("--policy-bundle"), "{flag:?}: {e}");
        }
    }

    #[test]
    fn bad_trust_configuration_is_named() {
        let e =
            trust_and_requirements(&args(&["--max-report-age", "a week"]).unwrap()).unwrap_err();
        assert!(
            e.contains("--max-report-age") && e.contains("a week"),
            "{e}"
        );
    }

    fn names(flags: &[&str]) -> Result<Vec<String>, String> {
        required_names(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn require_defaults_to_what_a_hardened_release_requires() {
        assert_eq!(names(&[]).unwrap(), ["cyclonedx", "slsaprovenance", "vuln"]);
        assert_eq!(
            names(&[]).unwrap(),
            crate::api::EvidenceRequirements::default().require
        );
        assert_eq!(names(&[" "]).unwrap(), names(&[]).unwrap());
    }

    #[test]
    fn require_names_replace_the_default_and_none_means_signature_only() {
        assert_eq!(names(&["spdxjson", "vuln"]).unwrap(), ["spdxjson", "vuln"]);
        assert_eq!(names(&["none"]).unwrap(), Vec::<String>::new());
        let err = names(&["vuln", "none"]).unwrap_err();
        assert!(
            err.contains("cannot be combined") && err.contains("vuln"),
            "{err}"
        );
    }
}
