//! The console: pages the admin listener serves under `/_corsica/` (every asset in the
//! binary, no CDN): the live dashboard (`/_corsica/`, updated over server-sent events from
//! `/_corsica/events`; its tables work without JavaScript) and the playground
//! (`/_corsica/playground`, which posts each case to the same path and reads the browser
//! model's JSON answer).
//!
//! Access: the admin listener is on loopback unless configured otherwise, and then
//! `admin_token` is required (the configuration refuses to start without it). With a
//! token, every page but the login form and the static assets needs it: as
//! `Authorization: Bearer <token>`, or the `corsica_admin` cookie the login form sets
//! (`HttpOnly`, `SameSite=Strict`, path `/_corsica/`). Every page is sent with a strict
//! Content-Security-Policy (scripts and styles from this listener only, no inline code).

pub(crate) mod activity;
mod pages;
mod playground;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::proxy::{Body, Shared};

/// Where the console lives on the admin listener.
pub(crate) const PREFIX: &str = "/_corsica";

/// The Content-Security-Policy of every console page.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The cookie the login form sets.
const COOKIE: &str = "corsica_admin";

/// The largest request body the console reads (a playground case, a login form).
const MAX_BODY: usize = corsica_doctor::playground::MAX_CASE_BYTES + 4096;

/// How long a console request body may take to arrive, whole.
const BODY_TIME: Duration = Duration::from_secs(5);

/// How long a login lasts.
const SESSION_SECONDS: u64 = 12 * 60 * 60;

/// How often the events stream sends at most (changes in between are merged).
const EVENT_GAP: Duration = Duration::from_millis(250);

/// The assets, compiled in.
const ASSETS: [(&str, &str, &str); 3] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/console.css"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard.js"),
    ),
    (
        "playground.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/playground.js"),
    ),
];

/// Whether `path` is the console's.
pub(crate) fn is_console(path: &str) -> bool {
    path == PREFIX || path.starts_with("/_corsica/")
}

/// A response with the console's security headers.
fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::text(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn redirect(to: &str) -> Response<Body> {
    let mut r = respond(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    respond(status, "application/json", v.to_string())
}

/// Whether the request carries the admin token (or none is configured).
fn admitted<B>(shared: &Shared, req: &Request<B>) -> bool {
    let config = shared.load().config.clone();
    let Some(token) = &config.admin_token else {
        return true;
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if token.admits(bearer) {
        return true;
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let pair = pair.trim_ascii();
            pair.strip_prefix(COOKIE.as_bytes())?.strip_prefix(b"=")
        })
        .any(|value| token.is_session(value))
}

/// Whether the request says its body is JSON (a form cannot send that cross-site without
/// a preflight, which this listener never allows).
fn is_json<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Without a token, the console answers only to a loopback name (`localhost`,
/// `127.0.0.1`, `[::1]`, with any port): a page elsewhere that rebinds its own host name
/// to 127.0.0.1 (DNS rebinding) would otherwise read the dashboard as same-origin.
pub(crate) fn rebinding<B>(shared: &Shared, req: &Request<B>) -> Option<Response<Body>> {
    if shared.load().config.admin_token.is_some() {
        return None;
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| format!("{h}]"))
    } else {
        host.split(':').next().map(str::to_owned)
    }
    .unwrap_or_default();
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        respond(
            StatusCode::MISDIRECTED_REQUEST,
            "text/plain; charset=utf-8",
            "421 Misdirected Request: without admin_token the console answers only to localhost, 127.0.0.1 or [::1] (a page elsewhere could rebind its name to this address); open it by one of those names, or set admin_token\n",
        )
    })
}

