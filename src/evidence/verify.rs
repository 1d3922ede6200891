//! The verification core: given what the registry holds for one image digest, decide whether it
//! carries a trusted signature and every required attestation, and read the evidence into facts.
//! Pure: no I/O (the time is a parameter), so every rule is unit-tested and the controller can
//! cache the outcome by digest.

use super::artifacts::signature_failure;
use super::bundle;
use super::dsse::{self, Statement};
use super::predicates::{self, PredicateError, PredicateKind, ProvenanceSummary, SbomSummary};
use super::reference::Digest;
use super::trust::TrustPolicy;
use super::vuln_facts::VulnFacts;
use super::vulns;

pub use super::artifacts::{
    Artifacts, AttestationArtifact, AttestationFailure, CERTIFICATE_ANNOTATION, KeylessMaterial,
    MessageSignatureArtifact, PREDICATE_TYPE_ANNOTATION, REKOR_BUNDLE_ANNOTATION,
    SIGNATURE_ANNOTATION, SignatureArtifact, SignatureFailure,
};
use super::keyless::{Artifact, KeylessAuthority, VerifiedKeyless};
use super::keyless_bundle::{self, Content, Material};
pub use super::verdict::{
    Evidence, Problem, Requirements, TOP_ADVISORIES, Verdict, VerifiedAttestation,
    VerifiedSignature,
};

/// Verifies the artifacts of `digest` against the trust policy and requirements, now.
pub fn verify(
    digest: &Digest,
    artifacts: &Artifacts,
    trust: &TrustPolicy,
    req: &Requirements,
) -> Verdict {
    verify_at(digest, artifacts, trust, req, jiff::Timestamp::now())
}

/// The predicates of the attestations that verified, read.
#[derive(Default)]
struct Read {
    sboms: Vec<SbomSummary>,
    /// With the origin of each, for messages.
    provenances: Vec<(String, ProvenanceSummary)>,
    reports: Vec<vulns::Report>,
}

