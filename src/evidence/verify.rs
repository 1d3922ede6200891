//! The verification core: given what the registry holds for one image digest, decide whether it
//! carries a trusted signature and every required attestation, and summarise the evidence.
//! Pure: no I/O, so every rule is unit-tested and the controller can cache the outcome by digest.

use serde::Serialize;

use super::bundle;
use super::dsse::{self, Statement};
use super::predicates::{
    self, PredicateError, PredicateKind, ProvenanceSummary, SbomSummary, VulnSummary,
};
use super::reference::Digest;
use super::trust::TrustPolicy;
use crate::api::{VulnerabilityBudget, VulnerabilityCounts};

/// Annotation cosign puts the base64 signature of a simple-signing layer in.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation cosign puts a keyless signature's Fulcio certificate (PEM) in.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation cosign puts a keyless signature's Rekor entry (SET, body, time) in.
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Annotation cosign puts an attestation's (unsigned) predicate type in.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// A cosign simple-signing signature as stored in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureArtifact {
    /// Where it was found, e.g. `tag sha256-….sig, layer 0`.
    pub origin: String,
    /// The signed payload (the layer blob).
    pub payload: Vec<u8>,
    /// The base64 signature from the layer annotation.
    pub signature: String,
    /// Keyless signatures: the Fulcio certificate (PEM) annotation.
    pub certificate: Option<String>,
    /// Keyless signatures: cosign's Rekor bundle annotation (JSON).
    pub rekor_bundle: Option<String>,
}

/// A cosign attestation (a DSSE envelope) as stored in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationArtifact {
    pub origin: String,
    /// The predicate type the (unsigned) layer annotation claims.
    pub annotated_predicate_type: Option<String>,
    /// The DSSE envelope JSON.
    pub envelope: Vec<u8>,
}

/// Everything fetched for one digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifacts {
    pub signatures: Vec<SignatureArtifact>,
    pub attestations: Vec<AttestationArtifact>,
}

/// What must be present, and the vulnerability budget.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// Predicate type URIs (short names already mapped, see `predicates::predicate_type_uri`).
    pub predicate_types: Vec<String>,
    pub budget: VulnerabilityBudget,
}

impl Requirements {
    /// From `crate::api::EvidenceRequirements` or CLI short names.
    pub fn new(names: &[String], budget: VulnerabilityBudget) -> Self {
        Self {
            predicate_types: names
                .iter()
                .map(|n| predicates::predicate_type_uri(n.trim()).to_owned())
                .filter(|n| !n.is_empty())
                .collect(),
            budget,
        }
    }
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedSignature {
    pub origin: String,
    pub signer: String,
}

/// An attestation that verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedAttestation {
    pub origin: String,
    pub predicate_type: String,
    pub signer: String,
}

/// The verified evidence of one digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub digest: String,
    pub signatures: Vec<VerifiedSignature>,
    pub attestations: Vec<VerifiedAttestation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom: Option<SbomSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<VulnSummary>,
}

impl Evidence {
    /// The status form of the evidence.
    pub fn summary(&self) -> crate::api::EvidenceSummary {
        let mut signers: Vec<String> = self.signatures.iter().map(|s| s.signer.clone()).collect();
        signers.dedup();
        crate::api::EvidenceSummary {
            signers,
            sbom_components: self.sbom.as_ref().map(|s| s.components),
            sbom_digest: self.sbom.as_ref().map(|s| s.digest.clone()),
            builder_id: self.provenance.as_ref().map(|p| p.builder_id.clone()),
            build_type: self.provenance.as_ref().map(|p| p.build_type.clone()),
            source: self.provenance.as_ref().and_then(|p| {
                match (&p.source_repo, &p.source_commit) {
                    (Some(r), Some(c)) => Some(format!("{r}@{c}")),
                    (Some(r), None) => Some(r.clone()),
                    (None, Some(c)) => Some(c.clone()),
                    (None, None) => None,
                }
            }),
            vulnerabilities: self.vulnerabilities.as_ref().map(|v| v.counts.clone()),
            top_advisories: self
                .vulnerabilities
                .iter()
                .flat_map(|v| &v.top)
                .map(|a| match &a.fixed_version {
                    Some(fixed) => format!(
                        "{} ({:?}, {}, fixed in {fixed})",
                        a.id, a.severity, a.package
                    ),
                    None => format!("{} ({:?}, {}, no fix)", a.id, a.severity, a.package),
                })
                .collect(),
        }
    }
}

