//! Unit tests of the verification core (`verify.rs`): real keys and signatures made in-process
//! with the `sigstore` crate, every rule with a positive and a negative case.

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
        keyless: None,
    }
}

fn sbom() -> serde_json::Value {
    serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a"}]})
}

fn trust(keys: &[&Signer]) -> TrustPolicy {
    TrustPolicy {
        keys: keys.iter().map(|s| s.trusted.clone()).collect(),
        ..Default::default()
    }
}

fn require(names: &[&str]) -> Requirements {
    Requirements::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
            ..Default::default()
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
        ..Default::default()
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
        ..Default::default()
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
        keyless: None,
    });
    let v = verify(&d, &a, &t, &require(&["cyclonedx"]));
    assert!(
        matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
        if matches!(&failures[..], [AttestationFailure::Malformed { .. }])),
        "{v:?}"
    );
}

#[test]
fn vulnerabilities_are_counted_not_judged() {
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
            vuln(report, SCANNED),
        )],
        ..Default::default()
    };
    let verify =
        |d: &Digest, a: &Artifacts, t: &TrustPolicy, r: &Requirements| verify_at(d, a, t, r, now());
    // Facts, not judgment: the findings are counted, the policy bundle judges them.
    let v = verify(&d, &a, &trust(&[&s]), &require(&["vuln"]));
    assert!(v.is_accepted(), "{v:?}");
    let facts = v.evidence.vulnerabilities.as_ref().unwrap();
    assert_eq!((facts.critical, facts.high), (1, 1), "{facts:?}");
}

/// A day after [`SCANNED`].
fn now() -> jiff::Timestamp {
    "2026-11-30T12:00:00Z".parse().unwrap()
}
const SCANNED: &str = "2026-11-29T12:00:00Z";

/// A cosign vuln predicate wrapping `report`, scanned at `at`.
fn vuln(report: serde_json::Value, at: &str) -> serde_json::Value {
    serde_json::json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy@v0.50.0", "result": report},
        "metadata": {"scanStartedOn": at, "scanFinishedOn": at}})
}

fn trivy(findings: &[(&str, &str)]) -> serde_json::Value {
    let vs: Vec<_> = findings
        .iter()
        .map(|(id, sev)| serde_json::json!({"VulnerabilityID": id, "PkgName": "musl", "Severity": sev}))
        .collect();
    serde_json::json!({"SchemaVersion": 2, "Results": [{"Target": "t", "Vulnerabilities": vs}]})
}

#[test]
fn every_report_counts_worst_case_whatever_the_layer_order() {
    let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
    let d = digest(1);
    let clean_old = attestation(
        &s,
        &d,
        predicates::COSIGN_VULN,
        vuln(trivy(&[("CVE-9", "LOW")]), "2026-11-28T00:00:00Z"),
    );
    let criticals = attestation(
        &s,
        &d,
        predicates::COSIGN_VULN,
        vuln(
            trivy(&[
                ("CVE-1", "CRITICAL"),
                ("CVE-2", "CRITICAL"),
                ("CVE-9", "HIGH"),
            ]),
            SCANNED,
        ),
    );
    let t = trust(&[&s]);
    let run = |atts: Vec<AttestationArtifact>| {
        let a = Artifacts {
            signatures: vec![simple_signing(&s, &d)],
            attestations: atts,
            ..Default::default()
        };
        verify_at(&d, &a, &t, &require(&["vuln"]), now())
    };
    let first = run(vec![clean_old.clone(), criticals.clone()]);
    let last = run(vec![criticals.clone(), clean_old.clone()]);
    assert_eq!(first, last, "the order of the layers changes nothing");
    let facts = first.evidence.vulnerabilities.as_ref().unwrap();
    assert_eq!(
        (facts.critical, facts.high, facts.low),
        (2, 1, 0),
        "{facts:?}"
    );
    assert_eq!(facts.critical_ids, ["CVE-1", "CVE-2"]);
    assert_eq!(facts.reports.len(), 2);
    // Alone, the clean report has no criticals: they come from the other one.
    let alone = run(vec![clean_old]);
    assert_eq!(alone.evidence.vulnerabilities.unwrap().critical, 0);
}

