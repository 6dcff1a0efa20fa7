//! When to retry a 429 or 503, and for how long to wait (pure).

use std::time::{Duration, SystemTime};

/// Bounds on retrying throttled or unavailable answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait when the registry sends no `Retry-After`; doubled on each retry.
    pub base_delay: Duration,
    /// The longest wait we sit out; a longer `Retry-After` fails at once and reports the delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based), or `None` to give up.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let wait = retry_after
            .unwrap_or_else(|| self.base_delay.saturating_mul(2u32.saturating_pow(retry)));
        (wait <= self.max_delay).then_some(wait)
    }
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses a Unix time in seconds (the Docker Hub API's `X-Retry-After`) as the wait from `now`.
pub fn parse_unix_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(value.trim().parse::<u64>().ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let p = RetryPolicy::default();
        assert_eq!(p.delay(0, None), Some(Duration::from_millis(250)));
        assert_eq!(p.delay(2, None), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(3, None), None);
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7))),
            None,
            "too long: report it"
        );
        assert_eq!(p.delay(0, Some(Duration::from_secs(120))), None);
    }
}
