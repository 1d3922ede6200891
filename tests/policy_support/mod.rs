//! Inputs for the policy tests: the bundle's examples and variations of them that remove or
//! change one field at a time, to compare evaluators (the VM, the interpreter, OPA) on inputs
//! nobody wrote by hand.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;

/// Every example's raw input, by name, made current: a step-up `auth-time` is set to a minute
/// ago, so that evaluations on the real clock (the VM has no `with`) keep exercising the admit
/// paths as the calendar moves. The examples carry no other dates that expire.
pub fn example_inputs() -> Vec<(String, serde_json::Value)> {
    let mut out = raw_example_inputs();
    let a_minute_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        - 60;
    for (_, input) in &mut out {
        if let Some(t) = input.pointer_mut("/request/userInfo/extra/releasegate.dev~1auth-time") {
            *t = serde_json::json!([a_minute_ago.to_string()]);
        }
    }
    out
}

/// The entry point an example is evaluated by (release examples are named `*release*` and
/// have purpose "release").
pub fn entry_point(input: &serde_json::Value) -> &'static str {
    if input["purpose"] == "release" {
        release_gate::policy::RELEASE_QUERY
    } else {
        release_gate::policy::ADMISSION_QUERY
    }
}

/// Every example's input as written, by name.
pub fn raw_example_inputs() -> Vec<(String, serde_json::Value)> {
    let mut out: Vec<_> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/examples"))
            .expect("examples")
            .map(|e| {
                let dir = e.expect("entry").path();
                let raw = std::fs::read(dir.join("input.json")).expect("input.json");
                let name = dir
                    .file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned();
                (name, serde_json::from_slice(&raw).expect("example JSON"))
            })
            .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The JSON pointer of every node under `v`, depth first.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &serde_json::Value)> = match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        serde_json::Value::Array(a) => a
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

/// Removes the node at pointer `p`; false when it is not there.
fn remove(v: &mut serde_json::Value, p: &str) -> bool {
    let (parent, key) = p.rsplit_once('/').expect("pointer");
    match v.pointer_mut(parent) {
        Some(serde_json::Value::Object(m)) => m
            .remove(&key.replace("~1", "/").replace("~0", "~"))
            .is_some(),
        Some(serde_json::Value::Array(a)) => match key.parse::<usize>() {
            Ok(i) if i < a.len() => {
                a.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Replaces the node at pointer `p` by a value of another shape (a string by another string, a
/// number by a negative one, a bool by its negation, a collection by an empty one).
fn change(v: &mut serde_json::Value, p: &str) -> bool {
    let Some(node) = v.pointer_mut(p) else {
        return false;
    };
    *node = match node {
        serde_json::Value::String(s) => format!("{s}-changed").into(),
        serde_json::Value::Number(_) => (-1).into(),
        serde_json::Value::Bool(b) => (!*b).into(),
        serde_json::Value::Array(_) => serde_json::json!([]),
        serde_json::Value::Object(_) => serde_json::json!({}),
        serde_json::Value::Null => "null".into(),
    };
    true
}

/// Variations of `input`: each of (about) `per_example` nodes removed, and each replaced by a
/// value of another shape.
pub fn variations(
    input: &serde_json::Value,
    per_example: usize,
) -> Vec<(String, serde_json::Value)> {
    let mut all = Vec::new();
    pointers(input, String::new(), &mut all);
    let stride = all.len().div_ceil(per_example).max(1);
    let mut out = Vec::new();
    for p in all.iter().step_by(stride) {
        let mut removed = input.clone();
        assert!(remove(&mut removed, p), "{p}");
        out.push((format!("without {p}"), removed));
        let mut changed = input.clone();
        assert!(change(&mut changed, p), "{p}");
        out.push((format!("changed {p}"), changed));
    }
    out
}

/// `count` variations of `input` that each remove or change two nodes, picked by a fixed
/// pseudo-random sequence (the same cases on every run).
pub fn pair_variations(
    input: &serde_json::Value,
    count: usize,
) -> Vec<(String, serde_json::Value)> {
    let mut all = Vec::new();
    pointers(input, String::new(), &mut all);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n
    };
    let mut out = Vec::new();
    while out.len() < count {
        let mut v = input.clone();
        let mut what = Vec::new();
        for _ in 0..2 {
            let p = &all[next(all.len())];
            let removing = next(2) == 0;
            let done = if removing {
                remove(&mut v, p)
            } else {
                change(&mut v, p)
            };
            if done {
                what.push(format!(
                    "{} {p}",
                    if removing { "without" } else { "changed" }
                ));
            }
        }
        out.push((what.join(", "), v));
    }
    out
}

/// Fails listing every case in `differing`, unless none differ; also fails when fewer than
/// `min_cases` were compared or the cases did not reach both verdicts (`allowed` true and
/// false), since then the comparison proves little.
pub fn assert_all_agree(
    differing: &[String],
    compared: usize,
    min_cases: usize,
    verdicts: &BTreeSet<String>,
) {
    assert!(
        differing.is_empty(),
        "{} of {compared} differ:\n{}",
        differing.len(),
        differing.join("\n")
    );
    assert!(compared >= min_cases, "only {compared} cases");
    assert!(
        verdicts.contains("true") && verdicts.contains("false"),
        "{verdicts:?}"
    );
}
