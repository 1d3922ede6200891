//! The window judge: one window's measurements against the budget and the no-data policy, as a
//! plain function. It decides nothing about streaks or phases (that is `machine`), and never
//! lets missing data pass silently: a window without data is `NoData`, and the policy only says
//! what it counts as.

use crate::api::{Budget, CountedAs, NoDataPolicy, WindowVerdict};

/// What a metric source measured for one window. `None` means the source had no sample.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurements {
    /// Errors / requests over the window, 0..1.
    pub error_rate: Option<f64>,
    /// Latency at the budget's quantile, in milliseconds.
    pub latency_ms: Option<f64>,
    /// Requests in the window.
    pub requests: Option<f64>,
    /// The queries (after substitution) or the synthetic profile that produced the values.
    pub query: String,
}

/// The judge's answer for one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// What the measurements said.
    pub verdict: WindowVerdict,
    /// What the window counts as, after the no-data policy.
    pub counted_as: CountedAs,
    /// Why, in words: every limit exceeded, or why there was no data.
    pub reason: String,
    /// The measurements judged (NaN and infinities dropped to `None`).
    pub measurements: Measurements,
}

/// Judges one window. A value that is NaN or infinite (e.g. `0/0` from an idle service) is no
/// sample. Too few requests (`budget.minRequests`) make the window `NoData` even when the
/// rates look bad: the sample is too small to judge either way.
pub fn judge(measured: &Measurements, budget: &Budget, no_data: NoDataPolicy) -> Judgement {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    let m = Measurements {
        error_rate: finite(measured.error_rate),
        latency_ms: finite(measured.latency_ms),
        requests: finite(measured.requests),
        query: measured.query.clone(),
    };
    let no_data = |reason: String, m: Measurements| {
        let counted_as = match no_data {
            NoDataPolicy::Pause => CountedAs::Pause,
            NoDataPolicy::Breach => CountedAs::Breach,
            NoDataPolicy::Pass => CountedAs::Pass,
        };
        Judgement {
            verdict: WindowVerdict::NoData,
            counted_as,
            reason: format!("{reason} (noDataPolicy {no_data:?})"),
            measurements: m,
        }
    };

    if budget.min_requests > 0 {
        match m.requests {
            None => {
                return no_data(
                    format!(
                        "no request count, and budget.minRequests is {}",
                        budget.min_requests
                    ),
                    m,
                );
            }
            Some(r) if r < budget.min_requests as f64 => {
                return no_data(
                    format!(
                        "{r} requests, fewer than budget.minRequests {}",
                        budget.min_requests
                    ),
                    m,
                );
            }
            Some(_) => {}
        }
    }

    let mut breaches = Vec::new();
    if let Some(rate) = m.error_rate
        && rate > budget.max_error_rate
    {
        breaches.push(format!(
            "error rate {rate:.4} > budget.maxErrorRate {}",
            budget.max_error_rate
        ));
    }
    if let (Some(latency), Some(max)) = (m.latency_ms, budget.max_latency_ms)
        && latency > f64::from(max)
    {
        breaches.push(format!(
            "p{} latency {latency:.1} ms > budget.maxLatencyMs {max}",
            quantile_label(budget.latency_quantile)
        ));
    }
    if !breaches.is_empty() {
        return Judgement {
            verdict: WindowVerdict::Breach,
            counted_as: CountedAs::Breach,
            reason: breaches.join("; "),
            measurements: m,
        };
    }

    let mut missing = Vec::new();
    if m.error_rate.is_none() {
        missing.push("error rate");
    }
    if m.latency_ms.is_none() && budget.max_latency_ms.is_some() {
        missing.push("latency");
    }
    if !missing.is_empty() {
        return no_data(format!("no sample for {}", missing.join(" and ")), m);
    }

    let mut reason = format!(
        "error rate {:.4} <= {}",
        m.error_rate.unwrap_or_default(),
        budget.max_error_rate
    );
    if let (Some(latency), Some(max)) = (m.latency_ms, budget.max_latency_ms) {
        reason.push_str(&format!(
            ", p{} latency {latency:.1} ms <= {max} ms",
            quantile_label(budget.latency_quantile)
        ));
    }
    Judgement {
        verdict: WindowVerdict::Pass,
        counted_as: CountedAs::Pass,
        reason,
        measurements: m,
    }
}

