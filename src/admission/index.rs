//! The in-memory view admission decides from: every HardenedRelease (by verified digest, as the
//! release records the policy reads), the Decisions and the Namespaces, each kept current by a
//! watch (kube-runtime reflectors). A request reads a snapshot; nothing here calls the
//! registry, and nothing waits on the API server once the stores are synced.

use crate::api::{Decision, HardenedRelease, ReleasePhase};
use crate::policy::input::{NamespaceInput, NamespaceMeta, ReleaseRecord};
use arc_swap::ArcSwap;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The release records, Decisions and Namespaces, as reflector stores, and the release records
/// keyed by verified digest (what a request looks up).
#[derive(Clone)]
pub struct ReleaseIndex {
    releases: reflector::Store<HardenedRelease>,
    decisions: reflector::Store<Decision>,
    namespaces: reflector::Store<Namespace>,
    synced: Arc<AtomicBool>,
    by_digest: Arc<ByDigest>,
}

/// The records by digest, rebuilt from the release store after it changes: the watch bumps
/// `changes` on every event; the first lookup that sees a newer count rebuilds the map once
/// (O(releases) per change, O(images) per request).
#[derive(Default)]
struct ByDigest {
    changes: AtomicU64,
    built: ArcSwap<(u64, HashMap<String, Vec<ReleaseRecord>>)>,
}

impl ReleaseIndex {
    /// Starts the three watches on `client` and returns the index; [`Self::synced`] turns true
    /// once each store has listed its objects. The watches run until the process stops.
    pub fn start(client: Client) -> Self {
        let (releases, rw) = reflector::store();
        let (decisions, dw) = reflector::store();
        let (namespaces, nw) = reflector::store();
        let by_digest = Arc::new(ByDigest::default());
        let changed = by_digest.clone();
        spawn_watch(Api::<HardenedRelease>::all(client.clone()), rw, move || {
            changed.changes.fetch_add(1, Ordering::AcqRel);
        });
        spawn_watch(Api::<Decision>::all(client.clone()), dw, || {});
        spawn_watch(Api::<Namespace>::all(client), nw, || {});
        let index = Self {
            releases,
            decisions,
            namespaces,
            synced: Arc::new(AtomicBool::new(false)),
            by_digest,
        };
        let waiting = index.clone();
        tokio::spawn(async move {
            let ready = futures::future::join3(
                waiting.releases.wait_until_ready(),
                waiting.decisions.wait_until_ready(),
                waiting.namespaces.wait_until_ready(),
            )
            .await;
            if ready.0.is_ok() && ready.1.is_ok() && ready.2.is_ok() {
                waiting.synced.store(true, Ordering::Release);
                tracing::info!("admission index synced (releases, decisions, namespaces)");
            }
        });
        index
    }

    /// A synced index holding exactly these objects, with no watch: for benchmarks and tests
    /// of the decision path.
    pub fn from_objects(
        releases: Vec<HardenedRelease>,
        decisions: Vec<Decision>,
        namespaces: Vec<Namespace>,
    ) -> Self {
        fn filled<K>(objects: Vec<K>) -> reflector::Store<K>
        where
            K: kube::Resource<DynamicType = ()> + Clone + 'static,
        {
            let (store, mut writer) = reflector::store();
            writer.apply_watcher_event(&watcher::Event::Init);
            for o in objects {
                writer.apply_watcher_event(&watcher::Event::InitApply(o));
            }
            writer.apply_watcher_event(&watcher::Event::InitDone);
            store
        }
        let by_digest = ByDigest::default();
        by_digest.changes.store(1, Ordering::Release);
        Self {
            releases: filled(releases),
            decisions: filled(decisions),
            namespaces: filled(namespaces),
            synced: Arc::new(AtomicBool::new(true)),
            by_digest: Arc::new(by_digest),
        }
    }

    /// True once every store holds a full list; before that admission denies.
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// The records of every release verified for one of `digests`, by digest.
    pub fn records(&self, digests: &BTreeSet<&str>) -> BTreeMap<String, Vec<ReleaseRecord>> {
        let changes = self.by_digest.changes.load(Ordering::Acquire);
        let mut built = self.by_digest.built.load_full();
        if built.0 != changes {
            let mut map: HashMap<String, Vec<ReleaseRecord>> = HashMap::new();
            for release in self.releases.state() {
                if let Some(record) = record(&release) {
                    map.entry(record.digest.clone()).or_default().push(record);
                }
            }
            for list in map.values_mut() {
                list.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            }
            built = Arc::new((changes, map));
            self.by_digest.built.store(built.clone());
        }
        digests
            .iter()
            .filter_map(|d| Some((d.to_string(), built.1.get(*d)?.clone())))
            .collect()
    }

    /// The Decisions of namespace `ns`.
    pub fn decisions(&self, ns: &str) -> Vec<Decision> {
        self.decisions
            .state()
            .iter()
            .filter(|d| d.namespace().as_deref() == Some(ns))
            .map(|d| (**d).clone())
            .collect()
    }