#[test]
fn an_unreadable_report_rejects_even_when_a_clean_one_satisfies_the_requirement() {
    let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
    let d = digest(1);
    let clean = attestation(&s, &d, predicates::COSIGN_VULN, vuln(trivy(&[]), SCANNED));
    // Under a scanner's own predicate type, as `cosign attest --type https://…/trivy` makes.
    let wrong_shape = attestation(
        &s,
        &d,
        "https://aquasecurity.github.io/trivy/v0.50",
        serde_json::json!({"SchemaVersion": 2, "CreatedAt": SCANNED, "Results": {"Vulnerabilities": []}}),
    );
    let a = Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![clean, wrong_shape],
        ..Default::default()
    };
    let v = verify_at(&d, &a, &trust(&[&s]), &require(&["vuln"]), now());
    match &v.problems[..] {
        [
            Problem::EvidenceInvalid {
                predicate_type,
                failures,
            },
        ] => {
            assert_eq!(predicate_type, "https://aquasecurity.github.io/trivy/v0.50");
            assert!(
                failures[0]
                    .to_string()
                    .contains("Results is an object, not an array"),
                "{failures:?}"
            );
        }
        p => panic!("expected EvidenceInvalid, got {p:?}"),
    }
    // Not signed by a trusted key, the same garbage is nobody's evidence and rejects nothing.
    let other = signer(SigningScheme::ED25519);
    let a = Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![
            attestation(&s, &d, predicates::COSIGN_VULN, vuln(trivy(&[]), SCANNED)),
            attestation(
                &other,
                &d,
                predicates::COSIGN_VULN,
                serde_json::json!({"Results": {}}),
            ),
        ],
        ..Default::default()
    };
    assert!(verify_at(&d, &a, &trust(&[&s]), &require(&["vuln"]), now()).is_accepted());
}

#[test]
fn stale_reports_are_a_problem() {
    let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
    let d = digest(1);
    let a = Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![attestation(
            &s,
            &d,
            predicates::COSIGN_VULN,
            vuln(trivy(&[]), "2026-11-01T00:00:00Z"),
        )],
        ..Default::default()
    };
    let v = verify_at(&d, &a, &trust(&[&s]), &require(&["vuln"]), now());
    assert!(
        matches!(&v.problems[..], [Problem::VulnerabilityReportStale { reason }] if reason.contains("older than the maximum age of 7d")),
        "{v:?}"
    );
    assert!(v.evidence.vulnerabilities.unwrap().stale);
    let mut lenient = trust(&[&s]);
    lenient.max_report_age = std::time::Duration::from_secs(60 * 86_400);
    assert!(verify_at(&d, &a, &lenient, &require(&["vuln"]), now()).is_accepted());
}

#[test]
fn provenance_must_name_the_required_builder_and_source() {
    let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
    let d = digest(1);
    let prov = |builder: &str| {
        serde_json::json!({"builder": {"id": builder}, "buildType": "https://example.com/build@v1",
            "invocation": {"configSource": {"uri": "git+https://github.com/o/r@refs/heads/main"}}})
    };
    let with = |predicate: serde_json::Value| Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![attestation(&s, &d, predicates::SLSA_V02, predicate)],
        ..Default::default()
    };
    let mut t = trust(&[&s]);
    t.provenance.builder_id = Some("https://github.com/o/builder".into());
    t.provenance.source_uri = Some("github.com/o/r".into());
    let req = require(&["slsaprovenance"]);
    let good = with(prov("https://github.com/o/builder@refs/tags/v1"));
    assert!(verify(&d, &good, &t, &req).is_accepted());
    let v = verify(
        &d,
        &with(prov("https://github.com/attacker/builder")),
        &t,
        &req,
    );
    assert!(
        matches!(&v.problems[..], [Problem::ProvenanceMismatch { mismatch, .. }] if mismatch.field == "builder id"),
        "{v:?}"
    );
    // As the CLI's JSON output carries it.
    let json = serde_json::to_value(&v.problems[0]).unwrap();
    assert_eq!(json["problem"], "provenanceMismatch");
    assert_eq!(json["field"], "builder id");
    assert_eq!(json["found"], "https://github.com/attacker/builder");
    // Without any provenance, a required builder is not named.
    let none = Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![],
        ..Default::default()
    };
    let v = verify(&d, &none, &t, &require(&[]));
    assert!(
        matches!(&v.problems[..], [Problem::ProvenanceMismatch { mismatch, .. }] if mismatch.found.contains("no SLSA provenance")),
        "{v:?}"
    );
    // An empty builder id is an invalid provenance, whatever the trust configuration.
    let v = verify(&d, &with(prov("")), &trust(&[&s]), &req);
    assert!(
        matches!(&v.problems[..], [Problem::AttestationInvalid { failures, .. }]
            if failures[0].to_string().contains("builder.id is missing or empty")),
        "{v:?}"
    );
}

#[test]
fn an_spdx_document_is_no_cyclonedx_sbom() {
    let s = signer(SigningScheme::ECDSA_P256_SHA256_ASN1);
    let d = digest(1);
    let spdx = serde_json::json!({"spdxVersion": "SPDX-2.3", "packages": []});
    let a = Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![attestation(&s, &d, predicates::CYCLONEDX, spdx.clone())],
        ..Default::default()
    };
    let v = verify(&d, &a, &trust(&[&s]), &require(&["cyclonedx"]));
    assert_eq!(v.problems[0].label(), "AttestationInvalid", "{v:?}");
    let a = Artifacts {
        signatures: vec![simple_signing(&s, &d)],
        attestations: vec![attestation(&s, &d, predicates::SPDX, spdx)],
        ..Default::default()
    };
    assert!(verify(&d, &a, &trust(&[&s]), &require(&["spdxjson"])).is_accepted());
}
