//! Shadow (report-only) CORS policies, as Content-Security-Policy's report-only mode: a
//! route's `[route.cors_shadow]` candidate is decided on every request of the route beside
//! the policy in force, which alone answers. The requests whose verdict would change are
//! counted per route and direction (`corsica_shadow_changes_total{route, change}`) and the
//! latest of them are kept as samples, e.g.
//!
//! ```text
//! would now deny https://old.example.com on PUT /orders: method `PUT` is not allowed (…)
//! ```
//!
//! for a dashboard to read ([`Running::shadow_report`]) and follow as they come
//! ([`Running::shadow_subscribe`]). Promoting the candidate is a configuration edit (rename
//! the table to `[route.cors]`) and a reload.
//!
//! Memory is bounded whatever requests say: the samples are a ring of [`SAMPLES`], each
//! field from the request cut to [`MAX_FIELD_BYTES`] (the engine's reason to
//! [`MAX_DETAIL_BYTES`]), at most [`SAMPLES_PER_SECOND`] are taken a second (every change is
//! still counted), and subscribers get a channel of [`SUBSCRIBER_BACKLOG`] samples, past
//! which a slow one misses the oldest (it is told how many, and can read the report again).
//!
//! [`Running::shadow_report`]: crate::gateway::Running::shadow_report
//! [`Running::shadow_subscribe`]: crate::gateway::Running::shadow_subscribe

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use corsica::{Decision, RequestKind};
use http::Request;
use http::header::ORIGIN;
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::config::Route;
use crate::log_limit::LogLimit;
use crate::metrics::Metrics;
use crate::proxy::Shared;

/// How many samples the gateway keeps (the latest; older ones are dropped).
pub const SAMPLES: usize = 50;

/// The most bytes kept of a sample's path, origin and method (longer ones are cut, and end
/// with `...`).
pub const MAX_FIELD_BYTES: usize = 200;

/// The most bytes kept of a sample's reason (the engine's message).
pub const MAX_DETAIL_BYTES: usize = 400;

/// The most samples taken a second; changes beyond it are counted but not sampled (see
/// [`ShadowReport::unsampled`]).
pub const SAMPLES_PER_SECOND: u32 = 20;

/// How many samples a subscriber may fall behind before it misses the oldest.
pub const SUBSCRIBER_BACKLOG: usize = 64;

/// How the candidate's verdict differs from the one given.
///
/// ```
/// use corsica_gateway::shadow::Change;
/// assert_eq!(Change::WouldDeny.label(), "would_deny");
/// assert_eq!(serde_json::to_string(&Change::WouldAllow).unwrap(), "\"would_allow\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Allowed now; the candidate would deny it (for a preflight: answer it 403; for an
    /// actual request: send no CORS headers, so the page cannot read the response).
    WouldDeny,
    /// Denied now; the candidate would allow it.
    WouldAllow,
    /// Allowed by both, but the page would be allowed something else: credentials on or
    /// off, other exposed response headers, or private network access on or off.
    WouldChange,
}

impl Change {
    /// Every change, in label order.
    pub const ALL: [Change; 3] = [Change::WouldDeny, Change::WouldAllow, Change::WouldChange];

    /// The metric label (`change="…"` of `corsica_shadow_changes_total`).
    ///
    /// ```
    /// assert_eq!(corsica_gateway::shadow::Change::WouldChange.label(), "would_change");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Change::WouldDeny => "would_deny",
            Change::WouldAllow => "would_allow",
            Change::WouldChange => "would_change",
        }
    }

    /// The words a sample's message starts with.
    fn verb(self) -> &'static str {
        match self {
            Change::WouldDeny => "would now deny",
            Change::WouldAllow => "would now allow",
            Change::WouldChange => "would change what is allowed to",
        }
    }
}

