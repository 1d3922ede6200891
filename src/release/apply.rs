//! The writes of the release reconciler: the Disclosure Pack ConfigMap (owned by the release, so
//! it goes with it), the status (server-side apply under the gate's field manager) and an Event
//! when the verdict changes.

use crate::api::{HardenedRelease, HardenedReleaseStatus};
use crate::reconcile::{FIELD_MANAGER, apply_status};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};

use super::pack::{self, Pack};
use super::revoked;
use super::status::{self, READY};
use super::{Ctx, Error};

/// The data keys of the Disclosure Pack ConfigMap.
pub const PACK_MARKDOWN_KEY: &str = "disclosure-pack.md";
pub const PACK_JSON_KEY: &str = "disclosure-pack.json";

/// The name of a release's Disclosure Pack ConfigMap.
pub fn pack_name(release: &str) -> String {
    const SUFFIX: &str = "-disclosure-pack";
    let keep = 253 - SUFFIX.len();
    let base: String = release.chars().take(keep).collect();
    format!("{base}{SUFFIX}")
}

/// Writes the pack (when there is one), then `next` as the status, then an Event if the verdict
/// changed from `prev`.
pub(super) async fn write(
    ctx: &Ctx,
    hr: &HardenedRelease,
    prev: &HardenedReleaseStatus,
    mut next: HardenedReleaseStatus,
    pack: Option<Pack>,
) -> Result<(), Error> {
    let client = &ctx.base.client;
    let namespace = hr
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(hr.name_any()))?;
    if let Some(pack) = pack {
        let (markdown, json) = pack::render(&pack, &ctx.settings.template)?;
        let name = pack_name(&hr.name_any());
        let cm = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                owner_references: hr.controller_owner_ref(&()).map(|o| vec![o]),
                labels: Some(
                    [("releasegate.dev/release".to_owned(), hr.name_any())]
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            },
            data: Some(
                [
                    (PACK_MARKDOWN_KEY.to_owned(), markdown),
                    (PACK_JSON_KEY.to_owned(), json),
                ]
                .into_iter()
                .collect(),
            ),
            ..Default::default()
        };
        let api = Api::<ConfigMap>::namespaced(client.clone(), &namespace);
        let failed = |source| Error::WritePack {
            namespace: namespace.clone(),
            name: name.clone(),
            source,
        };
        // A release's first pack is created, later ones applied: a server-side apply costs the
        // apiserver about 2.5 times a create (it parses the body as YAML and merges it field by
        // field), and a burst of new releases writes as many packs as releases.
        let created =
            prev.disclosure_pack_ref.is_none() && create_new(&api, &cm).await.map_err(failed)?;
        if !created {
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&cm),
            )
            .await
            .map_err(failed)?;
        }
        next.disclosure_pack_ref = Some(format!("configmap/{name}"));
    }
    let event = verdict_event(prev, &next);
    let revoked = status::is_ready(prev) && !status::is_ready(&next);
    let ready = status::is_ready(&next);
    apply_status(client, hr, next).await?;
    if let Some(event) = event {
        // An Event is a courtesy (the status already holds the verdict): published without
        // holding up the next release.
        let (recorder, reference) = (ctx.base.recorder.clone(), hr.object_ref(&()));
        let (name, ns) = (hr.name_any(), namespace.clone());
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &reference).await {
                tracing::warn!(%name, namespace = %ns, error = %e, "cannot publish the verdict Event");
            }
        });
    }
    if ready {
        ctx.base
            .metrics
            .release_revoked_workloads(&namespace, &hr.name_any(), None);
    } else if revoked && let Some(digest) = prev.verified_digest.as_deref() {
        report_revoked(ctx, hr, &namespace, digest).await;
    }
    Ok(())
}

/// Creates `cm` under the gate's field manager: `false` when its name is taken (a pack left by
/// an attempt whose status write failed, or any object in the way), for the caller to apply over.
async fn create_new(api: &Api<ConfigMap>, cm: &ConfigMap) -> Result<bool, kube::Error> {
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    match api.create(&params, cm).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Names the Pods still running `digest` of a release that just turned Blocked: an Event on
/// the release and the revoked-workloads gauge. Best effort: the verdict is already written.
async fn report_revoked(ctx: &Ctx, hr: &HardenedRelease, namespace: &str, digest: &str) {
    let running = match revoked::still_running(
        &ctx.base.client,
        ctx.watch_namespace.as_deref(),
        digest,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(name = %hr.name_any(), error = %e, "cannot list the Pods still running a revoked release");
            return;
        }
    };
    ctx.base
        .metrics
        .release_revoked_workloads(namespace, &hr.name_any(), Some(running.len()));
    if running.is_empty() {
        return;
    }
    let mut note = revoked::note(digest, &running);
    if note.len() > 1000 {
        let mut cut = 997;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    let event = Event {
        type_: EventType::Warning,
        reason: "RevokedReleaseStillRunning".into(),
        note: Some(note),
        action: "Revoke".into(),
        secondary: None,
    };
    if let Err(e) = ctx.base.recorder.publish(&event, &hr.object_ref(&())).await {
        tracing::warn!(name = %hr.name_any(), error = %e, "cannot publish the revoked-workloads Event");
    }
}

/// The Event for a change of verdict (phase or Ready), if there is one.
pub fn verdict_event(prev: &HardenedReleaseStatus, next: &HardenedReleaseStatus) -> Option<Event> {
    let ready = |s: &HardenedReleaseStatus| status::find(s, READY).map(|c| c.status.clone());
    if prev.phase == next.phase && ready(prev) == ready(next) {
        return None;
    }
    let phase = next.phase.map(|p| format!("{p:?}")).unwrap_or_default();
    let ok = status::is_ready(next);
    let mut note = if ok {
        let mut n = format!(
            "{} verified and approved by policy {}",
            next.verified_digest.as_deref().unwrap_or("the digest"),
            next.policy_version.as_deref().unwrap_or("(unversioned)")
        );
        if !next.overrides.is_empty() {
            n.push_str(&format!(
                "; runs under override {}",
                next.overrides.join(", ")
            ));
        }
        n
    } else {
        next.reasons.join("; ")
    };
    // The Events API caps a note at 1 kB.
    if note.len() > 1000 {
        let mut cut = 997;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str("...");
    }
    Some(Event {
        type_: if ok {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: phase,
        note: Some(note),
        action: "Verify".into(),
        secondary: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ReleasePhase, condition};

    fn st(phase: ReleasePhase, ready: bool) -> HardenedReleaseStatus {
        HardenedReleaseStatus {
            phase: Some(phase),
            conditions: vec![condition(READY, ready, "r", "m", None)],
            reasons: if ready {
                vec![]
            } else {
                vec!["blocked because".into()]
            },
            ..Default::default()
        }
    }

    #[test]
    fn an_event_only_when_the_verdict_changes() {
        let verified = st(ReleasePhase::Verified, true);
        let blocked = st(ReleasePhase::Blocked, false);
        assert!(verdict_event(&verified, &verified.clone()).is_none());
        let e = verdict_event(&verified, &blocked).expect("changed");
        assert_eq!(e.type_, EventType::Warning);
        assert_eq!(e.reason, "Blocked");
        assert_eq!(e.note.as_deref(), Some("blocked because"));
        let e = verdict_event(&HardenedReleaseStatus::default(), &verified).expect("first");
        assert_eq!(e.type_, EventType::Normal);
    }

    #[test]
    fn pack_names_fit_a_configmap_name() {
        assert_eq!(pack_name("app"), "app-disclosure-pack");
        assert!(pack_name(&"x".repeat(253)).len() <= 253);
    }
}
