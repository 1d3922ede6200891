//! The real OPA runs the same bundle as the gate's regorus runner, and the two must agree test
//! by test (same tests found, same verdicts) and on the admission decision for every example.
//! Needs `opa` on PATH (built by `e2e/tools/install.sh opa`); fails, never skips, without it.

mod policy_support;

use policy_support::{assert_all_agree, entry_point, example_inputs, pair_variations, variations};
use release_gate::policy::{Bundle, Evaluator, PolicyEngine, PolicyInput, run_tests};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// 2026-06-01T00:00:00Z, the clock the Rego tests pin.
const NOW_NS: &str = "1780272000000000000";

fn opa() -> Command {
    let mut c = Command::new("opa");
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn opa_output(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run `opa` ({e}); build it with `e2e/tools/install.sh opa` and put ~/.cache/release-gate/bin on PATH (make test does)")
    });
    assert!(
        out.stderr.is_empty() || out.status.success(),
        "opa: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The bundle with its tests, as `policy test` (and `opa test`) load it.
fn policy() -> PolicyEngine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    PolicyEngine::load_for_tests(&Bundle::from_dir(&dir).expect("bundle")).expect("loads")
}

/// The bundle as the gate loads it.
/// The bundle as the gate loads it, with a time limit for a debug build on a loaded machine
/// (a timeout would read as a denial and differ from OPA for no reason of the policy's).
fn gate_policy() -> PolicyEngine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    PolicyEngine::load(&Bundle::from_dir(&dir).expect("bundle"), None)
        .expect("loads")
        .with_time_limit(std::time::Duration::from_secs(30))
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn opa_and_regorus_agree_test_by_test() {
    let stdout = opa_output(opa().args(["test", "--format=json", "policies/"]));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&stdout).expect("opa test JSON");
    let opa: BTreeMap<(String, String), &str> = results
        .iter()
        .map(|r| {
            let verdict = if r.get("error").is_some() {
                "ERROR"
            } else if r["fail"] == true {
                "FAIL"
            } else if r["skip"] == true {
                "SKIP"
            } else {
                "PASS"
            };
            let key = (
                r["package"].as_str().expect("package").to_string(),
                r["name"].as_str().expect("name").to_string(),
            );
            (key, verdict)
        })
        .collect();
    let ours: BTreeMap<(String, String), &str> = run_tests(&policy())
        .results
        .into_iter()
        .map(|r| {
            let verdict = match r.verdict {
                release_gate::policy::testing::Verdict::Pass => "PASS",
                release_gate::policy::testing::Verdict::Fail => "FAIL",
                release_gate::policy::testing::Verdict::Error => "ERROR",
                release_gate::policy::testing::Verdict::Skip => "SKIP",
            };
            ((r.package, r.name), verdict)
        })
        .collect();
    assert_eq!(results.len(), opa.len(), "opa reported a test twice");
    let only_opa: Vec<_> = opa.keys().filter(|k| !ours.contains_key(*k)).collect();
    let only_ours: Vec<_> = ours.keys().filter(|k| !opa.contains_key(*k)).collect();
    assert!(
        only_opa.is_empty() && only_ours.is_empty(),
        "tests found by one runner only: opa {only_opa:?}, regorus {only_ours:?}"
    );
    let differing: Vec<_> = opa
        .iter()
        .filter(|(k, v)| ours[*k] != **v)
        .map(|(k, v)| format!("{}.{}: opa {v}, regorus {}", k.0, k.1, ours[k]))
        .collect();
    assert!(differing.is_empty(), "verdicts differ: {differing:#?}");
    assert!(
        opa.len() >= 100 && opa.values().all(|v| *v == "PASS"),
        "{opa:?}"
    );
}

#[test]
#[ignore = "needs the real test bed: make test"]
fn opa_and_regorus_agree_on_every_example_decision() {
    let policy = policy();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/examples");
    let mut names: Vec<_> = std::fs::read_dir(&examples)
        .expect("examples")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let file = format!("policies/examples/{name}/input.json");
        let raw = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(&file)).expect("input");
        let json: serde_json::Value = serde_json::from_slice(&raw).expect("JSON");
        let entry = entry_point(&json);
        let query = format!("{entry} with time.now_ns as {NOW_NS}");
        let stdout = opa_output(opa().args([
            "eval",
            "--format=json",
            "--data",
            "policies/",
            "--input",
            &file,
            &query,
        ]));
        let v: serde_json::Value = serde_json::from_slice(&stdout).expect("opa eval JSON");
        let from_opa = &v["result"][0]["expressions"][0]["value"];
        let input = PolicyInput::from_json(json);
        let ours = policy
            .eval_query(&query, &input)
            .expect("regorus evaluates");
        assert_eq!(ours.len(), 1, "{name}: {ours:?}");
        assert_eq!(
            &ours[0], from_opa,
            "{name}: regorus and opa decide differently"
        );
    }
}

