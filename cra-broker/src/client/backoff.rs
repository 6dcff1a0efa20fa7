//! Reconnect delays: exponential with jitter, as Primus does (factor 1.5, from 500 ms), capped,
//! and never giving up.

use std::time::Duration;

/// Exponential backoff with full jitter on the upper half.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    factor: f64,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    /// A backoff between `min` and `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            factor: 1.5,
            attempt: 0,
        }
    }

    /// The number of delays handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts again from the minimum (after a successful connection).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The next delay: `min · factor^attempt`, capped at `max`, then drawn in its upper half.
    pub fn next_delay(&mut self) -> Duration {
        let exponent = i32::try_from(self.attempt).unwrap_or(i32::MAX);
        let raw = self.min.as_secs_f64() * self.factor.powi(exponent);
        let capped = raw.min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let jittered = capped * (0.5 + fastrand::f64() * 0.5);
        Duration::from_secs_f64(jittered.max(self.min.as_secs_f64() * 0.5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut previous_cap = 0.0;
        for attempt in 0..40 {
            let cap = (0.1 * 1.5f64.powi(attempt)).min(2.0);
            let d = b.next_delay().as_secs_f64();
            assert!(
                d <= cap + 1e-9 && d >= cap * 0.5 - 1e-9,
                "attempt {attempt}: {d} vs {cap}"
            );
            assert!(cap >= previous_cap);
            previous_cap = cap;
        }
        assert_eq!(b.attempt(), 40);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn jitter_varies() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(delays.len() > 1);
    }
}
