//! The drill's CloudEvents outbox: every CloudEvent is first recorded in `status.outbox`, then
//! queued for the sink (`crate::events::Outbox`); once the sink accepted it (or the last retry
//! gave up) the next reconcile strikes it from status (a drill with entries in its outbox
//! looks again every few seconds). A controller restarted in between finds
//! the entry and sends it again under the same id, so delivery is at least once and a sink
//! drops duplicates by `Idempotency-Key`.

use super::context::DrillContext;
use crate::api::{CanaryDrill, CanaryDrillStatus, Notice, OutboxEntry};
use crate::events::Delivery;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::{Api, ResourceExt};

/// The CloudEvent type of a notice, when it has one.
pub fn cloudevent_type(notice: Notice) -> Option<&'static str> {
    match notice {
        Notice::DrillStarted => Some("dev.releasegate.drill.start"),
        Notice::BudgetBreached => Some("dev.releasegate.drill.breach"),
        Notice::RollbackStarted => Some("dev.releasegate.drill.rollback"),
        Notice::Restored => Some("dev.releasegate.drill.restore"),
        Notice::Promoted => Some("dev.releasegate.drill.promote"),
        Notice::RolledBack | Notice::RecoveryFailed | Notice::DrillFailed => None,
    }
}

/// The outbox entry of a notice, when the drill has a sink and the notice a CloudEvent type.
/// The id is `<drill uid>/<key>`: the same after a restart.
pub fn entry(
    drill: &CanaryDrill,
    status: &CanaryDrillStatus,
    notice: Notice,
    key: &str,
    message: &str,
) -> Option<OutboxEntry> {
    drill.spec.event_sink.as_ref()?;
    let ty = cloudevent_type(notice)?;
    let data = serde_json::json!({
        "drill": drill.name_any(),
        "namespace": drill.namespace(),
        "target": drill.spec.target.name,
        "run": status.run,
        "notice": notice,
        "message": message,
        "phase": status.phase,
        "owner": drill.spec.owner,
        "residualRisk": drill.spec.residual_risk,
        "stableImage": status.stable_revision.as_ref().map(|s| s.image.clone()),
        "canaryImage": drill.spec.canary.image,
        "window": status.windows.last(),
        "breachTime": status.breach_time,
        "rolledBackTime": status.rolled_back_time,
        "restoredTime": status.restored_time,
        "mttr": status.mttr,
        "decision": status.decision_ref,
    });
    Some(OutboxEntry {
        id: format!("{}/{key}", drill.uid().unwrap_or_default()),
        event_type: ty.into(),
        time: MicroTime(k8s_openapi::jiff::Timestamp::now()),
        data: data.to_string(),
    })
}

/// Queues `entry` for the drill's sink unless this process already did. An entry that cannot
/// be sent (no sink any more, an unreadable HMAC key) is given up on: it is counted as
/// dropped and struck from status like a delivered one.
pub async fn send(ctx: &DrillContext, drill: &CanaryDrill, entry: &OutboxEntry) {
    if !ctx.start_sending(&entry.id) {
        return;
    }
    let origin = format!(
        "{}/{}",
        drill.namespace().unwrap_or_default(),
        drill.name_any()
    );
    let give_up = |why: String| {
        tracing::error!(id = entry.id, "CloudEvent not sent: {why}");
        ctx.finished(&entry.id, &entry.event_type, false);
    };
    let Some(sink) = &drill.spec.event_sink else {
        return give_up("spec.eventSink was removed".into());
    };
    let ns = drill.namespace().unwrap_or_default();
    let hmac_key = match &sink.hmac_secret_ref {
        None => None,
        // Signing was asked for: an unsigned event would be accepted by nobody who checks.
        Some(r) => match read_secret_key(ctx, &ns, &r.name, &r.key).await {
            Ok(k) => Some(k),
            Err(e) => return give_up(e),
        },
    };
    let data: serde_json::Value = serde_json::from_str(&entry.data).unwrap_or_default();
    use cloudevents::{EventBuilder, EventBuilderV10};
    let event = EventBuilderV10::new()
        .id(entry.id.clone())
        .source(format!(
            "/apis/releasegate.dev/v1alpha1/namespaces/{ns}/canarydrills/{}",
            drill.name_any()
        ))
        .ty(entry.event_type.clone())
        .subject(format!("deployments/{}", drill.spec.target.name))
        .time(entry.time.0.to_string())
        .data("application/json", data)
        .build();
    match event {
        Ok(event) => ctx.outbox.enqueue(Delivery {
            url: sink.url.clone(),
            hmac_key,
            event,
            origin,
        }),
        Err(e) => give_up(format!("cannot build the CloudEvent: {e}")),
    }
}

/// Strikes the finished entries from status and (re)sends the others; returns the new status
/// and the ids struck, or `None` when nothing is finished.
pub async fn sync(
    ctx: &DrillContext,
    drill: &CanaryDrill,
    status: &CanaryDrillStatus,
) -> Option<(CanaryDrillStatus, Vec<String>)> {
    let (done, open): (Vec<&OutboxEntry>, Vec<&OutboxEntry>) =
        status.outbox.iter().partition(|e| ctx.is_finished(&e.id));
    for e in &open {
        send(ctx, drill, e).await;
    }
    if done.is_empty() {
        return None;
    }
    let struck: Vec<String> = done.iter().map(|e| e.id.clone()).collect();
    let mut next = status.clone();
    next.outbox.retain(|e| !struck.contains(&e.id));
    Some((next, struck))
}

async fn read_secret_key(
    ctx: &DrillContext,
    ns: &str,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, String> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let secret = api
        .get(name)
        .await
        .map_err(|e| format!("spec.eventSink.hmacSecretRef: Secret {ns}/{name}: {e}"))?;
    secret
        .data
        .and_then(|mut d| d.remove(key))
        .map(|ByteString(b)| b)
        .filter(|b| !b.is_empty())
        .ok_or_else(|| {
            format!("spec.eventSink.hmacSecretRef: Secret {ns}/{name} has no key {key:?}")
        })
}
