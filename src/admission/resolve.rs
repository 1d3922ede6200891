//! Lenient tag resolution: in namespaces (label) or clusters (flag) that opt in, an image given
//! by tag only is resolved to its digest by one short registry lookup, cached for a while, and
//! then judged exactly as if it had been pinned to that digest. Strict (the default) leaves it
//! to the policy, which denies it ("pin the image by digest"). A lookup that fails or overruns
//! is a denial naming the image and why (fail closed). A digest-pinned image never reaches this
//! module, so it never causes an outbound call.
//!
//! Why strict is the default: a validating webhook cannot rewrite the image, so the kubelet
//! still pulls the tag, which may have moved since the lookup (or since the cached one, up to
//! the TTL). Lenient mode judges the digest the tag named at admission time; it suits
//! namespaces on the way to pinning, not ones that need the guarantee.

use crate::evidence::{ImageRef, RegistryClient};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The namespace label that sets tag resolution there (`strict` or `lenient`).
pub const RESOLUTION_LABEL: &str = "releasegate.dev/tag-resolution";

/// Cached resolutions at most; past that, expired ones are dropped, then all. A cluster runs
/// far fewer distinct tag-only images than this; it only bounds memory against a flood.
const MAX_CACHED: usize = 10_000;

/// What happens to an image given by tag only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TagResolution {
    /// Deny it: pin the image by digest.
    Strict,
    /// Resolve the tag to its digest (short, cached registry lookup) and judge the digest.
    Lenient,
}

impl TagResolution {
    pub fn as_str(self) -> &'static str {
        match self {
            TagResolution::Strict => "strict",
            TagResolution::Lenient => "lenient",
        }
    }

    /// The resolution for a namespace with `labels`: its label when valid, else `default`. A
    /// typo is ignored (the default applies), so it cannot loosen anything.
    pub fn for_namespace(default: Self, labels: &BTreeMap<String, String>) -> Self {
        match labels
            .get(RESOLUTION_LABEL)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            Some("strict") => TagResolution::Strict,
            Some("lenient") => TagResolution::Lenient,
            _ => default,
        }
    }
}

/// Labels of `releasegate_admission_tag_lookups_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LookupLabels {
    /// cached (no call), resolved (a registry call that answered), failed (a call that did not).
    pub result: String,
}

/// Resolves tags to digests through the evidence layer's registry client, with a TTL cache.
pub struct TagResolver {
    registry: RegistryClient,
    ttl: Duration,
    /// Each lookup's budget, inside the admission deadline.
    timeout: Duration,
    cache: Mutex<HashMap<String, (String, Instant)>>,
    lookups: Family<LookupLabels, Counter>,
}

impl TagResolver {
    pub fn new(
        registry: RegistryClient,
        ttl: Duration,
        timeout: Duration,
        lookups: Family<LookupLabels, Counter>,
    ) -> Self {
        Self {
            registry,
            ttl,
            timeout,
            cache: Mutex::default(),
            lookups,
        }
    }

    fn count(&self, result: &str) {
        self.lookups
            .get_or_create(&LookupLabels {
                result: result.into(),
            })
            .inc();
    }