/// The change from `active` (the decision in force) to `shadow` (the candidate's decision
/// of the same request), or `None` when a browser would see the same verdict. Allocates
/// nothing.
///
/// ```
/// use corsica::Policy;
/// use corsica_gateway::shadow::{Change, compare};
/// use http::{HeaderMap, HeaderValue, Method};
/// let now = Policy::builder().allow_origins(["https://app.example.com"]).allow_methods(["GET", "PUT"]).build()?;
/// let candidate = Policy::builder().allow_origins(["https://app.example.com"]).allow_methods(["GET"]).build()?;
/// let mut h = HeaderMap::new();
/// h.insert("origin", HeaderValue::from_static("https://app.example.com"));
/// h.insert("access-control-request-method", HeaderValue::from_static("PUT"));
/// let decide = |p: &Policy, m: &Method| p.decide(m, &h);
/// assert_eq!(compare(&decide(&now, &Method::OPTIONS), &decide(&candidate, &Method::OPTIONS)), Some(Change::WouldDeny));
/// assert_eq!(compare(&decide(&candidate, &Method::OPTIONS), &decide(&now, &Method::OPTIONS)), Some(Change::WouldAllow));
/// assert_eq!(compare(&decide(&now, &Method::GET), &decide(&candidate, &Method::GET)), None);
/// # Ok::<(), corsica::ConfigErrors>(())
/// ```
pub fn compare(active: &Decision, shadow: &Decision) -> Option<Change> {
    if active.kind() == RequestKind::NotCors && shadow.kind() == RequestKind::NotCors {
        return None;
    }
    match (active.is_allowed(), shadow.is_allowed()) {
        (true, false) => Some(Change::WouldDeny),
        (false, true) => Some(Change::WouldAllow),
        (false, false) => None,
        (true, true) => (!same_reads(active, shadow)).then_some(Change::WouldChange),
    }
}

/// Whether two allowing decisions let the page do the same: credentials, exposed headers,
/// private network access (the allowed origin's form, `*` or echoed, makes no difference
/// without credentials, and credentials are compared).
fn same_reads(a: &Decision, b: &Decision) -> bool {
    let (a, b) = (a.headers(), b.headers());
    a.allow_credentials() == b.allow_credentials()
        && a.expose_headers() == b.expose_headers()
        && a.allow_private_network() == b.allow_private_network()
}

/// What differs between two allowing decisions, in words (for a sample).
fn what_changes(active: &Decision, shadow: &Decision) -> String {
    let (a, b) = (active.headers(), shadow.headers());
    let mut parts = Vec::new();
    if a.allow_credentials() != b.allow_credentials() {
        parts.push(if b.allow_credentials() {
            "credentials would be allowed".to_owned()
        } else {
            "credentials would no longer be allowed".to_owned()
        });
    }
    if a.expose_headers() != b.expose_headers() {
        let list = |v: Option<&http::HeaderValue>| {
            v.map_or("none".to_owned(), |v| {
                format!("`{}`", String::from_utf8_lossy(v.as_bytes()))
            })
        };
        parts.push(format!(
            "exposed headers would be {} (now {})",
            list(b.expose_headers()),
            list(a.expose_headers())
        ));
    }
    if a.allow_private_network() != b.allow_private_network() {
        parts.push(if b.allow_private_network() {
            "private network access would be allowed".to_owned()
        } else {
            "private network access would no longer be allowed".to_owned()
        });
    }
    parts.join("; ")
}

/// One request whose verdict the candidate would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowSample {
    /// Its number: 1 for the gateway's first sample, then one more for each (a dashboard
    /// can tell new samples from those it has, and see gaps).
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// The route's name.
    pub route: String,
    /// `preflight` or `actual`.
    pub kind: String,
    /// The method: for a preflight, the one it asks for (`Access-Control-Request-Method`).
    pub method: String,
    /// The request's path, without the query (at most [`MAX_FIELD_BYTES`]).
    pub path: String,
    /// The request's `Origin` (at most [`MAX_FIELD_BYTES`]).
    pub origin: String,
    /// The direction of the change.
    pub change: Change,
    /// The engine's reason label ([`corsica::Reason::label`]): the candidate's for
    /// `would_deny`, the policy in force's for `would_allow`, none for `would_change`.
    pub reason: Option<String>,
    /// Why, in words: the engine's message for that reason, or what would change.
    pub detail: String,
    /// The whole line, e.g. `would now deny https://old.example.com on PUT /orders: …`.
    pub message: String,
}

