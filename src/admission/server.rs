//! The HTTPS endpoint the API server calls: `POST /validate` with an AdmissionReview. A thin
//! shell around [`Admission::decide`]: it bounds the body, parses it, answers within the
//! deadline whatever happens (a decision that overruns is a denial saying so) and records the
//! outcome. Unknown paths get 404 from the router.

use super::decide::{Admission, Mode, Outcome};
use super::metrics::{AdmissionMetrics, RequestLabels};
use super::review::{Answer, Review, respond, respond_invalid};
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest AdmissionReview accepted. The API server caps request bodies at 3 MiB per
/// object; a review holds the object and, for updates, the old object, plus metadata.
pub const MAX_BODY_BYTES: usize = 7 * 1024 * 1024;

/// State of the admission routes.
#[derive(Clone)]
pub struct AdmissionState {
    pub admission: Arc<Admission>,
    pub metrics: AdmissionMetrics,
    /// The answer is due by then (shorter than the webhook configuration's timeoutSeconds).
    pub deadline: Duration,
    /// Where every judged review is written (`--record-reviews`), to replay decisions.
    pub record_reviews: Option<std::path::PathBuf>,
}

/// The admission routes, to merge into the webhook's router.
pub fn routes(state: AdmissionState) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .with_state(state)
}

async fn validate(State(state): State<AdmissionState>, body: Body) -> Response {
    let started = Instant::now();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            record(&state.metrics, "", "", "invalid", "enforce", started);
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("release-gate: the AdmissionReview is larger than {MAX_BODY_BYTES} bytes (the webhook's limit); denied"),
            )
                .into_response();
        }
    };
    let review = match Review::parse(&bytes) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "invalid AdmissionReview");
            record(&state.metrics, "", "", "invalid", "enforce", started);
            return Json(respond_invalid(&bytes, &e)).into_response();
        }
    };
    if let Some(dir) = &state.record_reviews {
        record_review(dir, &review.uid, bytes.clone());
    }
    let (answer, outcome, mode) = match tokio::time::timeout(
        state.deadline,
        state.admission.decide(&review),
    )
    .await
    {
        Ok(decided) => decided,
        Err(_) => (
            Answer::deny(format!(
                "release-gate: verification unavailable: no decision within the webhook's {} ms deadline; retry",
                state.deadline.as_millis()
            )),
            Outcome::Unavailable,
            Mode::Enforce,
        ),
    };
    if matches!(
        outcome,
        Outcome::Denied | Outcome::Warned | Outcome::Audited
    ) {
        tracing::info!(
            uid = %review.uid,
            namespace = review.namespace().unwrap_or(""),
            kind = review.kind(),
            name = review.request.get("name").and_then(|n| n.as_str()).unwrap_or(""),
            outcome = outcome.as_str(),
            mode = mode.as_str(),
            reasons = answer.message.as_deref().unwrap_or_else(|| answer.warnings.first().map(String::as_str).unwrap_or("")),
            "admission policy objected"
        );
    }
    record(
        &state.metrics,
        review.kind(),
        review.operation(),
        outcome.as_str(),
        mode.as_str(),
        started,
    );
    Json(respond(&review.uid, &answer)).into_response()
}

/// Writes the review to `dir/<uid>.json` in the background (the answer does not wait for it).
/// The file name keeps only the uid's letters, digits and dashes.
fn record_review(dir: &std::path::Path, uid: &str, body: axum::body::Bytes) {
    let name: String = uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    let path = dir.join(format!("{name}.json"));
    tokio::spawn(async move {
        if let Err(e) = tokio::fs::write(&path, &body).await {
            tracing::warn!(path = %path.display(), error = %e, "cannot record the AdmissionReview");
        }
    });
}

fn record(
    metrics: &AdmissionMetrics,
    kind: &str,
    operation: &str,
    outcome: &str,
    mode: &str,
    started: Instant,
) {
    metrics
        .requests
        .get_or_create(&RequestLabels {
            kind: kind.into(),
            operation: operation.into(),
            outcome: outcome.into(),
            mode: mode.into(),
        })
        .inc();
    metrics.latency.observe(started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::AdmissionConfig;
    use axum::http::Request;
    use tower::ServiceExt;

    fn app() -> Router {
        routes(AdmissionState {
            admission: Arc::new(Admission {
                config: AdmissionConfig::default(),
                policy: None,
                index: None,
                audit: None,
                resolver: None,
            }),
            metrics: AdmissionMetrics::default(),
            deadline: Duration::from_secs(1),
            record_reviews: None,
        })
    }

    async fn call(body: Vec<u8>) -> (StatusCode, serde_json::Value) {
        let res = app()
            .oneshot(Request::post("/validate").body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn garbage_is_an_invalid_answer_not_a_panic() {
        for body in [
            b"".to_vec(),
            b"\xff\xfe".to_vec(),
            b"{\"apiVersion\": 1}".to_vec(),
            b"null".to_vec(),
        ] {
            let (status, out) = call(body).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(out["response"]["allowed"], false);
            assert!(
                out["response"]["status"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("invalid AdmissionReview")
            );
        }
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused_naming_the_limit() {
        let (status, _) = call(vec![b' '; MAX_BODY_BYTES + 1]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn recorded_reviews_are_named_by_the_uid_without_path_tricks() {
        let dir = tempfile::tempdir().unwrap();
        let app = routes(AdmissionState {
            admission: Arc::new(Admission {
                config: AdmissionConfig::default(),
                policy: None,
                index: None,
                audit: None,
                resolver: None,
            }),
            metrics: AdmissionMetrics::default(),
            deadline: Duration::from_secs(1),
            record_reviews: Some(dir.path().to_path_buf()),
        });
        let body = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "../../x/y-1", "namespace": "team", "kind": {"kind": "Pod"}, "operation": "CREATE"}})
        .to_string();
        let res = app
            .oneshot(
                Request::post("/validate")
                    .body(Body::from(body.clone()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let path = dir.path().join("xy-1.json");
        for _ in 0..100 {
            if path.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), body);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        let res = app()
            .oneshot(Request::post("/mutate").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
