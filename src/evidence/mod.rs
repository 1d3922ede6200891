//! Evidence: fetches an image's signatures and in-toto attestations from its OCI registry and
//! verifies them against platform-owned trust authorities.
//!
//! The layers, from the outside in: [`reference`] names the image, [`registry`] and [`fetch`]
//! read what the registry holds for its digest ([`artifacts`]), [`verify`] (pure) decides with the
//! help of [`trust`], [`dsse`], [`predicates`] and [`vulns`], and returns a [`verdict`] whose
//! vulnerability facts ([`vuln_facts`]) merge every report worst case. [`Verifier`] ties them together for the controller
//! and the CLI; it is cheap to share and holds one HTTP connection pool. [`keyless`] verifies
//! Fulcio/Rekor (keyless) signatures offline against a [`trust_root`] file.

pub mod artifacts;
pub mod bundle;
mod crypto;
pub mod dsse;
pub mod fetch;
pub mod keyless;
mod keyless_bundle;
pub mod predicates;
pub mod reference;
pub mod registry;
mod rekor;
pub mod trust;
pub mod trust_root;
pub mod verdict;
pub mod verify;
pub mod vuln_facts;
pub mod vulns;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use keyless::{Artifact, KeylessError, KeylessIdentity, Matcher, VerifiedKeyless};
pub use reference::{Digest, ImageRef, ReferenceError};
pub use registry::{RegistryClient, RegistryConfig, RegistryError};
pub use trust::{TrustError, TrustPolicy, TrustedKey};
pub use trust_root::{TrustRootError, TrustedRoot};
pub use verify::{Artifacts, Evidence, Problem, Requirements, Verdict};
pub use vuln_facts::VulnFacts;

/// Why an image could not be verified at all (as opposed to a verdict that rejects it).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Limit(#[from] fetch::LimitError),
    #[error("verification task failed: {0}")]
    Task(String),
    #[error(
        "verification did not finish within its deadline of {secs}s (the registry is slow or stalled); try again, or raise the deadline"
    )]
    Deadline { secs: u64 },
}

impl From<fetch::FetchError> for Error {
    fn from(e: fetch::FetchError) -> Self {
        match e {
            fetch::FetchError::Registry(e) => Self::Registry(e),
            fetch::FetchError::Limit(e) => Self::Limit(e),
        }
    }
}

impl Error {
    /// Stable machine label (for metrics).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Reference(_) => "reference",
            Self::Registry(_) => "registry",
            Self::Trust(_) => "trust",
            Self::Limit(_) => "limit",
            Self::Task(_) => "task",
            Self::Deadline { .. } => "deadline",
        }
    }
}

/// The outcome for one image reference.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The normalised reference.
    pub image: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Verifications in flight per verifier unless configured. Each may hold up to the fetch byte
/// limit, so this bounds memory (8 x 64 MiB by default) and the load put on registries; a small
/// image verifies in milliseconds, so 8 at a time still verify well over 100 images/s.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// How long one verification may take once it runs, unless configured: four registry round
/// trips at the default 30 s call timeout.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

/// Fetches and verifies images; clone it freely (clones share the pool, the permits and the
/// deadline).
#[derive(Clone)]
pub struct Verifier {
    client: RegistryClient,
    trust: Arc<TrustPolicy>,
    limits: fetch::FetchLimits,
    permits: Arc<tokio::sync::Semaphore>,
    deadline: Duration,
}

impl Verifier {
    pub fn new(registry: RegistryConfig, trust: TrustPolicy) -> Result<Self, Error> {
        trust.check_not_empty()?;
        Ok(Self {
            client: RegistryClient::new(registry)?,
            trust: Arc::new(trust),
            limits: fetch::FetchLimits::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(DEFAULT_CONCURRENCY)),
            deadline: DEFAULT_DEADLINE,
        })
    }

    /// The same verifier running at most `concurrency` verifications at once (at least one),
    /// each within `deadline` once it runs.
    pub fn with_bounds(mut self, concurrency: usize, deadline: Duration) -> Self {
        self.permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        self.deadline = deadline;
        self
    }

    /// The same verifier reading at most `limits` of evidence per image.
    pub fn with_limits(mut self, limits: fetch::FetchLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The registry client (for resolving digests before deciding whether to verify).
    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// Resolves `image` to a digest, fetches its evidence and verifies it.
    pub async fn verify(&self, image: &str, req: &Requirements) -> Result<Report, Error> {
        let image = ImageRef::parse(image)?;
        self.bounded(async {
            let digest = self.client.resolve(&image).await?;
            self.fetch_and_verify(&image, &digest, req).await
        })
        .await
    }

    /// Verifies a known digest of `image`'s repository.
    pub async fn verify_digest(
        &self,
        image: &ImageRef,
        digest: &Digest,
        req: &Requirements,
    ) -> Result<Report, Error> {
        self.bounded(self.fetch_and_verify(image, digest, req))
            .await
    }

    /// Runs `work` under a permit and within the deadline. A signature check already running
    /// when the deadline passes finishes on its blocking thread, its result unused.
    async fn bounded<T>(&self, work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        tokio::time::timeout(self.deadline, work)
            .await
            .map_err(|_| Error::Deadline {
                secs: self.deadline.as_secs(),
            })?
    }

    async fn fetch_and_verify(
        &self,
        image: &ImageRef,
        digest: &Digest,
        req: &Requirements,
    ) -> Result<Report, Error> {
        let artifacts = fetch::fetch_artifacts(&self.client, image, digest, &self.limits).await?;
        // Signature checks are CPU work: keep them off the async reactor.
        let trust = self.trust.clone();
        let (d, r) = (digest.clone(), req.clone());
        let verdict =
            tokio::task::spawn_blocking(move || verify::verify(&d, &artifacts, &trust, &r))
                .await
                .map_err(|e| Error::Task(e.to_string()))?;
        Ok(Report {
            image: image.with_digest(digest.clone()).to_string(),
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A registry that accepts connections and never answers: the deadline ends the wait (the
    /// per-call timeout is 30 s), and with one permit two verifications run one after the other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_registry_meets_the_deadline_and_the_permits_queue_work() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let _stall = std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().take(8).collect();
            std::thread::sleep(Duration::from_secs(30));
            drop(held);
        });
        let pem = sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .unwrap()
            .to_sigstore_keypair()
            .unwrap()
            .public_key_to_pem()
            .unwrap();
        let trust = TrustPolicy {
            keys: vec![TrustedKey::from_pem("k", pem.as_bytes()).unwrap()],
            ..Default::default()
        };
        let verifier = |concurrency| {
            Verifier::new(
                RegistryConfig {
                    insecure: vec![host.clone()],
                    ..Default::default()
                },
                trust.clone(),
            )
            .unwrap()
            .with_bounds(concurrency, Duration::from_millis(500))
        };
        let image = format!("{host}/team/app@{}", Digest::of(b"x"));
        let req = Requirements::default();
        for (concurrency, at_least, at_most) in [(1, 1000, 2500), (2, 500, 900)] {
            let v = verifier(concurrency);
            let started = Instant::now();
            let (a, b) = tokio::join!(v.verify(&image, &req), v.verify(&image, &req));
            let took = started.elapsed().as_millis();
            for r in [a, b] {
                assert!(
                    matches!(r, Err(Error::Deadline { .. })),
                    "{:?}",
                    r.map(|_| ())
                );
            }
            assert!(
                (at_least..at_most).contains(&took),
                "{concurrency} permit(s): two stalled verifications took {took} ms"
            );
        }
    }
}
