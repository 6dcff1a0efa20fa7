//! Counters of the agent, rendered in the Prometheus text exposition format for `GET /metrics`.
//!
//! Every label value comes from a closed set, so that no client can grow the exposition (or the
//! agent's memory) by choosing methods or paths: methods other than the standard ones count as
//! `other`, and so do requests that matched no route.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::Method;

use crate::agent::jobs::QueueSnapshot;

/// The route patterns of the agent, as `MatchedPath` gives them; anything else is `other`.
const ROUTES: [&str; 14] = [
    "/healthcheck",
    "/ready",
    "/systemcheck",
    "/validate-credentials",
    "/list",
    "/list/{*repository}",
    "/list-paginated/{*repository}",
    "/list-with-metadata/{*repository}",
    "/image-metadata/{*image}",
    "/get-state-identifier",
    "/metrics",
    "/scan",
    "/discover",
    "other",
];

/// The method label: the standard methods by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// The route label: one of [`ROUTES`].
fn route_label(route: Option<&str>) -> &'static str {
    route
        .and_then(|r| ROUTES.iter().find(|known| **known == r))
        .copied()
        .unwrap_or("other")
}

/// The gauges read at render time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    /// The scan queue.
    pub queue: QueueSnapshot,
    /// Callbacks waiting in the outbox.
    pub callbacks_pending: usize,
}

/// How a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScanOutcome {
    /// The scan finished and its result was produced.
    Succeeded,
    /// The scan failed; a failed result was reported.
    Failed,
    /// The scan was refused because the queue was full.
    Rejected,
}

impl ScanOutcome {
    fn label(self) -> &'static str {
        match self {
            ScanOutcome::Succeeded => "succeeded",
            ScanOutcome::Failed => "failed",
            ScanOutcome::Rejected => "rejected",
        }
    }
}

/// The agent's counters; gauges of the queue are read from it at render time.
#[derive(Debug, Default)]
pub struct Metrics {
    scans_accepted: AtomicU64,
    scans_resumed: AtomicU64,
    scans_succeeded: AtomicU64,
    scans_failed: AtomicU64,
    scans_rejected: AtomicU64,
    callbacks_delivered: AtomicU64,
    callbacks_failed: AtomicU64,
    callbacks_expired: AtomicU64,
    callback_retries: AtomicU64,
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
}

