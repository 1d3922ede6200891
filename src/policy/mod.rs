//! Policy: the Rego bundle under `policies/`, loaded from a directory or a ConfigMap, pinned by
//! digest, compiled once by regorus and evaluated in-process, with an `opa test`-compatible test
//! runner. The rules live in Rego so that platform teams can read, test and change them with
//! OPA's tooling; this module only makes loading them safe (pinned, fail-closed) and fast.
//!
//! - [`bundle`]: files, digest and version, before any parsing;
//! - [`engine`]: the compiled policy and its evaluation;
//! - [`testing`]: the `test_*` runner;
//! - [`input`]: the typed inputs the gate sends (the input contract, in Rust);
//! - [`metrics`]: evaluation and failure counters;
//! - [`reload`]: the live policy, hot-reloaded, bounded and failing closed.

pub mod bundle;
pub mod engine;
pub mod input;
pub mod metrics;
pub mod reload;
pub mod testing;

pub use bundle::{Bundle, BundleError};
pub use engine::{
    ADMISSION_QUERY, ENTRY_POINTS, EvalError, Evaluator, Files, LoadError, MINIMIZATION_QUERY,
    PolicyEngine, PolicyInput, RELEASE_QUERY, Verdict,
};
pub use metrics::PolicyMetrics;
pub use reload::{Limits, Pin, PolicyHolder, PolicyStatus, Reload};
pub use testing::{TestReport, TestResult, run_tests};
