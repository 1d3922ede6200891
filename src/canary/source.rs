//! Metric sources: what a window measured. Prometheus (instant queries at the window's end,
//! with the judged revision's labels substituted into the PromQL templates) or a synthetic
//! profile for fire-drills. Both return plain `Measurements` for the judge.

use super::judge::Measurements;
use crate::api::{
    Budget, PrometheusSource, SyntheticOutcome, SyntheticSource, SyntheticWindow, Track,
};
use crate::events::{HttpClient, get};
use k8s_openapi::jiff::Timestamp;
use std::time::Duration;

/// Deadline of one Prometheus query: a window's three instant queries must not hold the
/// reconcile for long; Prometheus answers these in milliseconds.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The revision a window judges, as the PromQL templates see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Subject {
    pub namespace: String,
    /// `<target>-canary` for the canary, the target for the stable revision.
    pub deployment: String,
    pub track: Track,
    /// The judged ReplicaSet's `pod-template-hash`, when known.
    pub pod_template_hash: Option<String>,
}

/// The synthetic measurements of the window at `position` (1-based) of `track`.
pub fn synthetic(
    src: &SyntheticSource,
    budget: &Budget,
    track: Track,
    position: u32,
) -> Measurements {
    let kind = match track {
        Track::Stable => src.stable,
        Track::Canary => match (src.outcome, src.profile.as_slice()) {
            (Some(SyntheticOutcome::Pass), _) => SyntheticWindow::Pass,
            (Some(SyntheticOutcome::Fail), _) => SyntheticWindow::Breach,
            (None, []) => SyntheticWindow::NoData,
            (None, profile) => {
                let i = (position.max(1) as usize - 1).min(profile.len() - 1);
                profile[i]
            }
        },
    };
    let requests = (budget.min_requests.max(100)) as f64;
    let max_latency = budget.max_latency_ms.map(f64::from);
    let (error_rate, latency_ms, requests) = match kind {
        SyntheticWindow::Pass => (Some(0.0), max_latency.map(|m| m / 4.0), Some(requests)),
        // Over the budget on every limit it has (an error budget of 1 cannot be exceeded by
        // the error rate, so the latency carries the breach there).
        SyntheticWindow::Breach => (
            Some(1.0),
            max_latency.map(|m| m * 2.0 + 1.0),
            Some(requests),
        ),
        SyntheticWindow::NoData => (None, None, Some(0.0)),
    };
    Measurements {
        error_rate,
        latency_ms,
        requests,
        query: format!("synthetic {track:?} window {position}: {kind:?}"),
    }
}

/// Replaces the placeholders of a PromQL template.
pub fn substitute(template: &str, subject: &Subject, window: &str) -> String {
    let track = match subject.track {
        Track::Canary => "canary",
        Track::Stable => "stable",
    };
    template
        .replace(
            "$podTemplateHash",
            subject.pod_template_hash.as_deref().unwrap_or(""),
        )
        .replace("$namespace", &subject.namespace)
        .replace("$deployment", &subject.deployment)
        .replace("$track", track)
        .replace("$window", window)
}

/// Measures one window from Prometheus. A failed query is no sample, with the failure kept
/// in the query text so the window's record says why it had no data.
pub async fn prometheus(
    http: &HttpClient,
    src: &PrometheusSource,
    subject: &Subject,
    window: &str,
    end: Timestamp,
) -> Measurements {
    let mut notes = Vec::new();
    let run = |q: String| {
        let http = http.clone();
        let address = src.address.clone();
        async move {
            let r = instant(&http, &address, &q, end).await;
            (q, r)
        }
    };
    let (q, r) = run(substitute(&src.error_rate_query, subject, window)).await;
    let error_rate = value(&mut notes, "errorRate", q, r);
    let latency_ms = match &src.latency_query {
        Some(t) => {
            let (q, r) = run(substitute(t, subject, window)).await;
            value(&mut notes, "latency", q, r)
        }
        None => None,
    };
    let requests = match &src.requests_query {
        Some(t) => {
            let (q, r) = run(substitute(t, subject, window)).await;
            value(&mut notes, "requests", q, r)
        }
        None => None,
    };
    Measurements {
        error_rate,
        latency_ms,
        requests,
        query: notes.join("; "),
    }
}

fn value(
    notes: &mut Vec<String>,
    what: &str,
    q: String,
    r: Result<Option<f64>, String>,
) -> Option<f64> {
    match r {
        Ok(v) => {
            notes.push(format!("{what}: {q}"));
            v
        }
        Err(e) => {
            notes.push(format!("{what}: {q} (failed: {e})"));
            None
        }
    }
}

