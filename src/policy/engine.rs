//! The compiled policy: a bundle parsed and analysed by regorus exactly once, then evaluated
//! many times.
//!
//! The gate's entry points ([`ADMISSION_QUERY`], [`RELEASE_QUERY`]) are compiled at load time
//! into bytecode for regorus' register VM (RVM); each evaluation runs that program in a fresh VM
//! over the shared program and data (`Arc`s), so concurrent admissions never re-parse Rego, never
//! contend on a lock and never see each other's state. On this bundle the VM evaluates the
//! admission decision about 3x faster than regorus' tree-walking interpreter
//! (`e2e/bench/policy-vs-opa.sh` measures it against OPA).
//!
//! regorus 0.14.1's VM decided some constructs differently from OPA (undefined values, an
//! `else` after a loop that found nothing), which could turn a deny into an admit. The build
//! uses regorus with `vendor/regorus/release-gate.patch` (see its `README.release-gate.md`), and
//! `tests/policy_bundle.rs` pins OPA's answers for those constructs.
//!
//! Everything else (other rules, ad-hoc queries with `with`, the `test_*` runner) goes through
//! the interpreter: a clone of the prepared engine, which shares the compiled modules, schedule
//! and data. An entry point the VM compiler cannot handle (a construct it does not support yet)
//! falls back to the interpreter with a warning, so a custom bundle never stops loading for it.
//! `tests/policy_bundle.rs` checks that the two paths agree on every example and on many
//! variations of them, and `tests/policy_opa.rs` checks the VM's decisions against the real OPA.

use super::bundle::{Bundle, BundleError};
use regorus::Engine;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// The admission entry point the webhook evaluates.
pub const ADMISSION_QUERY: &str = "data.releasegate.admission.decision";

/// The release entry point the controller evaluates for the PolicyApproved condition.
pub const RELEASE_QUERY: &str = "data.releasegate.release.decision";

/// The data-minimisation selector (`input.request.{purpose, fields}`), for consumers that ask
/// whether a purpose may read a set of fields.
pub const MINIMIZATION_QUERY: &str = "data.releasegate.minimization.decision";

/// The entry points compiled to VM bytecode at load time. They are evaluated with strict
/// builtin errors: a builtin that fails aborts the evaluation and the caller denies.
pub const ENTRY_POINTS: [&str; 3] = [ADMISSION_QUERY, RELEASE_QUERY, MINIMIZATION_QUERY];

/// The wall-clock budget of one evaluation unless [`PolicyEngine::with_time_limit`] sets
/// another. The admission decision takes about a millisecond; a policy that runs for a second
/// is looping over something it should not, and the caller denies rather than waits.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(1);

/// The VM's instruction budget. regorus' default (25 000) is too small for a Deployment with a
/// few dozen containers (the four-container example takes about 3 500); the time limit is the
/// real bound, this only stops a runaway loop that never reaches a time check.
const MAX_INSTRUCTIONS: usize = 200_000_000;

/// How many VM instructions or interpreter steps run between two clock reads.
const TIME_CHECK_INTERVAL: NonZeroU32 = NonZeroU32::new(256).unwrap();

/// Why a bundle could not become a policy. A failed load admits nothing.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(
        "pinned policy digest {pin:?} is malformed: expected sha256:<64 lowercase hex> as printed by `release-gate policy digest`"
    )]
    InvalidPin { pin: String },
    #[error(
        "policy bundle {origin} has digest {actual}, but {expected} is pinned; refusing to load it. Review the change, then pin the new digest (`release-gate policy digest DIR`)"
    )]
    DigestMismatch {
        origin: String,
        expected: String,
        actual: String,
    },
    #[error("Rego file {file} is not UTF-8 text")]
    NotText { file: String },
    #[error("Rego file {file} does not parse: {message}")]
    Parse { file: String, message: String },
    #[error("data file {file} is not valid {format}: {message}")]
    Data {
        file: String,
        format: &'static str,
        message: String,
    },
    #[error("data file {file} conflicts with data already loaded: {message}")]
    DataConflict { file: String, message: String },
    #[error(
        "policy bundle {origin}: data.{path} is defined both by Rego rules (package {package}) and by a data file; move the data out of the package's path"
    )]
    RuleDataConflict {
        origin: String,
        path: String,
        package: String,
    },
    #[error("policy bundle {origin} does not compile: {message}")]
    Compile { origin: String, message: String },
}

