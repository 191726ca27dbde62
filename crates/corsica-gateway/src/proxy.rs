//! The request path: route, decide with the engine, answer preflights at the edge,
//! forward everything else (or echo it), and write the decision on every response,
//! the gateway's own 502 and 504 included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use bytes::Bytes;
use corsica::{Decision, RequestKind};
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::config::{Config, Limits, Route, Upstream};
use crate::log_limit::{LogLimit, note};
use crate::metrics::Metrics;
use crate::upstream::Upstreams;
use prometheus::{Histogram, IntCounter};

/// Errors inside bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of the gateway's responses: its own text, or an upstream's body, streamed.
/// An enum rather than a boxed trait object: no allocation per response for it.
pub enum Body {
    /// The gateway's own text (`None` once read, or empty).
    Full(Option<Bytes>),
    /// An upstream's body, streamed (see [`crate::upstream`]).
    Upstream(crate::upstream::PooledBody),
    /// The console's server-sent events, as their task sends them (ends when it stops).
    Events(tokio::sync::mpsc::Receiver<Bytes>),
}

impl Body {
    /// The gateway's own text.
    pub fn text(text: impl Into<Bytes>) -> Body {
        Body::Full(Some(text.into()))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Full(text) => std::task::Poll::Ready(
                text.take()
                    .filter(|t| !t.is_empty())
                    .map(|t| Ok(http_body::Frame::data(t))),
            ),
            Body::Upstream(body) => std::pin::Pin::new(body).poll_frame(cx),
            Body::Events(events) => events
                .poll_recv(cx)
                .map(|e| e.map(|bytes| Ok(http_body::Frame::data(bytes)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(text) => text.as_ref().is_none_or(Bytes::is_empty),
            Body::Upstream(body) => body.is_end_stream(),
            Body::Events(_) => false,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Body::Full(text) => {
                http_body::SizeHint::with_exact(text.as_ref().map_or(0, |t| t.len() as u64))
            }
            Body::Upstream(body) => body.size_hint(),
            Body::Events(_) => http_body::SizeHint::default(),
        }
    }
}

/// The pooled upstream client (HTTP and HTTPS), see [`Upstreams`].
pub type UpstreamClient = Arc<Upstreams>;

/// What every request handler shares: the current configuration and its upstream client
/// (swapped together on reload), the metrics.
pub struct Shared {
    /// The running configuration and its upstream client, swapped together.
    state: ArcSwap<State>,
    /// Metrics.
    pub metrics: Metrics,
    /// The rate limit of the lines that requests can cause (denials, no route).
    log_limit: LogLimit,
    /// Bytes of upstream bodies being read whole right now (see [`BUFFERED_BODIES_BUDGET`]).
    buffered: std::sync::atomic::AtomicUsize,
    /// What the console's dashboard shows (bounded).
    pub(crate) activity: crate::console::activity::Activity,
    /// The samples of the shadow policies, kept across reloads.
    pub(crate) shadow: crate::shadow::Recorder,
}

/// One generation of the gateway: a configuration and the upstream client built for it.
/// A request loads it once and keeps it to the end, so a reload never mixes the routes of
/// one configuration with the client of another.
#[derive(Clone)]
pub struct State {
    /// The configuration.
    pub config: Arc<Config>,
    /// The upstream client (keeps connections alive per upstream).
    pub client: UpstreamClient,
    /// What each route needs per request and can be built once (in the order of
    /// `config.routes`): its metric series, the `Host` its upstream gets.
    routes: Vec<RouteState>,
    /// The series of requests that match no route (route label `""`).
    unrouted: Unrouted,
}

/// A route's per-request needs, resolved when the configuration is set: the request path
/// does no label lookup and no formatting for them.
#[derive(Clone)]
struct RouteState {
    /// `corsica_requests_total{route, outcome}`, indexed by [`Outcome`].
    requests: [IntCounter; Outcome::COUNT],
    /// `corsica_upstream_response_seconds{route}`.
    upstream_latency: Histogram,
    /// `corsica_upstream_errors_total{route, kind="connect"}`.
    connect_errors: IntCounter,
    /// `corsica_upstream_errors_total{route, kind="timeout"}`.
    timeouts: IntCounter,
    /// `corsica_upstream_errors_total{route, kind="response"}`: a connection was made but
    /// no valid response head came on it (invalid, or the connection closed first).
    response_errors: IntCounter,
    /// `corsica_upstream_errors_total{route, kind="body"}`: a buffered response body that
    /// failed (shorter than its `Content-Length`, the connection reset): 502.
    upstream_body_errors: IntCounter,
    /// `corsica_upstream_errors_total{route, kind="body_timeout"}`: the upstream sent
    /// nothing of its response body for `[limits] upstream_body_timeout_ms`.
    upstream_body_timeouts: IntCounter,
    /// `corsica_client_errors_total{route, kind="request_body"}`: the client's request
    /// body could not be read (400).
    body_errors: IntCounter,
    /// `corsica_client_errors_total{route, kind="body_timeout"}`: the client sent nothing
    /// of its request body for `[limits] body_read_timeout_ms` (408).
    body_timeouts: IntCounter,
    /// The `Host` header for the upstream (its authority), if it is an HTTP(S) upstream.
    upstream_host: Option<HeaderValue>,
    /// The upstream's `scheme://authority/` (what its connections are pooled by).
    upstream_target: Option<http::Uri>,
    /// The change counters of its `[route.cors_shadow]` candidate, if it has one.
    shadow: Option<crate::shadow::RouteShadow>,
}

/// The series of requests that match no route.
#[derive(Clone)]
struct Unrouted {
    /// `corsica_requests_total{route="", outcome="bad_path"}`.
    bad_path: IntCounter,
    /// `corsica_requests_total{route="", outcome="no_route"}`.
    no_route: IntCounter,
    /// `corsica_requests_total{route="", outcome="bad_host"}`: no `Host` in an HTTP/1.1
    /// request, or several.
    bad_host: IntCounter,
}

/// The outcome label of a routed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    PreflightAllowed,
    PreflightDenied,
    ActualAllowed,
    ActualDenied,
    NotCors,
    GuardRefused,
}

impl Outcome {
    /// How many outcomes there are.
    const COUNT: usize = 6;
    /// Every outcome, in index order.
    const ALL: [Outcome; Outcome::COUNT] = [
        Outcome::PreflightAllowed,
        Outcome::PreflightDenied,
        Outcome::ActualAllowed,
        Outcome::ActualDenied,
        Outcome::NotCors,
        Outcome::GuardRefused,
    ];

