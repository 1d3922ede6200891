//! `release-gate pack`: the Disclosure Pack in CI, from the files the build made (SBOM,
//! provenance, Trivy and OSV reports), judged by the same Rego entry point as the controller
//! (`data.releasegate.release.decision`). Writes `disclosure-pack.md`, `disclosure-pack.json`
//! and, with `--sarif`, a SARIF 2.1.0 log for code scanning; exits 1 when the release would be
//! blocked, naming why.
//!
//! The signature is not checked here (the files carry none): `release-gate verify` checks it
//! against the registry. The pack judges the release as it will be judged once signed, and says
//! so in its signers section.

use crate::evidence::dsse;
use crate::evidence::predicates;
use crate::evidence::verify::{Evidence, VerifiedSignature};
use crate::evidence::vuln_facts::{DEFAULT_MAX_REPORT_AGE, VulnFacts};
use crate::evidence::vulns::{self, Severity};
use crate::policy::input::{
    EvidenceFacts, ProvenanceFacts, ReleaseInput, ReleaseMeta, ReleaseSummary, SbomFacts,
    SignatureFacts, VulnerabilityFacts,
};
use crate::policy::{Pin, PolicyHolder, PolicyInput, RELEASE_QUERY};
use crate::release::pack::{self, PackPolicy, PackRelease};
use clap::Args;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `release-gate pack`.
#[derive(Debug, Clone, Args)]
pub struct PackArgs {
    /// The CycloneDX (or SPDX) SBOM JSON.
    #[arg(long, env = "RELEASE_GATE_PACK_SBOM")]
    pub sbom: PathBuf,
    /// The SLSA provenance: an in-toto statement, a DSSE envelope, or a `.intoto.jsonl` of
    /// envelopes (as the SLSA generators write).
    #[arg(long, env = "RELEASE_GATE_PACK_PROVENANCE")]
    pub provenance: PathBuf,
    /// The Trivy JSON report (`trivy image --format json`).
    #[arg(long, env = "RELEASE_GATE_PACK_TRIVY")]
    pub trivy: PathBuf,
    /// The OSV-Scanner JSON report (`osv-scanner --format json`).
    #[arg(long, env = "RELEASE_GATE_PACK_OSV")]
    pub osv: PathBuf,
    /// The policy bundle directory that judges the release.
    #[arg(long, env = "RELEASE_GATE_PACK_POLICY")]
    pub policy: PathBuf,
    /// The digest the bundle must have (`release-gate policy digest DIR`); refused otherwise.
    #[arg(long, env = "RELEASE_GATE_PACK_POLICY_DIGEST")]
    pub policy_digest: Option<String>,
    /// A Decision (YAML) that applies, e.g. an Override accepting criticals. Repeatable.
    #[arg(
        long = "decision",
        env = "RELEASE_GATE_PACK_DECISIONS",
        value_delimiter = ','
    )]
    pub decisions: Vec<PathBuf>,
    /// The image (`registry/repo@sha256:…`). Without it, the digest is the provenance's
    /// subject.
    #[arg(long, env = "RELEASE_GATE_PACK_IMAGE")]
    pub image: Option<String>,
    /// The HardenedRelease name the pack is for (Decisions name it in `scope.releases`).
    #[arg(long, env = "RELEASE_GATE_PACK_RELEASE", default_value = "release")]
    pub release: String,
    /// The namespace of the release (Decisions of other namespaces do not apply).
    #[arg(long, env = "RELEASE_GATE_PACK_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Where to write disclosure-pack.md and disclosure-pack.json.
    #[arg(long, env = "RELEASE_GATE_PACK_OUTPUT")]
    pub output: PathBuf,
    /// Also write a SARIF 2.1.0 log of the findings and the verdict here.
    #[arg(long, env = "RELEASE_GATE_PACK_SARIF")]
    pub sarif: Option<PathBuf>,
    /// A minijinja template instead of the shipped one.
    #[arg(long, env = "RELEASE_GATE_DISCLOSURE_TEMPLATE")]
    pub template: Option<PathBuf>,
}

