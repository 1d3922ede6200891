//! The compiled policy: a bundle parsed and analysed by regorus exactly once, then evaluated
//! many times. Each evaluation clones the prepared engine (the clone shares the compiled
//! modules, schedule and data through `Arc`s, see regorus' `prepared_clones_share_policy`), so
//! concurrent admissions never re-parse Rego and never contend on a lock.

use super::bundle::{Bundle, BundleError};
use regorus::Engine;
use serde_json::Value as Json;
use thiserror::Error;

/// The admission entry point the webhook evaluates.
pub const ADMISSION_QUERY: &str = "data.releasegate.admission.decision";

/// The release entry point the controller evaluates for the PolicyApproved condition.
pub const RELEASE_QUERY: &str = "data.releasegate.release.decision";

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

/// A policy input converted once into the evaluator's value type; cloning it is cheap.
#[derive(Debug, Clone)]
pub struct PolicyInput(regorus::Value);

impl PolicyInput {
    /// Converts a JSON document (an admission input, a release check, ...).
    pub fn from_json(input: Json) -> Self {
        Self(regorus::Value::from(input))
    }
}

/// The verdict of an entry point such as [`ADMISSION_QUERY`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub allowed: bool,
    pub reasons: Vec<String>,
}

/// A loaded, compiled policy bundle, identified by its digest and version.
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    engine: Engine,
    origin: String,
    digest: String,
    version: Option<String>,
    rego_files: Vec<String>,
}

impl PolicyEngine {
    /// Parses and compiles `bundle`. With `pin`, a bundle whose digest differs is refused
    /// before any of its Rego is parsed.
    pub fn load(bundle: &Bundle, pin: Option<&str>) -> Result<Self, LoadError> {
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
        Ok(Self {
            engine,
            origin,
            digest,
            version,
            rego_files,
        })
    }

    /// `sha256:<hex>` of the bundle this policy was compiled from.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The bundle manifest's revision.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// Where the bundle came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Evaluates the rule at `path` (e.g. `data.releasegate.admission.decision`). `Ok(None)`
    /// means undefined.
    pub fn eval_rule(&self, path: &str, input: &PolicyInput) -> Result<Option<Json>, EvalError> {
        let mut engine = self.engine.clone();
        engine.set_input(input.0.clone());
        let value = engine
            .eval_rule(path.to_string())
            .map_err(|e| EvalError::Eval {
                query: path.into(),
                message: format!("{e:#}"),
            })?;
        to_json(path, value)
    }

    /// Evaluates any Rego query (e.g. `data.x.y with time.now_ns as 0`) and returns the value
    /// of its last expression in each result, like `opa eval --format=values`.
    pub fn eval_query(&self, query: &str, input: &PolicyInput) -> Result<Vec<Json>, EvalError> {
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
        let value = self
            .eval_rule(path, input)?
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
        // A policy that says "allowed" while listing reasons is contradictory: deny.
        if allowed && !reasons.is_empty() {
            return Err(shape());
        }
        Ok(Verdict { allowed, reasons })
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