    /// The outcome of a decision.
    fn of(d: &Decision) -> Outcome {
        match (d.kind(), d.is_allowed()) {
            (RequestKind::Preflight, true) => Outcome::PreflightAllowed,
            (RequestKind::Preflight, false) => Outcome::PreflightDenied,
            (RequestKind::Actual, true) => Outcome::ActualAllowed,
            (RequestKind::Actual, false) => Outcome::ActualDenied,
            (RequestKind::NotCors, _) => Outcome::NotCors,
        }
    }

    /// The metric label.
    fn label(self) -> &'static str {
        match self {
            Outcome::PreflightAllowed => "preflight_allowed",
            Outcome::PreflightDenied => "preflight_denied",
            Outcome::ActualAllowed => "actual_allowed",
            Outcome::ActualDenied => "actual_denied",
            Outcome::NotCors => "not_cors",
            Outcome::GuardRefused => "guard_refused",
        }
    }
}

impl State {
    /// A generation: `config`, `client`, and each route's handles in `metrics`.
    fn new(config: Config, client: UpstreamClient, metrics: &Metrics) -> State {
        let routes = config
            .routes
            .iter()
            .map(|route| {
                let name = route.name.as_str();
                let upstream_error =
                    |kind: &str| metrics.upstream_errors.with_label_values(&[name, kind]);
                let client_error =
                    |kind: &str| metrics.client_errors.with_label_values(&[name, kind]);
                RouteState {
                    requests: Outcome::ALL
                        .map(|o| metrics.requests.with_label_values(&[name, o.label()])),
                    upstream_latency: metrics.upstream_latency.with_label_values(&[name]),
                    connect_errors: upstream_error("connect"),
                    timeouts: upstream_error("timeout"),
                    response_errors: upstream_error("response"),
                    upstream_body_errors: upstream_error("body"),
                    upstream_body_timeouts: upstream_error("body_timeout"),
                    body_errors: client_error("request_body"),
                    body_timeouts: client_error("body_timeout"),
                    upstream_host: route
                        .upstream
                        .target()
                        .and_then(|(_, a)| HeaderValue::from_str(a.as_str()).ok()),
                    upstream_target: route.upstream.target().and_then(|(scheme, a)| {
                        http::Uri::builder()
                            .scheme(scheme)
                            .authority(a.clone())
                            .path_and_query("/")
                            .build()
                            .ok()
                    }),
                    shadow: crate::shadow::RouteShadow::new(route, metrics),
                }
            })
            .collect();
        let unrouted = Unrouted {
            bad_path: metrics.requests.with_label_values(&["", "bad_path"]),
            no_route: metrics.requests.with_label_values(&["", "no_route"]),
            bad_host: metrics.requests.with_label_values(&["", "bad_host"]),
        };
        State {
            config: Arc::new(config),
            client,
            routes,
            unrouted,
        }
    }
}

