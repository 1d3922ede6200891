//! Kubernetes Events (`events.k8s.io/v1`) with repeats folded into a series, as kube's
//! `Recorder` does, but remembering only what a repeat needs: the Event's name and its count.
//! kube's recorder keeps every Event it sent, whole (note included), for six minutes; a burst of
//! 1,000 release verdicts left several MiB of them in the controller.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::{Api, Client};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex};

/// How long a sent Event is remembered: a repeat within it adds to the Event's series instead
/// of making a new Event (kube's recorder and client-go use the same window).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);
/// At most this many Events are remembered; past it a repeat makes a new Event.
const MAX_REMEMBERED: usize = 16_384;

/// Publishes Events about objects; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    /// The keyed hash of what identifies a repeat (type, reason, action, the objects).
    hasher: RandomState,
    sent: Arc<Mutex<HashMap<u64, Sent>>>,
}

/// What a repeat of an Event needs.
#[derive(Clone)]
struct Sent {
    name: String,
    count: i32,
    last: Timestamp,
}

impl Recorder {
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Self {
            client,
            reporter,
            hasher: RandomState::new(),
            sent: Arc::default(),
        }
    }

    /// Creates an Event about `regarding` in its namespace (`default` without one), or, when
    /// the same Event (type, reason, action, regarding and related objects) was sent in the last
    /// six minutes, counts it in that Event's series.
    pub async fn publish(
        &self,
        ev: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let key = self.key(ev, regarding);
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let events = Api::<K8sEvent>::namespaced(self.client.clone(), namespace);
        let name = match self.repeat_of(key, now) {
            Some(previous) => {
                let count = previous.count + 1;
                let series = serde_json::json!({"series": EventSeries {
                    count,
                    last_observed_time: MicroTime(now),
                }});
                match events
                    .patch(
                        &previous.name,
                        &PatchParams::default(),
                        &Patch::Merge(&series),
                    )
                    .await
                {
                    Ok(_) => {
                        self.remember(key, previous.name, count, now);
                        return Ok(());
                    }
                    // Deleted meanwhile (an Event's time to live, or by hand): a new one.
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
                self.create(&events, ev, regarding, now).await?
            }
            None => self.create(&events, ev, regarding, now).await?,
        };
        self.remember(key, name, 1, now);
        Ok(())
    }

    async fn create(
        &self,
        events: &Api<K8sEvent>,
        ev: &Event,
        regarding: &ObjectReference,
        now: Timestamp,
    ) -> Result<String, kube::Error> {
        let name = format!(
            "{}.{:x}",
            regarding
                .name
                .as_deref()
                .unwrap_or(&self.reporter.controller),
            now.as_nanosecond()
        );
        let event = K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            related: ev.secondary.clone(),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(name.clone()),
                ..Default::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            ..Default::default()
        };
        events.create(&PostParams::default(), &event).await?;
        Ok(name)
    }

    /// The Event `key` repeats, if sent within the window; forgets those sent before it.
    fn repeat_of(&self, key: u64, now: Timestamp) -> Option<Sent> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.retain(|_, s| s.last + SERIES_WINDOW > now);
        sent.get(&key).cloned()
    }

    fn remember(&self, key: u64, name: String, count: i32, last: Timestamp) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if sent.len() < MAX_REMEMBERED || sent.contains_key(&key) {
            sent.insert(key, Sent { name, count, last });
        }
    }

    fn key(&self, ev: &Event, regarding: &ObjectReference) -> u64 {
        let mut h = self.hasher.build_hasher();
        (ev.type_ == EventType::Warning).hash(&mut h);
        ev.reason.hash(&mut h);
        ev.action.hash(&mut h);
        hash_reference(regarding, &mut h);
        if let Some(related) = &ev.secondary {
            hash_reference(related, &mut h);
        }
        h.finish()
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

fn hash_reference(r: &ObjectReference, h: &mut impl Hasher) {
    for field in [
        &r.api_version,
        &r.kind,
        &r.namespace,
        &r.name,
        &r.uid,
        &r.field_path,
    ] {
        field.hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> Recorder {
        // A client that is never called: these tests exercise the keys and the memory only.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        Recorder::new(
            Client::try_from(config).unwrap(),
            Reporter {
                controller: "release-gate".into(),
                instance: None,
            },
        )
    }

    fn event(reason: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some("a note".into()),
            action: reason.into(),
            secondary: None,
        }
    }

    fn reference(name: &str) -> ObjectReference {
        ObjectReference {
            kind: Some("HardenedRelease".into()),
            namespace: Some("team".into()),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_repeat_is_the_same_key_and_another_object_or_reason_is_not() {
        let r = recorder();
        let k = r.key(&event("Verified"), &reference("a"));
        assert_eq!(k, r.key(&event("Verified"), &reference("a")));
        // The note is not part of what makes a repeat (as in kube and client-go).
        let mut other_note = event("Verified");
        other_note.note = Some("another note".into());
        assert_eq!(k, r.key(&other_note, &reference("a")));
        assert_ne!(k, r.key(&event("Blocked"), &reference("a")));
        assert_ne!(k, r.key(&event("Verified"), &reference("b")));
        let mut warning = event("Verified");
        warning.type_ = EventType::Warning;
        assert_ne!(k, r.key(&warning, &reference("a")));
        let mut related = event("Verified");
        related.secondary = Some(reference("c"));
        assert_ne!(k, r.key(&related, &reference("a")));
    }

    #[tokio::test]
    async fn memory_is_bounded_and_old_events_are_forgotten() {
        let r = recorder();
        let now = Timestamp::now();
        for i in 0..(MAX_REMEMBERED as u64 + 10) {
            r.remember(i, format!("e{i}"), 1, now);
        }
        assert_eq!(r.remembered(), MAX_REMEMBERED);
        // A remembered Event still counts its repeats when full.
        r.remember(3, "e3".into(), 2, now);
        assert_eq!(r.sent.lock().unwrap()[&3].count, 2);
        assert_eq!(r.repeat_of(3, now).map(|s| s.name), Some("e3".into()));
        // Past the window an Event is no longer repeated, and none is remembered.
        let later = now + SERIES_WINDOW + SignedDuration::from_secs(1);
        assert!(r.repeat_of(3, later).is_none());
        assert_eq!(r.remembered(), 0);
    }
}
