//! The policy fails closed whatever the input looks like: a builtin error, an undefined or
//! malformed decision, a timeout or overload is a denial with a reason; the gate compiles only
//! policy and data; and, over every example, removing a field, setting it to null or giving it
//! another type never turns a denial into an admission and never admits without a field the
//! input contract requires. Needs nothing external, so it runs in plain `cargo test`.

mod policy_support;

use policy_support::{entry_point, example_inputs};
use release_gate::policy::{
    ADMISSION_QUERY, Bundle, Limits, LoadError, Pin, PolicyEngine, PolicyHolder, PolicyInput,
    PolicyMetrics, RELEASE_QUERY,
};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn policies() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The bundle as the gate loads it, with a time limit for a debug build on a loaded machine:
/// these tests are about what is decided, not how fast (the 1 s limit has its own tests).
fn gate() -> PolicyEngine {
    PolicyEngine::load(&Bundle::from_dir(&policies()).expect("bundle"), None)
        .expect("loads")
        .with_time_limit(std::time::Duration::from_secs(30))
}

fn example(name: &str) -> Value {
    example_inputs()
        .into_iter()
        .find(|(n, _)| n == name)
        .expect("example")
        .1
}

/// A copy of the bundle plus `extra` files.
fn bundle_with(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = Bundle::from_dir(&policies()).expect("bundle");
    let files = bundle
        .files()
        .iter()
        .map(|(p, c)| (p.as_str(), c.clone()))
        .chain(extra.iter().map(|(p, c)| (*p, c.as_bytes().to_vec())));
    for (path, content) in files {
        let target = dir.path().join(path);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(target, content).expect("write");
    }
    dir
}

/// The root cause of the admissions the old bundle allowed: a builtin error inside a deny rule
/// made the rule undefined, so nothing denied. With strict builtin errors the evaluation fails,
/// on the VM and on the interpreter, and the holder denies saying so.
#[test]
fn a_builtin_error_in_a_deny_rule_denies() {
    let dir = bundle_with(&[(
        "extra.rego",
        "package releasegate.admission\n\ndeny contains msg if {\n\tmsg := sprintf(\"uid %v\", [to_number(input.request.uid)])\n}\n",
    )]);
    let policy =
        PolicyEngine::load(&Bundle::from_dir(dir.path()).expect("bundle"), None).expect("loads");
    let input = PolicyInput::from_json(example("admit_deployment"));
    let vm = policy.verdict(ADMISSION_QUERY, &input);
    assert!(vm.is_err(), "the VM must fail, not admit: {vm:?}");
    let interpreted = policy.interpret_rule(ADMISSION_QUERY, &input);
    assert!(interpreted.is_err(), "{interpreted:?}");
    let holder = PolicyHolder::new(dir.path(), Pin::Unpinned);
    let v = holder.decide(ADMISSION_QUERY, &input);
    assert!(!v.allowed, "{v:?}");
    assert!(v.reasons[0].contains("evaluating data.releasegate.admission.decision failed"));
    assert_eq!(holder.metrics().failures_for("error"), 1);
}

#[test]
fn undefined_or_misshapen_decisions_deny_with_a_reason() {
    for (rule, why) in [
        ("decision := 1 if false", "is undefined"),
        (
            "decision := {\"allowed\": true}",
            "not the {\"allowed\": bool",
        ),
        (
            "decision := {\"allowed\": \"yes\", \"reasons\": []}",
            "not the {\"allowed\": bool",
        ),
        (
            "decision := {\"allowed\": true, \"reasons\": [\"but\"]}",
            "not the {\"allowed\": bool",
        ),
        (
            "decision := {\"allowed\": false, \"reasons\": []}",
            "denied without giving a reason",
        ),
        (
            "decision := {\"allowed\": true, \"reasons\": [], \"overrides\": [1]}",
            "not the {\"allowed\": bool",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("gate.rego"),
            format!("package releasegate.admission\n\n{rule}\n"),
        )
        .expect("write");
        let holder = PolicyHolder::new(dir.path(), Pin::Unpinned);
        let v = holder.decide(ADMISSION_QUERY, &PolicyInput::from_json(json!({})));
        assert!(!v.allowed, "{rule}: {v:?}");
        assert!(v.reasons[0].contains(why), "{rule}: {v:?}");
    }
}

