//! One admission decision as the webhook makes it, in-process: the AdmissionReview body parsed,
//! the index looked up, the policy input built, the pinned policy evaluated (on the calling
//! thread, as an evaluation slot runs it), and the answer serialised. The HTTP and TLS shell is
//! what `e2e/bench/webhook-vs-opa.sh` adds on top; this is what the webhook spends per request
//! besides it, and what to profile (e.g. under callgrind) when that figure moves.
//!
//! The review is `policies/examples/admit_deployment`'s Deployment (four digest-pinned
//! containers), each image with a Ready release in its namespace.

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Namespace;
use release_gate::admission::review::{Review, respond};
use release_gate::admission::{Admission, AdmissionConfig, ReleaseIndex};
use release_gate::api::HardenedRelease;
use release_gate::policy::{ADMISSION_QUERY, Pin, PolicyHolder};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

/// The allocator the `release-gate` binary runs with (src/main.rs), so the figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn decide(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(root.join("policies/examples/admit_deployment/input.json"))
        .expect("example input");
    let example: serde_json::Value = serde_json::from_slice(&raw).expect("example is JSON");
    let request = &example["request"];
    let ns = request["namespace"].as_str().expect("namespace");
    let body = serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request,
    }))
    .unwrap();
    let releases: Vec<HardenedRelease> = example["releases"]
        .as_object()
        .expect("releases by digest")
        .iter()
        .flat_map(|(digest, list)| {
            let list = list.as_array().expect("records").clone();
            let digest = digest.clone();
            list.into_iter().map(move |r| {
                serde_json::from_value(serde_json::json!({
                    "apiVersion": "releasegate.dev/v1alpha1", "kind": "HardenedRelease",
                    "metadata": {"name": r["name"], "namespace": r["namespace"], "generation": 1},
                    "spec": {"image": format!("registry.example.com/x@{digest}")},
                    "status": {"phase": "Verified", "verifiedDigest": digest, "observedGeneration": 1,
                               "conditions": [{"type": "Ready", "status": "True", "reason": "Verified",
                                               "message": "", "lastTransitionTime": "2026-11-30T00:00:00Z"}]}
                }))
                .expect("a HardenedRelease")
            })
        })
        .collect();
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": example["namespace"]["metadata"],
    }))
    .expect("a Namespace");
    let decisions = serde_json::from_value(example["decisions"].clone()).expect("Decisions");
    let policy = Arc::new(PolicyHolder::new(&root.join("policies"), Pin::Unpinned));
    let admission = Admission {
        config: AdmissionConfig::default(),
        policy: Some(policy.clone()),
        index: Some(ReleaseIndex::from_objects(
            releases,
            decisions,
            vec![namespace],
        )),
        audit: None,
        resolver: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (answer, outcome, _) = rt.block_on(admission.decide(&Review::parse(&body).unwrap()));
    assert!(
        answer.allowed,
        "the benchmark review must be admitted: {answer:?} ({outcome:?})"
    );

    // The same steps as `Admission::decide`, with the evaluation on this thread.
    let index = admission.index.as_ref().unwrap();
    let labels = index.namespace_labels(ns);
    c.bench_function("admission_decision_parse_input_eval_answer", |b| {
        b.iter(|| {
            let review = Review::parse(black_box(&body)).unwrap();
            let input = rt
                .block_on(admission.input(&review, review.kind(), ns, &labels, index))
                .unwrap();
            let verdict = policy.decide(ADMISSION_QUERY, &input.to_policy_input().unwrap());
            let answer = release_gate::admission::decide::answer_for(
                &verdict,
                release_gate::admission::Mode::Enforce,
            )
            .0;
            black_box(serde_json::to_vec(&respond(&review.uid, &answer)).unwrap())
        })
    });
    c.bench_function("admission_decision_parse_and_input_only", |b| {
        b.iter(|| {
            let review = Review::parse(black_box(&body)).unwrap();
            let input = rt
                .block_on(admission.input(&review, review.kind(), ns, &labels, index))
                .unwrap();
            black_box(input.to_policy_input().unwrap())
        })
    });
}

criterion_group!(benches, decide);
criterion_main!(benches);
