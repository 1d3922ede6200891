//! Records a drill leaves outside its status: Kubernetes Events (through [`Recorder`]) and
//! CloudEvents POSTed to a sink with retries, backoff, an idempotency key and an HMAC-SHA256
//! signature. Delivery runs on background tasks so a slow or dead sink never holds up the
//! state machine.

mod http;
mod recorder;
mod sink;

pub use http::{HttpClient, HttpError, get, http_client, post};
pub use recorder::Recorder;
pub use sink::{Delivery, Outbox, SIGNATURE_HEADER, sign};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};

/// Publishes a Kubernetes Event about `regarding`. A failure is logged, never returned: the
/// Event is a record, and the drill must go on without it.
pub async fn publish_event(
    recorder: &Recorder,
    regarding: &ObjectReference,
    reason: &str,
    note: &str,
    warning: bool,
) {
    let ev = Event {
        type_: if warning {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: reason.into(),
        // The API server caps an Event's note at 1 kB.
        note: Some(note.chars().take(1000).collect()),
        action: reason.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, regarding).await {
        tracing::warn!(error = %e, reason, "cannot publish the Kubernetes Event");
    }
}