/// Removes the console's session cookie from `headers` (a request forwarded upstream).
pub(crate) fn strip_session_cookie(headers: &mut http::HeaderMap) {
    let kept: Vec<Vec<u8>> = headers
        .get_all(header::COOKIE)
        .iter()
        .map(|v| {
            v.as_bytes()
                .split(|&b| b == b';')
                .filter(|pair| {
                    !pair
                        .trim_ascii()
                        .strip_prefix(COOKIE.as_bytes())
                        .is_some_and(|rest| rest.trim_ascii_start().starts_with(b"="))
                })
                .map(<[u8]>::trim_ascii)
                .collect::<Vec<_>>()
                .join(&b"; "[..])
        })
        .filter(|v| !v.is_empty())
        .collect();
    headers.remove(header::COOKIE);
    for v in kept {
        if let Ok(v) = HeaderValue::from_bytes(&v) {
            headers.append(header::COOKIE, v);
        }
    }
}

/// Reads a request body of at most [`MAX_BODY`] bytes.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    let too_large = || {
        respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=utf-8",
            format!("413 Payload Too Large: at most {MAX_BODY} bytes\n"),
        )
    };
    if req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY)
    {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    // A body that does not arrive in time frees the connection (the admin listener has
    // few slots; `/healthz` needs one).
    match tokio::time::timeout(BODY_TIME, limited.collect()).await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(respond(
            StatusCode::REQUEST_TIMEOUT,
            "text/plain; charset=utf-8",
            format!("408 Request Timeout: the body did not arrive within {BODY_TIME:?}\n"),
        )),
    }
}

/// Serves a console request (`is_console(path)`); `stop` closes event streams.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    stop: watch::Receiver<bool>,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    if let Some(name) = rest.strip_prefix("/assets/") {
        return match ASSETS.iter().find(|(n, _, _)| *n == name) {
            Some((_, content_type, text)) => respond(StatusCode::OK, content_type, *text),
            None => respond(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                "404 Not Found\n",
            ),
        };
    }
    if let Some(refused) = rebinding(&shared, &req) {
        return refused;
    }
    if rest.is_empty() {
        return redirect("/_corsica/");
    }
    if rest == "/login" {
        return login(&shared, req).await;
    }
    if rest == "/logout" {
        let mut r = redirect("/_corsica/login");
        r.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "corsica_admin=; Path=/_corsica/; Max-Age=0; HttpOnly; SameSite=Strict",
            ),
        );
        return r;
    }
    if !admitted(&shared, &req) {
        return match rest {
            "" | "/" | "/playground" if req.method() == Method::GET => redirect("/_corsica/login"),
            _ => {
                let mut r = json_response(
                    StatusCode::UNAUTHORIZED,
                    &json!({"error": "send `Authorization: Bearer <admin_token>`, or log in at /_corsica/login"}),
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"corsica admin\""),
                );
                r
            }
        };
    }
    match (req.method().clone(), rest) {
        (Method::GET, "/") => {
            let snapshot = snapshot(&shared);
            respond(
                StatusCode::OK,
                "text/html; charset=utf-8",
                pages::dashboard(&snapshot),
            )
        }
        (Method::GET, "/status") => json_response(StatusCode::OK, &snapshot(&shared)),
        (Method::GET, "/events") => events(shared, stop),
        (Method::GET, "/playground") => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            pages::playground(req.uri().query().unwrap_or_default()),
        ),
        (Method::POST, "/playground") if !is_json(&req) => respond(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain; charset=utf-8",
            "415 Unsupported Media Type: post the case as `Content-Type: application/json`\n",
        ),
        (Method::POST, "/playground") => match read_body(req).await {
            Ok(body) => {
                let (status, v) = playground::answer_off_runtime(shared, body).await;
                json_response(status, &v)
            }
            Err(r) => r,
        },
        (_, "/" | "/status" | "/events" | "/playground") => {
            let mut r = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                "405 Method Not Allowed\n",
            );
            let allow = if rest == "/playground" {
                "GET, POST"
            } else {
                "GET"
            };
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            r
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "404 Not Found: the console has /_corsica/ (dashboard), /_corsica/playground, /_corsica/status, /_corsica/events\n",
        ),
    }
}