/// A route's counts of changes (since the gateway started, as
/// `corsica_shadow_changes_total`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowRouteCounts {
    /// The route's name.
    pub route: String,
    /// Requests allowed now that the candidate would deny.
    pub would_deny: u64,
    /// Requests denied now that the candidate would allow.
    pub would_allow: u64,
    /// Requests both allow, with a difference in what the page may read.
    pub would_change: u64,
}

/// What the shadow policies have seen: per route counts and the latest samples. Serializes
/// to JSON as the admin listener's `/shadow` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowReport {
    /// The routes of the running configuration that have a `[route.cors_shadow]`, in order.
    pub routes: Vec<ShadowRouteCounts>,
    /// The latest samples, oldest first (at most `capacity`).
    pub samples: Vec<ShadowSample>,
    /// How many samples are kept ([`SAMPLES`]).
    pub capacity: usize,
    /// Changes counted but not sampled, over [`SAMPLES_PER_SECOND`].
    pub unsampled: u64,
}

/// The gateway's samples and their subscribers (one per gateway, across reloads).
pub(crate) struct Recorder {
    /// The latest samples, oldest first, at most `capacity`.
    ring: Mutex<VecDeque<ShadowSample>>,
    capacity: usize,
    /// The last sample's `seq`.
    seq: AtomicU64,
    /// The rate of samples.
    limit: LogLimit,
    /// Changes not sampled.
    unsampled: AtomicU64,
    /// New samples, to subscribers.
    tx: broadcast::Sender<ShadowSample>,
}

impl Recorder {
    /// A recorder keeping the latest `capacity` samples.
    pub(crate) fn new(capacity: usize) -> Recorder {
        Recorder {
            ring: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
            seq: AtomicU64::new(0),
            limit: LogLimit::new(SAMPLES_PER_SECOND),
            unsampled: AtomicU64::new(0),
            tx: broadcast::channel(SUBSCRIBER_BACKLOG).0,
        }
    }

    /// Keeps a sample (numbered here), dropping the oldest beyond the capacity, and sends
    /// it to the subscribers.
    fn record(&self, mut sample: ShadowSample) {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        sample.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        if self.capacity > 0 {
            ring.push_back(sample.clone());
        }
        // Sent under the lock, so subscribers see the samples in `seq` order. No
        // subscriber is not an error.
        let _ = self.tx.send(sample);
    }

    /// The latest samples, oldest first.
    fn samples(&self) -> Vec<ShadowSample> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }

    /// A receiver of every sample taken from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<ShadowSample> {
        self.tx.subscribe()
    }
}

/// A route's change counters, resolved when the configuration is set (only for a route
/// with a candidate).
#[derive(Clone)]
pub(crate) struct RouteShadow {
    /// `corsica_shadow_changes_total{route, change}`, indexed as [`Change::ALL`].
    changes: [IntCounter; 3],
}

impl RouteShadow {
    /// The counters of `route`, if it has a candidate policy.
    pub(crate) fn new(route: &Route, metrics: &Metrics) -> Option<RouteShadow> {
        route.shadow_policy()?;
        let name = route.name();
        Some(RouteShadow {
            changes: Change::ALL
                .map(|c| metrics.shadow_changes.with_label_values(&[name, c.label()])),
        })
    }
}

/// Decides the request with the route's candidate policy, if it has one, and counts and
/// samples it when its verdict differs from `active`, the decision in force. The one call
/// of the request path.
pub(crate) fn observe<B>(
    recorder: &Recorder,
    route: &Route,
    handles: Option<&RouteShadow>,
    req: &Request<B>,
    active: &Decision,
) {
    let (Some(policy), Some(handles)) = (route.shadow_policy(), handles) else {
        return;
    };
    let shadow = policy.decide(req.method(), req.headers());
    let Some(change) = compare(active, &shadow) else {
        return;
    };
    handles.changes[change as usize].inc();
    if recorder.limit.admit().is_none() {
        recorder.unsampled.fetch_add(1, Ordering::Relaxed);
        return;
    }
    recorder.record(sample(route, req, change, active, &shadow));
}