/// Why one signature did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum SignatureFailure {
    #[error("{origin}: signature does not verify with any trusted key ({keys})")]
    UntrustedSigner { origin: String, keys: String },
    #[error("{origin}: signed payload names {claimed}, not this image: copied from another image")]
    WrongImage { origin: String, claimed: String },
    #[error("{origin}: malformed: {why}")]
    Malformed { origin: String, why: String },
    #[error("{origin}: keyless signature rejected: {why}")]
    KeylessRejected { origin: String, why: String },
}

/// Why one attestation did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "camelCase")]
pub enum AttestationFailure {
    #[error(
        "{origin}: DSSE signature does not verify with any trusted key ({keys}): the payload was altered after signing, or an untrusted key signed it"
    )]
    BadSignature { origin: String, keys: String },
    #[error(
        "{origin}: the signed statement is about {subjects}, not this image: the attestation was made for another digest and copied here"
    )]
    SubjectMismatch { origin: String, subjects: String },
    #[error(
        "{origin}: the layer claims predicate type {annotated} but the signed statement is of type {signed}"
    )]
    PredicateTypeMismatch {
        origin: String,
        annotated: String,
        signed: String,
    },
    #[error("{origin}: predicate of type {predicate_type} is invalid: {why}")]
    PredicateInvalid {
        origin: String,
        predicate_type: String,
        why: String,
    },
    #[error("{origin}: malformed: {why}")]
    Malformed { origin: String, why: String },
}

/// One reason a digest is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "camelCase")]
pub enum Problem {
    #[error(
        "image is not signed: no cosign signature found for this digest (sign it with `cosign sign --key …` or keyless)"
    )]
    Unsigned,
    #[error("no signature verifies with a trusted authority: {}", join(failures))]
    SignatureUntrusted { failures: Vec<SignatureFailure> },
    #[error(
        "required attestation {predicate_type} is missing (found: {}); attach it with `cosign attest --type …`",
        if found.is_empty() { "none".to_owned() } else { found.join(", ") }
    )]
    AttestationMissing {
        predicate_type: String,
        found: Vec<String>,
    },
    #[error(
        "required attestation {predicate_type} does not verify: {}",
        join(failures)
    )]
    AttestationInvalid {
        predicate_type: String,
        failures: Vec<AttestationFailure>,
    },
    #[error("vulnerabilities over budget: {}", over.join(", "))]
    OverBudget {
        counts: VulnerabilityCounts,
        over: Vec<String>,
        /// The most severe findings, for the message.
        top: Vec<String>,
    },
}

impl Problem {
    /// Stable machine label (for metrics and condition reasons).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unsigned => "Unsigned",
            Self::SignatureUntrusted { .. } => "SignatureUntrusted",
            Self::AttestationMissing { .. } => "AttestationMissing",
            Self::AttestationInvalid { .. } => "AttestationInvalid",
            Self::OverBudget { .. } => "VulnerabilitiesOverBudget",
        }
    }
}

fn join<E: std::fmt::Display>(v: &[E]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The outcome for one digest: the evidence that verified, and every problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub evidence: Evidence,
    pub problems: Vec<Problem>,
}

