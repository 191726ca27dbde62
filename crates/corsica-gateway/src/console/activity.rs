//! What the dashboard shows, kept bounded: the latest denials (a ring), requests allowed
//! and denied per second (a ring of one point a second, sampled from the metrics), the
//! configuration's generation and its last reload. Nothing here grows with traffic: an
//! attacker's requests only overwrite the oldest entries.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// The denials kept.
pub const DENIALS_KEPT: usize = 50;
/// The seconds of history kept for the chart (ten minutes).
pub const SECONDS_KEPT: usize = 600;
/// The most bytes of an origin or a path kept for a denial (the rest is cut, marked `…`).
pub const FIELD_BYTES: usize = 200;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `bytes` as text of at most [`FIELD_BYTES`] bytes (invalid UTF-8 replaced).
pub(crate) fn cut(bytes: &[u8]) -> String {
    cut_to(bytes, FIELD_BYTES)
}

/// `bytes` as text of at most `max` bytes, `…` after a cut (invalid UTF-8 replaced).
pub(crate) fn cut_to(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    if bytes.len() > max {
        format!("{text}…")
    } else {
        text.into_owned()
    }
}

/// One denied request, as the dashboard lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Denial {
    /// When (Unix milliseconds).
    pub at: u64,
    /// The route's name.
    pub route: String,
    /// `preflight` or `actual`.
    pub kind: &'static str,
    /// The method (a preflight's is `OPTIONS`; cut to [`FIELD_BYTES`]).
    pub method: String,
    /// The path (cut to [`FIELD_BYTES`]).
    pub path: String,
    /// The `Origin` (cut), or empty.
    pub origin: String,
    /// The engine's reason label (`origin_not_allowed`, `method_not_allowed`, …).
    pub reason: &'static str,
    /// The reason in words, with the rule's detail (the header or method refused; cut to
    /// 400 bytes).
    pub message: String,
}

/// One second of traffic: requests the policies allowed and denied.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Point {
    /// The second (Unix seconds).
    pub t: u64,
    /// CORS requests allowed (preflights and actual requests).
    pub allowed: u64,
    /// CORS requests denied (and refused by the edge guard).
    pub denied: u64,
}

/// The configuration in force and the last reload.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ConfigInfo {
    /// The generation: 1 at start, one more at each reload that applied.
    pub version: u64,
    /// When it was applied (Unix milliseconds).
    pub applied_at: u64,
    /// The last reload attempted, if any.
    pub last_reload: Option<Reload>,
}

/// A reload attempt.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Reload {
    /// When (Unix milliseconds).
    pub at: u64,
    /// `ok` or `error` (the running configuration was kept).
    pub result: &'static str,
    /// Every problem found, `file:line:column: message`.
    pub errors: Vec<String>,
}

/// The dashboard's state.
pub struct Activity {
    denials: Mutex<VecDeque<Denial>>,
    series: Mutex<Series>,
    config: Mutex<ConfigInfo>,
    /// Bumped at every change the dashboard shows at once (a denial, a reload).
    changed: watch::Sender<u64>,
}

/// The per-second ring and the totals last seen.
#[derive(Default)]
struct Series {
    points: VecDeque<Point>,
    last: Option<(u64, u64)>,
}