/// The sample of a changed request (`seq` 0: [`Recorder::record`] numbers it).
fn sample<B>(
    route: &Route,
    req: &Request<B>,
    change: Change,
    active: &Decision,
    shadow: &Decision,
) -> ShadowSample {
    let lossy = |v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    let preflight = corsica::preflight_method(req.method(), req.headers());
    let kind = if preflight.is_some() {
        "preflight"
    } else {
        "actual"
    };
    let method = preflight.map_or_else(|| req.method().as_str().to_owned(), lossy);
    let method = bounded(method, MAX_FIELD_BYTES);
    let origin = req.headers().get(ORIGIN).map_or_else(String::new, lossy);
    let origin = bounded(origin, MAX_FIELD_BYTES);
    let path = bounded(req.uri().path().to_owned(), MAX_FIELD_BYTES);
    let denied = match change {
        Change::WouldDeny => shadow.reason(),
        Change::WouldAllow => active.reason(),
        Change::WouldChange => None,
    };
    let detail = match denied {
        Some(r) => r.to_string(),
        None => what_changes(active, shadow),
    };
    let detail = bounded(detail, MAX_DETAIL_BYTES);
    let because = if change == Change::WouldAllow {
        "denied now: "
    } else {
        ""
    };
    let shown_origin = if origin.is_empty() { "-" } else { &origin };
    let message = format!(
        "{} {shown_origin} on {method} {path}: {because}{detail}",
        change.verb()
    );
    ShadowSample {
        seq: 0,
        unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        route: route.name().to_owned(),
        kind: kind.to_owned(),
        method,
        path,
        origin,
        change,
        reason: denied.map(|r| r.label().to_owned()),
        detail,
        message,
    }
}

/// `text` cut to at most `max` bytes (on a character boundary, ending with `...`).
fn bounded(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
    text
}

/// The report of a gateway (see [`ShadowReport`]).
pub(crate) fn report(shared: &Shared) -> ShadowReport {
    let state = shared.load();
    let routes = state
        .config
        .routes()
        .iter()
        .filter(|r| r.shadow_policy().is_some())
        .map(|r| {
            let count = |c: Change| {
                shared
                    .metrics
                    .shadow_changes
                    .with_label_values(&[r.name(), c.label()])
                    .get()
            };
            ShadowRouteCounts {
                route: r.name().to_owned(),
                would_deny: count(Change::WouldDeny),
                would_allow: count(Change::WouldAllow),
                would_change: count(Change::WouldChange),
            }
        })
        .collect();
    ShadowReport {
        routes,
        samples: shared.shadow.samples(),
        capacity: shared.shadow.capacity,
        unsampled: shared.shadow.unsampled.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_no(n: u64) -> ShadowSample {
        ShadowSample {
            seq: 0,
            unix_ms: n,
            route: "r".into(),
            kind: "actual".into(),
            method: "GET".into(),
            path: "/".into(),
            origin: "https://a.example".into(),
            change: Change::WouldDeny,
            reason: None,
            detail: String::new(),
            message: String::new(),
        }
    }

    #[test]
    fn the_ring_keeps_the_latest_samples_only() {
        let recorder = Recorder::new(SAMPLES);
        let mut rx = recorder.subscribe();
        for n in 0..1000 {
            recorder.record(sample_no(n));
        }
        let kept = recorder.samples();
        assert_eq!(kept.len(), SAMPLES);
        assert_eq!(kept[0].seq, 1000 - SAMPLES as u64 + 1);
        assert_eq!(kept[SAMPLES - 1].seq, 1000);
        assert!(kept.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
        // A subscriber that did not keep up misses the oldest, and is told how many.
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(n)) if n == 1000 - SUBSCRIBER_BACKLOG as u64
        ));
        assert_eq!(
            rx.try_recv().map(|s| s.seq),
            Ok(1000 - SUBSCRIBER_BACKLOG as u64 + 1)
        );
        let empty = Recorder::new(0);
        empty.record(sample_no(1));
        assert!(empty.samples().is_empty());
    }

    #[test]
    fn fields_are_cut_on_character_boundaries() {
        assert_eq!(bounded("short".into(), 10), "short");
        assert_eq!(bounded("abcdefghijk".into(), 10), "abcdefg...");
        let cut = bounded("é".repeat(300), MAX_FIELD_BYTES);
        assert!(
            cut.len() <= MAX_FIELD_BYTES && cut.ends_with("..."),
            "{cut}"
        );
    }
}