/// Why an evaluation produced no usable answer. Callers deny on any of these.
#[derive(Debug, Error)]
pub enum EvalError {
    #[error("evaluating {query} failed: {message}")]
    Eval { query: String, message: String },
    #[error(
        "{query} is undefined for this input; the bundle does not define it (check the package and rule name) or its rules did not apply"
    )]
    Undefined { query: String },
    #[error(
        "{query} returned {found}, not the {{\"allowed\": bool, \"reasons\": [string]}} object the gate needs"
    )]
    Shape { query: String, found: String },
    #[error(
        "no policy bundle is loaded ({reason}); failing closed: nothing is admitted until a valid bundle loads"
    )]
    NotLoaded { reason: String },
}

impl EvalError {
    /// A short, stable label for metrics (`releasegate_policy_failures_total{reason}`).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Eval { message, .. } if message.contains("time limit") => "timeout",
            Self::Eval { .. } => "error",
            Self::Undefined { .. } => "undefined",
            Self::Shape { .. } => "shape",
            Self::NotLoaded { .. } => "not_loaded",
        }
    }
}

/// A policy input converted once into the evaluator's value type; cloning it is cheap.
#[derive(Debug, Clone)]
pub struct PolicyInput(regorus::Value);

impl PolicyInput {
    /// Converts a JSON document (an admission input, a release check, ...).
    pub fn from_json(input: Json) -> Self {
        Self(json_value(&input))
    }

    /// An input already in the evaluator's value type.
    pub(crate) fn from_value(input: regorus::Value) -> Self {
        Self(input)
    }

    /// The input as the evaluator holds it (for tests that compare two ways of building it).
    pub fn value(&self) -> &regorus::Value {
        &self.0
    }
}

/// Converts JSON into the evaluator's value type by reference, as regorus' own deserializer
/// would (integers stay integers, objects keep their sorted keys), but in one pass with one
/// allocation per string and per container: on the webhook's path this conversion cost more
/// than parsing the request. Recursion is bounded by serde_json's nesting limit (128).
pub(crate) fn json_value(json: &Json) -> regorus::Value {
    use regorus::Value;
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Value::from(u),
            (None, Some(i), _) => Value::from(i),
            (None, None, Some(f)) => Value::from(f),
            (None, None, None) => Value::Undefined,
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::from(items.iter().map(json_value).collect::<Vec<_>>()),
        // serde_json's map iterates in key order, which is the evaluator's order of strings.
        Json::Object(fields) => regorus::value::Object::from_sorted_entries(
            fields
                .iter()
                .map(|(k, v)| (Value::from(k.as_str()), json_value(v)))
                .collect(),
        )
        .into_value(),
    }
}

/// The verdict of an entry point such as [`ADMISSION_QUERY`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub allowed: bool,
    pub reasons: Vec<String>,
    /// The override Decisions a release runs under ([`RELEASE_QUERY`] only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
}

impl Verdict {
    /// A denial with one reason (an evaluation that failed, a policy that is not loaded, ...).
    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            allowed: false,
            reasons: vec![reason.into()],
            overrides: Vec::new(),
        }
    }
}

/// Which files of a bundle an engine compiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Files {
    /// Policy and data only: no `*_test.rego`, nothing under `examples/`, `fixtures/`,
    /// `testdata/` or `tests/`. What the gate runs.
    Policy,
    /// Everything, for the `test_*` runner (tests read the examples as data).
    WithTests,
}

/// How an entry point is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evaluator {
    /// Compiled to bytecode and run by regorus' VM.
    Vm,
    /// Walked by regorus' interpreter.
    Interpreter,
}

