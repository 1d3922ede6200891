//! Admission: the validating webhook's core and its shells. Deployers meet release-gate here:
//! a workload is admitted only when every image it runs is a Ready `HardenedRelease` visible to
//! its namespace and the pinned policy approves the request.
//!
//! - [`review`]: AdmissionReview parsing and answering (pure; malformed input is `invalid`);
//! - [`images`]: the images a workload runs, and whether an update changes them (pure);
//! - [`index`]: the in-memory view of Ready releases, Decisions and Namespaces (reflectors);
//! - [`decide`]: request + index snapshot → policy input → answer, with the enforcement mode;
//! - [`metrics`]: requests by outcome and mode, decision latency;
//! - [`resolve`]: lenient tag resolution (a short, cached registry lookup, fail closed);
//! - [`report`]: PolicyReports and Events for what warn and audit mode let through;
//! - [`server`]: the HTTPS `/validate` endpoint, bounded and failing closed;
//! - [`certs`]: self-managed serving certificates (CA in a Secret, caBundle, renewal).
//!
//! No registry call sits on this path for a digest-pinned image: the controller verified each
//! release ahead of time and admission reads its verdict. Only a tag-only image in lenient mode
//! costs one short, cached lookup.

pub mod certs;
pub mod decide;
pub mod images;
pub mod index;
pub mod metrics;
pub mod report;
pub mod resolve;
pub mod review;
pub mod server;

pub use decide::{Admission, AdmissionConfig, Mode};
pub use index::ReleaseIndex;