/// OPA's answer for the undefined-value constructs is the one recorded in the fixture that
/// `tests/policy_bundle.rs` holds the gate's VM to.
#[test]
#[ignore = "needs the real test bed: make test"]
fn opa_confirms_the_recorded_undefined_value_answers() {
    let dir = "tests/fixtures/rego-semantics";
    let stdout = opa_output(opa().args([
        "eval",
        "--format=json",
        "--data",
        &format!("{dir}/policy"),
        "--input",
        &format!("{dir}/input.json"),
        "data.semantics.r",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&stdout).expect("opa eval JSON");
    let recorded: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(dir)
                .join("expected.json"),
        )
        .expect("expected.json"),
    )
    .expect("JSON");
    assert_eq!(v["result"][0]["expressions"][0]["value"], recorded);
}

/// The gate's VM and the real OPA decide alike on every example and on variations of each
/// that remove or change one or two fields (missing labels, releases, groups, decisions,
/// wrong types). OPA evaluates all of them in one query (`with input as`); both use the real
/// clock. This is how the VM defects fixed by vendor/regorus/release-gate.patch were found.
///
/// The gate evaluates with strict builtin errors (an error is a denial); OPA runs with its
/// default, non-strict ones, since one error would abort its single query. So where the VM
/// fails, OPA must not admit; where OPA has no decision, the VM must not admit.
#[test]
#[ignore = "needs the real test bed: make test"]
fn vm_and_opa_agree_on_examples_and_their_variations() {
    let policy = gate_policy();
    // RELEASE_GATE_POLICY_VARIATIONS=100000 varies every node of every example (3 600 cases)
    // and as many random pairs, instead of 40 nodes and 40 pairs per example.
    let per_example = std::env::var("RELEASE_GATE_POLICY_VARIATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let mut cases: BTreeMap<&str, Vec<(String, serde_json::Value)>> = BTreeMap::new();
    for (name, input) in example_inputs() {
        let entry = entry_point(&input);
        assert_eq!(policy.evaluator(entry), Evaluator::Vm);
        cases
            .entry(entry)
            .or_default()
            .push((format!("{name}, as is"), input.clone()));
        let pairs = pair_variations(&input, per_example);
        for (what, case) in variations(&input, per_example).into_iter().chain(pairs) {
            cases
                .entry(entry)
                .or_default()
                .push((format!("{name}, {what}"), case));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut compared = 0;
    let mut differing = Vec::new();
    let mut verdicts = std::collections::BTreeSet::new();
    for (entry, cases) in &cases {
        let data = dir.path().join("cases.json");
        let inputs: Vec<_> = cases.iter().map(|(_, c)| c).collect();
        std::fs::write(
            &data,
            serde_json::to_vec(&serde_json::json!({ "release_gate_cases": inputs })).expect("JSON"),
        )
        .expect("write cases");
        let query = format!(
            "{{sprintf(\"%d\", [i]): r | some i, c in data.release_gate_cases; r := {entry} with input as c}}"
        );
        let stdout = opa_output(opa().args([
            "eval",
            "--format=json",
            "--data",
            "policies/",
            "--data",
            data.to_str().expect("utf-8 path"),
            &query,
        ]));
        let v: serde_json::Value = serde_json::from_slice(&stdout).expect("opa eval JSON");
        let from_opa = &v["result"][0]["expressions"][0]["value"];
        for (i, (what, case)) in cases.iter().enumerate() {
            let opa = from_opa.get(i.to_string()).cloned();
            let ours = policy
                .eval_rule(entry, &PolicyInput::from_json(case.clone()))
                .ok()
                .flatten();
            if let Some(d) = &ours {
                verdicts.insert(d["allowed"].to_string());
            }
            let admits =
                |d: &Option<serde_json::Value>| d.as_ref().is_some_and(|d| d["allowed"] == true);
            let agree = match (&ours, &opa) {
                (Some(a), Some(b)) => a == b,
                _ => !admits(&ours) && !admits(&opa),
            };
            if !agree {
                differing.push(format!("{what}:\n  vm:  {ours:?}\n  opa: {opa:?}"));
            }
            compared += 1;
        }
    }
    assert_all_agree(&differing, compared, 500, &verdicts);
}
