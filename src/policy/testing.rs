//! The Rego test runner behind `release-gate policy test`: finds every `test_*` rule, like
//! `opa test`, evaluates each on a clone of the compiled bundle and reports PASS, FAIL, ERROR or
//! SKIP (`todo_test_*`). Its results are compared test by test with the real OPA's in
//! `tests/policy_opa.rs`, so both engines must agree on the same bundle.

use super::engine::PolicyEngine;
use regorus::unstable::{Expr, Rule, RuleHead};
use std::time::{Duration, Instant};

/// How a test ended, named as `opa test` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Pass,
    Fail,
    Error,
    Skip,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Error => "ERROR",
            Self::Skip => "SKIPPED",
        }
    }
}

/// One test's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestResult {
    /// `data.<package>`, as `opa test` prints it.
    pub package: String,
    pub name: String,
    /// The file as loaded (`<bundle origin>/<path>`), and the rule's line.
    pub file: String,
    pub row: u32,
    pub verdict: Verdict,
    /// The evaluation error, for `Error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub duration: Duration,
}

/// Every test's outcome, in file then line order.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TestReport {
    pub results: Vec<TestResult>,
}

impl TestReport {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.results.iter().filter(|r| r.verdict == verdict).count()
    }

    /// True when some test ran and none failed or erred.
    pub fn passed(&self) -> bool {
        !self.results.is_empty()
            && self.count(Verdict::Fail) == 0
            && self.count(Verdict::Error) == 0
    }

    /// The report in the layout of `opa test -v`: tests grouped by file, then a summary.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let mut file = "";
        for r in &self.results {
            if !verbose && matches!(r.verdict, Verdict::Pass | Verdict::Skip) {
                continue;
            }
            if r.file != file {
                if !file.is_empty() {
                    out.push('\n');
                }
                file = &r.file;
                out.push_str(&format!("{file}:\n"));
            }
            out.push_str(&format!(
                "{}.{}: {} ({:?})\n",
                r.package,
                r.name,
                r.verdict.label(),
                r.duration
            ));
            if let Some(e) = &r.error {
                out.push_str(&format!("  {e}\n"));
            }
        }
        let total = self.results.len();
        out.push_str(&format!("{}\n", "-".repeat(80)));
        if total == 0 {
            out.push_str("no tests found: name test rules test_<something>\n");
        }
        for v in [Verdict::Pass, Verdict::Fail, Verdict::Skip, Verdict::Error] {
            let n = self.count(v);
            if n > 0 {
                out.push_str(&format!("{}: {n}/{total}\n", v.label()));
            }
        }
        out
    }
}

/// A test rule found in a module.
struct Found {
    package: String,
    name: String,
    file: String,
    row: u32,
}

/// How long one test may run before it is an error, as `opa test --timeout` defaults to.
pub const TEST_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs every `test_*` rule of the bundle. A rule passes when it is defined and not `false`;
/// one that runs over [`TEST_TIME_LIMIT`] is an error.
pub fn run_tests(policy: &PolicyEngine) -> TestReport {
    let mut results = Vec::new();
    let policy = policy.clone().with_time_limit(TEST_TIME_LIMIT);
    let policy = &policy;
    for test in discover(policy) {
        let started = Instant::now();
        let (verdict, error) = if test.name.starts_with("todo_") {
            (Verdict::Skip, None)
        } else {
            let mut engine = policy.prepared().clone();
            match engine.eval_rule(format!("{}.{}", test.package, test.name)) {
                Ok(regorus::Value::Undefined) | Ok(regorus::Value::Bool(false)) => {
                    (Verdict::Fail, None)
                }
                Ok(_) => (Verdict::Pass, None),
                Err(e) => (Verdict::Error, Some(format!("{e:#}"))),
            }
        };
        results.push(TestResult {
            package: test.package,
            name: test.name,
            file: test.file,
            row: test.row,
            verdict,
            error,
            duration: started.elapsed(),
        });
    }
    TestReport { results }
}

/// Finds the rules whose name starts with `test_` (or `todo_test_`), skipping functions and
/// defaults, which `opa test` does not run either. Reads regorus' (unstable) AST.
fn discover(policy: &PolicyEngine) -> Vec<Found> {
    let mut engine = policy.prepared().clone();
    let mut found = Vec::new();
    for module in engine.get_modules() {
        let package = format!("data.{}", module.package.refr.span().text());
        for rule in &module.policy {
            let Rule::Spec { head, .. } = rule.as_ref() else {
                continue;
            };
            let refr = match head {
                RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => refr,
                RuleHead::Func { .. } => continue,
            };
            let Expr::Var { span, .. } = refr.as_ref() else {
                continue;
            };
            let name = span.text();
            if name.starts_with("test_") || name.starts_with("todo_test_") {
                found.push(Found {
                    package: package.clone(),
                    name: name.to_string(),
                    file: span.source.file().to_string(),
                    row: span.line,
                });
            }
        }
    }
    found.sort_by(|a, b| (&a.file, a.row).cmp(&(&b.file, b.row)));
    found
}