/// A loaded, compiled policy bundle, identified by its digest and version.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    engine: Engine,
    /// VM programs of the entry points that compiled, by rule path.
    programs: BTreeMap<String, Arc<Program>>,
    /// Why an entry point defined by the bundle runs on the interpreter instead.
    interpreted: BTreeMap<String, String>,
    /// The bundle's data documents, merged, as the VM's `data`.
    data: regorus::Value,
    time_limit: Duration,
    origin: String,
    digest: String,
    version: Option<String>,
    rego_files: Vec<String>,
}

impl PolicyEngine {
    /// Parses and compiles `bundle`, with the gate's [`ENTRY_POINTS`] compiled for the VM. With
    /// `pin`, a bundle whose digest differs is refused before any of its Rego is parsed.
    pub fn load(bundle: &Bundle, pin: Option<&str>) -> Result<Self, LoadError> {
        Self::load_files(bundle, pin, &ENTRY_POINTS, Files::Policy)
    }

    /// Loads every file of the bundle, tests and examples included, for the `test_*` runner.
    pub fn load_for_tests(bundle: &Bundle) -> Result<Self, LoadError> {
        Self::load_files(bundle, None, &ENTRY_POINTS, Files::WithTests)
    }

    /// [`Self::load`] with other rules compiled for the VM (tools and tests evaluating rules
    /// other than the gate's own entry points).
    pub fn load_with_entry_points(
        bundle: &Bundle,
        pin: Option<&str>,
        entry_points: &[&str],
    ) -> Result<Self, LoadError> {
        Self::load_files(bundle, pin, entry_points, Files::WithTests)
    }

    fn load_files(
        bundle: &Bundle,
        pin: Option<&str>,
        entry_points: &[&str],
        which: Files,
    ) -> Result<Self, LoadError> {
        let digest = bundle.digest();
        if let Some(pin) = pin {
            if !valid_digest(pin) {
                return Err(LoadError::InvalidPin { pin: pin.into() });
            }
            if pin != digest {
                return Err(LoadError::DigestMismatch {
                    origin: bundle.origin().into(),
                    expected: pin.into(),
                    actual: digest,
                });
            }
        }
        let version = bundle.version()?;
        let origin = bundle.origin().to_string();
        let mut engine = Engine::new();
        // OPA's default: a builtin error (e.g. to_number("x")) makes the expression undefined
        // instead of aborting the query; tests must mean the same thing under both engines.
        engine.set_strict_builtin_errors(false);
        let mut rego_files = Vec::new();
        for (path, content) in bundle.files() {
            if which == Files::Policy && !super::bundle::is_policy_file(path) {
                continue;
            }
            let file = format!("{origin}/{path}");
            if path.ends_with(".rego") {
                let text = std::str::from_utf8(content)
                    .map_err(|_| LoadError::NotText { file: file.clone() })?;
                engine
                    .add_policy(file.clone(), text.to_string())
                    .map_err(|e| LoadError::Parse {
                        file: file.clone(),
                        message: format!("{e:#}"),
                    })?;
                rego_files.push(file);
            } else if let Some(value) = data_file(&file, path, content)? {
                engine.add_data(regorus::Value::from(value)).map_err(|e| {
                    LoadError::DataConflict {
                        file: file.clone(),
                        message: format!("{e:#}"),
                    }
                })?;
            }
        }
        // Analyse and schedule every module now: unsafe variables, undefined references and
        // recursion surface at load time, and clones start from the prepared state.
        engine
            .eval_query("true".into(), false)
            .map_err(|e| LoadError::Compile {
                origin: origin.clone(),
                message: format!("{e:#}"),
            })?;
        check_rule_data_conflicts(&engine, &origin)?;
        let mut programs = BTreeMap::new();
        let mut interpreted = BTreeMap::new();
        for &path in entry_points {
            // A bundle need not define every entry point; evaluating a missing one fails in
            // the interpreter with its own error.
            let Ok(compiled) = engine.clone().compile_with_entrypoint(&path.into()) else {
                continue;
            };
            match Compiler::compile_from_policy(&compiled, &[path]) {
                Ok(program) => {
                    programs.insert(path.to_string(), program);
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    tracing::warn!(
                        bundle = %origin,
                        entry_point = path,
                        %reason,
                        "the policy VM cannot compile this entry point; it runs on the slower interpreter"
                    );
                    interpreted.insert(path.to_string(), reason);
                }
            }
        }
        let data = engine.get_data();
        let mut policy = Self {
            engine,
            programs,
            interpreted,
            data,
            time_limit: DEFAULT_TIME_LIMIT,
            origin,
            digest,
            version,
            rego_files,
        };
        policy.apply_time_limit();
        Ok(policy)
    }