/// Builds the upstream client: `https://` upstreams are verified against the system's
/// roots plus `[tls] upstream_ca`.
pub fn build_client(config: &Config) -> UpstreamClient {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(target: "corsica::gateway", error = %e, "could not load some system root certificates");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    for ca in &config.upstream_roots {
        if let Err(e) = roots.add(ca.clone()) {
            tracing::warn!(target: "corsica::gateway", error = %e, "unusable upstream_ca certificate");
        }
    }
    tracing::debug!(target: "corsica::gateway", system_roots = added, extra = config.upstream_roots.len(), "upstream TLS roots");
    let tls = rustls::ClientConfig::builder_with_provider(crate::config::provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the safe default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(config.limits.upstream_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let pool = Arc::new(Upstreams::new(
        https,
        max_idle_upstream(config),
        UPSTREAM_IDLE_TIMEOUT,
    ));
    pool.sweep_idle(UPSTREAM_IDLE_SWEEP);
    pool
}

/// How often idle upstream connections are checked for a close by the upstream.
const UPSTREAM_IDLE_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// How long an idle upstream connection is kept for reuse.
const UPSTREAM_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The most idle connections kept per upstream: `[limits] upstream_keepalive`, never more
/// than the client connections the gateway admits (an HTTP/1.1 client connection holds at
/// most one upstream connection at a time). Too small a bound costs a new TCP connection per
/// request under load (with 64 busy clients and a bound of 32, half the requests paid one);
/// too large a one keeps sockets and buffers after a burst.
fn max_idle_upstream(config: &Config) -> usize {
    config
        .limits
        .upstream_keepalive
        .min(config.limits.max_connections)
}

impl Shared {
    /// A shared state for `config`.
    pub fn new(config: Config, metrics: Metrics) -> Shared {
        let client = build_client(&config);
        Shared {
            state: ArcSwap::from_pointee(State::new(config, client, &metrics)),
            metrics,
            log_limit: LogLimit::new(crate::log_limit::LINES_PER_SECOND),
            buffered: std::sync::atomic::AtomicUsize::new(0),
            activity: crate::console::activity::Activity::new(),
            shadow: crate::shadow::Recorder::new(crate::shadow::SAMPLES),
        }
    }

    /// The current generation (configuration and upstream client).
    pub fn load(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// Swaps in a new configuration (and an upstream client built for it).
    pub fn set_config(&self, config: Config) {
        let old = self.state.load();
        // Keep the pooled connections unless what the client depends on changed.
        let client = if old.config.upstream_roots == config.upstream_roots
            && old.config.limits.upstream_timeout == config.limits.upstream_timeout
            && max_idle_upstream(&old.config) == max_idle_upstream(&config)
        {
            old.client.clone()
        } else {
            build_client(&config)
        };
        self.state
            .store(Arc::new(State::new(config, client, &self.metrics)));
    }
}

fn full(text: impl Into<Bytes>) -> Body {
    Body::text(text)
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(full(format!("{text}\n")));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The request's host, without port (Host header, else the URI's authority), as sent
/// (routes compare it ignoring case). The target's authority wins over `Host` for
/// absolute-form requests (RFC 9112 § 3.2.2); a trailing dot is dropped
/// (`api.example.com.` is the same host). Borrowed from the request: no copy.
fn host_of<B>(req: &Request<B>) -> Option<&str> {
    let raw = match req.uri().authority() {
        Some(a) => a.as_str(),
        None => req.headers().get(HOST)?.to_str().ok()?,
    };
    let host = if raw.starts_with('[') {
        // `[v6]` or `[v6]:port`: up to the closing bracket, kept.
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        raw.split(':').next().unwrap_or_default()
    };
    Some(host.trim_end_matches('.'))
}

/// `Keep-Alive` (no constant in `http`).
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
/// `Proxy-Connection` (no constant in `http`).
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// `X-Forwarded-For`.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Host`.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `X-Forwarded-Proto`.
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Hop-by-hop headers (RFC 9110 § 7.6.1), plus those named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    use http::header::{CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
    // Most messages have no `Connection` header: nothing to collect then.
    if headers.contains_key(CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .collect();
        for n in named {
            headers.remove(n);
        }
        headers.remove(CONNECTION);
    }
    for n in [
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ] {
        headers.remove(n);
    }
}

/// The gateway's answer when no route matches: the engine's readable 404 (a preflight is
/// let through so the browser reports the 404), the gateway's fixed text as its body, and
/// `corsica-route: none`.
pub(crate) fn no_route<B>(config: &Config, req: &Request<B>) -> Response<Body> {
    let mut response = corsica::unrouted_response(
        config.routes.iter().map(|r| &r.policy),
        req.method(),
        req.headers(),
        |status| {
            if status == StatusCode::NOT_FOUND {
                full("404 Not Found: no route of this gateway matches this request\n")
            } else {
                full(Bytes::new())
            }
        },
    );
    let not_found = response.status() == StatusCode::NOT_FOUND;
    let headers = response.headers_mut();
    if not_found {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    headers.insert("corsica-route", HeaderValue::from_static("none"));
    response
}

/// Where a request goes: the route that answers it (its index in the configuration), or
/// why none does.
pub(crate) enum Routed<'c, 'r> {
    /// The first route that matches host, path and method.
    Route(usize, &'c crate::config::Route),
    /// Several `Host` headers, or none in HTTP/1.1: answered 400 with this text.
    BadHost(&'static str),
    /// A path upstreams read in different ways: answered 400.
    BadPath,
    /// No route matches (the gateway's readable 404).
    NoRoute {
        /// The request's host.
        host: Option<&'r str>,
        /// The normalized path.
        path: String,
        /// The method routed on (a preflight's requested method).
        method: String,
        /// Whether it is a preflight.
        preflight: bool,
    },
}

/// Routes a request as the gateway does (the console's playground answers with it too).
pub(crate) fn route_request<'c, 'r, B>(config: &'c Config, req: &'r Request<B>) -> Routed<'c, 'r> {
    let mut hosts = req.headers().get_all(HOST).iter();
    let (first_host, second_host) = (hosts.next(), hosts.next());
    if second_host.is_some() {
        return Routed::BadHost("several Host headers");
    }
    // RFC 9112 § 3.2: an HTTP/1.1 request without `Host` is answered 400 (HTTP/1.0 had
    // none; an absolute-form target names the authority itself).
    if first_host.is_none() && req.version() == Version::HTTP_11 && req.uri().authority().is_none()
    {
        return Routed::BadHost(
            "400 Bad Request: an HTTP/1.1 request needs a Host header (RFC 9112 § 3.2)",
        );
    }
    let host = host_of(req);
    // A preflight is routed by the method it asks for (the engine decides what a preflight
    // is); a requested method that is not text matches only routes open to every method,
    // whose policy then denies it.
    let preflight_method = corsica::preflight_method(req.method(), req.headers())
        .map(|v| String::from_utf8_lossy(v.as_bytes()));
    let match_method = preflight_method.as_deref().unwrap_or(req.method().as_str());
    // Route on the path the upstream will understand, so `/%61dmin` cannot borrow the
    // policy of `/`; paths that upstreams read in different ways are refused.
    let Some(path) = crate::config::normalize_path(req.uri().path()) else {
        return Routed::BadPath;
    };
    match config
        .routes
        .iter()
        .enumerate()
        .find(|(_, r)| r.matches(host, &path, match_method))
    {
        Some((i, r)) => Routed::Route(i, r),
        None => Routed::NoRoute {
            host,
            path: path.into_owned(),
            method: match_method.to_owned(),
            preflight: preflight_method.is_some(),
        },
    }
}

/// Handles one client request.
///
/// The gateway's listeners (`gateway.rs`) serve it over HTTP/1.1, h2c and TLS, with limits
/// and graceful shutdown.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    remote: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let state = shared.load();
    let config = &state.config;
    let (index, route) = match route_request(config, &req) {
        Routed::Route(index, route) => (index, route),
        Routed::BadHost(text) => {
            state.unrouted.bad_host.inc();
            return plain(StatusCode::BAD_REQUEST, text);
        }
        Routed::BadPath => {
            state.unrouted.bad_path.inc();
            return plain(
                StatusCode::BAD_REQUEST,
                "ambiguous path: an encoded `/` or `\\`, or a `.` or `..` segment",
            );
        }
        Routed::NoRoute {
            host,
            path,
            method,
            preflight,
        } => {
            state.unrouted.no_route.inc();
            if let Some(suppressed) = shared.log_limit.admit() {
                tracing::info!(
                    target: "corsica::gateway",
                    host = host.unwrap_or("-"),
                    path = %path,
                    method = %method,
                    preflight,
                    client = %remote.ip(),
                    "no route matches: 404{}",
                    note(suppressed)
                );
            }
            return no_route(config, &req);
        }
    };
    let handles = &state.routes[index];
    let decision = route.policy.decide(req.method(), req.headers());
    crate::shadow::observe(
        &shared.shadow,
        route,
        handles.shadow.as_ref(),
        &req,
        &decision,
    );
    let refused = if route.guard {
        corsica::guard(req.method(), req.headers(), &decision).err()
    } else {
        None
    };
    let outcome = if refused.is_some() {
        Outcome::GuardRefused
    } else {
        Outcome::of(&decision)
    };
    handles.requests[outcome as usize].inc();
    // A refusal by the edge guard, or the policy's denial: counted and logged alike.
    let denial = match (&refused, decision.reason()) {
        (Some(r), _) => Some((
            r.label(),
            format!("edge guard refused (403, not forwarded): {r}"),
        )),
        (None, Some(r)) => Some((r.label(), format!("CORS denied: {r}"))),
        (None, None) => None,
    };
    if let Some((reason, message)) = &denial {
        shared
            .metrics
            .denials
            .with_label_values(&[route.name.as_str(), reason])
            .inc();
        shared.activity.denied(crate::console::activity::Denial {
            at: crate::console::activity::now_ms(),
            route: route.name.clone(),
            kind: decision.kind().as_str(),
            method: crate::console::activity::cut(req.method().as_str().as_bytes()),
            path: crate::console::activity::cut(req.uri().path().as_bytes()),
            origin: req
                .headers()
                .get(http::header::ORIGIN)
                .map(|o| crate::console::activity::cut(o.as_bytes()))
                .unwrap_or_default(),
            reason,
            message: crate::console::activity::cut_to(message.as_bytes(), 400),
        });
        // Counted always; logged at a limited rate (hostile traffic would flood the logs).
        if let Some(suppressed) = shared.log_limit.admit() {
            tracing::info!(
                target: "corsica::gateway",
                route = %route.name,
                kind = decision.kind().as_str(),
                reason,
                method = %req.method(),
                path = req.uri().path(),
                client = %remote.ip(),
                "{message}{}",
                note(suppressed)
            );
        }
    }
    if refused.is_some() {
        let mut response = plain(
            StatusCode::FORBIDDEN,
            "403 Forbidden: the edge guard refused a cross-origin request that may change state, from an origin this route's CORS policy does not allow",
        );
        decision.apply(response.headers_mut());
        return response;
    }
    if let Some(response) = decision.preflight_response(full(Bytes::new())) {
        return response;
    }
    if let Some(mut response) = oversized(&req, &config.limits) {
        decision.apply(response.headers_mut());
        return response;
    }
    // The console's session cookie (path `/_corsica/`, sent by browsers to every port of
    // the host) is the admin listener's, never an upstream's.
    let mut req = req;
    if req.uri().path().starts_with("/_corsica/") {
        crate::console::strip_session_cookie(req.headers_mut());
    }
    let mut response = match &route.upstream {
        Upstream::Echo => echo(req, remote, &config.limits).await,
        Upstream::Http { authority } | Upstream::Https { authority } => {
            forward(&shared, &state, route, handles, authority, req, remote, tls).await
        }
    };
    decision.apply(response.headers_mut());
    response
}

/// A 431 if the request head is over `[limits] max_header_bytes` or `max_headers`
/// (counted as HTTP/1.1 would write it). The parser reads heads up to twice the limits,
/// so a head somewhat too large (cookies that grew) gets this 431 with the route's CORS
/// headers, which the page can read, rather than the parser's bare one.
fn oversized<B>(req: &Request<B>, limits: &Limits) -> Option<Response<Body>> {
    let headers = req.headers();
    let lines = headers.len();
    let bytes = req.method().as_str().len()
        + req.uri().path_and_query().map_or(1, |p| p.as_str().len())
        + " HTTP/1.1\r\n".len()
        + headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum::<usize>()
        + 2;
    let (max_bytes, max_lines) = (limits.max_header_bytes(), limits.max_headers());
    if bytes <= max_bytes && lines <= max_lines {
        return None;
    }
    Some(plain(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        &format!(
            "431 Request Header Fields Too Large: the request head is {bytes} bytes in {lines} header lines; the limits are {max_bytes} bytes ([limits] max_header_bytes) and {max_lines} lines (max_headers). Large cookies are the usual cause."
        ),
    ))
}

/// Forwards to an HTTP upstream, streaming both bodies.
#[allow(clippy::too_many_arguments)]
async fn forward(
    shared: &Shared,
    state: &State,
    route: &Route,
    handles: &RouteState,
    authority: &http::uri::Authority,
    req: Request<Incoming>,
    remote: SocketAddr,
    tls: bool,
) -> Response<Body> {
    let config = &state.config;
    let (mut parts, body) = req.into_parts();
    let client_version = parts.version;
    let original_host = parts.headers.get(HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    strip_hop_by_hop(&mut parts.headers);
    // HTTP/2 clients may split `cookie` into several fields; an HTTP/1.1 upstream must get
    // one, joined with "; " (RFC 9113 § 8.2.3).
    let mut cookies = parts.headers.get_all(http::header::COOKIE).iter();
    if cookies.next().is_some() && cookies.next().is_some() {
        let joined = parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect::<Vec<_>>()
            .join(&b"; "[..]);
        if let Ok(v) = HeaderValue::from_bytes(&joined) {
            parts.headers.insert(http::header::COOKIE, v);
        }
    }
    // The target in origin form, from parts already parsed (no text to parse again).
    let mut target = http::uri::Parts::default();
    target.path_and_query = Some(
        parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    let Some(upstream) = &handles.upstream_target else {
        return plain(StatusCode::BAD_GATEWAY, "502 Bad Gateway: no upstream");
    };
    let uri = match http::Uri::from_parts(target) {
        Ok(u) => u,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "invalid request target"),
    };
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    if let Some(h) = &handles.upstream_host {
        parts.headers.insert(HOST, h.clone());
    }
    let xff = match parts
        .headers
        .get(X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {}", remote.ip()),
        None => remote.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(xff)) {
        parts.headers.insert(X_FORWARDED_FOR, v);
    }
    // The gateway speaks for the client here: whatever the client claimed is replaced.
    parts.headers.remove(http::header::FORWARDED);
    parts.headers.remove(X_FORWARDED_HOST);
    parts.headers.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if tls { "https" } else { "http" }),
    );
    if let Some(h) = original_host {
        parts.headers.insert(X_FORWARDED_HOST, h);
    }
    let upstream_req = Request::from_parts(
        parts,
        crate::upstream::ClientBody::new(body, config.limits.body_read_timeout),
    );
    let started = Instant::now();
    let result = tokio::time::timeout(
        config.limits.upstream_timeout,
        state.client.send(upstream, upstream_req),
    )
    .await;
    match result {
        Ok(Ok(response)) => {
            // Only responses that arrived: a refused connection or a timeout is no latency.
            handles
                .upstream_latency
                .observe(started.elapsed().as_secs_f64());
            let (mut parts, mut body) = response.into_parts();
            if let Body::Upstream(b) = &mut body {
                b.watch(
                    config.limits.upstream_body_timeout,
                    handles.upstream_body_timeouts.clone(),
                    handles.upstream_body_errors.clone(),
                );
            }
            // A small body of known length is read whole before the head goes out: if it
            // fails (cut short, reset, stalled), the client still gets a response it can
            // read — 502/504 with the route's CORS headers — and not an empty reply.
            let small = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .filter(|len| *len <= BUFFERED_BODY_LIMIT);
            // Within the budget for all such bodies at once; beyond it, streamed.
            let reserved = small.and_then(|len| Reserved::take(&shared.buffered, len));
            if let Some(reserved) = &reserved
                && let Body::Upstream(b) = body
            {
                // The whole body within the upstream timeout, besides each wait within the
                // body timeout: an upstream cannot trickle a head back for long.
                let read = tokio::time::timeout(
                    config.limits.upstream_timeout,
                    read_whole(b, reserved.len),
                )
                .await;
                body = match read {
                    Ok(Ok(bytes)) => Body::Full(Some(bytes)),
                    Ok(Err(e)) => return failed_body(route, authority, &e),
                    Err(_) => {
                        handles.timeouts.inc();
                        return plain(
                            StatusCode::GATEWAY_TIMEOUT,
                            "504 Gateway Timeout: the upstream's response body did not arrive in time",
                        );
                    }
                };
            }
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, body)
        }
        Ok(Err(e)) if e.is_client_body() => {
            // The client's error, not the upstream's: its body stopped arriving (408, and
            // the connection closes: what is left of the body would be read as the next
            // request), or could not be read (malformed chunked framing, a body cut short:
            // 400).
            let timed_out = e.is_client_body_timeout();
            let (counter, status, what, text) = if timed_out {
                (
                    &handles.body_timeouts,
                    StatusCode::REQUEST_TIMEOUT,
                    "timed out: 408",
                    "408 Request Timeout: the request body did not arrive in time",
                )
            } else {
                (
                    &handles.body_errors,
                    StatusCode::BAD_REQUEST,
                    "unreadable: 400",
                    "400 Bad Request: the request body could not be read (malformed framing?)",
                )
            };
            counter.inc();
            if let Some(suppressed) = shared.log_limit.admit() {
                tracing::info!(
                    target: "corsica::gateway",
                    route = %route.name,
                    client = %remote.ip(),
                    error = %e,
                    "request body {what}{}",
                    note(suppressed)
                );
            }
            let mut r = plain(status, text);
            // (HTTP/1 only: HTTP/2 has no `Connection`, and its stream is reset anyway.)
            if timed_out && client_version <= Version::HTTP_11 {
                r.headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            r
        }
        Ok(Err(e)) if e.is_connect() => {
            handles.connect_errors.inc();
            tracing::warn!(target: "corsica::gateway", route = %route.name, upstream = %authority, error = %e, "upstream unreachable: 502");
            plain(
                StatusCode::BAD_GATEWAY,
                "502 Bad Gateway: the upstream is unreachable",
            )
        }
        Ok(Err(e)) => {
            handles.response_errors.inc();
            tracing::warn!(target: "corsica::gateway", route = %route.name, upstream = %authority, error = %e, "no valid response from the upstream: 502");
            plain(
                StatusCode::BAD_GATEWAY,
                "502 Bad Gateway: the upstream sent no valid response",
            )
        }
        Err(_) => {
            handles.timeouts.inc();
            tracing::warn!(
                target: "corsica::gateway",
                route = %route.name,
                upstream = %authority,
                timeout_ms = config.limits.upstream_timeout.as_millis() as u64,
                "upstream timed out: 504"
            );
            plain(
                StatusCode::GATEWAY_TIMEOUT,
                "504 Gateway Timeout: the upstream did not answer in time",
            )
        }
    }
}

/// The largest upstream response body (by its `Content-Length`) read whole before the
/// response goes to the client. Up to this size, an upstream that cuts its body short is a
/// 502 the page can read; beyond it the body streams, and a body cut short cuts the
/// client's response (its connection closes before the announced length).
const BUFFERED_BODY_LIMIT: usize = 64 * 1024;

/// The most bytes of upstream bodies read whole at once, over all requests (32 MiB): a
/// body that would go over it streams instead.
const BUFFERED_BODIES_BUDGET: usize = 32 * 1024 * 1024;

/// Bytes taken from the budget of bodies read whole, given back when dropped.
struct Reserved<'a> {
    budget: &'a std::sync::atomic::AtomicUsize,
    len: usize,
}

impl<'a> Reserved<'a> {
    /// `len` bytes from `budget`, if that stays within [`BUFFERED_BODIES_BUDGET`].
    fn take(budget: &'a std::sync::atomic::AtomicUsize, len: usize) -> Option<Reserved<'a>> {
        use std::sync::atomic::Ordering;
        budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(len)
                    .filter(|total| *total <= BUFFERED_BODIES_BUDGET)
            })
            .ok()
            .map(|_| Reserved { budget, len })
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.budget
            .fetch_sub(self.len, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Reads an upstream body of `len` bytes (its `Content-Length`) to its end (each wait
/// bounded by the body's watch).
async fn read_whole(mut body: crate::upstream::PooledBody, len: usize) -> Result<Bytes, BoxError> {
    use http_body_util::BodyExt;
    let mut first: Option<Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match &first {
            None => first = Some(data),
            Some(f) => {
                if more.is_empty() {
                    // Never more than announced (a longer body is hyper's error).
                    more.reserve_exact(len);
                    more.extend_from_slice(f);
                }
                more.extend_from_slice(&data);
            }
        }
    }
    // One frame (the usual case) is passed on as it came, without a copy.
    Ok(if more.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(more)
    })
}

/// The answer when a buffered upstream body failed: 504 if it stalled, else 502 (counted
/// by the body as `body_timeout` or `body`).
fn failed_body(route: &Route, authority: &http::uri::Authority, e: &BoxError) -> Response<Body> {
    if e.is::<crate::upstream::UpstreamBodyTimeout>() {
        // (Logged by the body.)
        return plain(
            StatusCode::GATEWAY_TIMEOUT,
            "504 Gateway Timeout: the upstream's response body did not arrive in time",
        );
    }
    // (Counted by the body.)
    tracing::warn!(target: "corsica::gateway", route = %route.name, upstream = %authority, error = %e, "upstream body cut short: 502");
    plain(
        StatusCode::BAD_GATEWAY,
        "502 Bad Gateway: the upstream's response body was cut short",
    )
}

/// The most request-body bytes the echo upstream reads.
const ECHO_BODY_LIMIT: usize = 64 * 1024;

/// The built-in echo upstream: answers with the request it saw, as JSON.
async fn echo(req: Request<Incoming>, remote: SocketAddr, limits: &Limits) -> Response<Body> {
    let (parts, body) = req.into_parts();
    // Timed like a body forwarded upstream: a trickle cannot hold the connection.
    let body = crate::upstream::ClientBody::new(body, limits.body_read_timeout);
    let body = match Limited::new(body, ECHO_BODY_LIMIT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the echo upstream reads at most 64 KiB",
            );
        }
        Err(e)
            if matches!(
                e.downcast_ref::<crate::upstream::ClientBodyError>(),
                Some(crate::upstream::ClientBodyError::Timeout(_))
            ) =>
        {
            let mut r = plain(
                StatusCode::REQUEST_TIMEOUT,
                "408 Request Timeout: the request body did not arrive in time",
            );
            r.headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        Err(_) => {
            return plain(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let json = serde_json::json!({
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "version": format!("{:?}", parts.version),
        "client": remote.ip().to_string(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    let mut r = Response::new(full(format!("{json:#}\n")));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert("x-request-id", HeaderValue::from_static("echo"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Upstream;

    #[test]
    fn errors_convert_into_box_error() {
        let from_io: BoxError = std::io::Error::other("upstream reset the connection").into();
        assert_eq!(from_io.to_string(), "upstream reset the connection");
        let from_text: BoxError = "body too large".into();
        assert_eq!(from_text.to_string(), "body too large");
    }

    #[test]
    fn a_reload_swaps_the_generation_and_loaded_requests_keep_theirs() {
        let shared = Shared::new(Config::embedded(), Metrics::new());
        assert_eq!(shared.load().config.listen().to_string(), "127.0.0.1:8080");
        assert_eq!(shared.load().config.routes().len(), 1);
        let before = shared.load().config.clone();
        let next = Config::parse(
            "[[route]]\nname = \"api\"\nupstream = \"http://127.0.0.1:3000\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n",
            "gw.toml",
        )
        .unwrap();
        shared.set_config(next);
        assert_eq!(shared.load().config.routes()[0].name(), "api");
        assert_eq!(before.routes()[0].upstream(), &Upstream::Echo);
        shared
            .metrics
            .requests
            .with_label_values(&["api", "not_cors"])
            .inc();
        assert!(shared.metrics.render().contains("route=\"api\"} 1"));
    }

    #[tokio::test]
    async fn the_client_for_https_upstreams_uses_the_system_roots() {
        let config = Config::parse(
            "[[route]]\nupstream = \"https://backend.internal:8443\"\n[route.cors]\norigins = [\"https://app.example.com\"]\n",
            "gw.toml",
        )
        .unwrap();
        assert!(config.upstream_roots().is_empty());
        let client = build_client(&config);
        // A full body reaches the client's type.
        let body = Body::text("hello");
        assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
        drop(client.clone());
    }
}