/// The gate compiles policy and data only: test packages, fixtures and examples are not in its
/// data tree (a test file cannot change a decision), while `policy test` still sees them.
#[test]
fn the_gate_loads_no_tests_or_examples() {
    let policy = gate();
    let none = PolicyInput::from_json(json!({}));
    for query in [
        "data.examples",
        "data.releasegate.fixtures.now",
        "data.releasegate.admission_test",
    ] {
        assert!(
            policy
                .eval_query(query, &none)
                .expect("evaluates")
                .is_empty(),
            "{query} is loaded by the gate"
        );
    }
    let with_tests = PolicyEngine::load_for_tests(&Bundle::from_dir(&policies()).expect("bundle"))
        .expect("loads");
    assert!(
        !with_tests
            .eval_query("data.releasegate.fixtures.now", &none)
            .expect("evaluates")
            .is_empty()
    );
    // A test file that would admit everything changes nothing for the gate.
    let dir = bundle_with(&[(
        "sneaky_test.rego",
        "package releasegate.admission\n\ndecision := {\"allowed\": true, \"reasons\": []} if input.sneaky\n",
    )]);
    let policy =
        PolicyEngine::load(&Bundle::from_dir(dir.path()).expect("bundle"), None).expect("loads");
    let mut input = example("deny_abac_groups");
    input["sneaky"] = json!(true);
    let v = policy
        .verdict(ADMISSION_QUERY, &PolicyInput::from_json(input))
        .expect("decides");
    assert!(!v.allowed);
}

#[test]
fn data_under_a_package_path_is_a_load_error() {
    let dir = bundle_with(&[("releasegate/admission/data.json", "{\"allow\": true}")]);
    let err = PolicyEngine::load(&Bundle::from_dir(dir.path()).expect("bundle"), None)
        .expect_err("conflict");
    assert!(matches!(err, LoadError::RuleDataConflict { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("data.releasegate.admission is defined both by Rego rules"),
        "{err}"
    );
}

/// A policy that runs long is cut off at the deadline, and requests beyond the concurrency
/// limit are shed within it: both are denials that say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_and_overload_deny_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("slow.rego"),
        "package releasegate.admission\n\n\
         decision := {\"allowed\": true, \"reasons\": []} if {\n\
         \tcount([x | some x in numbers.range(1, 3000000); x % 7 == 0]) > 0\n}\n",
    )
    .expect("write");
    let limits = Limits {
        deadline: Duration::from_millis(100),
        concurrency: 1,
    };
    let holder = Arc::new(PolicyHolder::with_limits(
        dir.path(),
        Pin::Unpinned,
        limits,
        PolicyMetrics::default(),
    ));
    let input = PolicyInput::from_json(json!({}));
    let started = std::time::Instant::now();
    // Two requests, each its own task as the webhook serves them: one evaluates (on a
    // worker: the other worker stays free), the other waits for the one slot and is shed.
    let call = |holder: Arc<PolicyHolder>, input: PolicyInput| {
        tokio::spawn(async move { holder.decide_within(ADMISSION_QUERY, input).await })
    };
    let (a, b) = tokio::join!(
        call(holder.clone(), input.clone()),
        call(holder.clone(), input.clone())
    );
    let (a, b) = (a.expect("task"), b.expect("task"));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(600), "answered after {took:?}");
    let reasons: Vec<_> = [&a, &b].iter().map(|v| v.reasons.join(" ")).collect();
    assert!(!a.allowed && !b.allowed, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("did not finish within its 100 ms deadline")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("evaluations already running")),
        "{reasons:?}"
    );
    assert_eq!(holder.metrics().failures_for("deadline"), 1);
    assert_eq!(holder.metrics().failures_for("overloaded"), 1);
}

