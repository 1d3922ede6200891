//! CloudEvents delivery: one ordered queue per sink URL, each drained by a background task
//! that POSTs binary-mode CloudEvents with retries and exponential backoff. Every request
//! carries the event id as `Idempotency-Key` (the id is stable across controller restarts, so
//! a sink can drop a duplicate) and, when the drill names a key, an HMAC-SHA256 signature.

use super::http::{HttpClient, post};
use cloudevents::{AttributesReader, Event};
use hyper::body::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The signature header: `sha256=<hex of HMAC-SHA256(key, "<ce-id>.<ce-type>.<body>")>`.
/// The id and type are signed with the body because in binary mode they travel as headers.
pub const SIGNATURE_HEADER: &str = "x-releasegate-signature";

/// Attempts per event: with the backoff below they span about a minute, long enough for a
/// sink restart, short enough that a dead sink does not queue a drill's events for hours.
const ATTEMPTS: u32 = 8;
/// First retry delay; doubled per attempt, capped at `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(16);
/// Deadline of one POST.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// Called once per event with the delivery and whether the sink accepted it (false: dropped
/// after the last attempt).
pub type OnDelivered = Arc<dyn Fn(&Delivery, bool) + Send + Sync>;

/// One event for one sink.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The sink URL.
    pub url: String,
    /// The HMAC key, when the drill names one.
    pub hmac_key: Option<Vec<u8>>,
    /// The event.
    pub event: Event,
    /// Who queued it (e.g. `namespace/drill`), handed back to the delivery callback.
    pub origin: String,
}

/// Per-sink ordered queues. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    http: HttpClient,
    queues: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>>,
    delivered: OnDelivered,
}

impl Outbox {
    /// An outbox that sends with `http`; `delivered(delivery, ok)` is called once per event.
    pub fn new(http: HttpClient, delivered: OnDelivered) -> Self {
        Self {
            http,
            queues: Arc::default(),
            delivered,
        }
    }

    /// Queues `delivery` behind the earlier events for the same sink; returns at once.
    pub fn enqueue(&self, delivery: Delivery) {
        let mut queues = match self.queues.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        let url = delivery.url.clone();
        let tx = queues.entry(url.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(drain(self.http.clone(), rx, self.delivered.clone()));
            tx
        });
        if let Err(mpsc::error::SendError(d)) = tx.send(delivery) {
            // The worker ended (it never does on its own); start a new one.
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(drain(self.http.clone(), rx, self.delivered.clone()));
            let _ = tx.send(d);
            queues.insert(url, tx);
        }
    }
}

async fn drain(
    http: HttpClient,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    delivered: OnDelivered,
) {
    while let Some(d) = rx.recv().await {
        let ok = deliver(&http, &d).await;
        delivered(&d, ok);
    }
}