/// Runs `pack`: 0 when the policy allows the release, 1 when it blocks it, 2 on bad input.
pub fn run(args: PackArgs) -> ExitCode {
    match pack(&args) {
        Ok(verdict) if verdict.allowed => ExitCode::SUCCESS,
        Ok(verdict) => {
            for r in &verdict.reasons {
                eprintln!("blocked: {r}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("release-gate pack: {e}");
            ExitCode::from(2)
        }
    }
}

fn read_json(path: &Path, what: &str) -> Result<Value, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the {what} {} is not JSON: {e}", path.display()))
}

/// The provenance's (predicate type, predicate, subject digests) from a statement, an
/// envelope, or a JSON-lines file of either.
fn read_provenance(path: &Path) -> Result<(String, Value, Vec<String>), String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the provenance {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let docs: Vec<&str> = if serde_json::from_slice::<Value>(&bytes).is_ok() {
        vec![text.as_ref()]
    } else {
        text.lines().filter(|l| !l.trim().is_empty()).collect()
    };
    for doc in docs {
        if let Ok((_, st)) = dsse::parse_attestation(doc.as_bytes()) {
            let subjects = st.subject_digests.iter().map(ToString::to_string).collect();
            return Ok((st.predicate_type, st.predicate, subjects));
        }
        let v: Value = serde_json::from_str(doc)
            .map_err(|e| format!("the provenance {} is not JSON: {e}", path.display()))?;
        if let (Some(t), Some(p)) = (
            v.get("predicateType").and_then(Value::as_str),
            v.get("predicate"),
        ) {
            let subjects = v
                .get("subject")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.pointer("/digest/sha256").and_then(Value::as_str))
                .map(|h| format!("sha256:{h}"))
                .collect();
            return Ok((t.to_owned(), p.clone(), subjects));
        }
    }
    Err(format!(
        "the provenance {} holds no in-toto statement or DSSE envelope with a predicateType",
        path.display()
    ))
}

fn pack(args: &PackArgs) -> Result<crate::policy::Verdict, String> {
    let sbom_doc = read_json(&args.sbom, "SBOM")?;
    // The SBOM's own format decides the predicate type it would be attested under.
    let sbom_type = if sbom_doc.get("spdxVersion").is_some() {
        "https://spdx.dev/Document"
    } else {
        "https://cyclonedx.org/bom"
    };
    let sbom = predicates::parse_sbom(sbom_type, &sbom_doc)
        .map_err(|e| format!("the SBOM {} does not parse: {e}", args.sbom.display()))?;
    let (ptype, pred, subjects) = read_provenance(&args.provenance)?;
    let provenance = predicates::parse_slsa(&ptype, &pred).map_err(|e| {
        format!(
            "the provenance {} does not parse: {e}",
            args.provenance.display()
        )
    })?;
    let trivy = vulns::parse_report(&read_json(&args.trivy, "Trivy report")?).map_err(|e| {
        format!(
            "the Trivy report {} does not parse: {e}",
            args.trivy.display()
        )
    })?;
    let osv = vulns::parse_report(&read_json(&args.osv, "OSV report")?)
        .map_err(|e| format!("the OSV report {} does not parse: {e}", args.osv.display()))?;
    // Every finding of both reports, merged by advisory ID with the worst severity, as the
    // controller merges attested reports. Freshness is the cluster's check (the reports given
    // to pack were made by the same CI run), so the facts are not judged stale here.
    let vulns = VulnFacts::merge(
        &[trivy, osv],
        DEFAULT_MAX_REPORT_AGE,
        jiff::Timestamp::now(),
    );
    let digest = match &args.image {
        Some(image) => crate::evidence::ImageRef::parse(image)
            .map_err(|e| format!("--image {image}: {e}"))?
            .digest
            .map(|d| d.to_string())
            .ok_or_else(|| {
                format!("--image {image} has no digest; give registry/repo@sha256:<digest>")
            })?,
        None => subjects.first().cloned().ok_or_else(|| {
            "the provenance names no sha256 subject; give --image registry/repo@sha256:<digest>"
                .to_owned()
        })?,
    };
    let decisions = super::verify::read_decisions(&args.decisions, &args.namespace)?;
    let pin = match &args.policy_digest {
        Some(d) => Pin::Digest(d.clone()),
        None => Pin::Unpinned,
    };
    let holder = PolicyHolder::new(&args.policy, pin);
    let engine = holder.current().map_err(|e| {
        format!(
            "the policy bundle {} does not load: {e}",
            args.policy.display()
        )
    })?;

    let critical_ids = vulns.critical_ids.clone();
    let critical = vulns.critical;
    let summary = ReleaseSummary {
        metadata: ReleaseMeta {
            name: args.release.clone(),
            namespace: args.namespace.clone(),
            ..Default::default()
        },
        digest: digest.clone(),
        evidence: EvidenceFacts {
            signature: SignatureFacts {
                verified: true,
                identity: Some(UNCHECKED_SIGNER.into()),
            },
            sbom: SbomFacts {
                verified: true,
                format: sbom
                    .format
                    .split([' ', '-'])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            },
            provenance: ProvenanceFacts {
                verified: true,
                predicate_type: ptype.clone(),
                builder: provenance.builder_id.clone(),
            },
            vulnerabilities: VulnerabilityFacts {
                verified: true,
                critical,
                high: vulns.high,
                medium: vulns.medium,
                low: vulns.low,
                unknown: vulns.unknown,
                critical_ids: critical_ids.clone(),
                stale: false,
            },
        },
        budget: Default::default(),
    };
    let input = PolicyInput::from_typed(&ReleaseInput::new(summary, decisions.clone()))
        .map_err(|e| format!("the release input does not serialise: {e}"))?;
    let verdict = holder.decide(RELEASE_QUERY, &input);

    let evidence = Evidence {
        digest: digest.clone(),
        signatures: vec![VerifiedSignature {
            origin: "not checked by pack".into(),
            signer: UNCHECKED_SIGNER.into(),
        }],
        attestations: vec![],
        sbom: Some(sbom),
        provenance: Some(provenance),
        vulnerabilities: Some(VulnFacts {
            stale: false,
            stale_reason: None,
            ..vulns.clone()
        }),
    };
    let data = pack::build(pack::PackInput {
        release: PackRelease {
            name: args.release.clone(),
            namespace: args.namespace.clone(),
            image: args.image.clone().unwrap_or_else(|| digest.clone()),
            digest,
        },
        evidence: &evidence,
        critical_ids,
        verdict: &verdict,
        decisions: &decisions,
        policy: PackPolicy {
            version: engine.version().map(str::to_owned),
            digest: engine.digest().to_owned(),
        },
        generated_at: crate::api::now().0.to_string(),
    });
    let template = match &args.template {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the template {}: {e}", p.display()))?,
        None => pack::DEFAULT_TEMPLATE.to_owned(),
    };
    let (markdown, json) = pack::render(&data, &template).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&args.output)
        .map_err(|e| format!("cannot create --output {}: {e}", args.output.display()))?;
    for (name, content) in [
        ("disclosure-pack.md", &markdown),
        ("disclosure-pack.json", &json),
    ] {
        let p = args.output.join(name);
        std::fs::write(&p, content).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
    }
    if let Some(path) = &args.sarif {
        let log = sarif(&vulns, &verdict, args)?;
        std::fs::write(path, log)
            .map_err(|e| format!("cannot write --sarif {}: {e}", path.display()))?;
    }
    Ok(verdict)
}