/// Every admitted example is admitted on the real clock, by the VM (the step-up example's
/// auth-time is made current by the test support; nothing else in the examples expires).
#[test]
fn admitted_examples_are_admitted_on_the_real_clock() {
    let policy = gate();
    let mut admitted = 0;
    for (name, input) in example_inputs() {
        let v = policy
            .verdict(entry_point(&input), &PolicyInput::from_json(input))
            .expect("decides");
        assert_eq!(v.allowed, name.starts_with("admit"), "{name}: {v:?}");
        admitted += usize::from(v.allowed);
    }
    assert!(admitted >= 4, "{admitted}");
}

/// A value of another JSON type than `v` (never the same type, never null).
fn retyped(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(42),
        Value::Number(_) => json!("7"),
        Value::Bool(b) => json!(b.to_string()),
        Value::Array(_) => json!({"0": "x"}),
        Value::Object(_) => json!(["x"]),
        Value::Null => json!("null"),
    }
}

fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        let p = format!("{at}/{key}");
        out.push(p.clone());
        pointers(child, p, out);
    }
}

fn without(v: &Value, p: &str) -> Value {
    let mut v = v.clone();
    let (parent, key) = p.rsplit_once('/').expect("pointer");
    let key = key.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(&key);
        }
        Some(Value::Array(a)) => {
            a.remove(key.parse::<usize>().expect("index"));
        }
        _ => unreachable!("{p}"),
    }
    v
}

fn replaced(v: &Value, p: &str, with: Value) -> Value {
    let mut v = v.clone();
    *v.pointer_mut(p).expect("pointer") = with;
    v
}

/// The fields the input contract requires (policies/README.md, "Input contract"): without one
/// of them, or with a null or another type in its place, nothing is admitted.
fn required(p: &str, admission: bool) -> bool {
    if admission && p == "/decisions" {
        return true;
    }
    const FIELDS: [&str; 13] = [
        r"^/purpose$",
        r"^/request(/(uid|namespace|operation|object|userInfo|kind))?$",
        r"^/request/kind/kind$",
        r"^/request/userInfo/username$",
        r"^/request/object/spec$",
        r"^/request/object/spec/template(/spec)?$",
        r"^/request/object/spec/template/spec/containers$",
        r"^/request/object/spec/template/spec/(initContainers|containers)/\d+(/image|/name)?$",
        r"^/namespace(/metadata(/name)?)?$",
        r"^/releases(/[^/]+(/\d+(/(name|namespace|digest|ready|reasons|overrides))?)?)?$",
        r"^/release(/metadata(/name|/namespace)?|/digest|/evidence)?$",
        r"^/release/evidence/(signature|sbom|provenance|vulnerabilities)(/verified)?$",
        r"^/release/evidence/(sbom/format|provenance/predicateType|provenance/builder|vulnerabilities/(critical|high|medium|low|unknown|criticalIds))$",
    ];
    FIELDS
        .iter()
        .any(|re| regex::Regex::new(re).expect("regex").is_match(p))
}

