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

use std::sync::Arc;

pub use keyless::{Artifact, KeylessError, KeylessIdentity, Matcher, VerifiedKeyless};
pub use reference::{Digest, ImageRef, ReferenceError};
pub use registry::{RegistryClient, RegistryConfig, RegistryError};
pub use trust::{TrustError, TrustPolicy, TrustedKey};
pub use trust_root::{TrustRootError, TrustedRoot};
pub use verify::{Artifacts, Evidence, Problem, Requirements, Verdict};
pub use vuln_facts::{Budget, VulnFacts};

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

/// Fetches and verifies images; clone it freely.
#[derive(Clone)]
pub struct Verifier {
    client: RegistryClient,
    trust: Arc<TrustPolicy>,
    limits: fetch::FetchLimits,
}

impl Verifier {
    pub fn new(registry: RegistryConfig, trust: TrustPolicy) -> Result<Self, Error> {
        trust.check_not_empty()?;
        Ok(Self {
            client: RegistryClient::new(registry)?,
            trust: Arc::new(trust),
            limits: fetch::FetchLimits::default(),
        })
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
        let digest = self.client.resolve(&image).await?;
        self.verify_digest(&image, &digest, req).await
    }

    /// Verifies a known digest of `image`'s repository.
    pub async fn verify_digest(
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
