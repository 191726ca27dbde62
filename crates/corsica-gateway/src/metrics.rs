//! Prometheus metrics of the gateway. Labels are bounded: route names come from the
//! configuration, denial reasons from [`corsica::Reason::label`] and shadow changes from
//! [`crate::shadow::Change::label`], never from requests.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The gateway's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests by route and outcome (`preflight_allowed`, `preflight_denied`,
    /// `actual_allowed`, `actual_denied`, `not_cors`, `no_route`, `guard_refused`; and
    /// `bad_path`, `bad_host` for route `""`).
    /// `guard_refused`: the route's edge guard answered 403 (its reason is in `denials`).
    pub requests: IntCounterVec,
    /// Denials (and edge-guard refusals) by route and reason label.
    pub denials: IntCounterVec,
    /// Upstream response-head latency by route.
    pub upstream_latency: HistogramVec,
    /// Upstream failures by route and kind (`connect`, `timeout`, `body_timeout`: the
    /// upstream stopped sending its response body; the client's connection is closed).
    pub upstream_errors: IntCounterVec,
    /// Client errors found while forwarding, by route and kind (`request_body`: the
    /// request body could not be read, answered 400; `body_timeout`: the client sent
    /// nothing of its request body for `[limits] body_read_timeout_ms`, answered 408).
    pub client_errors: IntCounterVec,
    /// Requests whose verdict a route's `[route.cors_shadow]` candidate would change, by
    /// route and change (`would_deny`, `would_allow`, `would_change`; see
    /// [`crate::shadow::Change`]).
    pub shadow_changes: IntCounterVec,
    /// Configuration reloads by result (`ok`, `error`).
    pub reloads: IntCounterVec,
    /// Client connections closed by the slot table, by reason (`evicted`: every slot was
    /// taken and this connection had sent no request head yet; `per_client`: refused, its
    /// address already held `max_connections_per_client`).
    pub connections_shed: IntCounterVec,
    /// Open client connections.
    pub connections: IntGauge,
    /// Idle HTTP/1.1 client connections parked without HTTP state (a part of
    /// `connections`).
    pub parked: IntGauge,
}

impl Metrics {
    /// Registers every metric in a fresh registry.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let requests = counter(
            "corsica_requests_total",
            "Requests by route and CORS outcome.",
            &["route", "outcome"],
        );
        let denials = counter(
            "corsica_denials_total",
            "CORS denials by route and reason.",
            &["route", "reason"],
        );
        let upstream_errors = counter(
            "corsica_upstream_errors_total",
            "Upstream failures (502 connect, 504 timeout, body_timeout: stalled response body, connection closed).",
            &["route", "kind"],
        );
        let client_errors = counter(
            "corsica_client_errors_total",
            "Client errors found while forwarding (request_body: unreadable request body, 400; body_timeout: request body stalled, 408).",
            &["route", "kind"],
        );
        let shadow_changes = counter(
            "corsica_shadow_changes_total",
            "Requests whose CORS verdict the route's report-only [route.cors_shadow] policy would change (would_deny, would_allow, would_change).",
            &["route", "change"],
        );
        let reloads = counter(
            "corsica_config_reloads_total",
            "Configuration reloads by result; an error keeps the running configuration.",
            &["result"],
        );
        let connections_shed = counter(
            "corsica_connections_shed_total",
            "Client connections closed by the slot table (evicted: no request head yet when every slot was taken; per_client: over max_connections_per_client).",
            &["reason"],
        );
        let upstream_latency = HistogramVec::new(
            HistogramOpts::new(
                "corsica_upstream_response_seconds",
                "Time until the upstream's response head, by route (responses that arrived only).",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(upstream_latency.clone()))
            .expect("unique metric");
        let connections = IntGauge::new("corsica_client_connections", "Open client connections.")
            .expect("valid metric");
        registry
            .register(Box::new(connections.clone()))
            .expect("unique metric");
        let parked = IntGauge::new(
            "corsica_client_connections_parked",
            "Idle HTTP/1.1 client connections parked without HTTP state until their next request.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(parked.clone()))
            .expect("unique metric");
        for result in ["ok", "error"] {
            reloads.with_label_values(&[result]);
        }
        for reason in ["evicted", "per_client"] {
            connections_shed.with_label_values(&[reason]);
        }
        Metrics {
            registry,
            requests,
            denials,
            upstream_latency,
            upstream_errors,
            client_errors,
            shadow_changes,
            reloads,
            connections_shed,
            connections,
            parked,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// One unit of a gauge (an open connection, a parked one), given back when dropped, also
/// when its task is aborted.
pub(crate) struct Counted(IntGauge);

impl Counted {
    pub(crate) fn new(gauge: &IntGauge) -> Counted {
        gauge.inc();
        Counted(gauge.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labeled_series_render_and_clones_share_the_registry() {
        let metrics = Metrics::new();
        assert!(metrics.render().contains("corsica_client_connections 0"));
        metrics
            .requests
            .with_label_values(&["api", "actual_denied"])
            .inc();
        metrics
            .denials
            .with_label_values(&["api", "origin_not_allowed"])
            .inc();
        metrics.reloads.with_label_values(&["ok"]).inc();
        let handle = metrics.clone();
        handle.connections.inc();
        let text = metrics.render();
        for line in [
            "corsica_requests_total{outcome=\"actual_denied\",route=\"api\"} 1",
            "corsica_denials_total{reason=\"origin_not_allowed\",route=\"api\"} 1",
            "corsica_config_reloads_total{result=\"ok\"} 1",
            "corsica_client_connections 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