impl Activity {
    /// Empty, at configuration version 1.
    pub(crate) fn new() -> Activity {
        Activity {
            denials: Mutex::new(VecDeque::with_capacity(DENIALS_KEPT)),
            series: Mutex::new(Series::default()),
            config: Mutex::new(ConfigInfo {
                version: 1,
                applied_at: now_ms(),
                last_reload: None,
            }),
            changed: watch::channel(0).0,
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Keeps a denial (the oldest goes when [`DENIALS_KEPT`] are kept).
    pub(crate) fn denied(&self, denial: Denial) {
        {
            let mut d = self.denials.lock().unwrap_or_else(|e| e.into_inner());
            if d.len() == DENIALS_KEPT {
                d.pop_front();
            }
            d.push_back(denial);
        }
        self.bump();
    }

    /// Records a reload attempt; `errors` empty: applied.
    pub(crate) fn reloaded(&self, errors: Vec<String>) {
        {
            let mut c = self.config.lock().unwrap_or_else(|e| e.into_inner());
            let at = now_ms();
            if errors.is_empty() {
                c.version += 1;
                c.applied_at = at;
            }
            c.last_reload = Some(Reload {
                at,
                result: if errors.is_empty() { "ok" } else { "error" },
                errors,
            });
        }
        self.bump();
    }

    /// Adds this second's point from the metrics' totals (called once a second).
    pub(crate) fn sample(&self, metrics: &Metrics) {
        let (allowed, denied) = totals(metrics);
        let mut s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((a, d)) = s.last {
            if s.points.len() == SECONDS_KEPT {
                s.points.pop_front();
            }
            s.points.push_back(Point {
                t: now_ms() / 1000,
                allowed: allowed.saturating_sub(a),
                denied: denied.saturating_sub(d),
            });
        }
        s.last = Some((allowed, denied));
    }

    /// A receiver that sees every change (for server-sent events).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The latest denials, newest first.
    pub(crate) fn denials(&self) -> Vec<Denial> {
        let d = self.denials.lock().unwrap_or_else(|e| e.into_inner());
        d.iter().rev().cloned().collect()
    }

    /// The per-second points, oldest first.
    pub(crate) fn points(&self) -> Vec<Point> {
        let s = self.series.lock().unwrap_or_else(|e| e.into_inner());
        s.points.iter().copied().collect()
    }

    /// The configuration's generation and last reload.
    pub(crate) fn config(&self) -> ConfigInfo {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Requests by route and outcome, from the metrics: `(route, outcome) → count`.
pub(crate) fn counts(metrics: &Metrics) -> Vec<(String, String, u64)> {
    use prometheus::core::Collector;
    let mut out = Vec::new();
    for family in metrics.requests.collect() {
        for m in family.get_metric() {
            let label = |name: &str| {
                m.get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default()
            };
            // Counters hold whole numbers.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let value = m.get_counter().get_value() as u64;
            out.push((label("route"), label("outcome"), value));
        }
    }
    out
}

/// Whether an outcome label counts as allowed, denied, or neither.
pub(crate) fn class(outcome: &str) -> Option<bool> {
    match outcome {
        "preflight_allowed" | "actual_allowed" => Some(true),
        "preflight_denied" | "actual_denied" | "guard_refused" => Some(false),
        _ => None,
    }
}

/// Every CORS request allowed and denied so far.
fn totals(metrics: &Metrics) -> (u64, u64) {
    let (mut allowed, mut denied) = (0, 0);
    for (_, outcome, n) in counts(metrics) {
        match class(&outcome) {
            Some(true) => allowed += n,
            Some(false) => denied += n,
            None => {}
        }
    }
    (allowed, denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(i: usize) -> Denial {
        Denial {
            at: i as u64,
            route: "api".into(),
            kind: "actual",
            method: "GET".into(),
            path: "/".into(),
            origin: format!("https://o{i}.example"),
            reason: "origin_not_allowed",
            message: "origin not allowed".into(),
        }
    }

    #[test]
    fn the_denial_ring_keeps_the_latest() {
        let a = Activity::new();
        for i in 0..(DENIALS_KEPT * 3) {
            a.denied(denial(i));
        }
        let kept = a.denials();
        assert_eq!(kept.len(), DENIALS_KEPT);
        assert_eq!(kept[0].at as usize, DENIALS_KEPT * 3 - 1);
    }

    #[test]
    fn long_fields_are_cut() {
        let long = vec![b'a'; FIELD_BYTES * 4];
        let c = cut(&long);
        assert_eq!(c.len(), FIELD_BYTES + '…'.len_utf8());
        assert_eq!(cut(b"\xffx"), "\u{fffd}x");
    }

    #[test]
    fn reloads_count_versions_only_when_applied() {
        let a = Activity::new();
        a.reloaded(vec!["gw.toml:1:1: bad".into()]);
        assert_eq!(a.config().version, 1);
        assert_eq!(a.config().last_reload.unwrap().result, "error");
        a.reloaded(vec![]);
        assert_eq!(a.config().version, 2);
    }

    #[test]
    fn points_are_deltas_per_second() {
        let m = Metrics::new();
        let a = Activity::new();
        a.sample(&m);
        m.requests
            .with_label_values(&["api", "actual_allowed"])
            .inc_by(3);
        m.requests
            .with_label_values(&["api", "preflight_denied"])
            .inc();
        m.requests.with_label_values(&["api", "not_cors"]).inc();
        a.sample(&m);
        let p = a.points();
        assert_eq!((p.len(), p[0].allowed, p[0].denied), (1, 3, 1));
    }
}