/// `0.99` → `99`, `0.995` → `99.5`.
fn quantile_label(q: f64) -> String {
    let pct = q * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{}", pct.round() as i64)
    } else {
        format!("{pct}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max_error_rate: f64, max_latency_ms: Option<u32>, min_requests: u64) -> Budget {
        Budget {
            max_error_rate,
            max_latency_ms,
            latency_quantile: 0.99,
            min_requests,
        }
    }

    fn m(error_rate: Option<f64>, latency_ms: Option<f64>, requests: Option<f64>) -> Measurements {
        Measurements {
            error_rate,
            latency_ms,
            requests,
            query: "q".into(),
        }
    }

    #[test]
    fn table() {
        use CountedAs as C;
        use NoDataPolicy as P;
        use WindowVerdict as V;
        let b = budget(0.01, Some(300), 10);
        #[rustfmt::skip]
        let cases: Vec<(&str, Measurements, NoDataPolicy, V, C, &str)> = vec![
            ("all within", m(Some(0.001), Some(120.0), Some(500.0)), P::Pause, V::Pass, C::Pass, "error rate 0.0010 <= 0.01, p99 latency 120.0 ms <= 300 ms"),
            ("at the limit passes", m(Some(0.01), Some(300.0), Some(10.0)), P::Pause, V::Pass, C::Pass, "<="),
            ("error rate over", m(Some(0.2), Some(100.0), Some(500.0)), P::Pause, V::Breach, C::Breach, "error rate 0.2000 > budget.maxErrorRate 0.01"),
            ("latency over", m(Some(0.0), Some(301.0), Some(500.0)), P::Pause, V::Breach, C::Breach, "p99 latency 301.0 ms > budget.maxLatencyMs 300"),
            ("both over, both named", m(Some(0.5), Some(900.0), Some(500.0)), P::Pass, V::Breach, C::Breach, "error rate 0.5000 > budget.maxErrorRate 0.01; p99 latency"),
            ("breach with missing latency is still a breach", m(Some(0.5), None, Some(500.0)), P::Pass, V::Breach, C::Breach, "error rate"),
            ("too few requests pauses", m(Some(0.5), Some(900.0), Some(3.0)), P::Pause, V::NoData, C::Pause, "3 requests, fewer than budget.minRequests 10 (noDataPolicy Pause)"),
            ("too few requests, policy breach", m(Some(0.0), Some(1.0), Some(3.0)), P::Breach, V::NoData, C::Breach, "noDataPolicy Breach"),
            ("too few requests, policy pass is recorded as NoData", m(Some(0.0), Some(1.0), Some(3.0)), P::Pass, V::NoData, C::Pass, "noDataPolicy Pass"),
            ("no request count with minRequests", m(Some(0.0), Some(1.0), None), P::Pause, V::NoData, C::Pause, "no request count"),
            ("nothing at all", m(None, None, Some(100.0)), P::Pause, V::NoData, C::Pause, "no sample for error rate and latency"),
            ("NaN error rate (0/0) is no sample", m(Some(f64::NAN), Some(10.0), Some(100.0)), P::Breach, V::NoData, C::Breach, "no sample for error rate"),
            ("missing latency with a latency budget", m(Some(0.0), None, Some(100.0)), P::Pause, V::NoData, C::Pause, "no sample for latency"),
        ];
        for (name, measured, policy, verdict, counted, reason) in cases {
            let j = judge(&measured, &b, policy);
            assert_eq!(j.verdict, verdict, "{name}: {j:?}");
            assert_eq!(j.counted_as, counted, "{name}: {j:?}");
            assert!(
                j.reason.contains(reason),
                "{name}: {:?} lacks {reason:?}",
                j.reason
            );
            assert_eq!(j.measurements.query, "q", "{name}: the query is kept");
        }
    }

    #[test]
    fn without_a_latency_budget_latency_is_not_needed_and_no_min_requests_needs_no_count() {
        let b = budget(0.05, None, 0);
        let j = judge(&m(Some(0.01), None, None), &b, NoDataPolicy::Pause);
        assert_eq!(j.verdict, WindowVerdict::Pass);
        let j = judge(&m(Some(0.06), Some(1e9), None), &b, NoDataPolicy::Pause);
        assert_eq!(j.verdict, WindowVerdict::Breach);
        assert!(!j.reason.contains("latency"), "{}", j.reason);
    }

    #[test]
    fn the_quantile_is_named_as_configured() {
        let mut b = budget(1.0, Some(10), 0);
        b.latency_quantile = 0.995;
        let j = judge(&m(Some(0.0), Some(20.0), None), &b, NoDataPolicy::Pause);
        assert!(j.reason.contains("p99.5 latency"), "{}", j.reason);
    }
}