    /// The digest (`sha256:…`) the tag-only `image` points at now, or why not (a sentence for
    /// the denial).
    pub async fn resolve(&self, image: &str) -> Result<String, String> {
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && let Some((digest, at)) = cache.get(image)
            && now.duration_since(*at) < self.ttl
        {
            self.count("cached");
            return Ok(digest.clone());
        }
        let reference = ImageRef::parse(image).map_err(|e| {
            self.count("failed");
            format!("image {image:?} is not a valid reference: {e}")
        })?;
        let digest = match tokio::time::timeout(self.timeout, self.registry.resolve(&reference))
            .await
        {
            Ok(Ok(d)) => d.as_str().to_string(),
            Ok(Err(e)) => {
                self.count("failed");
                return Err(format!(
                    "image {image:?} could not be resolved to a digest (lenient tag resolution): {e}"
                ));
            }
            Err(_) => {
                self.count("failed");
                return Err(format!(
                    "image {image:?} could not be resolved to a digest (lenient tag resolution): the registry did not answer within {} ms",
                    self.timeout.as_millis()
                ));
            }
        };
        self.count("resolved");
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(image.to_string(), (digest.clone(), now));
        }
        Ok(digest)
    }

    /// Resolves every tag-only image of `images`: the pinned reference for each
    /// (`<image>@sha256:…`), or the reasons the lookups failed.
    pub async fn pin_all<'a>(
        &self,
        images: impl IntoIterator<Item = &'a str>,
    ) -> Result<BTreeMap<String, String>, Vec<String>> {
        let tag_only: Vec<&str> = images
            .into_iter()
            .filter(|i| super::images::digest_of(i).is_none())
            .collect();
        let results = futures::future::join_all(tag_only.iter().map(|i| self.resolve(i))).await;
        let mut pins = BTreeMap::new();
        let mut failures = Vec::new();
        for (image, result) in tag_only.into_iter().zip(results) {
            match result {
                Ok(digest) => {
                    pins.insert(image.to_string(), format!("{image}@{digest}"));
                }
                Err(why) => failures.push(format!(
                    "{why}; admission fails closed: pin the image by digest ({image}@sha256:<digest>) or retry"
                )),
            }
        }
        if failures.is_empty() {
            Ok(pins)
        } else {
            Err(failures)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::RegistryConfig;

    #[test]
    fn the_label_chooses_and_a_typo_keeps_the_default() {
        let l = |v: &str| BTreeMap::from([(RESOLUTION_LABEL.to_string(), v.to_string())]);
        let s = TagResolution::Strict;
        assert_eq!(
            TagResolution::for_namespace(s, &BTreeMap::new()),
            TagResolution::Strict
        );
        assert_eq!(
            TagResolution::for_namespace(s, &l("Lenient")),
            TagResolution::Lenient
        );
        assert_eq!(
            TagResolution::for_namespace(TagResolution::Lenient, &l("strict")),
            TagResolution::Strict
        );
        assert_eq!(
            TagResolution::for_namespace(s, &l("lenientt")),
            TagResolution::Strict
        );
    }

    fn resolver(timeout: Duration) -> (TagResolver, Family<LookupLabels, Counter>) {
        let lookups = Family::default();
        let registry = RegistryClient::new(RegistryConfig {
            insecure: vec!["127.0.0.1:9".into()],
            ..Default::default()
        })
        .unwrap();
        (
            TagResolver::new(registry, Duration::from_secs(60), timeout, lookups.clone()),
            lookups,
        )
    }

    fn count(f: &Family<LookupLabels, Counter>, r: &str) -> u64 {
        f.get_or_create(&LookupLabels { result: r.into() }).get()
    }

    #[tokio::test]
    async fn digest_pinned_images_make_no_lookup_and_failures_deny_naming_the_image() {
        let (r, lookups) = resolver(Duration::from_millis(500));
        let pinned = format!("127.0.0.1:9/app@sha256:{}", "a".repeat(64));
        assert_eq!(r.pin_all([pinned.as_str()]).await, Ok(BTreeMap::new()));
        assert_eq!(
            count(&lookups, "cached") + count(&lookups, "resolved") + count(&lookups, "failed"),
            0
        );
        // Nothing listens on port 9 (discard): the lookup fails, closed.
        let err = r.pin_all(["127.0.0.1:9/app:1"]).await.unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].contains("\"127.0.0.1:9/app:1\" could not be resolved"),
            "{err:?}"
        );
        assert!(err[0].contains("pin the image by digest"), "{err:?}");
        assert_eq!(count(&lookups, "failed"), 1);
        let err = r.pin_all(["Not A Reference"]).await.unwrap_err();
        assert!(err[0].contains("not a valid reference"), "{err:?}");
    }

    #[tokio::test]
    async fn a_registry_that_does_not_answer_is_a_denial_within_the_budget() {
        // A real socket that accepts and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                open.push(s);
            }
        });
        let lookups = Family::default();
        let registry = RegistryClient::new(RegistryConfig {
            insecure: vec![host.clone()],
            ..Default::default()
        })
        .unwrap();
        let r = TagResolver::new(
            registry,
            Duration::from_secs(60),
            Duration::from_millis(300),
            lookups.clone(),
        );
        let started = Instant::now();
        let image = format!("{host}/app:1");
        let err = r.pin_all([image.as_str()]).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(err[0].contains("did not answer within 300 ms"), "{err:?}");
        assert_eq!(count(&lookups, "failed"), 1);
        // Failures are not cached: the next request asks again.
        assert!(r.pin_all([image.as_str()]).await.is_err());
        assert_eq!(count(&lookups, "failed"), 2);
        hold.abort();
    }
}