async fn instant(
    http: &HttpClient,
    address: &str,
    query: &str,
    at: Timestamp,
) -> Result<Option<f64>, String> {
    let params: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("query", query)
        .append_pair(
            "time",
            &format!("{:.3}", at.as_millisecond() as f64 / 1000.0),
        )
        .finish();
    let url = format!("{}/api/v1/query?{params}", address.trim_end_matches('/'));
    let (status, body) = get(http, &url, QUERY_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(format!(
            "HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    parse_instant(&body)
}

/// The first sample of an instant query's answer (`vector` or `scalar`); `None` when empty.
pub fn parse_instant(body: &[u8]) -> Result<Option<f64>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not a Prometheus answer: {e}"))?;
    if v["status"] != "success" {
        return Err(format!(
            "Prometheus: {}",
            v["error"].as_str().unwrap_or("status is not success")
        ));
    }
    let data = &v["data"];
    let sample = match data["resultType"].as_str() {
        Some("vector") => match data["result"].as_array() {
            Some(items) if items.is_empty() => return Ok(None),
            Some(items) if items.len() > 1 => {
                return Err(format!(
                    "the query returned {} series; aggregate it to one (e.g. sum(...))",
                    items.len()
                ));
            }
            Some(items) => &items[0]["value"][1],
            None => return Err("vector without result".into()),
        },
        Some("scalar") => &data["result"][1],
        other => {
            return Err(format!(
                "result type {other:?}: use an instant vector or scalar"
            ));
        }
    };
    let s = sample.as_str().ok_or("sample value is not a string")?;
    s.parse::<f64>()
        .map(Some)
        .map_err(|e| format!("sample {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget {
            max_error_rate: 0.01,
            max_latency_ms: Some(200),
            latency_quantile: 0.99,
            min_requests: 10,
        }
    }

    #[test]
    fn synthetic_profiles_drive_the_judge_as_named() {
        use super::super::judge::judge;
        use crate::api::{NoDataPolicy, WindowVerdict as V};
        let src = SyntheticSource {
            outcome: None,
            profile: vec![
                SyntheticWindow::Breach,
                SyntheticWindow::Pass,
                SyntheticWindow::NoData,
            ],
            stable: SyntheticWindow::Pass,
        };
        let b = budget();
        let verdict =
            |track, pos| judge(&synthetic(&src, &b, track, pos), &b, NoDataPolicy::Pause).verdict;
        assert_eq!(verdict(Track::Canary, 1), V::Breach);
        assert_eq!(verdict(Track::Canary, 2), V::Pass);
        assert_eq!(verdict(Track::Canary, 3), V::NoData);
        assert_eq!(verdict(Track::Canary, 9), V::NoData, "the last one repeats");
        assert_eq!(verdict(Track::Stable, 4), V::Pass);
        let fail = SyntheticSource {
            outcome: Some(SyntheticOutcome::Fail),
            profile: vec![],
            stable: SyntheticWindow::Pass,
        };
        assert_eq!(
            judge(
                &synthetic(&fail, &b, Track::Canary, 1),
                &b,
                NoDataPolicy::Pause
            )
            .verdict,
            V::Breach
        );
        let mut all_errors = b.clone();
        all_errors.max_error_rate = 1.0;
        assert_eq!(
            judge(
                &synthetic(&fail, &all_errors, Track::Canary, 1),
                &all_errors,
                NoDataPolicy::Pause
            )
            .verdict,
            V::Breach,
            "the latency carries the breach"
        );
    }

    #[test]
    fn placeholders_are_substituted() {
        let s = Subject {
            namespace: "shop".into(),
            deployment: "web-canary".into(),
            track: Track::Canary,
            pod_template_hash: Some("5d4f".into()),
        };
        let q = "sum(rate(errors{namespace=\"$namespace\",deployment=\"$deployment\",track=\"$track\",pod_template_hash=\"$podTemplateHash\"}[$window]))";
        assert_eq!(
            substitute(q, &s, "30s"),
            "sum(rate(errors{namespace=\"shop\",deployment=\"web-canary\",track=\"canary\",pod_template_hash=\"5d4f\"}[30s]))"
        );
    }

    #[test]
    fn prometheus_answers() {
        let ok = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.5,"0.25"]}]}}"#;
        assert_eq!(parse_instant(ok), Ok(Some(0.25)));
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_instant(empty), Ok(None));
        let scalar =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"12"]}}"#;
        assert_eq!(parse_instant(scalar), Ok(Some(12.0)));
        let nan = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}"#;
        assert!(
            parse_instant(nan).unwrap().unwrap().is_nan(),
            "NaN passes through; the judge drops it"
        );
        let two = br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}"#;
        assert!(parse_instant(two).unwrap_err().contains("aggregate"));
        let err = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(parse_instant(err).unwrap_err().contains("parse error"));
        assert!(parse_instant(b"<html>").is_err());
    }
}
