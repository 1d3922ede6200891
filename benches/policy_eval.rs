//! Evaluations per second of the admission policy, in-process with regorus, on a realistic input
//! (`policies/examples/admit_deployment`: a Deployment with four containers, each image with its
//! release evidence). `e2e/bench/policy-vs-opa.sh` runs this next to `opa bench` on the same
//! bundle and input, round after round, and prints the ratio. `POLICY_BENCH_DIR` points it at
//! another bundle (e.g. the rules without their tests and examples).
//!
//! - `regorus_vm_admission_decision`: the gate's path (`PolicyEngine::verdict`: the entry point
//!   compiled for regorus' VM, the input already converted);
//! - `regorus_vm_admission_decision_with_input_conversion`: the same, converting the JSON input
//!   first, as the webhook does once per request;
//! - `regorus_interpreter_admission_decision`: regorus' interpreter on the same rule, for
//!   comparison.

use criterion::{Criterion, criterion_group, criterion_main};
use release_gate::policy::{ADMISSION_QUERY, Bundle, Evaluator, PolicyEngine, PolicyInput};
use std::hint::black_box;
use std::path::Path;

/// The allocator the `release-gate` binary runs with (src/main.rs), so the figures match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn admission(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var("POLICY_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("policies"));
    let bundle = Bundle::from_dir(&dir).expect("policies/ bundle");
    let policy = PolicyEngine::load(&bundle, None).expect("policies/ compiles");
    assert_eq!(policy.evaluator(ADMISSION_QUERY), Evaluator::Vm);
    // POLICY_BENCH_INPUT: another input document (e.g. the one `e2e/bench/webhook-vs-opa.sh`
    // sends OPA, to compare the two benchmarks' decisions).
    let input_path = std::env::var("POLICY_BENCH_INPUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("policies/examples/admit_deployment/input.json"));
    let raw = std::fs::read(&input_path).expect("benchmark input");
    let json: serde_json::Value = serde_json::from_slice(&raw).expect("example is JSON");
    let input = PolicyInput::from_json(json.clone());
    let verdict = policy.verdict(ADMISSION_QUERY, &input).expect("evaluates");
    assert!(
        verdict.allowed,
        "the benchmark input must be admitted: {verdict:?}"
    );

    c.bench_function("regorus_vm_admission_decision", |b| {
        b.iter(|| black_box(policy.verdict(ADMISSION_QUERY, black_box(&input))))
    });
    c.bench_function("regorus_vm_admission_decision_with_input_conversion", |b| {
        b.iter(|| {
            let input = PolicyInput::from_json(black_box(json.clone()));
            black_box(policy.verdict(ADMISSION_QUERY, &input))
        })
    });
    c.bench_function("regorus_interpreter_admission_decision", |b| {
        b.iter(|| black_box(policy.interpret_rule(ADMISSION_QUERY, black_box(&input))))
    });
}

criterion_group!(benches, admission);
criterion_main!(benches);
