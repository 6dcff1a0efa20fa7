//! When to retry a 429 or 503, and how long to wait (pure): exponential backoff from the
//! `backon` crate, replaced by the registry's `Retry-After` when it sends one.

use std::time::{Duration, SystemTime};

use backon::ExponentialBuilder;
use http::HeaderMap;

/// Retries after the first attempt.
const MAX_RETRIES: usize = 3;
/// The wait when the registry sends no `Retry-After`; doubled on each retry.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// The longest wait we sit out; a longer `Retry-After` fails at once and reports the delay.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// The backoff for throttled or unavailable answers: 250 ms, 500 ms, 1 s, then give up.
pub(crate) fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(BASE_DELAY)
        .with_factor(2.0)
        .with_max_delay(MAX_DELAY)
        .with_max_times(MAX_RETRIES)
}

/// The wait before the next attempt: the registry's `retry_after` when it sent one and it is
/// short enough to sit out, else the backoff's `next`; `None` gives up.
pub(crate) fn wait(next: Option<Duration>, retry_after: Option<Duration>) -> Option<Duration> {
    let next = next?;
    match retry_after {
        Some(after) => (after <= MAX_DELAY).then_some(after),
        None => Some(next),
    }
}

/// `Retry-After`, or else the Docker Hub API's `X-Retry-After` (a Unix time).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let now = SystemTime::now();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text(http::header::RETRY_AFTER.as_str())
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| text("x-retry-after").and_then(|v| parse_unix_retry_after(v, now)))
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses a Unix time in seconds (the Docker Hub API's `X-Retry-After`) as the wait from `now`.
fn parse_unix_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(value.trim().parse::<u64>().ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use backon::BackoffBuilder as _;

    #[test]
    fn parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn parses_unix_times() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_unix_retry_after("1700000042", now),
            Some(Duration::from_secs(42))
        );
        assert_eq!(
            parse_unix_retry_after("1699999999", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_unix_retry_after("soon", now), None);
    }

    #[test]
    fn bounded_backoff() {
        let delays: Vec<Duration> = backoff().build().collect();
        assert_eq!(
            delays,
            [
                Duration::from_millis(250),
                Duration::from_millis(500),
                Duration::from_secs(1)
            ],
            "three retries, doubling, no jitter"
        );
        let next = Some(Duration::from_millis(250));
        assert_eq!(wait(next, None), next);
        assert_eq!(wait(None, None), None, "retries used up");
        assert_eq!(
            wait(next, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            wait(next, Some(Duration::from_secs(7))),
            None,
            "too long: report it"
        );
        assert_eq!(wait(next, Some(Duration::from_secs(120))), None);
        assert_eq!(wait(None, Some(Duration::from_secs(1))), None);
    }
}