/// For every node of every example: removing it, nulling it or retyping it never admits what
/// was denied, and never admits without a field the contract requires. (Removing a field of a
/// denied example may admit: that is how a denial is fixed, e.g. dropping `request.oldObject`.)
#[test]
fn removing_nulling_or_retyping_a_field_never_opens_the_gate() {
    let policy = gate();
    let admits = |input: &Value| {
        policy
            .verdict(entry_point(input), &PolicyInput::from_json(input.clone()))
            .is_ok_and(|v| v.allowed)
    };
    let mut problems = Vec::new();
    let mut cases = 0;
    let mut required_seen = 0;
    for (name, input) in example_inputs() {
        let was_admitted = admits(&input);
        let mut all = Vec::new();
        pointers(&input, String::new(), &mut all);
        for p in &all {
            let node = input.pointer(p).expect("pointer");
            let mut mutations = vec![
                ("null", replaced(&input, p, Value::Null)),
                ("retyped", replaced(&input, p, retyped(node))),
            ];
            // Removing one element of a list (a container) leaves a smaller, valid workload.
            let element = p
                .rsplit('/')
                .next()
                .is_some_and(|k| k.parse::<usize>().is_ok());
            if was_admitted && !element {
                mutations.push(("removed", without(&input, p)));
            }
            let admission = input["purpose"] == "admission";
            let must_deny = !was_admitted || required(p, admission);
            required_seen += usize::from(was_admitted && required(p, admission));
            for (how, case) in mutations {
                cases += 1;
                if must_deny && admits(&case) {
                    problems.push(format!("{name}: {p} {how} is admitted"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} cases open the gate:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(cases > 1000, "{cases}");
    assert!(required_seen > 50, "{required_seen}");
}

/// The same over the release entry point's typed contract: each count and flag of a clean
/// release, retyped or removed, blocks it.
#[test]
fn the_release_contract_is_typed() {
    let policy = gate();
    let clean = example("admit_release");
    assert!(
        policy
            .verdict(RELEASE_QUERY, &PolicyInput::from_json(clean.clone()))
            .expect("decides")
            .allowed
    );
    for p in [
        "/release/evidence/vulnerabilities/critical",
        "/release/evidence/vulnerabilities/criticalIds",
        "/release/evidence/signature/verified",
        "/release/digest",
    ] {
        for case in [
            without(&clean, p),
            replaced(&clean, p, Value::Null),
            replaced(&clean, p, json!(0.5)),
        ] {
            let v = policy
                .verdict(RELEASE_QUERY, &PolicyInput::from_json(case))
                .expect("decides");
            assert!(!v.allowed, "{p}: {v:?}");
            assert!(
                v.reasons.iter().any(|r| r.contains("input contract")),
                "{p}: {v:?}"
            );
        }
    }
}

/// Evaluations may run on the runtime's workers, but never on all of them: while as many slow
/// evaluations run as the concurrency allows, timers and other tasks still run promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_leave_a_worker_for_the_reactor() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("slow.rego"),
        "package releasegate.admission\n\n\
         decision := {\"allowed\": true, \"reasons\": []} if {\n\
         \tcount([x | some x in numbers.range(1, 3000000); x % 7 == 0]) > 0\n}\n",
    )
    .expect("write");
    let limits = Limits {
        deadline: Duration::from_millis(400),
        concurrency: 4,
    };
    let holder = Arc::new(PolicyHolder::with_limits(
        dir.path(),
        Pin::Unpinned,
        limits,
        PolicyMetrics::default(),
    ));
    let input = PolicyInput::from_json(json!({}));
    let evaluations: Vec<_> = (0..4)
        .map(|_| {
            let (holder, input) = (holder.clone(), input.clone());
            tokio::spawn(async move { holder.decide_within(ADMISSION_QUERY, input).await })
        })
        .collect();
    // A ticker on the same runtime: how late does a 5 ms sleep wake while they run?
    let ticker = tokio::spawn(async {
        let mut latest = Duration::ZERO;
        let until = std::time::Instant::now() + Duration::from_millis(300);
        while std::time::Instant::now() < until {
            let asked = std::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(5)).await;
            latest = latest.max(asked.elapsed().saturating_sub(Duration::from_millis(5)));
        }
        latest
    });
    let late = ticker.await.expect("ticker");
    for e in evaluations {
        let v = e.await.expect("evaluation");
        assert!(!v.allowed && v.reasons[0].contains("deadline"), "{v:?}");
    }
    assert!(
        late < Duration::from_millis(100),
        "a timer woke {late:?} late: the evaluations held every worker"
    );
}