    /// Sets the wall-clock budget of each evaluation; one that runs longer fails (and the
    /// caller denies).
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self.apply_time_limit();
        self
    }

    fn apply_time_limit(&mut self) {
        self.engine.set_execution_timer_config(self.timer_config());
    }

    fn timer_config(&self) -> ExecutionTimerConfig {
        ExecutionTimerConfig {
            limit: self.time_limit,
            check_interval: TIME_CHECK_INTERVAL,
        }
    }

    /// How `path` is evaluated: by the VM when it is an entry point that compiled, otherwise by
    /// the interpreter.
    pub fn evaluator(&self, path: &str) -> Evaluator {
        if self.programs.contains_key(path) {
            Evaluator::Vm
        } else {
            Evaluator::Interpreter
        }
    }

    /// Entry points the bundle defines that the VM could not compile, with the reason.
    pub fn interpreted_entry_points(&self) -> &BTreeMap<String, String> {
        &self.interpreted
    }

    /// `sha256:<hex>` of the bundle this policy was compiled from.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The bundle manifest's revision.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The wall-clock budget of one evaluation.
    pub fn time_limit(&self) -> Duration {
        self.time_limit
    }

    /// Where the bundle came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Evaluates the rule at `path` (e.g. `data.releasegate.admission.decision`), on the VM when
    /// it is a compiled entry point. `Ok(None)` means undefined.
    pub fn eval_rule(&self, path: &str, input: &PolicyInput) -> Result<Option<Json>, EvalError> {
        self.eval_rule_within(path, input, self.time_limit)
    }

    /// [`Self::eval_rule`] with at most `limit` of wall-clock time (never more than the
    /// engine's own limit): how a caller with a deadline bounds an evaluation it runs itself.
    pub fn eval_rule_within(
        &self,
        path: &str,
        input: &PolicyInput,
        limit: Duration,
    ) -> Result<Option<Json>, EvalError> {
        let timer = ExecutionTimerConfig {
            limit: limit.min(self.time_limit),
            check_interval: TIME_CHECK_INTERVAL,
        };
        let value = match self.programs.get(path) {
            Some(program) => self.run_vm(path, program, input, timer),
            None => {
                let mut engine = self.engine.clone();
                engine.set_execution_timer_config(timer);
                Self::interpret_on(engine, path, input)
            }
        }?;
        to_json(path, value)
    }

    /// [`Self::eval_rule`] on the interpreter, whatever [`Self::evaluator`] says; the parity
    /// tests, the fuzz target and the benchmark compare it with the VM.
    pub fn interpret_rule(
        &self,
        path: &str,
        input: &PolicyInput,
    ) -> Result<Option<Json>, EvalError> {
        to_json(path, self.interpret(path, input)?)
    }

    fn interpret(&self, path: &str, input: &PolicyInput) -> Result<regorus::Value, EvalError> {
        Self::interpret_on(self.engine.clone(), path, input)
    }

    fn interpret_on(
        mut engine: regorus::Engine,
        path: &str,
        input: &PolicyInput,
    ) -> Result<regorus::Value, EvalError> {
        // The gate's entry points fail closed on any builtin error, on either evaluator.
        engine.set_strict_builtin_errors(ENTRY_POINTS.contains(&path));
        engine.set_input(input.0.clone());
        engine
            .eval_rule(path.to_string())
            .map_err(|e| EvalError::Eval {
                query: path.into(),
                message: format!("{e:#}"),
            })
    }

    fn run_vm(
        &self,
        path: &str,
        program: &Arc<Program>,
        input: &PolicyInput,
        timer: ExecutionTimerConfig,
    ) -> Result<regorus::Value, EvalError> {
        let eval_error = |e: &dyn std::fmt::Display| EvalError::Eval {
            query: path.into(),
            message: e.to_string(),
        };
        // A fresh VM per evaluation: nothing carries over from one request to the next, and
        // setting one up costs less than resetting a used one.
        let mut vm = RegoVM::new();
        vm.load_program(Arc::clone(program));
        vm.set_data(self.data.clone()).map_err(|e| eval_error(&e))?;
        vm.set_input(input.0.clone());
        vm.set_max_instructions(MAX_INSTRUCTIONS);
        vm.set_strict_builtin_errors(true);
        vm.set_execution_timer_config(Some(timer));
        vm.execute_entry_point_by_name(path)
            .map_err(|e| eval_error(&e))
    }

    /// Evaluates any Rego query (e.g. `data.x.y with time.now_ns as 0`) and returns the value
    /// of its last expression in each result, like `opa eval --format=values`. A query that is
    /// exactly a compiled entry point runs on the VM, as the gate runs it.
    pub fn eval_query(&self, query: &str, input: &PolicyInput) -> Result<Vec<Json>, EvalError> {
        if self.programs.contains_key(query.trim()) {
            return Ok(self.eval_rule(query.trim(), input)?.into_iter().collect());
        }
        let mut engine = self.engine.clone();
        engine.set_input(input.0.clone());
        let results = engine
            .eval_query(query.to_string(), false)
            .map_err(|e| EvalError::Eval {
                query: query.into(),
                message: format!("{e:#}"),
            })?;
        let mut values = Vec::new();
        for result in results.result {
            if let Some(expr) = result.expressions.last()
                && let Some(v) = to_json(query, expr.value.clone())?
            {
                values.push(v);
            }
        }
        Ok(values)
    }

    /// Evaluates an entry point that returns `{"allowed": bool, "reasons": [string]}`. Anything
    /// else (undefined, another shape) is an error, which callers treat as a denial.
    pub fn verdict(&self, path: &str, input: &PolicyInput) -> Result<Verdict, EvalError> {
        self.verdict_within(path, input, self.time_limit)
    }

    /// [`Self::verdict`] with at most `limit` of wall-clock time (see [`Self::eval_rule_within`]).
    pub fn verdict_within(
        &self,
        path: &str,
        input: &PolicyInput,
        limit: Duration,
    ) -> Result<Verdict, EvalError> {
        let value = self
            .eval_rule_within(path, input, limit)?
            .ok_or_else(|| EvalError::Undefined { query: path.into() })?;
        let shape = || EvalError::Shape {
            query: path.into(),
            found: value.to_string(),
        };
        let allowed = value
            .get("allowed")
            .and_then(Json::as_bool)
            .ok_or_else(shape)?;
        let reasons = value
            .get("reasons")
            .and_then(Json::as_array)
            .ok_or_else(shape)?
            .iter()
            .map(|r| r.as_str().map(str::to_string).ok_or_else(shape))
            .collect::<Result<Vec<_>, _>>()?;
        let overrides = match value.get("overrides") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .ok_or_else(shape)?
                .iter()
                .map(|r| r.as_str().map(str::to_string).ok_or_else(shape))
                .collect::<Result<Vec<_>, _>>()?,
        };
        // A policy that says "allowed" while listing reasons is contradictory: deny.
        if allowed && !reasons.is_empty() {
            return Err(shape());
        }
        if !allowed && reasons.is_empty() {
            return Ok(Verdict::deny(format!(
                "{path} denied without giving a reason; the policy bundle must say why it denies"
            )));
        }
        Ok(Verdict {
            allowed,
            reasons,
            overrides,
        })
    }

    /// Whether this is the bundle a release pins (`spec.policy`): the same digest when it names
    /// one, and the same `.manifest` revision when it names a version. `Err` says what differs,
    /// for the release's PolicyApproved condition.
    pub fn check_release_pin(
        &self,
        version: Option<&str>,
        digest: Option<&str>,
    ) -> Result<(), String> {
        if let Some(want) = digest
            && want != self.digest
        {
            return Err(format!(
                "the release pins policy bundle {want}, but the gate runs {}; pin the running bundle or wait for the platform to roll the pinned one out",
                self.digest
            ));
        }
        if let Some(want) = version
            && Some(want) != self.version.as_deref()
        {
            return Err(format!(
                "the release expects policy version {want}, but the gate runs {} ({}); update spec.policy.version",
                self.version.as_deref().unwrap_or("an unversioned bundle"),
                self.digest
            ));
        }
        Ok(())
    }

    /// The prepared regorus engine, for the test runner.
    pub(super) fn prepared(&self) -> &Engine {
        &self.engine
    }

    /// The Rego files loaded, as `origin/path`.
    pub fn rego_files(&self) -> &[String] {
        &self.rego_files
    }
}

