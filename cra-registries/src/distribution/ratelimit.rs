//! Pull quotas announced in response headers (pure): Docker Hub's `ratelimit-limit: 100;w=21600`,
//! `ratelimit-remaining: 76;w=21600` and `docker-ratelimit-source`.
//!
//! Docker Hub sends them on manifest requests, `HEAD` included (which does not count as a pull).
//! The window `w` is in seconds; the quota refills over it, so when nothing remains the window
//! is the longest wait before a pull succeeds again.

use std::fmt;
use std::time::Duration;

use http::HeaderMap;

/// The longest `docker-ratelimit-source` we keep (an IP address or an account id).
const MAX_SOURCE: usize = 64;

/// A pull quota as the registry reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Pulls allowed per window.
    pub limit: u64,
    /// Pulls left in the current window, when sent.
    pub remaining: Option<u64>,
    /// The window, when sent (`w=`).
    pub window: Option<Duration>,
    /// What the quota is counted for (`docker-ratelimit-source`: an IP address or an account id).
    pub source: Option<String>,
}

impl Quota {
    /// The quota in `headers`, if `ratelimit-limit` is there and well formed.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Quota> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (limit, limit_window) = parse_value(text("ratelimit-limit")?)?;
        let remaining = text("ratelimit-remaining").and_then(parse_value);
        let source = text("docker-ratelimit-source")
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= MAX_SOURCE)
            .map(str::to_owned);
        Some(Quota {
            limit,
            remaining: remaining.map(|(n, _)| n),
            window: limit_window.or(remaining.and_then(|(_, w)| w)),
            source,
        })
    }

    /// Whether at most a tenth of the quota is left.
    pub(crate) fn is_low(&self) -> bool {
        self.remaining
            .is_some_and(|left| left.saturating_mul(10) <= self.limit)
    }

    /// The wait implied when nothing is left: the whole window, by which the quota has refilled.
    pub(crate) fn exhausted_wait(&self) -> Option<Duration> {
        (self.remaining == Some(0)).then_some(self.window).flatten()
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.remaining {
            Some(left) => write!(f, "{left} of {} pulls left", self.limit)?,
            None => write!(f, "limit of {} pulls", self.limit)?,
        }
        if let Some(window) = self.window {
            write!(f, " per {}s", window.as_secs())?;
        }
        if let Some(source) = &self.source {
            write!(f, ", counted for {source}")?;
        }
        Ok(())
    }
}

/// Parses `100;w=21600` (also the draft-standard list form `100, 100;w=21600`): the first
/// number, and the first `w=` window.
fn parse_value(value: &str) -> Option<(u64, Option<Duration>)> {
    let mut items = value.split(',').map(str::trim);
    let first = items.next()?;
    let number = first.split(';').next()?.trim().parse::<u64>().ok()?;
    let window = value
        .split([',', ';'])
        .map(str::trim)
        .find_map(|p| p.strip_prefix("w="))
        .and_then(|w| w.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Some((number, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(*name, value.parse().unwrap());
        }
        h
    }

    #[test]
    fn parses_docker_hub_headers() {
        let q = Quota::from_headers(&headers(&[
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "76;w=21600"),
            ("docker-ratelimit-source", "203.0.113.7"),
        ]))
        .unwrap();
        assert_eq!(q.limit, 100);
        assert_eq!(q.remaining, Some(76));
        assert_eq!(q.window, Some(Duration::from_secs(21600)));
        assert_eq!(q.source.as_deref(), Some("203.0.113.7"));
        assert!(!q.is_low());
        assert_eq!(q.exhausted_wait(), None);
        assert_eq!(
            q.to_string(),
            "76 of 100 pulls left per 21600s, counted for 203.0.113.7"
        );
    }

    #[test]
    fn low_and_exhausted_quotas() {
        let q = Quota::from_headers(&headers(&[
            ("RateLimit-Limit", "200, 200;w=3600"),
            ("RateLimit-Remaining", "0"),
        ]))
        .unwrap();
        assert_eq!(q.limit, 200);
        assert!(q.is_low());
        assert_eq!(q.exhausted_wait(), Some(Duration::from_secs(3600)));
        let q = Quota::from_headers(&headers(&[
            ("ratelimit-limit", "100;w=21600"),
            ("ratelimit-remaining", "10;w=21600"),
        ]))
        .unwrap();
        assert!(q.is_low());
        assert_eq!(q.exhausted_wait(), None);
    }

    #[test]
    fn ignores_absent_or_malformed_values() {
        assert_eq!(Quota::from_headers(&HeaderMap::new()), None);
        for bad in ["", "lots", "-1;w=5", ";w=5"] {
            assert_eq!(
                Quota::from_headers(&headers(&[("ratelimit-limit", bad)])),
                None,
                "{bad:?}"
            );
        }
        let q = Quota::from_headers(&headers(&[
            ("ratelimit-limit", "100"),
            ("ratelimit-remaining", "many;w=x"),
            ("docker-ratelimit-source", &"x".repeat(200)),
        ]))
        .unwrap();
        assert_eq!(
            q,
            Quota {
                limit: 100,
                remaining: None,
                window: None,
                source: None
            }
        );
        assert_eq!(q.to_string(), "limit of 100 pulls");
    }
}
