//! Evaluations per second of the admission policy, in-process with regorus, on a realistic input
//! (`policies/examples/admit_deployment`: a Deployment with four containers, each image with its
//! release evidence). `e2e/bench/policy-vs-opa.sh` runs this next to `opa bench` on the same
//! bundle and input and prints the ratio. `POLICY_BENCH_DIR` points it at another bundle (e.g.
//! the rules without their tests and examples).

use criterion::{Criterion, criterion_group, criterion_main};
use release_gate::policy::{ADMISSION_QUERY, Bundle, PolicyEngine, PolicyInput};
use std::hint::black_box;
use std::path::Path;

fn admission(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var("POLICY_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("policies"));
    let bundle = Bundle::from_dir(&dir).expect("policies/ bundle");
    let policy = PolicyEngine::load(&bundle, None).expect("policies/ compiles");
    let raw = std::fs::read(root.join("policies/examples/admit_deployment/input.json"))
        .expect("example input");
    let json: serde_json::Value = serde_json::from_slice(&raw).expect("example is JSON");
    let input = PolicyInput::from_json(json.clone());
    let verdict = policy.verdict(ADMISSION_QUERY, &input).expect("evaluates");
    assert!(
        verdict.allowed,
        "the benchmark input must be admitted: {verdict:?}"
    );

    // The webhook's path: the input is already parsed; evaluate the decision.
    c.bench_function("regorus_admission_decision", |b| {
        b.iter(|| black_box(policy.verdict(ADMISSION_QUERY, black_box(&input))))
    });
    // Including the JSON-to-Rego value conversion of the input.
    c.bench_function("regorus_admission_decision_with_input_conversion", |b| {
        b.iter(|| {
            let input = PolicyInput::from_json(black_box(json.clone()));
            black_box(policy.verdict(ADMISSION_QUERY, &input))
        })
    });
}

criterion_group!(benches, admission);
criterion_main!(benches);