/// A rule path and a data path may not overlap (OPA refuses such a bundle): data under a
/// package's path would shadow or be shadowed by its rules depending on the evaluator.
fn check_rule_data_conflicts(engine: &Engine, origin: &str) -> Result<(), LoadError> {
    let data = engine.get_data();
    let packages = engine.get_packages().map_err(|e| LoadError::Compile {
        origin: origin.into(),
        message: format!("{e:#}"),
    })?;
    for package in packages {
        let path = package.strip_prefix("data.").unwrap_or(&package);
        let mut node = &data;
        let mut found = true;
        for part in path.split('.') {
            match node {
                regorus::Value::Object(map) => match map.get(&regorus::Value::from(part)) {
                    Some(child) => node = child,
                    None => {
                        found = false;
                        break;
                    }
                },
                _ => {
                    found = false;
                    break;
                }
            }
        }
        if found {
            return Err(LoadError::RuleDataConflict {
                origin: origin.into(),
                path: path.into(),
                package: package.clone(),
            });
        }
    }
    Ok(())
}

/// True for `sha256:` followed by 64 lowercase hex digits.
pub fn valid_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn to_json(query: &str, value: regorus::Value) -> Result<Option<Json>, EvalError> {
    if value == regorus::Value::Undefined {
        return Ok(None);
    }
    serde_json::to_value(&value)
        .map(Some)
        .map_err(|e| EvalError::Eval {
            query: query.into(),
            message: format!("result is not representable as JSON: {e}"),
        })
}