impl Verdict {
    pub fn is_accepted(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies the artifacts of `digest` against the trust policy and requirements.
pub fn verify(
    digest: &Digest,
    artifacts: &Artifacts,
    trust: &TrustPolicy,
    req: &Requirements,
) -> Verdict {
    let mut problems = Vec::new();
    let mut evidence = Evidence {
        digest: digest.to_string(),
        signatures: vec![],
        attestations: vec![],
        sbom: None,
        provenance: None,
        vulnerabilities: None,
    };

    // Signatures: at least one must verify with a trusted authority and name this digest.
    let mut sig_failures = Vec::new();
    for s in &artifacts.signatures {
        match verify_signature(digest, s, trust) {
            Ok(v) => evidence.signatures.push(v),
            Err(f) => sig_failures.push(f),
        }
    }

    // Attestations: verify each, then match them to the requirements. A verified statement of
    // type `bundle::COSIGN_SIGN_PREDICATE` is a signature (Sigstore bundle format).
    let mut failures: Vec<(Vec<String>, AttestationFailure)> = Vec::new();
    for a in &artifacts.attestations {
        match verify_attestation(digest, a, trust) {
            Ok((v, st)) if st.predicate_type == bundle::COSIGN_SIGN_PREDICATE => {
                evidence.signatures.push(VerifiedSignature {
                    origin: v.origin,
                    signer: v.signer,
                });
            }
            Err((types, f)) if types.iter().any(|t| t == bundle::COSIGN_SIGN_PREDICATE) => {
                sig_failures.push(bundle::signature_failure(f));
            }
            Ok((v, st)) => {
                let kept = summarise_predicate(&st, &mut evidence);
                match kept {
                    Ok(()) => evidence.attestations.push(v),
                    Err(e) => failures.push((
                        vec![st.predicate_type.clone()],
                        AttestationFailure::PredicateInvalid {
                            origin: a.origin.clone(),
                            predicate_type: st.predicate_type,
                            why: e.to_string(),
                        },
                    )),
                }
            }
            Err((types, f)) => failures.push((types, f)),
        }
    }
    if evidence.signatures.is_empty() {
        problems.push(if sig_failures.is_empty() {
            Problem::Unsigned
        } else {
            Problem::SignatureUntrusted {
                failures: sig_failures,
            }
        });
    }
    for required in &req.predicate_types {
        if evidence
            .attestations
            .iter()
            .any(|a| &a.predicate_type == required)
        {
            continue;
        }
        let relevant: Vec<AttestationFailure> = failures
            .iter()
            .filter(|(types, _)| types.contains(required))
            .map(|(_, f)| f.clone())
            .collect();
        problems.push(if relevant.is_empty() {
            let mut found: Vec<String> = evidence
                .attestations
                .iter()
                .map(|a| a.predicate_type.clone())
                .collect();
            found.sort();
            found.dedup();
            Problem::AttestationMissing {
                predicate_type: required.clone(),
                found,
            }
        } else {
            Problem::AttestationInvalid {
                predicate_type: required.clone(),
                failures: relevant,
            }
        });
    }

    if let Some(v) = &evidence.vulnerabilities
        && let Some(p) = over_budget(v, &req.budget)
    {
        problems.push(p);
    }
    Verdict { evidence, problems }
}

fn verify_signature(
    digest: &Digest,
    s: &SignatureArtifact,
    trust: &TrustPolicy,
) -> Result<VerifiedSignature, SignatureFailure> {
    let malformed = |why: String| SignatureFailure::Malformed {
        origin: s.origin.clone(),
        why,
    };
    if let Some(cert) = &s.certificate {
        return verify_keyless_signature(digest, s, cert, trust);
    }
    let sig = dsse::decode_b64(&s.signature)
        .ok_or_else(|| malformed(format!("annotation {SIGNATURE_ANNOTATION} is not base64")))?;
    let key = trust
        .key_for(&sig, &s.payload)
        .ok_or_else(|| SignatureFailure::UntrustedSigner {
            origin: s.origin.clone(),
            keys: trust.key_labels(),
        })?;
    // Only a verified payload is worth reading.
    let claimed = simple_signing_digest(&s.payload).map_err(malformed)?;
    if claimed != digest.as_str() {
        return Err(SignatureFailure::WrongImage {
            origin: s.origin.clone(),
            claimed,
        });
    }
    Ok(VerifiedSignature {
        origin: s.origin.clone(),
        signer: key.label(),
    })
}

/// A signature layer with a Fulcio certificate: verified offline against the keyless authorities
/// (see `keyless.rs`); trusted keys do not apply to it.
fn verify_keyless_signature(
    digest: &Digest,
    s: &SignatureArtifact,
    cert: &str,
    trust: &TrustPolicy,
) -> Result<VerifiedSignature, SignatureFailure> {
    if trust.keyless.is_empty() {
        return Err(SignatureFailure::UntrustedSigner {
            origin: s.origin.clone(),
            keys: format!(
                "{} (a keyless signature needs a keyless identity)",
                trust.key_labels()
            ),
        });
    }
    let bundle = s.rekor_bundle.as_deref().ok_or_else(|| SignatureFailure::Malformed {
        origin: s.origin.clone(),
        why: format!("keyless signature without the {REKOR_BUNDLE_ANNOTATION} annotation (offline verification needs its Rekor entry)"),
    })?;
    let mut why = Vec::new();
    for authority in &trust.keyless {
        match super::keyless::verify_cosign_layer(
            &s.payload,
            &s.signature,
            cert,
            bundle,
            &authority.root,
            &authority.identity,
        ) {
            Ok(v) => {
                let claimed = simple_signing_digest(&s.payload).map_err(|why| {
                    SignatureFailure::Malformed {
                        origin: s.origin.clone(),
                        why,
                    }
                })?;
                if claimed != digest.as_str() {
                    return Err(SignatureFailure::WrongImage {
                        origin: s.origin.clone(),
                        claimed,
                    });
                }
                return Ok(VerifiedSignature {
                    origin: s.origin.clone(),
                    signer: v.label(),
                });
            }
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(SignatureFailure::KeylessRejected {
        origin: s.origin.clone(),
        why: why.join("; "),
    })
}

/// The `critical.image.docker-manifest-digest` of a simple-signing payload.
pub fn simple_signing_digest(payload: &[u8]) -> Result<String, String> {
    let v: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| format!("simple-signing payload is not JSON: {e}"))?;
    v.pointer("/critical/image/docker-manifest-digest")
        .and_then(|d| d.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "simple-signing payload has no critical.image.docker-manifest-digest".into())
}

type AttestationResult =
    Result<(VerifiedAttestation, Statement), (Vec<String>, AttestationFailure)>;

fn verify_attestation(
    digest: &Digest,
    a: &AttestationArtifact,
    trust: &TrustPolicy,
) -> AttestationResult {
    let annotated: Vec<String> = a.annotated_predicate_type.iter().cloned().collect();
    let (env, st) = dsse::parse_attestation(&a.envelope).map_err(|e| {
        (
            annotated.clone(),
            AttestationFailure::Malformed {
                origin: a.origin.clone(),
                why: e.to_string(),
            },
        )
    })?;
    // Failures are filed under both the claimed and the (unverified) statement type, so a
    // requirement reports what went wrong with the attestation meant to satisfy it.
    let mut types = annotated.clone();
    types.push(st.predicate_type.clone());
    let pae = dsse::pae(&env.payload_type, &env.payload);
    let key = env
        .signatures
        .iter()
        .find_map(|s| trust.key_for(&s.sig, &pae))
        .ok_or_else(|| {
            (
                types.clone(),
                AttestationFailure::BadSignature {
                    origin: a.origin.clone(),
                    keys: trust.key_labels(),
                },
            )
        })?;
    if !st.subject_digests.iter().any(|d| d == digest) {
        return Err((
            types,
            AttestationFailure::SubjectMismatch {
                origin: a.origin.clone(),
                subjects: st
                    .subject_digests
                    .iter()
                    .map(Digest::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        ));
    }
    if let Some(claimed) = &a.annotated_predicate_type
        && claimed != &st.predicate_type
    {
        return Err((
            types,
            AttestationFailure::PredicateTypeMismatch {
                origin: a.origin.clone(),
                annotated: claimed.clone(),
                signed: st.predicate_type.clone(),
            },
        ));
    }
    Ok((
        VerifiedAttestation {
            origin: a.origin.clone(),
            predicate_type: st.predicate_type.clone(),
            signer: key.label(),
        },
        st,
    ))
}

fn summarise_predicate(st: &Statement, ev: &mut Evidence) -> Result<(), PredicateError> {
    match predicates::kind_of(&st.predicate_type) {
        PredicateKind::Sbom => ev.sbom = Some(predicates::parse_sbom(&st.predicate)?),
        PredicateKind::Provenance => {
            ev.provenance = Some(predicates::parse_slsa(&st.predicate_type, &st.predicate)?)
        }
        PredicateKind::Vulnerabilities => {
            ev.vulnerabilities = Some(predicates::parse_vuln_report(&st.predicate)?)
        }
        // Raw scanner reports under a custom type still count when they look like one.
        PredicateKind::Other => {
            if let Ok(v) = predicates::parse_vuln_report(&st.predicate) {
                ev.vulnerabilities.get_or_insert(v);
            }
        }
    }
    Ok(())
}

/// Compares the counts with the budget (critical always bounded; others when set).
pub fn over_budget(v: &VulnSummary, budget: &VulnerabilityBudget) -> Option<Problem> {
    let c = &v.counts;
    let mut over = Vec::new();
    let mut check = |name: &str, n: u32, max: Option<u32>| {
        if let Some(max) = max
            && n > max
        {
            over.push(format!("{n} {name} (budget {max})"));
        }
    };
    check("critical", c.critical, Some(budget.critical));
    check("high", c.high, budget.high);
    check("medium", c.medium, budget.medium);
    if over.is_empty() {
        return None;
    }
    Some(Problem::OverBudget {
        counts: c.clone(),
        over,
        top: v
            .top
            .iter()
            .map(|a| format!("{} {:?} in {}", a.id, a.severity, a.package))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::trust::TrustedKey;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use sigstore::crypto::{SigStoreSigner, SigningScheme};

    struct Signer {
        signer: SigStoreSigner,
        trusted: TrustedKey,
    }

    fn signer(scheme: SigningScheme) -> Signer {
        let signer = scheme.create_signer().unwrap();
        let pem = signer
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        let trusted = TrustedKey::from_pem(format!("{scheme}"), pem.as_bytes()).unwrap();
        Signer { signer, trusted }
    }

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn simple_signing(s: &Signer, d: &Digest) -> SignatureArtifact {
        let payload = serde_json::json!({"critical": {"identity": {"docker-reference": "r/app"},
            "image": {"docker-manifest-digest": d.as_str()}, "type": "cosign container image signature"},
            "optional": null})
        .to_string()
        .into_bytes();
        SignatureArtifact {
            origin: "sig[0]".into(),
            signature: STANDARD.encode(s.signer.sign(&payload).unwrap()),
            certificate: None,
            rekor_bundle: None,
            payload,
        }
    }

    fn attestation(
        s: &Signer,
        d: &Digest,
        ptype: &str,
        predicate: serde_json::Value,
    ) -> AttestationArtifact {
        let st = serde_json::json!({"_type": dsse::STATEMENT_V1,
            "subject": [{"name": "r/app", "digest": {"sha256": d.hex()}}],
            "predicateType": ptype, "predicate": predicate})
        .to_string();
        let sig = s
            .signer
            .sign(&dsse::pae(dsse::IN_TOTO_PAYLOAD_TYPE, st.as_bytes()))
            .unwrap();
        AttestationArtifact {
            origin: format!("att {ptype}"),
            annotated_predicate_type: Some(ptype.into()),
            envelope: serde_json::json!({"payloadType": dsse::IN_TOTO_PAYLOAD_TYPE,
                "payload": STANDARD.encode(&st), "signatures": [{"keyid": "", "sig": STANDARD.encode(sig)}]})
            .to_string()
            .into_bytes(),
        }
    }

    fn sbom() -> serde_json::Value {
        serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a"}]})
    }

    fn trust(keys: &[&Signer]) -> TrustPolicy {
        TrustPolicy {
            keyless: vec![],
            keys: keys.iter().map(|s| s.trusted.clone()).collect(),
        }
    }

    fn require(names: &[&str]) -> Requirements {
        Requirements::new(
            &names.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            VulnerabilityBudget::default(),
        )
    }

    #[test]
    fn each_key_algorithm_verifies_signatures_and_attestations() {
        for scheme in [
            SigningScheme::ECDSA_P256_SHA256_ASN1,
            SigningScheme::ED25519,
            SigningScheme::RSA_PKCS1_SHA256(2048),
        ] {
            let s = signer(scheme);
            let d = digest(1);
            let a = Artifacts {
                signatures: vec![simple_signing(&s, &d)],
                attestations: vec![attestation(&s, &d, predicates::CYCLONEDX, sbom())],
            };
            let v = verify(&d, &a, &trust(&[&s]), &require(&["cyclonedx"]));
            assert!(v.is_accepted(), "{}: {:?}", s.trusted.name, v.problems);
            assert_eq!(v.evidence.sbom.unwrap().components, 1);
        }
    }

    #[test]
    fn signature_rules() {
        let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
        let other = signer(SigningScheme::ED25519);
        let d = digest(1);
        let none = verify(&d, &Artifacts::default(), &trust(&[&s]), &require(&[]));
        assert_eq!(none.problems, vec![Problem::Unsigned]);

        let by_other = Artifacts {
            signatures: vec![simple_signing(&other, &d)],
            ..Default::default()
        };
        let v = verify(&d, &by_other, &trust(&[&s]), &require(&[]));
        assert!(
            matches!(&v.problems[..], [Problem::SignatureUntrusted { failures }]
            if matches!(&failures[..], [SignatureFailure::UntrustedSigner { .. }])),
            "{v:?}"
        );

        let for_other_image = Artifacts {
            signatures: vec![simple_signing(&s, &digest(2))],
            ..Default::default()
        };
        let v = verify(&d, &for_other_image, &trust(&[&s]), &require(&[]));
        assert!(
            matches!(&v.problems[..], [Problem::SignatureUntrusted { failures }]
            if matches!(&failures[..], [SignatureFailure::WrongImage { .. }])),
            "{v:?}"
        );

        let mut tampered = simple_signing(&s, &d);
        tampered.payload.push(b' ');
        let v = verify(
            &d,
            &Artifacts {
                signatures: vec![tampered],
                ..Default::default()
            },
            &trust(&[&s]),
            &require(&[]),
        );
        assert_eq!(v.problems[0].label(), "SignatureUntrusted");

        let mut garbage = simple_signing(&s, &d);
        garbage.signature = "***".into();
        let v = verify(
            &d,
            &Artifacts {
                signatures: vec![garbage],
                ..Default::default()
            },
            &trust(&[&s]),
            &require(&[]),
        );
        assert!(
            matches!(&v.problems[..], [Problem::SignatureUntrusted { failures }]
            if matches!(&failures[..], [SignatureFailure::Malformed { .. }])),
            "{v:?}"
        );
    }

    #[test]
    fn bundle_sign_statements_are_signatures() {
        let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
        let other = signer(SigningScheme::ED25519);
        let d = digest(1);
        let sign = |by: &Signer, about: &Digest| Artifacts {
            signatures: vec![],
            attestations: vec![attestation(
                by,
                about,
                bundle::COSIGN_SIGN_PREDICATE,
                serde_json::Value::Null,
            )],
        };
        let v = verify(&d, &sign(&s, &d), &trust(&[&s]), &require(&[]));
        assert!(v.is_accepted(), "{v:?}");
        assert_eq!(v.evidence.signatures.len(), 1);
        assert!(v.evidence.attestations.is_empty());

        let v = verify(&d, &sign(&other, &d), &trust(&[&s]), &require(&[]));
        assert!(
            matches!(&v.problems[..], [Problem::SignatureUntrusted { failures }]
            if matches!(&failures[..], [SignatureFailure::UntrustedSigner { .. }])),
            "{v:?}"
        );
        let v = verify(&d, &sign(&s, &digest(2)), &trust(&[&s]), &require(&[]));
        assert!(
            matches!(&v.problems[..], [Problem::SignatureUntrusted { failures }]
            if matches!(&failures[..], [SignatureFailure::WrongImage { .. }])),
            "{v:?}"
        );
    }

    #[test]
    fn attestation_rules() {
        let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
        let d = digest(1);
        let base = || Artifacts {
            signatures: vec![simple_signing(&s, &d)],
            attestations: vec![],
        };
        let t = trust(&[&s]);

        let v = verify(&d, &base(), &t, &require(&["cyclonedx"]));
        assert_eq!(
            v.problems,
            vec![Problem::AttestationMissing {
                predicate_type: predicates::CYCLONEDX.into(),
                found: vec![]
            }]
        );

        let mut a = base();
        a.attestations
            .push(attestation(&s, &digest(2), predicates::CYCLONEDX, sbom()));
        let v = verify(&d, &a, &t, &require(&["cyclonedx"]));
        assert!(
            matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
            if matches!(&failures[..], [AttestationFailure::SubjectMismatch { .. }])),
            "{v:?}"
        );

        let mut a = base();
        let mut att = attestation(&s, &d, predicates::CYCLONEDX, sbom());
        let mut env: serde_json::Value = serde_json::from_slice(&att.envelope).unwrap();
        let st = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
        let st = String::from_utf8(st).unwrap().replace("\"a\"", "\"b\"");
        env["payload"] = STANDARD.encode(st).into();
        att.envelope = env.to_string().into_bytes();
        a.attestations.push(att);
        let v = verify(&d, &a, &t, &require(&["cyclonedx"]));
        assert!(
            matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
            if matches!(&failures[..], [AttestationFailure::BadSignature { .. }])),
            "{v:?}"
        );

        let mut a = base();
        let mut att = attestation(&s, &d, predicates::COSIGN_CUSTOM, sbom());
        att.annotated_predicate_type = Some(predicates::CYCLONEDX.into());
        a.attestations.push(att);
        let v = verify(&d, &a, &t, &require(&["cyclonedx"]));
        assert!(
            matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
            if matches!(&failures[..], [AttestationFailure::PredicateTypeMismatch { .. }])),
            "{v:?}"
        );

        let mut a = base();
        a.attestations.push(attestation(
            &s,
            &d,
            predicates::CYCLONEDX,
            serde_json::json!({"not": "a bom"}),
        ));
        let v = verify(&d, &a, &t, &require(&["cyclonedx"]));
        assert!(
            matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
            if matches!(&failures[..], [AttestationFailure::PredicateInvalid { .. }])),
            "{v:?}"
        );

        let mut a = base();
        a.attestations.push(AttestationArtifact {
            origin: "x".into(),
            annotated_predicate_type: Some(predicates::CYCLONEDX.into()),
            envelope: b"{garbage".to_vec(),
        });
        let v = verify(&d, &a, &t, &require(&["cyclonedx"]));
        assert!(
            matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
            if matches!(&failures[..], [AttestationFailure::Malformed { .. }])),
            "{v:?}"
        );
    }

    #[test]
    fn vulnerability_budget() {
        let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
        let d = digest(1);
        let report = serde_json::json!({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [
            {"VulnerabilityID": "CVE-1", "PkgName": "p", "Severity": "CRITICAL"},
            {"VulnerabilityID": "CVE-2", "PkgName": "p", "Severity": "HIGH"}]}]});
        let a = Artifacts {
            signatures: vec![simple_signing(&s, &d)],
            attestations: vec![attestation(
                &s,
                &d,
                predicates::COSIGN_VULN,
                serde_json::json!({"scanner": {"uri": "trivy", "result": report}}),
            )],
        };
        let v = verify(&d, &a, &trust(&[&s]), &require(&["vuln"]));
        assert!(
            matches!(&v.problems[..], [Problem::OverBudget { over, .. }] if over == &["1 critical (budget 0)"]),
            "{v:?}"
        );
        let mut req = require(&["vuln"]);
        req.budget.critical = 1;
        req.budget.high = Some(0);
        let v = verify(&d, &a, &trust(&[&s]), &req);
        assert!(
            matches!(&v.problems[..], [Problem::OverBudget { over, .. }] if over == &["1 high (budget 0)"]),
            "{v:?}"
        );
        req.budget.high = None;
        assert!(verify(&d, &a, &trust(&[&s]), &req).is_accepted());
    }
}