impl Metrics {
    /// Counts an accepted scan request.
    pub fn scan_accepted(&self) {
        self.scans_accepted.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a scan an earlier run accepted and this one queued again.
    pub fn scan_resumed(&self) {
        self.scans_resumed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a finished or refused scan.
    pub fn scan_finished(&self, outcome: ScanOutcome) {
        let counter = match outcome {
            ScanOutcome::Succeeded => &self.scans_succeeded,
            ScanOutcome::Failed => &self.scans_failed,
            ScanOutcome::Rejected => &self.scans_rejected,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a callback that was delivered (`true`) or given up on (`false`).
    pub fn callback(&self, delivered: bool) {
        let counter = if delivered {
            &self.callbacks_delivered
        } else {
            &self.callbacks_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a callback dropped undelivered because it grew too old or the outbox too full.
    pub fn callback_expired(&self) {
        self.callbacks_expired.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one retried callback attempt.
    pub fn callback_retry(&self) {
        self.callback_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answered HTTP request by method, route pattern and status, each mapped onto
    /// its closed set.
    pub fn request(&self, method: &Method, route: Option<&str>, status: u16) {
        // Statuses are the agent's own answers, but are bounded all the same.
        let status = if (100..600).contains(&status) {
            status
        } else {
            0
        };
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((method_label(method), route_label(route), status))
                .or_insert(0) += 1;
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self, gauges: Gauges) -> String {
        let queue = gauges.queue;
        let mut out = String::new();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        gauge(
            &mut out,
            "cra_agent_scans_queued",
            "Accepted scans waiting for a free slot.",
            queue.queued as u64,
        );
        gauge(
            &mut out,
            "cra_agent_scans_running",
            "Scans running now.",
            queue.running as u64,
        );
        gauge(
            &mut out,
            "cra_agent_scans_max_active",
            "The most scans that run at once (MAX_ACTIVE_OPERATIONS).",
            queue.max_active as u64,
        );
        gauge(
            &mut out,
            "cra_agent_scans_max_queued",
            "The most scans that may wait; beyond it /scan answers 429.",
            queue.max_queued as u64,
        );
        counter(
            &mut out,
            "cra_agent_scans_accepted_total",
            "Scan requests accepted with 202.",
            load(&self.scans_accepted),
        );
        counter(
            &mut out,
            "cra_agent_scans_resumed_total",
            "Scans an earlier run accepted and never finished, queued again after a restart.",
            load(&self.scans_resumed),
        );
        header(
            &mut out,
            "cra_agent_scans_total",
            "Scans by outcome.",
            "counter",
        );
        for (outcome, c) in [
            (ScanOutcome::Succeeded, &self.scans_succeeded),
            (ScanOutcome::Failed, &self.scans_failed),
            (ScanOutcome::Rejected, &self.scans_rejected),
        ] {
            let _ = writeln!(
                out,
                "cra_agent_scans_total{{outcome=\"{}\"}} {}",
                outcome.label(),
                load(c)
            );
        }
        header(
            &mut out,
            "cra_agent_callbacks_total",
            "Callbacks to the broker client by result.",
            "counter",
        );
        let _ = writeln!(
            out,
            "cra_agent_callbacks_total{{result=\"delivered\"}} {}",
            load(&self.callbacks_delivered)
        );
        let _ = writeln!(
            out,
            "cra_agent_callbacks_total{{result=\"failed\"}} {}",
            load(&self.callbacks_failed)
        );
        gauge(
            &mut out,
            "cra_agent_callbacks_pending",
            "Callbacks kept in the state directory until the broker client takes them.",
            gauges.callbacks_pending as u64,
        );
        counter(
            &mut out,
            "cra_agent_callbacks_expired_total",
            "Callbacks dropped undelivered: too old, or the outbox too full.",
            load(&self.callbacks_expired),
        );
        counter(
            &mut out,
            "cra_agent_callback_retries_total",
            "Callback attempts that were retried after a failure.",
            load(&self.callback_retries),
        );
        header(
            &mut out,
            "cra_agent_http_requests_total",
            "HTTP requests answered, by method, route and status.",
            "counter",
        );
        if let Ok(map) = self.requests.lock() {
            for ((method, route, status), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "cra_agent_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "gauge");
    let _ = writeln!(out, "{name} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, help, "counter");
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn renders_gauges_and_counters() {
        let m = Metrics::default();
        m.scan_accepted();
        m.scan_accepted();
        m.scan_finished(ScanOutcome::Succeeded);
        m.scan_finished(ScanOutcome::Rejected);
        m.callback(true);
        m.callback_retry();
        m.request(&Method::GET, Some("/list/{*repository}"), 200);
        m.request(&Method::GET, Some("/list/{*repository}"), 200);
        m.request(&Method::GET, None, 404);
        m.callback_expired();
        m.scan_resumed();
        let text = m.render(Gauges {
            queue: QueueSnapshot {
                queued: 3,
                running: 1,
                max_active: 1,
                max_queued: 100,
            },
            callbacks_pending: 4,
        });
        assert_eq!(value(&text, "cra_agent_scans_queued"), Some(3));
        assert_eq!(value(&text, "cra_agent_scans_running"), Some(1));
        assert_eq!(value(&text, "cra_agent_scans_accepted_total"), Some(2));
        assert_eq!(value(&text, "cra_agent_scans_resumed_total"), Some(1));
        assert_eq!(
            value(&text, "cra_agent_scans_total{outcome=\"succeeded\"}"),
            Some(1)
        );
        assert_eq!(
            value(&text, "cra_agent_scans_total{outcome=\"rejected\"}"),
            Some(1)
        );
        assert_eq!(
            value(&text, "cra_agent_callbacks_total{result=\"delivered\"}"),
            Some(1)
        );
        assert_eq!(
            value(
                &text,
                "cra_agent_http_requests_total{method=\"GET\",route=\"/list/{*repository}\",status=\"200\"}"
            ),
            Some(2)
        );
        assert_eq!(
            value(
                &text,
                "cra_agent_http_requests_total{method=\"GET\",route=\"other\",status=\"404\"}"
            ),
            Some(1)
        );
        assert_eq!(value(&text, "cra_agent_callbacks_pending"), Some(4));
        assert_eq!(value(&text, "cra_agent_callbacks_expired_total"), Some(1));
        // Every sample line belongs to a declared metric family.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            assert!(text.contains(&format!("# TYPE {name} ")), "{line}");
        }
    }
}

#[cfg(test)]
mod closed_sets {
    use super::*;

    #[test]
    fn client_chosen_methods_and_paths_do_not_grow_the_exposition() {
        let m = Metrics::default();
        m.request(&Method::GET, Some("/list"), 200);
        let before = m.render(Gauges::default()).len();
        for i in 0..2000 {
            let method = Method::from_bytes(format!("M{i}{}", "X".repeat(500)).as_bytes()).unwrap();
            m.request(&method, Some(&format!("/made-up/{i}")), 405);
            m.request(&method, None, 404);
        }
        let text = m.render(Gauges::default());
        let other: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("method=\"other\""))
            .collect();
        assert_eq!(
            other,
            [
                "cra_agent_http_requests_total{method=\"other\",route=\"other\",status=\"404\"} 2000",
                "cra_agent_http_requests_total{method=\"other\",route=\"other\",status=\"405\"} 2000",
            ]
        );
        assert!(text.len() < before + 300, "{text}");
        for route in ROUTES {
            assert_eq!(route_label(Some(route)), route);
        }
    }
}