/// Reads a JSON or YAML data file into the document at its directory's path, as `opa test DIR`
/// does (`a/b/data.json` becomes `data.a.b`). Other files (Rego aside) carry no data.
fn data_file(file: &str, path: &str, content: &[u8]) -> Result<Option<Json>, LoadError> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let value: Json = if name.ends_with(".json") {
        serde_json::from_slice(content).map_err(|e| LoadError::Data {
            file: file.into(),
            format: "JSON",
            message: e.to_string(),
        })?
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        serde_yaml::from_slice(content).map_err(|e| LoadError::Data {
            file: file.into(),
            format: "YAML",
            message: e.to_string(),
        })?
    } else {
        return Ok(None);
    };
    let mut doc = value;
    let dirs: Vec<&str> = path.split('/').collect();
    for dir in dirs[..dirs.len() - 1].iter().rev() {
        doc = Json::Object(serde_json::Map::from_iter([(dir.to_string(), doc)]));
    }
    if !doc.is_object() {
        return Err(LoadError::Data {
            file: file.into(),
            format: "bundle data",
            message: "a data file at the bundle root must hold a JSON object".into(),
        });
    }
    Ok(Some(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The webhook shares one policy across its worker threads and moves inputs between them.
    #[test]
    fn policy_and_input_are_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<PolicyEngine>();
        shareable::<PolicyInput>();
    }

    #[test]
    fn digests_are_checked_for_shape() {
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!valid_digest(&format!("sha512:{}", "a".repeat(64))));
        assert!(!valid_digest("sha256:abc"));
    }
}
