//! A drill's spec turned into the plain settings the state machine runs on, with errors that
//! name the field; and the cron schedule (parsed with `croner`, never by hand).

use crate::api::CanaryDrillSpec;
use k8s_openapi::jiff::{SignedDuration, Timestamp, tz::TimeZone};

/// The numbers the state machine needs from the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Length of one window.
    pub window: SignedDuration,
    /// Consecutive breaches that roll back.
    pub breach_windows: u32,
    /// Consecutive passes that promote.
    pub success_windows: u32,
    /// Passing stable windows after the rollback that prove the recovery.
    pub recovery_windows: u32,
    /// Consecutive paused (no-data) windows after which the drill stops waiting.
    pub max_no_data_windows: u32,
    /// How long the canary may take to become available before the drill fails.
    pub progress_deadline: SignedDuration,
    /// Whether the drill runs on a schedule.
    pub scheduled: bool,
}

/// A spec the controller cannot run, naming the field.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    #[error("spec.window {0:?} is not a positive duration such as 30s, 1m or 5m")]
    Window(String),
    #[error("spec.schedule {schedule:?} is not a cron expression: {reason}")]
    Schedule { schedule: String, reason: String },
}

/// The canary gets this long to become available, at least: kwok and real clusters alike pull
/// and start a canary within minutes; a longer window gives it proportionally longer.
const MIN_PROGRESS_DEADLINE: SignedDuration = SignedDuration::from_secs(120);

impl Settings {
    /// Reads the settings from a spec.
    pub fn from_spec(spec: &CanaryDrillSpec) -> Result<Self, SpecError> {
        let window =
            parse_duration(&spec.window).ok_or_else(|| SpecError::Window(spec.window.clone()))?;
        if let Some(s) = &spec.schedule {
            parse_schedule(s)?;
        }
        let progress_deadline = window
            .checked_mul(5)
            .unwrap_or(window)
            .max(MIN_PROGRESS_DEADLINE);
        Ok(Self {
            window,
            breach_windows: spec.breach_windows.max(1),
            success_windows: spec.success_windows.max(1),
            recovery_windows: spec.recovery_windows.max(1),
            max_no_data_windows: spec.max_no_data_windows.max(1),
            progress_deadline,
            scheduled: spec.schedule.is_some(),
        })
    }
}

/// The longest window accepted: a year.
const MAX_WINDOW_SECS: i64 = 366 * 24 * 3600;

/// `30s`, `5m`, `1h` → a positive duration of at most a year.
pub fn parse_duration(s: &str) -> Option<SignedDuration> {
    let (num, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = num.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    // Longer than a year is a typo, and would overflow timestamp arithmetic far enough out.
    (secs > 0 && secs <= MAX_WINDOW_SECS).then(|| SignedDuration::from_secs(secs))
}

/// Parses a cron expression: 5 fields, or 6 with leading seconds (drills in tests run every
/// few seconds).
pub fn parse_schedule(schedule: &str) -> Result<croner::Cron, SpecError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(schedule.trim())
        .map_err(|e| SpecError::Schedule {
            schedule: schedule.into(),
            reason: e.to_string(),
        })
}

/// The next occurrence of `schedule` strictly after `after`, in UTC.
pub fn next_run(schedule: &str, after: Timestamp) -> Result<Timestamp, SpecError> {
    let cron = parse_schedule(schedule)?;
    let zoned = after.to_zoned(TimeZone::UTC);
    cron.find_next_occurrence(&zoned, false)
        .map(|z| z.timestamp())
        .map_err(|e| SpecError::Schedule {
            schedule: schedule.into(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(SignedDuration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(SignedDuration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Some(SignedDuration::from_secs(7200)));
        for bad in [
            "",
            "s",
            "0s",
            "-1s",
            "5d",
            "1.5m",
            "m5",
            "9999999h",
            "99999999999999999999s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn schedules_with_and_without_seconds() {
        let t: Timestamp = "2026-11-30T10:00:07Z".parse().unwrap();
        assert_eq!(
            next_run("*/10 * * * * *", t).unwrap().to_string(),
            "2026-11-30T10:00:10Z"
        );
        assert_eq!(
            next_run("0 3 * * 1", t).unwrap().to_string(),
            "2026-12-07T03:00:00Z"
        );
        let err = next_run("every tuesday", t).unwrap_err();
        assert!(err.to_string().contains("spec.schedule"), "{err}");
    }
}
