//! `release-gate verify`: checks an image's signature and attestations, as CI would, with the
//! same library the controller uses.
//!
//! Exit status: 0 accepted; 1 rejected (each reason printed), also when the image carries more
//! evidence than the fetch limits allow; 2 bad invocation or configuration (unreadable key, bad
//! reference); 3 the registry could not be read (in time: see --deadline).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::api::VulnerabilityBudget;
use crate::evidence::fetch::FetchLimits;
use crate::evidence::predicates::ProvenanceRequirements;
use crate::evidence::registry::parse_docker_config;
use crate::evidence::vuln_facts::parse_duration;
use crate::evidence::{
    Budget, Error, Evidence, RegistryConfig, Report, Requirements, TrustPolicy, TrustedKey,
    Verifier,
};

/// Flags of `verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The image reference to verify (`nginx`, `registry:5000/app:1.0`, `app@sha256:…`).
    pub image: String,

    /// A trusted public key (PEM: ECDSA, Ed25519 or RSA, as `cosign public-key` prints).
    /// Repeat or comma-separate for several.
    #[arg(long = "key", env = "RELEASE_GATE_VERIFY_KEYS", value_delimiter = ',')]
    pub keys: Vec<PathBuf>,

    /// A trust policy file (YAML): `keys` (each `{name, path}` or `{name, pem}`), `require`,
    /// `vulnerabilityBudget` (`critical`, `high`, `medium`, `low`, `unknown`), `builderId`,
    /// `sourceUri`, `maxReportAge`. Flags add to it, or override it.
    #[arg(long, env = "RELEASE_GATE_VERIFY_POLICY")]
    pub policy: Option<PathBuf>,

    /// Attestations that must be present, by cosign short name (`cyclonedx`, `spdxjson`,
    /// `slsaprovenance`, `slsaprovenance1`, `vuln`) or predicate type URI. Default, as for a
    /// HardenedRelease: cyclonedx,slsaprovenance,vuln (unless the --policy file names some);
    /// `none` checks the signature only.
    #[arg(long, env = "RELEASE_GATE_VERIFY_REQUIRE", value_delimiter = ',')]
    pub require: Vec<String>,

    /// Critical vulnerabilities allowed in the vulnerability attestation.
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_CRITICAL")]
    pub max_critical: Option<u32>,

    /// High vulnerabilities allowed (unlimited when absent).
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_HIGH")]
    pub max_high: Option<u32>,

    /// Medium vulnerabilities allowed (unlimited when absent).
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_MEDIUM")]
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
    /// Low vulnerabilities allowed (unlimited when absent).
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_LOW")]
    pub max_low: Option<u32>,

    /// Findings of unknown severity allowed (no label and no CVSS v3/v4 score; unlimited when
    /// absent).
    #[arg(long, env = "RELEASE_GATE_VERIFY_MAX_UNKNOWN")]
    pub max_unknown: Option<u32>,

    /// How old the newest vulnerability report may be (`7d`, `36h`, `90m`); older, or undated,
    /// the evidence is stale and the image rejected. Default 7d.
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

/// The trust policy file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    keys: Vec<PolicyKey>,
    #[serde(default)]
    require: Vec<String>,
    #[serde(default)]
    vulnerability_budget: Option<FileBudget>,
    #[serde(default)]
    builder_id: Option<String>,
    #[serde(default)]
    source_uri: Option<String>,
    #[serde(default)]
    max_report_age: Option<String>,
}

/// The vulnerability budget of the policy file: absent severities are unlimited, except
/// critical (0).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBudget {
    #[serde(default)]
    critical: u32,
    high: Option<u32>,
    medium: Option<u32>,
    low: Option<u32>,
    unknown: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyKey {
    name: Option<String>,
    path: Option<PathBuf>,
    pem: Option<String>,
}