    /// Namespace `ns` as the policy reads it, if it exists.
    pub fn namespace(&self, ns: &str) -> Option<NamespaceInput> {
        let found = self.namespaces.get(&reflector::ObjectRef::new(ns))?;
        Some(NamespaceInput {
            metadata: NamespaceMeta {
                name: found.name_any(),
                labels: found.labels().clone(),
            },
        })
    }

    /// The labels of namespace `ns` (empty when unknown).
    pub fn namespace_labels(&self, ns: &str) -> BTreeMap<String, String> {
        self.namespace(ns)
            .map(|n| n.metadata.labels)
            .unwrap_or_default()
    }
}

fn spawn_watch<K>(
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    on_change: impl Fn() + Send + 'static,
) where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            match item {
                // Counted after the store applied the event, so a rebuild sees it.
                Ok(_) => on_change(),
                Err(e) => {
                    tracing::warn!(error = %e, "admission index watch error; retrying with backoff")
                }
            }
        }
    });
}

/// The admission record of a release: usable when the controller verified it for a digest and
/// found it Ready; otherwise the reasons it gave. A release without a verified digest has no
/// record (it cannot be matched to an image yet).
pub fn record(release: &HardenedRelease) -> Option<ReleaseRecord> {
    let status = release.status.as_ref()?;
    let digest = status.verified_digest.clone()?;
    let ready_condition = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let current = status.observed_generation.is_some()
        && status.observed_generation == release.metadata.generation;
    let ready = status.phase == Some(ReleasePhase::Verified) && ready_condition && current;
    let mut reasons = status.reasons.clone();
    if !ready && reasons.is_empty() {
        reasons.push(match status.phase {
            Some(phase) if !current => format!(
                "its status ({phase:?}) describes an older generation; wait for the controller to verify the change"
            ),
            Some(phase) => format!("it is {phase:?}"),
            None => "it has not been verified yet".into(),
        });
    }
    Some(ReleaseRecord {
        name: release.name_any(),
        namespace: release.namespace().unwrap_or_default(),
        digest,
        ready,
        reasons,
        overrides: status.overrides.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{HardenedReleaseSpec, HardenedReleaseStatus};

    const D: &str = "sha256:3b0c9a7f1d2e4c5b6a798877665544332211ffeeddccbbaa0099887766554433";

    fn release(phase: ReleasePhase, ready: bool, observed: i64) -> HardenedRelease {
        let spec: HardenedReleaseSpec =
            serde_json::from_value(serde_json::json!({"image": format!("r.example/app@{D}")}))
                .unwrap();
        let mut r = HardenedRelease::new("app", spec);
        r.metadata.namespace = Some("team".into());
        r.metadata.generation = Some(2);
        r.status = Some(HardenedReleaseStatus {
            phase: Some(phase),
            verified_digest: Some(D.into()),
            observed_generation: Some(observed),
            conditions: vec![crate::api::condition("Ready", ready, "R", "", None)],
            ..HardenedReleaseStatus::default()
        });
        r
    }

    #[test]
    fn records_are_found_by_digest_in_every_namespace_and_in_a_stable_order() {
        const OTHER: &str =
            "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let named = |name: &str, ns: &str, digest: &str| {
            let mut r = release(ReleasePhase::Verified, true, 2);
            r.metadata.name = Some(name.into());
            r.metadata.namespace = Some(ns.into());
            r.status.as_mut().unwrap().verified_digest = Some(digest.into());
            r
        };
        let mut unverified = named("new", "team", D);
        unverified.status.as_mut().unwrap().verified_digest = None;
        let index = ReleaseIndex::from_objects(
            vec![
                named("web", "team", D),
                named("base", "shared", D),
                named("other", "team", OTHER),
                unverified,
            ],
            vec![],
            vec![],
        );
        assert!(index.synced());
        let found = index.records(&BTreeSet::from([D]));
        let names: Vec<_> = found[D]
            .iter()
            .map(|r| format!("{}/{}", r.namespace, r.name))
            .collect();
        assert_eq!(names, ["shared/base", "team/web"]);
        assert_eq!(found.len(), 1, "only the digests asked for");
        let none = index.records(&BTreeSet::from(["sha256:0000"]));
        assert!(none.is_empty());
    }

    #[test]
    fn only_a_verified_ready_current_release_is_ready() {
        assert!(
            record(&release(ReleasePhase::Verified, true, 2))
                .unwrap()
                .ready
        );
        let blocked = record(&release(ReleasePhase::Blocked, false, 2)).unwrap();
        assert!(!blocked.ready);
        assert_eq!(blocked.reasons, ["it is Blocked"]);
        // Verified, but for an older generation of the spec: not ready until re-verified.
        let stale = record(&release(ReleasePhase::Verified, true, 1)).unwrap();
        assert!(!stale.ready && stale.reasons[0].contains("older generation"));
        // A Ready condition without the Verified phase is not enough, nor the reverse.
        assert!(
            !record(&release(ReleasePhase::Verified, false, 2))
                .unwrap()
                .ready
        );
        assert!(
            !record(&release(ReleasePhase::Pending, true, 2))
                .unwrap()
                .ready
        );
        let mut unverified = release(ReleasePhase::Pending, false, 2);
        unverified.status.as_mut().unwrap().verified_digest = None;
        assert!(record(&unverified).is_none());
    }
}