/// POSTs one event, retrying transient failures; returns whether the sink accepted it.
async fn deliver(http: &HttpClient, d: &Delivery) -> bool {
    let (headers, body) = match encode(d) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, id = d.event.id(), "cannot encode the CloudEvent");
            return false;
        }
    };
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        match post(http, &d.url, &headers, body.clone(), POST_TIMEOUT).await {
            Ok((status, _)) if status.is_success() => {
                tracing::debug!(
                    id = d.event.id(),
                    ty = d.event.ty(),
                    attempt,
                    "CloudEvent delivered"
                );
                return true;
            }
            Ok((status, _)) if status.is_client_error() && status != 408 && status != 429 => {
                tracing::warn!(id = d.event.id(), %status, url = d.url, "the sink refused the CloudEvent; not retried");
                return false;
            }
            Ok((status, _)) => {
                tracing::info!(id = d.event.id(), %status, attempt, url = d.url, "CloudEvent not accepted; retrying");
            }
            Err(e) => {
                tracing::info!(id = d.event.id(), error = %e, attempt, "CloudEvent not delivered; retrying");
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
    tracing::warn!(
        id = d.event.id(),
        url = d.url,
        "CloudEvent dropped after {ATTEMPTS} attempts"
    );
    false
}

/// Errors turning an event into a request.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("CloudEvents binary encoding: {0}")]
    Binding(#[from] cloudevents::message::Error),
    #[error("header value: {0}")]
    Header(#[from] http::header::InvalidHeaderValue),
}

/// The binary-mode headers (ce-*, content-type), the idempotency key and the signature, and
/// the body.
pub fn encode(d: &Delivery) -> Result<(http::HeaderMap, Bytes), EncodeError> {
    let req: http::Request<Option<Vec<u8>>> = http::Request::try_from(d.event.clone())?;
    let (parts, body) = req.into_parts();
    let body = body.unwrap_or_default();
    let mut headers = parts.headers;
    headers.insert(
        "idempotency-key",
        http::HeaderValue::from_str(d.event.id())?,
    );
    if let Some(key) = &d.hmac_key {
        let sig = sign(key, d.event.id(), d.event.ty(), &body);
        headers.insert(SIGNATURE_HEADER, http::HeaderValue::from_str(&sig)?);
    }
    Ok((headers, Bytes::from(body)))
}

/// `sha256=<hex>` of HMAC-SHA256(key, "<id>.<type>.<body>"): what a sink recomputes to check
/// a delivery.
pub fn sign(key: &[u8], id: &str, ty: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(ty.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};

    fn event() -> Event {
        EventBuilderV10::new()
            .id("uid/run1-DrillStarted")
            .source("/apis/releasegate.dev/v1alpha1/namespaces/ns/canarydrills/d")
            .ty("dev.releasegate.drill.start")
            .time("2026-11-30T10:00:00Z")
            .data("application/json", serde_json::json!({"run": 1}))
            .build()
            .unwrap()
    }

    #[test]
    fn binary_mode_with_idempotency_key_and_signature() {
        let d = Delivery {
            url: "http://127.0.0.1:1/".into(),
            hmac_key: Some(b"k3y".to_vec()),
            event: event(),
            origin: "ns/d".into(),
        };
        let (h, body) = encode(&d).unwrap();
        assert_eq!(h["ce-id"], "uid/run1-DrillStarted");
        assert_eq!(h["ce-type"], "dev.releasegate.drill.start");
        assert_eq!(h["ce-specversion"], "1.0");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["idempotency-key"], "uid/run1-DrillStarted");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["run"], 1);
        let expected = sign(
            b"k3y",
            "uid/run1-DrillStarted",
            "dev.releasegate.drill.start",
            &body,
        );
        assert_eq!(h[SIGNATURE_HEADER], expected.as_str());
        // A different key, id or body gives a different signature.
        assert_ne!(
            sign(
                b"other",
                "uid/run1-DrillStarted",
                "dev.releasegate.drill.start",
                &body
            ),
            expected
        );
        assert_ne!(
            sign(
                b"k3y",
                "uid/run2-DrillStarted",
                "dev.releasegate.drill.start",
                &body
            ),
            expected
        );
        assert_ne!(
            sign(
                b"k3y",
                "uid/run1-DrillStarted",
                "dev.releasegate.drill.start",
                b"{}"
            ),
            expected
        );
    }

    #[test]
    fn the_signature_is_standard_hmac_sha256_over_id_type_body() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'Jefe', b'id.type.what do ya want for nothing?', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(b"Jefe", "id", "type", b"what do ya want for nothing?"),
            "sha256=bb96a710342a01d2473baba53cd5303fddf9da6f0b5738bd3e78618ca1a4f187"
        );
    }

    #[tokio::test]
    async fn a_dead_sink_does_not_block_enqueue() {
        let delivered = Arc::new(|_: &Delivery, _: bool| {});
        let outbox = Outbox::new(super::super::http_client(), delivered);
        let start = std::time::Instant::now();
        for _ in 0..100 {
            outbox.enqueue(Delivery {
                url: "http://127.0.0.1:9/".into(),
                hmac_key: None,
                event: event(),
                origin: "ns/d".into(),
            });
        }
        assert!(start.elapsed() < Duration::from_millis(100));
    }
}