pub fn run(args: VerifyArgs) -> ExitCode {
    let (verifier, req) = match setup(&args) {
        Ok(v) => v,
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
    match rt.block_on(verifier.verify(&args.image, &req)) {
        Ok(report) => {
            match args.output {
                Output::Json => match serde_json::to_string_pretty(&JsonReport::new(&report)) {
                    Ok(s) => println!("{s}"),
                    Err(e) => eprintln!("release-gate verify: {e}"),
                },
                Output::Human => print!("{}", render_human(&report)),
            }
            if report.verdict.is_accepted() {
                ExitCode::SUCCESS
            } else {
                if args.output == Output::Json {
                    for p in &report.verdict.problems {
                        eprintln!("release-gate verify: rejected: {p}");
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

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// The trust policy and requirements from the flags and the policy file (flags win).
fn trust_and_requirements(args: &VerifyArgs) -> Result<(TrustPolicy, Requirements), String> {
    let VerifyArgs {
        image: _,
        keys,
        policy,
        require,
        max_critical,
        max_high,
        max_medium,
        rules,
        registry_config: _,
        insecure_registries: _,
        ca_file: _,
        timeout: _,
        keyless,
        output: _,
    } = args;
    let RulesArgs {
        max_low,
        max_unknown,
        max_report_age,
        builder_id,
        source_uri,
        max_evidence_layers: _,
        max_evidence_bytes: _,
        deadline: _,
    } = rules.as_ref();
    let file: PolicyFile = match policy {
        Some(p) => serde_yaml::from_slice(&read(p, "trust policy")?)
            .map_err(|e| format!("trust policy {} does not parse: {e}", p.display()))?,
        None => PolicyFile::default(),
    };
    let mut trust = TrustPolicy::default();
    for (i, k) in file.keys.iter().enumerate() {
        let name = k.name.clone().unwrap_or_else(|| format!("policy key #{i}"));
        let pem = match (&k.path, &k.pem) {
            (Some(p), None) => read(p, "public key")?,
            (None, Some(pem)) => pem.as_bytes().to_vec(),
            _ => {
                return Err(format!(
                    "trust policy key '{name}': give exactly one of path or pem"
                ));
            }
        };
        trust
            .keys
            .push(TrustedKey::from_pem(name, &pem).map_err(|e| e.to_string())?);
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
        builder_id: builder_id
            .clone()
            .or(file.builder_id)
            .filter(|s| !s.is_empty()),
        source_uri: source_uri
            .clone()
            .or(file.source_uri)
            .filter(|s| !s.is_empty()),
    };
    if let Some(age) = max_report_age.as_ref().or(file.max_report_age.as_ref()) {
        trust.max_report_age = parse_duration(age).map_err(|e| format!("--max-report-age {e}"))?;
    }
    let FileBudget {
        critical,
        high,
        medium,
        low,
        unknown,
    } = file.vulnerability_budget.unwrap_or_default();
    let mut req = Requirements::new(
        &required_names(file.require, require)?,
        &VulnerabilityBudget::default(),
    );
    req.budget = Budget {
        critical: max_critical.unwrap_or(critical),
        high: max_high.or(high),
        medium: max_medium.or(medium),
        low: max_low.or(low),
        unknown: max_unknown.or(unknown),
    };
    Ok((trust, req))
}

/// Builds the verifier and requirements from the flags and the policy file.
fn setup(args: &VerifyArgs) -> Result<(Verifier, Requirements), String> {
    let (trust, req) = trust_and_requirements(args)?;
    let VerifyArgs {
        image: _,
        keys: _,
        policy: _,
        require: _,
        max_critical: _,
        max_high: _,
        max_medium: _,
        rules,
        registry_config,
        insecure_registries,
        ca_file,
        timeout,
        keyless: _,
        output: _,
    } = args;
    let RulesArgs {
        max_low: _,
        max_unknown: _,
        max_report_age: _,
        builder_id: _,
        source_uri: _,
        max_evidence_layers,
        max_evidence_bytes,
        deadline,
    } = rules.as_ref();
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
    Ok((verifier, req))
}

/// The attestations to require: those the policy file and `--require` name, the
/// HardenedRelease default when neither names any, nothing for `none`.
fn required_names(from_file: Vec<String>, from_flags: &[String]) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = from_file
        .into_iter()
        .chain(from_flags.iter().cloned())
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
}

#[derive(serde::Serialize)]
struct JsonProblem<'a> {
    reason: &'static str,
    message: String,
    detail: &'a crate::evidence::Problem,
}

impl<'a> JsonReport<'a> {
    fn new(r: &'a Report) -> Self {
        Self {
            image: &r.image,
            accepted: r.verdict.is_accepted(),
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
pub fn render_human(r: &Report) -> String {
    use std::fmt::Write as _;
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
    if r.verdict.is_accepted() {
        let _ = writeln!(out, "ACCEPTED {}", ev.digest);
    } else {
        let _ = writeln!(out, "REJECTED {}:", ev.digest);
        for p in &r.verdict.problems {
            let _ = writeln!(out, "  - [{}] {p}", p.label());
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

    fn parse(extra: &[&str], policy: &str) -> Result<(TrustPolicy, Requirements), String> {
        let dir = tempfile::tempdir().unwrap();
        let pem = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap()
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        let key = dir.path().join("cosign.pub");
        std::fs::write(&key, pem).unwrap();
        let file = dir.path().join("trust.yaml");
        std::fs::write(&file, policy).unwrap();
        let mut argv = vec!["verify", "registry.example/app:v1", "--key"];
        let (key, file) = (key.display().to_string(), file.display().to_string());
        argv.extend([key.as_str(), "--policy", file.as_str()]);
        argv.extend(extra);
        trust_and_requirements(&Cli::try_parse_from(argv).map_err(|e| e.to_string())?.args)
    }

    #[test]
    fn the_policy_file_sets_the_trust_configuration_and_flags_win() {
        let file = "builderId: https://github.com/o/builder\nsourceUri: github.com/o/r\nmaxReportAge: 36h\nvulnerabilityBudget: {critical: 1, low: 3, unknown: 0}\n";
        let (trust, req) = parse(&[], file).unwrap();
        assert_eq!(
            trust.provenance.builder_id.as_deref(),
            Some("https://github.com/o/builder")
        );
        assert_eq!(
            trust.provenance.source_uri.as_deref(),
            Some("github.com/o/r")
        );
        assert_eq!(trust.max_report_age, Duration::from_secs(36 * 3600));
        assert_eq!(
            req.budget,
            Budget {
                critical: 1,
                high: None,
                medium: None,
                low: Some(3),
                unknown: Some(0)
            }
        );
        let (trust, req) = parse(
            &[
                "--builder-id",
                "https://b",
                "--max-report-age",
                "1d",
                "--max-unknown",
                "5",
            ],
            file,
        )
        .unwrap();
        assert_eq!(trust.provenance.builder_id.as_deref(), Some("https://b"));
        assert_eq!(trust.max_report_age, Duration::from_secs(86_400));
        assert_eq!(req.budget.unknown, Some(5));
        // Defaults: 7 days, no builder required, unknown unbudgeted.
        let (trust, req) = parse(&[], "{}").unwrap();
        assert_eq!(
            trust.max_report_age,
            crate::evidence::vuln_facts::DEFAULT_MAX_REPORT_AGE
        );
        assert!(trust.provenance.is_empty());
        assert_eq!(req.budget.unknown, None);
    }

    #[test]
    fn bad_trust_configuration_is_named() {
        let e = parse(&["--max-report-age", "a week"], "{}").unwrap_err();
        assert!(
            e.contains("--max-report-age") && e.contains("a week"),
            "{e}"
        );
        let e = parse(&[], "vulnerabilityBudget: {severe: 1}").unwrap_err();
        assert!(e.contains("severe"), "{e}");
        let e = parse(&[], "maxAge: 7d").unwrap_err();
        assert!(e.contains("maxAge"), "{e}");
    }

    fn names(file: &[&str], flags: &[&str]) -> Result<Vec<String>, String> {
        required_names(
            file.iter().map(|s| s.to_string()).collect(),
            &flags.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn require_defaults_to_what_a_hardened_release_requires() {
        assert_eq!(
            names(&[], &[]).unwrap(),
            ["cyclonedx", "slsaprovenance", "vuln"]
        );
        assert_eq!(
            names(&[], &[]).unwrap(),
            crate::api::EvidenceRequirements::default().require
        );
        assert_eq!(names(&[], &[" "]).unwrap(), names(&[], &[]).unwrap());
    }

    #[test]
    fn require_names_replace_the_default_and_none_means_signature_only() {
        assert_eq!(
            names(&["spdxjson"], &["vuln"]).unwrap(),
            ["spdxjson", "vuln"]
        );
        assert_eq!(names(&[], &["none"]).unwrap(), Vec::<String>::new());
        let err = names(&["vuln"], &["none"]).unwrap_err();
        assert!(
            err.contains("cannot be combined") && err.contains("vuln"),
            "{err}"
        );
    }
}