/// [`verify`] as of `now` (which decides whether the vulnerability reports are stale).
pub fn verify_at(
    digest: &Digest,
    artifacts: &Artifacts,
    trust: &TrustPolicy,
    req: &Requirements,
    now: jiff::Timestamp,
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
    for m in &artifacts.message_signatures {
        match verify_message_signature(digest, m, artifacts.subject_manifest.as_deref(), trust) {
            Ok(v) => evidence.signatures.push(v),
            Err(f) => sig_failures.push(f),
        }
    }

    // Attestations: verify each, then match them to the requirements. A verified statement of
    // type `bundle::COSIGN_SIGN_PREDICATE` is a signature (Sigstore bundle format). They are
    // read in the order of their content (compared as bytes: no hashing of large SBOMs), so the
    // order of the layers of an unsigned `.att` manifest, which anyone with push access can
    // change, changes nothing.
    let mut ordered: Vec<&AttestationArtifact> = artifacts.attestations.iter().collect();
    ordered.sort_by(|a, b| a.envelope.cmp(&b.envelope).then(a.origin.cmp(&b.origin)));
    let mut failures: Vec<(Vec<String>, AttestationFailure)> = Vec::new();
    let mut read = Read::default();
    for a in ordered {
        match verify_attestation(digest, a, trust) {
            Ok((v, st)) if st.predicate_type == bundle::COSIGN_SIGN_PREDICATE => {
                evidence.signatures.push(VerifiedSignature {
                    origin: v.origin,
                    signer: v.signer,
                });
            }
            Err((types, f)) if types.iter().any(|t| t == bundle::COSIGN_SIGN_PREDICATE) => {
                sig_failures.push(signature_failure(f));
            }
            Ok((v, st)) => match read_predicate(&st, &a.origin, &mut read) {
                Ok(()) => evidence.attestations.push(v),
                Err(e) => failures.push((
                    vec![st.predicate_type.clone()],
                    AttestationFailure::PredicateInvalid {
                        origin: a.origin.clone(),
                        predicate_type: st.predicate_type,
                        why: e.to_string(),
                    },
                )),
            },
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
    let mut reported: Vec<&str> = Vec::new();
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
        reported.push(required);
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
    problems.extend(unreadable_evidence(&failures, &reported));

    if !trust.provenance.is_empty() {
        if read.provenances.is_empty() {
            problems.push(Problem::ProvenanceMismatch {
                origin: "provenance".into(),
                mismatch: predicates::ProvenanceMismatch {
                    field: if trust.provenance.builder_id.is_some() {
                        "builder id"
                    } else {
                        "source repository"
                    },
                    expected: trust
                        .provenance
                        .builder_id
                        .clone()
                        .or_else(|| trust.provenance.source_uri.clone())
                        .unwrap_or_default(),
                    found: "not named: no SLSA provenance verified".into(),
                },
            });
        }
        // Every verified provenance must name them, not just one of several.
        for (origin, p) in &read.provenances {
            if let Err(mismatch) = trust.provenance.check(p) {
                problems.push(Problem::ProvenanceMismatch {
                    origin: origin.clone(),
                    mismatch,
                });
            }
        }
    }
    if !read.reports.is_empty() {
        let facts = VulnFacts::merge(&read.reports, trust.max_report_age, now);
        if let Some(reason) = &facts.stale_reason {
            problems.push(Problem::VulnerabilityReportStale {
                reason: reason.clone(),
            });
        }
        evidence.vulnerabilities = Some(facts);
    }
    evidence.sbom = read.sboms.into_iter().next();
    evidence.provenance = read.provenances.into_iter().next().map(|(_, p)| p);
    Verdict { evidence, problems }
}

/// Attestations a trusted authority signed for this digest whose predicate cannot be read, and
/// that no requirement has reported already: they reject the digest, required or not, since an
/// unreadable report is not a clean one.
fn unreadable_evidence(
    failures: &[(Vec<String>, AttestationFailure)],
    reported: &[&str],
) -> Vec<Problem> {
    let mut by_type: std::collections::BTreeMap<&str, Vec<AttestationFailure>> = Default::default();
    for (_, f) in failures {
        if let AttestationFailure::PredicateInvalid { predicate_type, .. } = f
            && !reported.contains(&predicate_type.as_str())
        {
            by_type.entry(predicate_type).or_default().push(f.clone());
        }
    }
    by_type
        .into_iter()
        .map(|(t, failures)| Problem::EvidenceInvalid {
            predicate_type: t.to_owned(),
            failures,
        })
        .collect()
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
    let sig = super::crypto::b64(&s.signature)
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
    let rejected = |why: String| SignatureFailure::KeylessRejected {
        origin: s.origin.clone(),
        why,
    };
    let material = keyless_bundle::parse_cosign_layer(&s.signature, cert, bundle).map_err(|e| {
        rejected(super::keyless::KeylessError::MalformedBundle(e.to_string()).to_string())
    })?;
    let v =
        keyless_verify(&material, Artifact::Bytes(&s.payload), &trust.keyless).map_err(rejected)?;
    let claimed = simple_signing_digest(&s.payload).map_err(|why| SignatureFailure::Malformed {
        origin: s.origin.clone(),
        why,
    })?;
    if claimed != digest.as_str() {
        return Err(SignatureFailure::WrongImage {
            origin: s.origin.clone(),
            claimed,
        });
    }
    Ok(VerifiedSignature {
        origin: s.origin.clone(),
        signer: v.label(),
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
    if let Some(material) = &a.keyless {
        return verify_keyless_attestation(digest, a, material, trust);
    }
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

/// Tries each keyless authority in turn; the first that verifies `material` for `artifact` wins,
/// else every authority's reason.
fn keyless_verify(
    material: &Material,
    artifact: Artifact<'_>,
    authorities: &[KeylessAuthority],
) -> Result<VerifiedKeyless, String> {
    let mut why = Vec::new();
    for authority in authorities {
        match super::keyless::verify_material(
            material,
            artifact,
            &authority.root,
            &authority.identity,
        ) {
            Ok(v) => return Ok(v),
            Err(e) => why.push(e.to_string()),
        }
    }
    Err(why.join("; "))
}

/// The image digest as the keyless verifier takes it (the in-toto subject it must find).
fn sha256_of(digest: &Digest) -> Artifact<'static> {
    let mut bytes = [0u8; 32];
    // A `Digest` is always 64 hex digits (checked when parsed).
    let _ = hex::decode_to_slice(digest.hex(), &mut bytes);
    Artifact::Sha256(bytes)
}

/// A keyless attestation (a cosign `.att` layer with a certificate, or a referrer bundle with
/// one): the keyless verifier checks the chain, the identity and issuer, the Rekor entry and the
/// DSSE signature; the statement read is the one it verified. Trusted keys do not apply.
fn verify_keyless_attestation(
    digest: &Digest,
    a: &AttestationArtifact,
    material: &KeylessMaterial,
    trust: &TrustPolicy,
) -> AttestationResult {
    let annotated: Vec<String> = a.annotated_predicate_type.iter().cloned().collect();
    let malformed = |why: String| AttestationFailure::Malformed {
        origin: a.origin.clone(),
        why,
    };
    let parsed = match material {
        KeylessMaterial::Bundle(bytes) => keyless_bundle::parse_bundle(bytes),
        KeylessMaterial::CosignLayer {
            certificate,
            rekor_bundle: Some(rekor),
        } => keyless_bundle::parse_cosign_attestation_layer(&a.envelope, certificate, rekor),
        KeylessMaterial::CosignLayer {
            rekor_bundle: None, ..
        } => {
            return Err((
                annotated,
                malformed(format!(
                    "keyless attestation without the {REKOR_BUNDLE_ANNOTATION} annotation (offline verification needs its Rekor entry)"
                )),
            ));
        }
    };
    let m = parsed.map_err(|e| (annotated.clone(), malformed(e.to_string())))?;
    let Content::Dsse {
        payload_type,
        payload,
        ..
    } = &m.content
    else {
        return Err((
            annotated,
            malformed("the bundle holds a message signature, not a DSSE statement".into()),
        ));
    };
    if payload_type != dsse::IN_TOTO_PAYLOAD_TYPE {
        return Err((
            annotated,
            malformed(dsse::EnvelopeError::PayloadType(payload_type.clone()).to_string()),
        ));
    }
    let st = dsse::parse_statement(payload)
        .map_err(|e| (annotated.clone(), malformed(e.to_string())))?;
    let mut types = annotated;
    types.push(st.predicate_type.clone());
    if trust.keyless.is_empty() {
        return Err((
            types,
            AttestationFailure::BadSignature {
                origin: a.origin.clone(),
                keys: format!(
                    "{} (a keyless attestation needs a keyless identity)",
                    trust.key_labels()
                ),
            },
        ));
    }
    let verified = keyless_verify(&m, sha256_of(digest), &trust.keyless).map_err(|why| {
        (
            types.clone(),
            AttestationFailure::KeylessRejected {
                origin: a.origin.clone(),
                why,
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
            signer: verified.label(),
        },
        st,
    ))
}

/// A message-signature bundle among the referrers: a signature over the image manifest bytes
/// (their SHA-256 is the digest), by a trusted key or, with a certificate, a keyless authority.
fn verify_message_signature(
    digest: &Digest,
    m: &MessageSignatureArtifact,
    manifest: Option<&[u8]>,
    trust: &TrustPolicy,
) -> Result<VerifiedSignature, SignatureFailure> {
    let malformed = |why: String| SignatureFailure::Malformed {
        origin: m.origin.clone(),
        why,
    };
    let material = keyless_bundle::parse_bundle(&m.bundle).map_err(|e| malformed(e.to_string()))?;
    let Content::Message {
        digest: claimed,
        signature,
    } = &material.content
    else {
        return Err(malformed(
            "expected a message-signature bundle, found a DSSE envelope".into(),
        ));
    };
    if let Some(claimed) = claimed
        && claimed.as_slice() != hex::decode(digest.hex()).unwrap_or_default()
    {
        return Err(SignatureFailure::WrongImage {
            origin: m.origin.clone(),
            claimed: format!("sha256:{}", hex::encode(claimed)),
        });
    }
    let manifest = manifest.filter(|b| Digest::of(b) == *digest).ok_or_else(|| {
        malformed(format!(
            "the image manifest {digest} was not fetched, so its message signature cannot be checked"
        ))
    })?;
    let signer = if material.leaf_der.is_some() {
        if trust.keyless.is_empty() {
            return Err(SignatureFailure::UntrustedSigner {
                origin: m.origin.clone(),
                keys: format!(
                    "{} (a keyless signature needs a keyless identity)",
                    trust.key_labels()
                ),
            });
        }
        keyless_verify(&material, Artifact::Bytes(manifest), &trust.keyless)
            .map_err(|why| SignatureFailure::KeylessRejected {
                origin: m.origin.clone(),
                why,
            })?
            .label()
    } else {
        trust
            .key_for(signature, manifest)
            .ok_or_else(|| SignatureFailure::UntrustedSigner {
                origin: m.origin.clone(),
                keys: trust.key_labels(),
            })?
            .label()
    };
    Ok(VerifiedSignature {
        origin: m.origin.clone(),
        signer,
    })
}

/// Reads a verified statement's predicate into `read`; an error makes the attestation invalid.
fn read_predicate(st: &Statement, origin: &str, read: &mut Read) -> Result<(), PredicateError> {
    let (t, p) = (st.predicate_type.as_str(), &st.predicate);
    match predicates::kind_of(t) {
        PredicateKind::Sbom => read.sboms.push(predicates::parse_sbom(t, p)?),
        PredicateKind::Provenance => read
            .provenances
            .push((origin.to_owned(), predicates::parse_slsa(t, p)?)),
        PredicateKind::Vulnerabilities => read.reports.push(vulns::parse_report(p)?),
        // A scanner's report under its own type counts when it claims to be one (by its keys),
        // and a malformed one is an error, as under the vuln type.
        PredicateKind::Other if vulns::looks_like_report(p) => {
            read.reports.push(vulns::parse_report(p)?)
        }
        PredicateKind::Other => {}
    }
    Ok(())
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