/// The login form (GET), and the token it posts (POST): a cookie on success.
async fn login(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let has_token = shared.load().config.admin_token.is_some();
    if req.method() != Method::POST {
        return respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            pages::login(has_token, false),
        );
    }
    let config = shared.load().config.clone();
    let Some(token) = &config.admin_token else {
        return redirect("/_corsica/");
    };
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let given = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !token.is(given.as_bytes()) {
        return respond(
            StatusCode::UNAUTHORIZED,
            "text/html; charset=utf-8",
            pages::login(true, true),
        );
    }
    let mut r = redirect("/_corsica/");
    // The cookie holds a value derived from the token, not the token: a cookie is sent to
    // every port of its host name.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={}; Path=/_corsica/; Max-Age={SESSION_SECONDS}; HttpOnly; SameSite=Strict",
        token.session()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Everything the dashboard shows, as JSON.
pub(crate) fn snapshot(shared: &Shared) -> Value {
    let state = shared.load();
    let routes: Vec<&str> = state
        .config
        .routes
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let counts = activity::counts(&shared.metrics);
    let mut rows = Vec::new();
    for name in routes.iter().copied().chain(std::iter::once("")) {
        let mut outcomes = serde_json::Map::new();
        let (mut allowed, mut denied) = (0u64, 0u64);
        for (route, outcome, n) in counts.iter().filter(|(r, _, _)| r == name) {
            let _ = route;
            outcomes.insert(outcome.clone(), json!(n));
            match activity::class(outcome) {
                Some(true) => allowed += n,
                Some(false) => denied += n,
                None => {}
            }
        }
        rows.push(json!({
            "route": name,
            "outcomes": outcomes,
            "allowed": allowed,
            "denied": denied,
        }));
    }
    // The routes in force, as the file says them (origins: at most 20 shown).
    let active: Vec<Value> = state
        .config
        .routes
        .iter()
        .map(|r| {
            let origins = r.policy.origins();
            let listed: Vec<String> = if origins.is_any() {
                vec!["*".to_owned()]
            } else {
                origins
                    .entries()
                    .iter()
                    .take(20)
                    .map(ToString::to_string)
                    .collect()
            };
            json!({
                "name": r.name,
                "host": r.host(),
                "path": r.path(),
                "upstream": r.upstream().target().map_or_else(
                    || "echo".to_owned(),
                    // A password in the upstream's userinfo is not shown.
                    |(scheme, authority)| {
                        let shown = authority.as_str().rsplit_once('@').map_or(
                            authority.as_str().to_owned(),
                            |(_, host)| format!("…@{host}"),
                        );
                        format!("{scheme}://{shown}")
                    },
                ),
                "origins": listed,
                "more_origins": origins.entries().len().saturating_sub(20),
                "credentials": r.policy.allows_credentials(),
                "shadow": r.shadow_policy().is_some(),
            })
        })
        .collect();
    let points = shared.activity.points();
    let recent = &points[points.len().saturating_sub(300)..];
    json!({
        "now": activity::now_ms(),
        "config": shared.activity.config(),
        "active": active,
        "routes": rows,
        "series": recent,
        "denials": shared.activity.denials(),
        "shadow": crate::shadow::report(shared),
    })
}

/// The events stream: a snapshot at once, then at every change and every second (at most
/// one per [`EVENT_GAP`]), until the client leaves or the admin listener stops.
fn events(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    let mut changed = shared.activity.subscribe();
    let mut shadow = shared.shadow.subscribe();
    // The token the stream was opened under: a reload that changes it ends the stream.
    let admitted_under = shared.load().config.admin_token.clone();
    tokio::spawn(async move {
        loop {
            if shared.load().config.admin_token != admitted_under {
                return;
            }
            let data = format!("data: {}\n\n", snapshot(&shared));
            if tx.send(Bytes::from(data)).await.is_err() {
                return;
            }
            tokio::time::sleep(EVENT_GAP).await;
            tokio::select! {
                _ = changed.changed() => {}
                _ = shadow.recv() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => return,
                () = tx.closed() => return,
            }
        }
    });
    let mut r = Response::new(Body::Events(rx));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Samples the per-second series until `stop`.
pub(crate) async fn sample(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => shared.activity.sample(&shared.metrics),
            _ = stop.changed() => return,
        }
    }
}