/// What the pack says of a signature it did not check.
const UNCHECKED_SIGNER: &str = "not checked by pack (release-gate verify checks the signature)";

/// The SARIF 2.1.0 log: one result per advisory (criticals are errors) and one per reason the
/// policy blocks the release.
fn sarif(
    vulns: &VulnFacts,
    verdict: &crate::policy::Verdict,
    args: &PackArgs,
) -> Result<String, String> {
    use serde_sarif::sarif::{
        ArtifactLocation, Location, Message, PhysicalLocation, ReportingDescriptor,
        Result as SarifResult, ResultLevel, Run, Sarif, Tool, ToolComponent,
    };
    let at = |file: &Path| {
        Location::builder()
            .physical_location(
                PhysicalLocation::builder()
                    .artifact_location(
                        ArtifactLocation::builder()
                            .uri(file.display().to_string())
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let mut results: Vec<SarifResult> = vulns
        .findings
        .iter()
        .map(|a| {
            let level = match a.severity {
                Severity::Critical => ResultLevel::Error,
                Severity::High => ResultLevel::Warning,
                _ => ResultLevel::Note,
            };
            let fix = a
                .fixed_version
                .as_ref()
                .map_or_else(|| "no fix yet".to_owned(), |f| format!("fixed in {f}"));
            SarifResult::builder()
                .rule_id("releasegate/vulnerability".to_owned())
                .level(level)
                .message(
                    Message::builder()
                        .text(format!(
                            "{} ({:?}) in {}: {fix}",
                            a.id, a.severity, a.package
                        ))
                        .build(),
                )
                .locations(vec![at(&args.trivy)])
                .build()
        })
        .collect();
    results.extend(verdict.reasons.iter().map(|r| {
        SarifResult::builder()
            .rule_id("releasegate/policy".to_owned())
            .level(ResultLevel::Error)
            .message(Message::builder().text(r.clone()).build())
            .locations(vec![at(&args.provenance)])
            .build()
    }));
    let rules = vec![
        ReportingDescriptor::builder()
            .id("releasegate/vulnerability".to_owned())
            .name("Vulnerability".to_owned())
            .build(),
        ReportingDescriptor::builder()
            .id("releasegate/policy".to_owned())
            .name("ReleasePolicy".to_owned())
            .build(),
    ];
    let log = Sarif::builder()
        .schema(serde_sarif::sarif::SCHEMA_URL.to_owned())
        .version(serde_json::json!("2.1.0"))
        .runs(vec![
            Run::builder()
                .tool(
                    Tool::builder()
                        .driver(
                            ToolComponent::builder()
                                .name("release-gate".to_owned())
                                .version(env!("CARGO_PKG_VERSION").to_owned())
                                .information_uri(
                                    "https://github.com/release-gate/release-gate".to_owned(),
                                )
                                .rules(rules)
                                .build(),
                        )
                        .build(),
                )
                .results(results)
                .build(),
        ])
        .build();
    serde_json::to_string_pretty(&log).map_err(|e| format!("the SARIF log does not serialise: {e}"))
}
